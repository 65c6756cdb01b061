// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled
// Weight Decay Regularization"), with the same update as PyTorch's AdamW:
//   p = p * (1 - lr * wd)
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

import { zerosLike } from '../ops/creation.js';
import { adamwStep } from '../ops/optimizer_step.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkNonNegative, Optimizer, type OptimizerOptions, type ParamState, type Params } from './optimizer.js';

/** Options of AdamW. */
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

/** Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW. */
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
    const m = state.tensors.get('exp_avg') ?? zerosLike(param);
    const v = state.tensors.get('exp_avg_sq') ?? zerosLike(param);
    const [next, m2, v2] = adamwStep(param, grad, m, v, { lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay, step: state.step });
    this.setSlot(state, 'exp_avg', m2);
    this.setSlot(state, 'exp_avg_sq', v2);
    return next;
  }
}
