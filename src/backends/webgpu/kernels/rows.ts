// Row-wise fused kernels in WGSL (to be written).
import type { GpuBuffer, GpuContext } from '../context.js';

export function makeRowKernels(_ctx: GpuContext) {
  const missing = (name: string): never => { throw new Error(`webgpu: ${name} is not implemented yet`); };
  return {
    softmax: (_x: GpuBuffer, _rows: number, _cols: number): GpuBuffer => missing('softmax'),
    softmaxBackward: (_y: GpuBuffer, _gy: GpuBuffer, _rows: number, _cols: number): GpuBuffer => missing('softmaxBackward'),
    layerNorm: (_x: GpuBuffer, _w: GpuBuffer, _b: GpuBuffer, _rows: number, _cols: number, _eps: number): [GpuBuffer, GpuBuffer, GpuBuffer] =>
      missing('layerNorm'),
    layerNormBackward: (_x: GpuBuffer, _w: GpuBuffer, _mean: GpuBuffer, _rstd: GpuBuffer, _gy: GpuBuffer, _rows: number,
      _cols: number): [GpuBuffer, GpuBuffer, GpuBuffer] => missing('layerNormBackward'),
    softmaxCrossEntropy: (_logits: GpuBuffer, _labels: GpuBuffer, _rows: number, _classes: number, _smoothing: number): [GpuBuffer, GpuBuffer] =>
      missing('softmaxCrossEntropy'),
    softmaxCrossEntropyBackward: (_logits: GpuBuffer, _labels: GpuBuffer, _lse: GpuBuffer, _g: GpuBuffer, _rows: number, _classes: number,
      _smoothing: number): GpuBuffer => missing('softmaxCrossEntropyBackward'),
  };
}
