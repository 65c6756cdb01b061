// Reductions in WGSL (to be written).
import type { ReduceOp } from '../../backend.js';
import type { GpuBuffer, GpuContext } from '../context.js';

export function makeReduceKernels(_ctx: GpuContext) {
  const missing = (name: string): never => { throw new Error(`webgpu: ${name} is not implemented yet`); };
  return {
    reduce: (_op: ReduceOp, _x: GpuBuffer, _shape: readonly number[], _axes: readonly number[]): GpuBuffer => missing('reduce'),
    argmax: (_x: GpuBuffer, _outer: number, _size: number, _inner: number): GpuBuffer => missing('argmax'),
  };
}
