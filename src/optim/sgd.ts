// Stochastic gradient descent with momentum, as PyTorch's SGD:
//   g = grad + wd * p                      (coupled L2 weight decay, if wd > 0)
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = nesterov ? g + momentum * buf : buf
//   p = p - lr * g

import { add, mul, sub } from '../ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkNonNegative, Optimizer, type OptimizerOptions, type ParamState, type Params } from './optimizer.js';

/** Options of SGD. */
export interface SGDOptions extends OptimizerOptions {
  /** Default 0.01. */
  lr?: number;
  /** Default 0.9 (0: plain gradient descent, no state). */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled); default 0. */
  weightDecay?: number;
}

/** Stochastic gradient descent with momentum, dampening and Nesterov, as torch.optim.SGD. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  protected readonly slots: readonly string[];

  constructor(params: Params, options: SGDOptions = {}) {
    super('SGD', params, { lr: options.lr ?? 0.01, weightDecay: options.weightDecay ?? 0 }, options.schedule);
    this.momentum = checkNonNegative('SGD', 'momentum', options.momentum ?? 0.9);
    this.dampening = checkNonNegative('SGD', 'dampening', options.dampening ?? 0);
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error(`SGD: nesterov momentum needs momentum > 0 and dampening 0 (got momentum ${this.momentum}, dampening ${this.dampening})`);
    }
    this.slots = this.momentum > 0 ? ['momentum'] : [];
  }

  protected update(param: Tensor, grad: Tensor, state: ParamState, lr: number, weightDecay: number): Tensor {
    let g = weightDecay !== 0 ? add(grad, mul(param, weightDecay)) : grad;
    if (this.momentum > 0) {
      const previous = state.tensors.get('momentum');
      const buf = this.setSlot(state, 'momentum',
        previous ? add(mul(previous, this.momentum), this.dampening !== 0 ? mul(g, 1 - this.dampening) : g) : g);
      g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;
    }
    return sub(param, mul(g, lr));
  }
}
