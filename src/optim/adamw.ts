// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled
// Weight Decay Regularization"), with the same update as PyTorch's AdamW:
//   p = p * (1 - lr * wd)
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

import { add, div, mul, sqrt, square, sub } from '../ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkNonNegative, Optimizer, type OptimizerOptions, type ParamState, type Params } from './optimizer.js';

export interface AdamWOptions extends OptimizerOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square; default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator; default 1e-8. */
  eps?: number;
  /** Decoupled weight decay; default 0.01 (set 0 in a group to exempt biases and norms). */
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  protected readonly slots = ['exp_avg', 'exp_avg_sq'] as const;

  constructor(params: Params, options: AdamWOptions = {}) {
    super('AdamW', params, { lr: options.lr ?? 1e-3, weightDecay: options.weightDecay ?? 0.01 }, options.schedule);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`AdamW: betas must be a pair [beta1, beta2], got ${String(betas)}`);
    betas.forEach((b, i) => {
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new Error(`AdamW: betas[${i}] must be in [0, 1), got ${String(b)}`);
    });
    [this.beta1, this.beta2] = betas;
    this.eps = checkNonNegative('AdamW', 'eps', options.eps ?? 1e-8);
  }

  protected update(param: Tensor, grad: Tensor, state: ParamState, lr: number, weightDecay: number): Tensor {
    const { beta1, beta2, eps } = this;
    const t = state.step;
    let p: Tensor = param;
    if (weightDecay !== 0 && lr !== 0) p = mul(p, 1 - lr * weightDecay);
    const prevM = state.tensors.get('exp_avg');
    const prevV = state.tensors.get('exp_avg_sq');
    const gScaled = mul(grad, 1 - beta1);
    const g2Scaled = mul(square(grad), 1 - beta2);
    const m = this.setSlot(state, 'exp_avg', prevM ? add(mul(prevM, beta1), gScaled) : gScaled);
    const v = this.setSlot(state, 'exp_avg_sq', prevV ? add(mul(prevV, beta2), g2Scaled) : g2Scaled);
    const stepSize = lr / (1 - beta1 ** t);
    const denom = add(div(sqrt(v), Math.sqrt(1 - beta2 ** t)), eps);
    return sub(p, mul(div(m, denom), stepSize));
  }
}
