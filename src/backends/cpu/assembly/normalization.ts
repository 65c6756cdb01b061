// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Row-wise layerNorm and softmax over row-major [rows, cols] f32 (see
// src/backends/cpu/kernels/normalization.ts for the reference loops). Rows need
// not be 16-byte aligned (wasm loads are unaligned); the last cols % 4 of a row
// run as scalars. Row statistics (sums, means, dot products) are f64, as in the
// reference, so long rows do not lose precision; per-element work is f32x4.

import { fma } from './simd';

// --- exp ------------------------------------------------------------------------

const LOG2E: f32 = 1.44269504;
// ln 2 split so n * LN2_HI is exact for |n| < 2^15 (Cody-Waite reduction).
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** Beyond these exp overflows to +inf / underflows to 0 in f32. */
const EXP_MAX: f32 = 88.7228394;
const EXP_MIN: f32 = -103.972084;

/**
 * e^x in f32 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor
 * polynomial (truncation < 0.1 ulp), then times 2^n as two exponent-field
 * products so results in the subnormal range still come out. Max error ~2 ulp.
 */
// @ts-ignore: decorator
@inline export function expLanes(x: v128): v128 {
  const high = f32x4.gt(x, f32x4.splat(EXP_MAX));
  const clamped = f32x4.max(f32x4.min(x, f32x4.splat(EXP_MAX)), f32x4.splat(EXP_MIN));
  const n = f32x4.nearest(f32x4.mul(clamped, f32x4.splat(LOG2E)));
  let r = fma(n, f32x4.splat(-LN2_HI), clamped);
  r = fma(n, f32x4.splat(-LN2_LO), r);
  let p = fma(f32x4.splat(1.0 / 5040), r, f32x4.splat(1.0 / 720));
  p = fma(p, r, f32x4.splat(1.0 / 120));
  p = fma(p, r, f32x4.splat(1.0 / 24));
  p = fma(p, r, f32x4.splat(1.0 / 6));
  p = fma(p, r, f32x4.splat(0.5));
  p = fma(p, r, f32x4.splat(1));
  p = fma(p, r, f32x4.splat(1));
  // 2^n = 2^half * 2^(n - half): each factor is a normal f32 for n in [-150, 128].
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const half = i32x4.shr_s(ni, 1);
  const scale1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  const scale2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), i32x4.splat(127)), 23);
  const result = f32x4.mul(f32x4.mul(p, scale1), scale2);
  // x > EXP_MAX: +inf; NaN passes through (min/max propagate it).
  return v128.bitselect(f32x4.splat(Infinity), result, high);
}

/** dst[i] = e^src[i] (the kernel's exp, exported so its accuracy can be tested). */
export function expF32(src: usize, dst: usize, n: i32): void {
  const full = <usize>(n & ~3) << 2;
  let i: usize = 0;
  for (; i < full; i += 16) v128.store(dst + i, expLanes(v128.load(src + i)));
  for (; i < (<usize>n << 2); i += 4) store<f32>(dst + i, expScalar(load<f32>(src + i)));
}

/** One lane of expLanes (row tails), so a row's values do not depend on their column. */
// @ts-ignore: decorator
@inline function expScalar(x: f32): f32 {
  return f32x4.extract_lane(expLanes(f32x4.splat(x)), 0);
}

// --- helpers --------------------------------------------------------------------

/** The four lanes of v as two f64x2 sums added into acc. */
// @ts-ignore: decorator
@inline function addWide(acc: v128, v: v128): v128 {
  return f64x2.add(f64x2.add(acc, f64x2.promote_low_f32x4(v)), f64x2.promote_low_f32x4(highHalf(v)));
}

/** Lanes 2, 3 of v moved to lanes 0, 1 (for promote_low). */
// @ts-ignore: decorator
@inline function highHalf(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 2, 3);
}

// @ts-ignore: decorator
@inline function sumWide(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** (x - mu) * inv for four f32 lanes, computed in f64 and rounded once. */
// @ts-ignore: decorator
@inline function centredScaled(v: v128, mu: v128, inv: v128): v128 {
  const low = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v), mu), inv);
  const high = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(highHalf(v)), mu), inv);
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
}

// --- layerNorm ------------------------------------------------------------------

/**
 * y = (x - mean) * rstd * weight + bias per row; writes mean and rstd (f32, as
 * the backward reads them). Two passes for the variance, as the reference.
 */
