// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// KAN basis expansions (see src/backends/cpu/kernels/kan_bases.ts for the
// reference loops and the formulas).
//
// B-spline: per element, the order + 1 window of non-zero bases by the
// Cox-de Boor triangle in f64, as the reference, but multiplying by inverse
// knot widths computed once per call (so a result can differ from the
// reference's division by an f64 rounding, far below f32 resolution). Lanes
// would each need their own knots and span, so it stays scalar; the gains over
// the TypeScript loop are the span search, no divisions or branches in the
// triangle, and plain typed loads.
//
// Radial basis: f32x4 over the centres, with the kernels' f32 exp.
//
// Chebyshev: f32x4 over four elements (the recurrence runs along k, so the
// lanes are elements), t from the kernels' f32 tanh; each lane's T_k / gy_k is
// at stride degree + 1, so stores and gy loads are per lane. A tail of fewer
// than 4 elements runs in the same lanes (same bits as a full block).

import { tanhLanes } from './elementwise';
import { expLanes } from './normalization';

/** The window's `first` when x lies outside the knots (every basis 0). */
const OUTSIDE: i32 = i32.MIN_VALUE;

// @ts-ignore: decorator
@inline function knot(base: usize, i: i32): f64 {
  return <f64>load<f32>(base + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function slot(values: usize, m: i32): usize {
  return values + (<usize>m << 3);
}

/**
 * inverse[(c order + d - 1) knots + j] = 1 / (t_{j+d} - t_j) for d = 1..order
 * (f64; 0 over a zero-width span, whose term counts as 0): per call
 * channels x order x knots divisions instead of ~order^2 per element.
 */
function writeInverseWidths(grid: usize, inverse: usize, channels: i32, knots: i32, order: i32): void {
  for (let c = 0; c < channels; c++) {
    const base = grid + ((<usize>c * <usize>knots) << 2);
    for (let d = 1; d <= order; d++) {
      const row = inverse + ((<usize>(c * order + d - 1) * <usize>knots) << 3);
      for (let j = 0; j < knots; j++) {
        const width = j + d < knots ? knot(base, j + d) - knot(base, j) : 0;
        store<f64>(row + (<usize>j << 3), width > 0 ? 1 / width : 0);
      }
    }
  }
}

/**
 * values[m] = B_{first+m,order}(x), m = 0..order (f64 slots); with `lower` != 0
 * also lower[m] = B_{first+m,order-1}(x). `inverse` is the channel's block of
 * writeInverseWidths. Returns first = span - order, or OUTSIDE.
 */
// @ts-ignore: decorator
@inline function splineWindow(x: f64, base: usize, inverse: usize, knots: i32, order: i32, values: usize, lower: usize): i32 {
  const low = knot(base, 0);
  const high = knot(base, knots - 1);
  if (!(x >= low && x < high)) return OUTSIDE;
  // Span s: the last knot <= x (unique, since t_s <= x < t_{s+1} excludes
  // zero-width spans). Guessed as if the knots were uniform, then walked:
  // exact on any grid, one step or none on the usual uniform one (a
  // bisection's data-dependent branches cost more than the recursion).
  let span = <i32>((x - low) / (high - low) * <f64>(knots - 1));
  span = min(max(span, 0), knots - 2);
  while (span < knots - 2 && knot(base, span + 1) <= x) span++;
  while (span > 0 && knot(base, span) > x) span--;
  store<f64>(values, 1.0);
  for (let m = 1; m <= order; m++) store<f64>(slot(values, m), 0.0);
  for (let d = 1; d <= order; d++) {
    if (d == order && lower != 0) {
      store<f64>(lower, 0.0);
      for (let m = 0; m < order; m++) store<f64>(slot(lower, m + 1), load<f64>(slot(values, m)));
    }
    const maxValid = knots - 2 - d;
    const row = inverse + ((<usize>(d - 1) * <usize>knots) << 3);
    for (let m = d; m >= 0; m--) {
      const j = span - d + m;
      let v: f64 = 0;
      if (j >= 0 && j <= maxValid) {
        // B_{j,d-1} and B_{j+1,d-1}; a missing neighbour or zero-width span contributes 0 (x is finite here).
        const fromJ: f64 = m >= 1 ? load<f64>(slot(values, m - 1)) : 0;
        const fromNext: f64 = m <= d - 1 ? load<f64>(slot(values, m)) : 0;
        v = (x - knot(base, j)) * load<f64>(slot(row, j)) * fromJ
          + (knot(base, j + d + 1) - x) * load<f64>(slot(row, j + 1)) * fromNext;
      }
      store<f64>(slot(values, m), v);
    }
  }
  return span - order;
}

/**
 * out [rows, channels, bases] (f32, written whole) from x [rows, channels] and
 * grid [channels, knots]; `scratch` holds 2 (order + 1) f64 followed by
 * channels x order x knots f64 of inverse widths (written here).
 */
export function bsplineBasisForward(x: usize, grid: usize, out: usize, scratch: usize, rows: i32, channels: i32, knots: i32,
  order: i32): void {
  const bases = knots - order - 1;
  const elements = rows * channels;
  const inverse = slot(scratch, 2 * (order + 1));
  const channelInverse = (<usize>order * <usize>knots) << 3;
  writeInverseWidths(grid, inverse, channels, knots, order);
  memory.fill(out, 0, (<usize>elements * <usize>bases) << 2);
  for (let e = 0, c = 0; e < elements; e++, c = c + 1 == channels ? 0 : c + 1) {
    const v = <f64>load<f32>(x + (<usize>e << 2));
    const at = out + ((<usize>e * <usize>bases) << 2);
    if (isNaN(v)) {
      for (let j = 0; j < bases; j++) store<f32>(at + (<usize>j << 2), NaN);
      continue;
    }
    const first = splineWindow(v, grid + ((<usize>c * <usize>knots) << 2), inverse + <usize>c * channelInverse, knots, order,
      scratch, 0);
    if (first == OUTSIDE) continue;
    for (let m = 0; m <= order; m++) {
      const j = first + m;
      if (j >= 0 && j < bases) store<f32>(at + (<usize>j << 2), <f32>load<f64>(slot(scratch, m)));
    }
  }
}

/**
 * dx [rows, channels] = sum_j gy[.., j] B'_{j,order}(x); `scratch` as for
 * bsplineBasisForward.
 */
export function bsplineBasisBackward(x: usize, grid: usize, gy: usize, dx: usize, scratch: usize, rows: i32, channels: i32,
  knots: i32, order: i32): void {
  const bases = knots - order - 1;
  const elements = rows * channels;
  const lower = slot(scratch, order + 1);
  const inverse = slot(scratch, 2 * (order + 1));
  const channelInverse = (<usize>order * <usize>knots) << 3;
  if (order > 0) writeInverseWidths(grid, inverse, channels, knots, order);
  const scale = <f64>order;
  for (let e = 0, c = 0; e < elements; e++, c = c + 1 == channels ? 0 : c + 1) {
    const v = <f64>load<f32>(x + (<usize>e << 2));
    const to = dx + (<usize>e << 2);
    if (isNaN(v)) {
      store<f32>(to, NaN);
      continue;
    }
    store<f32>(to, 0);
    if (order == 0) continue;
    const base = grid + ((<usize>c * <usize>knots) << 2);
    const channelRows = inverse + <usize>c * channelInverse;
    const first = splineWindow(v, base, channelRows, knots, order, scratch, lower);
    if (first == OUTSIDE) continue;
    // Widths of order `order`: t_{j+order} - t_j.
    const top = channelRows + ((<usize>(order - 1) * <usize>knots) << 3);
    const g = gy + ((<usize>e * <usize>bases) << 2);
    let sum: f64 = 0;
    for (let m = 0; m <= order; m++) {
      const j = first + m;
      if (j < 0 || j >= bases) continue;
      // B'_{j,order} = order (B_{j,order-1} / (t_{j+order} - t_j) - B_{j+1,order-1} / (t_{j+order+1} - t_{j+1})).
      const lowerNext: f64 = m < order ? load<f64>(slot(lower, m + 1)) : 0;
      const derivative = scale * load<f64>(slot(lower, m)) * load<f64>(slot(top, j)) - scale * lowerNext * load<f64>(slot(top, j + 1));
      sum += <f64>load<f32>(g + (<usize>j << 2)) * derivative;
    }
    store<f32>(to, <f32>sum);
  }
}

/** centres[k] = low + k spacing as f32, padded with copies of the last to a multiple of 4. */
function writeCentres(centres: usize, count: i32, low: f64, spacing: f64): void {
  const padded = (count + 3) & ~3;
  for (let k = 0; k < padded; k++) store<f32>(centres + (<usize>k << 2), <f32>(low + <f64>min(k, count - 1) * spacing));
}

/**
 * out [size, count] = exp(-((x - c_k) / h)^2); `centres` has room for
 * count rounded up to 4 f32 (written here).
 */
export function radialBasisForward(x: usize, out: usize, centres: usize, size: i32, count: i32, low: f64, spacing: f64,
  inverseWidth: f64): void {
  writeCentres(centres, count, low, spacing);
  const full = count & ~3;
  const invW = f32x4.splat(<f32>inverseWidth);
  for (let i = 0; i < size; i++) {
    const v = f32x4.splat(load<f32>(x + (<usize>i << 2)));
    const row = out + ((<usize>i * <usize>count) << 2);
    let k = 0;
    for (; k < full; k += 4) {
      const z = f32x4.mul(f32x4.sub(v, v128.load(centres + (<usize>k << 2))), invW);
      v128.store(row + (<usize>k << 2), expLanes(f32x4.neg(f32x4.mul(z, z))));
    }
    if (k < count) {
      const z = f32x4.mul(f32x4.sub(v, v128.load(centres + (<usize>k << 2))), invW);
      const e = expLanes(f32x4.neg(f32x4.mul(z, z)));
      const at = row + (<usize>k << 2);
      store<f32>(at, f32x4.extract_lane(e, 0));
      if (k + 1 < count) store<f32>(at + 4, f32x4.extract_lane(e, 1));
      if (k + 2 < count) store<f32>(at + 8, f32x4.extract_lane(e, 2));
    }
  }
}

/** dx [size] = -2 / h sum_k gy[i, k] z_k exp(-z_k^2), z_k = (x - c_k) / h. */
export function radialBasisBackward(x: usize, gy: usize, dx: usize, centres: usize, size: i32, count: i32, low: f64, spacing: f64,
  inverseWidth: f64): void {
  writeCentres(centres, count, low, spacing);
  const full = count & ~3;
  const invW = f32x4.splat(<f32>inverseWidth);
  const scale = -2 * inverseWidth;
  for (let i = 0; i < size; i++) {
    const v = f32x4.splat(load<f32>(x + (<usize>i << 2)));
    const g = gy + ((<usize>i * <usize>count) << 2);
    let acc = f32x4.splat(0);
    let k = 0;
    for (; k < full; k += 4) {
      const z = f32x4.mul(f32x4.sub(v, v128.load(centres + (<usize>k << 2))), invW);
      const phi = expLanes(f32x4.neg(f32x4.mul(z, z)));
      acc = f32x4.add(acc, f32x4.mul(v128.load(g + (<usize>k << 2)), f32x4.mul(z, phi)));
    }
    let sum: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1)
      + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
    if (k < count) {
      const z = f32x4.mul(f32x4.sub(v, v128.load(centres + (<usize>k << 2))), invW);
      const t = f32x4.mul(z, expLanes(f32x4.neg(f32x4.mul(z, z))));
      const at = g + (<usize>k << 2);
      sum += <f64>(load<f32>(at) * f32x4.extract_lane(t, 0));
      if (k + 1 < count) sum += <f64>(load<f32>(at + 4) * f32x4.extract_lane(t, 1));
      if (k + 2 < count) sum += <f64>(load<f32>(at + 8) * f32x4.extract_lane(t, 2));
    }
    store<f32>(dx + (<usize>i << 2), <f32>(scale * sum));
  }
}

/** Lanes 0..count-1 of f32 values at base + lane * stride bytes (the rest 0). */
// @ts-ignore: decorator
@inline function gatherLanes(base: usize, stride: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(base));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(base + stride));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(base + 2 * stride));
  if (count > 3) v = f32x4.replace_lane(v, 3, load<f32>(base + 3 * stride));
  return v;
}

