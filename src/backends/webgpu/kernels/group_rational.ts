// Group-rational kernels in WGSL (to be written).
import type { GpuBuffer, GpuContext } from '../context.js';

export function makeGroupRationalKernels(_ctx: GpuContext) {
  const missing = (name: string): never => { throw new Error(`webgpu: ${name} is not implemented yet`); };
  return {
    groupRational: (_x: GpuBuffer, _a: GpuBuffer, _b: GpuBuffer, _rows: number, _channels: number, _groups: number, _shared: boolean): GpuBuffer =>
      missing('groupRational'),
    groupRationalBackward: (_x: GpuBuffer, _a: GpuBuffer, _b: GpuBuffer, _gy: GpuBuffer, _rows: number, _channels: number, _groups: number,
      _shared: boolean): [GpuBuffer, GpuBuffer, GpuBuffer] => missing('groupRationalBackward'),
  };
}
