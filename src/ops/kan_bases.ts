// Basis expansions of other KANs, as fused ops: B-splines (efficient-kan),
// Gaussian radial basis functions (FastKAN) and Chebyshev polynomials of
// tanh x (ChebyKAN). Each maps x [..., C] to
// [..., C, K]; a linear layer over the flattened C * K values then gives the
// KAN layer (see nn/kan_bases.ts). Gradients flow to x only: the knot grid and
// the RBF centres are fixed (the grid changes only by an explicit update).

import { formatShape, Tensor } from '../tensor/tensor.js';
import { assertTensor, backendOf, output } from './op.js';

/** Highest spline order the kernels take (the WGSL is specialised per order). */
export const MAX_SPLINE_ORDER = 8;

/**
 * B-spline bases of order `order` (degree; 3 = cubic) of x [..., C] over a
 * per-channel knot grid [C, M] (non-decreasing rows, M >= order + 2), by the
 * Cox-de Boor recursion: returns [..., C, M - order - 1]. A basis is 0
 * outside the knots, so x outside [t_0, t_{M-1}) expands to zeros.
 */
export function bsplineBasis(x: Tensor, grid: Tensor, order: number): Tensor {
  const op = 'bsplineBasis';
  assertTensor(op, 'x', x);
  assertTensor(op, 'grid', grid);
  const backend = backendOf(op, x, grid);
  if (!Number.isInteger(order) || order < 0 || order > MAX_SPLINE_ORDER) {
    throw new Error(`${op}: order ${order} must be an integer in [0, ${MAX_SPLINE_ORDER}] (3 for cubic splines)`);
  }
  if (x.rank < 1) throw new Error(`${op}: x must have a channel axis ([..., C]), got a scalar`);
  const channels = x.shape[x.rank - 1]!;
  if (grid.rank !== 2 || grid.shape[0] !== channels || grid.shape[1]! < order + 2) {
    throw new Error(`${op}: x ${formatShape(x.shape)} needs a grid of shape [${channels}, M] (one row of knots per channel) with ` +
      `M >= order + 2 = ${order + 2}, got ${formatShape(grid.shape)}`);
  }
  const knots = grid.shape[1]!;
  const bases = knots - order - 1;
  const rows = channels === 0 ? 0 : x.size / channels;
  const buffer = backend.kernels.bsplineBasis(x.buffer, grid.buffer, rows, channels, knots, order);
  return output(op, backend, buffer, [...x.shape, bases], [x, grid], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.bsplineBasisBackward(x.buffer, grid.buffer, g.buffer, rows, channels, knots, order), x.shape),
    null,
  ]);
}

/**
 * Knots of a uniform grid as efficient-kan lays them out: `gridSize` intervals
 * over [low, high] extended by `order` knots on each side, so that the
 * gridSize + order bases sum to 1 on [low, high). Length gridSize + 2 order + 1.
 */
export function uniformKnots(gridSize: number, order: number, low: number, high: number): Float64Array {
  if (!Number.isInteger(gridSize) || gridSize < 1) throw new Error(`uniformKnots: gridSize ${gridSize} must be a positive integer`);
  if (!Number.isInteger(order) || order < 0 || order > MAX_SPLINE_ORDER) {
    throw new Error(`uniformKnots: order ${order} must be an integer in [0, ${MAX_SPLINE_ORDER}]`);
  }
  if (!(Number.isFinite(low) && Number.isFinite(high) && high > low)) {
    throw new Error(`uniformKnots: the range [${low}, ${high}] must be finite with high > low`);
  }
  const step = (high - low) / gridSize;
  return Float64Array.from({ length: gridSize + 2 * order + 1 }, (_, i) => low + (i - order) * step);
}

/** The Gaussian grid of radialBasis (FastKAN's centres and width). */
export interface RadialBasisOptions {
  /** First centre (default -2, FastKAN's grid_min). */
  low?: number;
  /** Last centre (default 2, FastKAN's grid_max). */
  high?: number;
  /** Number of centres K, evenly spaced from low to high (default 8). */
  centers?: number;
  /** h in exp(-((x - c) / h)^2); default the centre spacing (high - low) / (K - 1). */
  width?: number;
}

/** The resolved centres and width of a radial basis (for layers and errors). */
export function radialBasisSpec(options: RadialBasisOptions = {}): { low: number; high: number; centers: number; spacing: number; width: number } {
  const low = options.low ?? -2;
  const high = options.high ?? 2;
  const centers = options.centers ?? 8;
  if (!Number.isInteger(centers) || centers < 1) throw new Error(`radialBasis: centers ${centers} must be a positive integer`);
  if (!(Number.isFinite(low) && Number.isFinite(high) && (high > low || (centers === 1 && high === low)))) {
    throw new Error(`radialBasis: the centre range [${low}, ${high}] must be finite with high > low`);
  }
  const spacing = centers > 1 ? (high - low) / (centers - 1) : 0;
  const width = options.width ?? spacing;
  if (!(Number.isFinite(width) && width > 0)) {
    throw new Error(`radialBasis: width ${width} must be a finite number > 0${centers === 1 && options.width === undefined ? ' (give one: a single centre has no spacing)' : ''}`);
  }
  return { low, high, centers, spacing, width };
}

/**
 * Gaussian radial bases of x [..., C] (FastKAN): [..., C, K] with
 * exp(-((x - c_k) / h)^2) at K evenly spaced centres c_k.
 */
export function radialBasis(x: Tensor, options: RadialBasisOptions = {}): Tensor {
  const op = 'radialBasis';
  assertTensor(op, 'x', x);
  const { low, centers, spacing, width } = radialBasisSpec(options);
  const backend = x.backend;
  const buffer = backend.kernels.radialBasis(x.buffer, x.size, centers, low, spacing, width);
  return output(op, backend, buffer, [...x.shape, centers], [x], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.radialBasisBackward(x.buffer, g.buffer, x.size, centers, low, spacing, width), x.shape),
  ]);
}

/** Highest degree chebyshevBasis takes (ChebyKAN uses 3 to 8; the bound keeps float32 error, ~degree^2 ulp near |t| = 1, small). */
export const MAX_CHEBYSHEV_DEGREE = 32;

/**
 * Chebyshev polynomials of the first kind of tanh x (ChebyKAN): x [..., C] to
 * [..., C, degree + 1] with T_k(t), t = tanh x, k = 0..degree, by the
 * recurrence T_{k+1} = 2 t T_k - T_{k-1} (never cos(k acos t), whose
 * derivative is unbounded as |t| -> 1). The backward uses
 * dT_k/dx = k U_{k-1}(t) (1 - t^2), U the second kind, also by recurrence.
 * NaN x gives NaN everywhere, T_0 included.
 */
export function chebyshevBasis(x: Tensor, degree: number): Tensor {
  const op = 'chebyshevBasis';
  assertTensor(op, 'x', x);
  if (!Number.isInteger(degree) || degree < 0 || degree > MAX_CHEBYSHEV_DEGREE) {
    throw new Error(`${op}: degree ${degree} must be an integer in [0, ${MAX_CHEBYSHEV_DEGREE}]`);
  }
  if (x.rank < 1) throw new Error(`${op}: x must have a channel axis ([..., C]), got a scalar`);
  const backend = x.backend;
  const buffer = backend.kernels.chebyshevBasis(x.buffer, x.size, degree);
  return output(op, backend, buffer, [...x.shape, degree + 1], [x], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.chebyshevBasisBackward(x.buffer, g.buffer, x.size, degree), x.shape),
  ]);
}