/** Stores lanes 0..count-1 of v at base + lane * stride bytes. */
// @ts-ignore: decorator
@inline function scatterLanes(v: v128, base: usize, stride: usize, count: i32): void {
  store<f32>(base, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(base + stride, f32x4.extract_lane(v, 1));
  if (count > 2) store<f32>(base + 2 * stride, f32x4.extract_lane(v, 2));
  if (count > 3) store<f32>(base + 3 * stride, f32x4.extract_lane(v, 3));
}

/**
 * out [size, degree + 1] = T_k(tanh x), k = 0..degree, by T_{k+1} = 2 t T_k - T_{k-1}.
 * T_0 is t * 0 + 1: 1, or NaN for NaN x.
 */
export function chebyshevBasisForward(x: usize, out: usize, size: i32, degree: i32): void {
  const stride = <usize>(degree + 1) << 2;
  for (let i = 0; i < size; i += 4) {
    const count = min(size - i, 4);
    const v = count == 4 ? v128.load(x + (<usize>i << 2)) : gatherLanes(x + (<usize>i << 2), 4, count);
    const t = tanhLanes(v);
    const twoT = f32x4.add(t, t);
    const row = out + <usize>i * stride;
    let previous = f32x4.add(f32x4.mul(t, f32x4.splat(0)), f32x4.splat(1));
    scatterLanes(previous, row, stride, count);
    if (degree == 0) continue;
    let current = t;
    scatterLanes(current, row + 4, stride, count);
    for (let k = 2; k <= degree; k++) {
      const next = f32x4.sub(f32x4.mul(twoT, current), previous);
      scatterLanes(next, row + (<usize>k << 2), stride, count);
      previous = current;
      current = next;
    }
  }
}

/**
 * dx [size] = (1 - t^2) sum_{k>=1} gy[i, k] k U_{k-1}(t), t = tanh x, with
 * U_{k+1} = 2 t U_k - U_{k-1} and 1 - t^2 = 4e / (1 + e)^2, e = e^(-2|x|)
 * (accurate where t rounds to +-1; NaN for NaN x).
 */
export function chebyshevBasisBackward(x: usize, gy: usize, dx: usize, size: i32, degree: i32): void {
  const stride = <usize>(degree + 1) << 2;
  for (let i = 0; i < size; i += 4) {
    const count = min(size - i, 4);
    const v = count == 4 ? v128.load(x + (<usize>i << 2)) : gatherLanes(x + (<usize>i << 2), 4, count);
    const t = tanhLanes(v);
    const twoT = f32x4.add(t, t);
    const e = expLanes(f32x4.mul(v128.andnot(v, i32x4.splat(0x80000000)), f32x4.splat(-2)));
    const d = f32x4.add(f32x4.splat(1), e);
    const slope = f32x4.div(f32x4.mul(e, f32x4.splat(4)), f32x4.mul(d, d));
    const g = gy + <usize>i * stride;
    let previous = f32x4.splat(0); // U_{-1}
    let current = f32x4.splat(1); // U_0
    let sum = f32x4.splat(0);
    for (let k = 1; k <= degree; k++) {
      const gk = gatherLanes(g + (<usize>k << 2), stride, count);
      sum = f32x4.add(sum, f32x4.mul(gk, f32x4.mul(current, f32x4.splat(<f32>k))));
      const next = f32x4.sub(f32x4.mul(twoT, current), previous);
      previous = current;
      current = next;
    }
    scatterLanes(f32x4.mul(slope, sum), dx + (<usize>i << 2), 4, count);
  }
}