export function layerNormForward(x: usize, weight: usize, bias: usize, y: usize, mean: usize, rstd: usize, rows: i32, cols: i32,
  eps: f64): void {
  const rowBytes = <usize>cols << 2;
  const full = <usize>(cols & ~3) << 2;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    const out = y + <usize>r * rowBytes;
    let acc = f64x2.splat(0);
    let i: usize = 0;
    for (; i < full; i += 16) acc = addWide(acc, v128.load(row + i));
    let sum = sumWide(acc);
    for (; i < rowBytes; i += 4) sum += <f64>load<f32>(row + i);
    const mu = sum / cols;
    const muWide = f64x2.splat(mu);
    acc = f64x2.splat(0);
    for (i = 0; i < full; i += 16) {
      const v = v128.load(row + i);
      const low = f64x2.sub(f64x2.promote_low_f32x4(v), muWide);
      const high = f64x2.sub(f64x2.promote_low_f32x4(highHalf(v)), muWide);
      acc = f64x2.add(acc, f64x2.add(f64x2.mul(low, low), f64x2.mul(high, high)));
    }
    let sq = sumWide(acc);
    for (; i < rowBytes; i += 4) { const d = <f64>load<f32>(row + i) - mu; sq += d * d; }
    const inv = 1 / Math.sqrt(sq / cols + eps);
    const invWide = f64x2.splat(inv);
    for (i = 0; i < full; i += 16) {
      const xhat = centredScaled(v128.load(row + i), muWide, invWide);
      v128.store(out + i, fma(xhat, v128.load(weight + i), v128.load(bias + i)));
    }
    for (; i < rowBytes; i += 4) {
      store<f32>(out + i, <f32>((<f64>load<f32>(row + i) - mu) * inv * <f64>load<f32>(weight + i) + <f64>load<f32>(bias + i)));
    }
    store<f32>(mean + (<usize>r << 2), <f32>mu);
    store<f32>(rstd + (<usize>r << 2), <f32>inv);
  }
}

/**
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * weight.
 * dWeight += gy * xhat and dBias += gy go into f64 totals (cols each) in row
 * order, so the result does not depend on how the caller chunks rows.
 */
export function layerNormBackward(x: usize, weight: usize, mean: usize, rstd: usize, gy: usize, dx: usize, dWeight: usize,
  dBias: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const full = <usize>(cols & ~3) << 2;
  for (let r = 0; r < rows; r++) {
    const offset = <usize>r * rowBytes;
    const row = x + offset;
    const grow = gy + offset;
    const mu = <f64>load<f32>(mean + (<usize>r << 2));
    const inv = <f64>load<f32>(rstd + (<usize>r << 2));
    const muWide = f64x2.splat(mu);
    const invWide = f64x2.splat(inv);
    let accG = f64x2.splat(0);
    let accGX = f64x2.splat(0);
    let i: usize = 0;
    for (; i < full; i += 16) {
      const v = v128.load(row + i);
      const gv = v128.load(grow + i);
      const gLow = f64x2.promote_low_f32x4(gv);
      const gHigh = f64x2.promote_low_f32x4(highHalf(gv));
      const xLow = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v), muWide), invWide);
      const xHigh = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(highHalf(v)), muWide), invWide);
      const wv = v128.load(weight + i);
      const wLow = f64x2.promote_low_f32x4(wv);
      const wHigh = f64x2.promote_low_f32x4(highHalf(wv));
      const gwLow = f64x2.mul(gLow, wLow);
      const gwHigh = f64x2.mul(gHigh, wHigh);
      accG = f64x2.add(accG, f64x2.add(gwLow, gwHigh));
      accGX = f64x2.add(accGX, f64x2.add(f64x2.mul(gwLow, xLow), f64x2.mul(gwHigh, xHigh)));
      const dw = dWeight + (i << 1);
      v128.store(dw, f64x2.add(v128.load(dw), f64x2.mul(gLow, xLow)));
      v128.store(dw, f64x2.add(v128.load(dw, 16), f64x2.mul(gHigh, xHigh)), 16);
      const db = dBias + (i << 1);
      v128.store(db, f64x2.add(v128.load(db), gLow));
      v128.store(db, f64x2.add(v128.load(db, 16), gHigh), 16);
    }
    let sumG = sumWide(accG);
    let sumGX = sumWide(accGX);
    for (; i < rowBytes; i += 4) {
      const g = <f64>load<f32>(grow + i);
      const xhat = (<f64>load<f32>(row + i) - mu) * inv;
      const gw = g * <f64>load<f32>(weight + i);
      sumG += gw;
      sumGX += gw * xhat;
      const dw = dWeight + (i << 1);
      store<f64>(dw, load<f64>(dw) + g * xhat);
      const db = dBias + (i << 1);
      store<f64>(db, load<f64>(db) + g);
    }
    const meanG = sumG / cols;
    const meanGX = sumGX / cols;
    // dx = inv * g*w - (inv * meanG) - xhat * (inv * meanGX)
    const shift = f32x4.splat(<f32>(inv * meanG));
    const slope = f32x4.splat(<f32>(inv * meanGX));
    const invLanes = f32x4.splat(<f32>inv);
    const out = dx + offset;
    for (i = 0; i < full; i += 16) {
      const xhat = centredScaled(v128.load(row + i), muWide, invWide);
      const gw = f32x4.mul(v128.load(grow + i), v128.load(weight + i));
      v128.store(out + i, f32x4.sub(f32x4.sub(f32x4.mul(gw, invLanes), shift), f32x4.mul(xhat, slope)));
    }
    for (; i < rowBytes; i += 4) {
      const xhat = (<f64>load<f32>(row + i) - mu) * inv;
      store<f32>(out + i, <f32>(inv * (<f64>load<f32>(grow + i) * <f64>load<f32>(weight + i) - meanG - xhat * meanGX)));
    }
  }
}

