// Fourier-KArAt (Kolmogorov-Arnold Attention, arXiv 2503.10632): the learned
// operator that replaces softmax in attention, one per head, as a module.
//
// Tensors (timm-style names under the module's path): coef_cos [h, r, N, G+1]
// (a), coef_sin [h, r, N, G+1] (b), weight [h, N, r] (W). Blockwise models
// ("GnB") hold one under blocks.{i}.attn.karat; universal ones ("GnU") one
// top-level `karat` shared by every block.

import type { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { normal } from './init.js';
import { Module } from './module.js';

/** A KArAt variant: G (the Fourier order: harmonics m = 0..G), r (the rank) and whether all blocks share one operator. */
export interface KaratConfig {
  order: number;
  rank: number;
  universal: boolean;
}

/** The paper's default rank. */
export const KARAT_DEFAULT_RANK = 12;
/** Largest Fourier order G accepted (the paper uses 1 to 3; the WebGPU kernel keeps G + 1 sums per invocation in registers). */
export const KARAT_MAX_ORDER = 32;

/** 'G3B' -> { order 3, rank 12, universal false }; 'G1U' -> { order 1, ..., universal true }. One clear error otherwise. */
export function parseKaratVariant(text: string): KaratConfig {
  const match = /^G(\d{1,3})([BU])$/.exec(text);
  const order = match ? Number(match[1]) : NaN;
  if (!match || order < 1 || order > KARAT_MAX_ORDER) {
    throw new Error(`unknown KArAt variant '${text.slice(0, 40)}': expected G<n><B|U> with n from 1 to ${KARAT_MAX_ORDER} ` +
      `(the Fourier order; B = one operator per block, U = one shared by all blocks), e.g. G3B or G1U`);
  }
  return { order, rank: KARAT_DEFAULT_RANK, universal: match[2] === 'U' };
}

/** 'G3B' from a config (rank noted when not the default). */
export function formatKaratVariant(c: KaratConfig): string {
  return `G${c.order}${c.universal ? 'U' : 'B'}${c.rank === KARAT_DEFAULT_RANK ? '' : ` rank ${c.rank}`}`;
}

/** Shapes of the operator's tensors, in registration order (shared with config_check's tensorLayout). */
export function karatTensorShapes(heads: number, tokens: number, c: KaratConfig): [string, number[]][] {
  return [
    ['coef_cos', [heads, c.rank, tokens, c.order + 1]],
    ['coef_sin', [heads, c.rank, tokens, c.order + 1]],
    ['weight', [heads, tokens, c.rank]],
  ];
}

export class KaratOperator extends Module {
  readonly coefCos: Tensor;
  readonly coefSin: Tensor;
  readonly weight: Tensor;

  constructor(readonly heads: number, readonly tokens: number, readonly config: KaratConfig, rng: Random) {
    super();
    const [[, cosShape], [, sinShape], [, weightShape]] = karatTensorShapes(heads, tokens, config);
    // a, b ~ N(0, 1) as in the paper.
    this.coefCos = this.parameter('coef_cos', normal(rng, cosShape!, 1));
    this.coefSin = this.parameter('coef_sin', normal(rng, sinShape!, 1));
    // W's scale. With a, b ~ N(0, 1) independent, each hidden value H[k, p] is a sum of
    // N (G + 1) terms a cos(mA) + b sin(mA) of variance cos^2 + sin^2 = 1: Var(H) = N (G + 1),
    // whatever the scores. Then sigma(A)[n] = sum_p W[n, p] H[k, p] has variance
    // r Var(W) N (G + 1). Softmax at init is close to uniform: entries ~ 1 / N, so
    // E[entry^2] ~ 1 / N^2 (and out = sum_n s_n V_n has variance Var(V) / N either way).
    // Matching: Var(W) = 1 / (N^3 r (G + 1)), i.e. std = 1 / (N sqrt(N r (G + 1))).
    const std = 1 / (tokens * Math.sqrt(tokens * config.rank * (config.order + 1)));
    this.weight = this.parameter('weight', normal(rng, weightShape!, std));
  }
}
