// Fused optimiser updates: one kernel pass per parameter instead of a chain of
// element-wise ops. Not differentiable (optimisers run outside the graph).

import type { AdamWHyper } from '../backends/backend.js';
import { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { backendOf } from './op.js';

/** One AdamW step; returns the new parameter values and moments as new tensors. */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, hyper: AdamWHyper): [Tensor, Tensor, Tensor] {
  const backend = backendOf('adamwStep', param, grad, m, v);
  for (const t of [grad, m, v]) {
    if (t.shape.join() !== param.shape.join()) {
      throw new Error(`adamwStep: ${t.describe()} does not match parameter ${param.describe()} (${formatShape(param.shape)})`);
    }
  }
  const [p2, m2, v2] = backend.kernels.adamw(param.buffer, grad.buffer, m.buffer, v.buffer, param.size, hyper);
  return [Tensor.fromBuffer(backend, p2, param.shape), Tensor.fromBuffer(backend, m2, param.shape), Tensor.fromBuffer(backend, v2, param.shape)];
}