// --- softmax --------------------------------------------------------------------

/** y = exp(x - max) / sum per row; the sum is f64. */
export function softmaxForward(x: usize, y: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) softmaxRow(x + <usize>r * rowBytes, y + <usize>r * rowBytes, cols, 1);
}

/**
 * One row of softmax(scale x) into out (which may be the row itself);
 * returns its log-sum-exp, max + log(sum), in f64.
 */
// @ts-ignore: decorator
@inline export function softmaxRow(row: usize, out: usize, cols: i32, scale: f32): f64 {
  const rowBytes = <usize>cols << 2;
  const full = <usize>(cols & ~3) << 2;
  const factor = f32x4.splat(scale);
  let maxLanes = f32x4.splat(-Infinity);
  let i: usize = 0;
  for (; i < full; i += 16) maxLanes = f32x4.max(maxLanes, f32x4.mul(v128.load(row + i), factor));
  let rowMax = max(max(f32x4.extract_lane(maxLanes, 0), f32x4.extract_lane(maxLanes, 1)),
    max(f32x4.extract_lane(maxLanes, 2), f32x4.extract_lane(maxLanes, 3)));
  for (; i < rowBytes; i += 4) rowMax = max(rowMax, load<f32>(row + i) * scale);
  const shift = f32x4.splat(rowMax);
  let acc = f64x2.splat(0);
  for (i = 0; i < full; i += 16) {
    const e = expLanes(f32x4.sub(f32x4.mul(v128.load(row + i), factor), shift));
    v128.store(out + i, e);
    acc = addWide(acc, e);
  }
  let sum = sumWide(acc);
  for (; i < rowBytes; i += 4) {
    const e = expScalar(load<f32>(row + i) * scale - rowMax);
    store<f32>(out + i, e);
    sum += <f64>e;
  }
  const invScalar = <f32>(1 / sum);
  const inv = f32x4.splat(invScalar);
  for (i = 0; i < full; i += 16) v128.store(out + i, f32x4.mul(v128.load(out + i), inv));
  for (; i < rowBytes; i += 4) store<f32>(out + i, load<f32>(out + i) * invScalar);
  return <f64>rowMax + Math.log(sum);
}

/** dx = y * (dy - sum(dy * y)) per row; the dot product is f64. */
export function softmaxBackward(y: usize, gy: usize, dx: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const full = <usize>(cols & ~3) << 2;
  for (let r = 0; r < rows; r++) {
    const offset = <usize>r * rowBytes;
    const yRow = y + offset;
    const gRow = gy + offset;
    const out = dx + offset;
    let acc = f64x2.splat(0);
    let i: usize = 0;
    for (; i < full; i += 16) {
      const yv = v128.load(yRow + i);
      const gv = v128.load(gRow + i);
      acc = f64x2.add(acc, f64x2.mul(f64x2.promote_low_f32x4(yv), f64x2.promote_low_f32x4(gv)));
      acc = f64x2.add(acc, f64x2.mul(f64x2.promote_low_f32x4(highHalf(yv)),
        f64x2.promote_low_f32x4(highHalf(gv))));
    }
    let dot = sumWide(acc);
    for (; i < rowBytes; i += 4) dot += <f64>load<f32>(yRow + i) * <f64>load<f32>(gRow + i);
    const dotLanes = f32x4.splat(<f32>dot);
    for (i = 0; i < full; i += 16) {
      v128.store(out + i, f32x4.mul(v128.load(yRow + i), f32x4.sub(v128.load(gRow + i), dotLanes)));
    }
    for (; i < rowBytes; i += 4) {
      store<f32>(out + i, <f32>(<f64>load<f32>(yRow + i) * (<f64>load<f32>(gRow + i) - dot)));
    }
  }
}
