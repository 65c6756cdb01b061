// GR-KAN building blocks: the GroupRational activation module and the KAT
// MLP (rational -> linear -> rational -> linear).

import { tensor } from '../ops/creation.js';
import { groupRational } from '../ops/group_rational.js';
import type { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Dropout, Linear } from './layers.js';
import { Module } from './module.js';
import { checkSize } from './sizes.js';
import { rationalCoefficients, rationalGain } from './rational_init.js';

/** Options of GroupRational: groups, initial shape and coefficient sharing. */
export interface GroupRationalOptions {
  /** Channel groups G (D % G == 0). Default 8. */
  groups?: number;
  /** Initial shape: identity, swish, gelu, tanh, sigmoid or relu. Default identity. */
  mode?: string;
  /** One numerator shared by all groups ([1, 6], as KAT) or one per group ([G, 6]). Default shared. */
  sharedNumerator?: boolean;
}

/** Learnable y = P(x) / Q(x) per channel group (KAT's rational activation, float32). */
export class GroupRational extends Module {
  readonly numerator: Tensor;
  readonly denominator: Tensor;
  readonly groups: number;
  readonly mode: string;

  constructor(readonly channels: number, options: GroupRationalOptions = {}) {
    super();
    checkSize('GroupRational', 'channels', channels);
    this.groups = options.groups ?? 8;
    this.mode = options.mode ?? 'identity';
    if (!Number.isInteger(this.groups) || this.groups < 1 || channels % this.groups !== 0) {
      throw new Error(`GroupRational: ${channels} channels cannot be split into ${this.groups} equal groups (D % G must be 0)`);
    }
    const init = rationalCoefficients(this.mode);
    const numeratorRows = (options.sharedNumerator ?? true) ? 1 : this.groups;
    this.numerator = this.parameter('weight_numerator',
      tensor(Array.from({ length: numeratorRows }, () => [...init.numerator]).flat(), [numeratorRows, 6]));
    this.denominator = this.parameter('weight_denominator',
      tensor(Array.from({ length: this.groups }, () => [...init.denominator]).flat(), [this.groups, 4]));
  }

  /** 1 / sqrt(E[F(x)^2]) for x ~ N(0, 1) at the initial coefficients. */
  initialGain(): number {
    const init = rationalCoefficients(this.mode);
    return rationalGain(init.numerator, init.denominator);
  }

  forward(x: Tensor): Tensor {
    return groupRational(x, this.numerator, this.denominator);
  }
}

/** Options of KatMlp, KAT's MLP with GR-KAN activations. */
export interface KatMlpOptions {
  hidden: number;
  groups?: number;
  dropout?: number;
}

/**
 * KAT's MLP: fc2(drop(act2(fc1(drop(act1(x)))))), act1 identity-initialised over
 * D, act2 swish-initialised over the hidden width. Variance-preserving init:
 * each linear layer gets std = gain(previous activation) / sqrt(fan_in).
 */
export class KatMlp extends Module {
  readonly act1: GroupRational;
  readonly fc1: Linear;
  readonly act2: GroupRational;
  readonly fc2: Linear;
  readonly drop: Dropout;

  constructor(dim: number, options: KatMlpOptions, rng: Random) {
    super();
    checkSize('KatMlp', 'dim', dim);
    checkSize('KatMlp', 'hidden width', options.hidden);
    const groups = options.groups ?? 8;
    this.act1 = this.module('act1', new GroupRational(dim, { groups, mode: 'identity' }));
    this.fc1 = this.module('fc1', new Linear(dim, options.hidden, rng, { std: this.act1.initialGain() / Math.sqrt(dim), untruncated: true }));
    this.act2 = this.module('act2', new GroupRational(options.hidden, { groups, mode: 'swish' }));
    this.fc2 = this.module('fc2', new Linear(options.hidden, dim, rng, {
      std: this.act2.initialGain() / Math.sqrt(options.hidden), untruncated: true,
    }));
    this.drop = this.module('drop', new Dropout(options.dropout ?? 0));
  }

  forward(x: Tensor): Tensor {
    const h = this.act2.forward(this.fc1.forward(this.drop.forward(this.act1.forward(x))));
    return this.fc2.forward(this.drop.forward(h));
  }
}
