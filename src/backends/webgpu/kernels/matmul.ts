// Tiled matmul in WGSL (to be written).
import type { GpuBuffer, GpuContext } from '../context.js';

export function makeMatmulKernel(_ctx: GpuContext) {
  return function matmul(_a: GpuBuffer, _b: GpuBuffer, _batch: number, _m: number, _k: number, _n: number,
    _transA: boolean, _transB: boolean, _aBatchStride: number, _bBatchStride: number): GpuBuffer {
    throw new Error('webgpu: matmul is not implemented yet');
  };
}
