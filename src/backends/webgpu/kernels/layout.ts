// Layout kernels in WGSL (to be written).
import type { GpuBuffer, GpuContext } from '../context.js';

export function makeLayoutKernels(_ctx: GpuContext) {
  const missing = (name: string): never => { throw new Error(`webgpu: ${name} is not implemented yet`); };
  return {
    sliceBackward: (_g: GpuBuffer, _inShape: readonly number[], _begin: readonly number[], _size: readonly number[]): GpuBuffer => missing('sliceBackward'),
    concat: (_xs: readonly GpuBuffer[], _outer: number, _sizes: readonly number[], _inner: number): GpuBuffer => missing('concat'),
    gather: (_x: GpuBuffer, _i: GpuBuffer, _outer: number, _axisSize: number, _inner: number, _count: number): GpuBuffer => missing('gather'),
    gatherBackward: (_g: GpuBuffer, _i: GpuBuffer, _outer: number, _axisSize: number, _inner: number, _count: number): GpuBuffer =>
      missing('gatherBackward'),
  };
}
