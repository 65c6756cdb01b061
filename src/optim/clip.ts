// Gradient clipping by the global L2 norm over all parameters' gradients.

import { noGrad } from '../tensor/autograd.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { mul, square } from '../ops/elementwise.js';
import { concat, reshape } from '../ops/layout.js';
import { sum } from '../ops/reduce.js';

/** Thrown by clipGradNorm when a gradient holds NaN or an infinity. */
export class NonFiniteGradientError extends Error {
  /** The names (or descriptions) of the parameters whose gradients hold NaN or an infinity. */
  constructor(readonly params: readonly string[]) {
    super(`gradient norm is NaN (non-finite values in the gradients of: ${params.join(', ')})`);
    this.name = 'NonFiniteGradientError';
  }
}

function label(param: Tensor, index: number): string {
  return param.name ?? `parameter ${index} (${param.describe()})`;
}

function hasNonFinite(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return true;
  return false;
}

/**
 * Returns the L2 norm of all gradients together (before clipping) and, when
 * it exceeds maxNorm, scales every gradient by maxNorm / (norm + 1e-6)
 * (each `.grad` is replaced by the scaled tensor; the old one is disposed).
 * Parameters without a gradient are ignored. Throws NonFiniteGradientError,
 * naming the parameters concerned, if a gradient holds NaN or an infinity.
 *
 * Each gradient's sum of squares is computed with ops and all are read back in
 * one transfer; the final sum and square root are in float64 on the host.
 */
export async function clipGradNorm(params: readonly Tensor[], maxNorm: number): Promise<number> {
  if (!Array.isArray(params)) throw new Error('clipGradNorm(): params must be an array of Tensors');
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new Error(`clipGradNorm(): maxNorm must be a number >= 0, got ${String(maxNorm)}`);
  }
  const withGrad: { param: Tensor; index: number }[] = [];
  params.forEach((param, index) => {
    if (param.grad) withGrad.push({ param, index });
  });
  if (withGrad.length === 0) return 0;

  const squares = noGrad(() => tidy(() =>
    concat(withGrad.map(({ param }) => reshape(sum(square(param.grad!)), [1])), 0)));
  let perParam: Float64Array;
  try {
    perParam = await squares.dataFloat64();
  } finally {
    squares.dispose();
  }

  let total = 0;
  const bad: string[] = [];
  for (let k = 0; k < withGrad.length; k++) {
    let s = perParam[k]!;
    if (!Number.isFinite(s)) {
      // NaN or an infinity in the gradient, or only a float32 overflow of the
      // sum of squares: look at the values themselves, in float64.
      const { param, index } = withGrad[k]!;
      const values = await param.grad!.dataFloat64();
      if (hasNonFinite(values)) {
        bad.push(label(param, index));
        continue;
      }
      s = 0;
      for (let i = 0; i < values.length; i++) s += values[i]! * values[i]!;
    }
    total += s;
  }
  if (bad.length > 0) {
    throw new NonFiniteGradientError(bad);
  }
  const norm = Math.sqrt(total);
  if (!Number.isFinite(norm)) {
    // Only possible on a float64 backend, with finite values beyond ~1e154.
    throw new Error(`clipGradNorm(): the gradient norm overflows float64 (gradients of: ${withGrad.map(({ param, index }) => label(param, index)).join(', ')})`);
  }
  if (norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const { param } of withGrad) {
      const old = param.grad!;
      param.grad = keep(noGrad(() => tidy(() => mul(old, scale))));
      old.dispose();
    }
  }
  return norm;
}
