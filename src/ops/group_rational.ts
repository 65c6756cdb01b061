// The group-rational activation of GR-KAN (KAT), as one fused op.

import { formatShape, Tensor } from '../tensor/tensor.js';
import { assertTensor, backendOf, output } from './op.js';

/** Coefficients per group: a0..a5 of P and b0..b3 of Q. */
export const NUMERATOR_COEFFICIENTS = 6;
/** Denominator coefficients per group of groupRational (b0..b3: Q(x) = 1 + sum |b_j| |x|^(j+1)). */
export const DENOMINATOR_COEFFICIENTS = 4;

/**
 * y = P(x) / Q(x) per channel, with P(x) = a0 + a1 x + ... + a5 x^5 and
 * Q(x) = 1 + |b0||x| + |b1||x|^2 + |b2||x|^3 + |b3||x|^4. x is [..., D]; the D
 * channels form G contiguous groups (G = denominator rows, D % G == 0). The
 * numerator is [1, 6] (shared; its gradient sums over groups) or [G, 6].
 */
export function groupRational(x: Tensor, numerator: Tensor, denominator: Tensor): Tensor {
  const op = 'groupRational';
  assertTensor(op, 'x', x);
  assertTensor(op, 'numerator', numerator);
  assertTensor(op, 'denominator', denominator);
  const backend = backendOf(op, x, numerator, denominator);
  if (denominator.rank !== 2 || denominator.shape[1] !== DENOMINATOR_COEFFICIENTS || denominator.shape[0]! < 1) {
    throw new Error(`${op}: denominator must be [G, 4] (one row of b0..b3 per group), got ${formatShape(denominator.shape)}`);
  }
  const groups = denominator.shape[0]!;
  if (numerator.rank !== 2 || numerator.shape[1] !== NUMERATOR_COEFFICIENTS || (numerator.shape[0] !== 1 && numerator.shape[0] !== groups)) {
    throw new Error(`${op}: numerator must be [1, 6] (shared) or [${groups}, 6] (one row of a0..a5 per group, G = ${groups} from ` +
      `denominator ${formatShape(denominator.shape)}), got ${formatShape(numerator.shape)}`);
  }
  if (x.rank < 1) throw new Error(`${op}: x must have a channel axis ([..., D]), got a scalar`);
  const channels = x.shape[x.rank - 1]!;
  if (channels % groups !== 0) {
    throw new Error(`${op}: x ${formatShape(x.shape)} has D = ${channels} channels, which ${groups} groups do not divide ` +
      `(D % G must be 0; G comes from denominator ${formatShape(denominator.shape)})`);
  }
  const rows = channels === 0 ? 0 : x.size / channels;
  const shared = numerator.shape[0] === 1 && groups !== 1;
  const buffer = backend.kernels.groupRational(x.buffer, numerator.buffer, denominator.buffer, rows, channels, groups, shared);
  return output(op, backend, buffer, x.shape, [x, numerator, denominator], (g) => {
    const [dx, dNumerator, dDenominator] = backend.kernels.groupRationalBackward(
      x.buffer, numerator.buffer, denominator.buffer, g.buffer, rows, channels, groups, shared);
    return [
      Tensor.fromBuffer(backend, dx, x.shape),
      Tensor.fromBuffer(backend, dNumerator, numerator.shape),
      Tensor.fromBuffer(backend, dDenominator, denominator.shape),
    ];
  });
}
