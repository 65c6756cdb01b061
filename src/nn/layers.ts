// Basic layers: Linear, LayerNorm, Dropout, DropPath.

import { tensor } from '../ops/creation.js';
import { dropout, mul } from '../ops/elementwise.js';
import { reshape } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { layerNorm } from '../ops/nn.js';
import { globalRandom, type Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { constant, truncNormal } from './init.js';
import { Module } from './module.js';
import { checkRate, checkSize, checkValues } from './sizes.js';

/** Options of Linear: bias and initialisation. */
export interface LinearOptions {
  bias?: boolean;
  /** Weight standard deviation; default 0.02 (timm's trunc-normal ViT init). */
  std?: number;
  /** Plain normal instead of the 2-sigma truncated one (exact variance). */
  untruncated?: boolean;
}

/** y = x W^T + b, weight stored [out, in] as in PyTorch. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: LinearOptions = {}) {
    super();
    checkSize('Linear', 'inFeatures', inFeatures);
    checkSize('Linear', 'outFeatures', outFeatures);
    checkValues(`Linear(${inFeatures} -> ${outFeatures})`, [outFeatures, inFeatures]);
    const std = options.std ?? 0.02;
    const init = options.untruncated
      ? tensor(Float32Array.from({ length: inFeatures * outFeatures }, () => rng.normal() * std), [outFeatures, inFeatures])
      : truncNormal(rng, [outFeatures, inFeatures], std);
    this.weight = this.parameter('weight', init);
    this.bias = options.bias === false ? null : this.parameter('bias', constant([outFeatures], 0));
  }

  forward(x: Tensor): Tensor {
    const inFeatures = x.shape[x.rank - 1];
    if (inFeatures !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures} -> ${this.outFeatures}): input ${formatShape(x.shape)} has ${inFeatures} features, expected ${this.inFeatures}`);
    }
    const rows = reshape(x, [-1, this.inFeatures]);
    const y = matmul(rows, this.weight, { transposeB: true, ...(this.bias ? { bias: this.bias } : {}) });
    return reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
  }
}

/** Layer normalisation over the last axis with a learned scale and shift. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    checkSize('LayerNorm', 'dim', dim);
    if (!(eps > 0 && Number.isFinite(eps))) throw new Error(`LayerNorm: eps must be a finite number > 0, got ${eps}`);
    this.weight = this.parameter('weight', constant([dim], 1));
    this.bias = this.parameter('bias', constant([dim], 0));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Zeroes each value with probability p in training mode (scaling the rest by 1 / (1 - p)); the identity in eval mode. */
export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
    checkRate('Dropout', 'p', p);
  }

  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p) : x;
  }
}

/** Stochastic depth: drops a whole residual branch per sample, scaling survivors by 1 / (1 - p). */
export class DropPath extends Module {
  constructor(readonly p: number) {
    super();
    checkRate('DropPath', 'p', p);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const batch = x.shape[0]!;
    const keepProbability = 1 - this.p;
    const mask = new Float32Array(batch);
    for (let i = 0; i < batch; i++) mask[i] = globalRandom.uniform() < keepProbability ? 1 / keepProbability : 0;
    return mul(x, tensor(mask, [batch, ...x.shape.slice(1).map(() => 1)]));
  }
}
