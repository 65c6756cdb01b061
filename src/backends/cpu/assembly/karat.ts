// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Fourier-KArAt attention for ONE batch item (see src/backends/cpu/kernels/karat.ts
// for the math; the caller loops over items and heads). All arrays are f32, row-major:
//   scores [N, N], values / out / gOut / dValues [N, d], hidden / gH [N, r], weight [N, r],
//   coefficients cosC / sinC [r, stride] (a row [N, G+1] zero-padded to stride, a multiple of 4),
//   u / gU [r, d].
// Scratch: `stride`-long rows c, s (features of one score row), sa, sb, t (backward only).
// Only one score row's features exist at a time (O(N G) scratch).

import { fma } from './simd';

/** c[q, m] = cos(m x_q), s[q, m] = sin(m x_q) for the row at `row`, by the angle-addition recurrence (in f64). */
// @ts-ignore: decorator
@inline function features(row: usize, c: usize, s: usize, tokens: i32, terms: i32): void {
  for (let q = 0; q < tokens; q++) {
    const x = <f64>load<f32>(row + (<usize>q << 2));
    const c1 = Math.cos(x);
    const s1 = Math.sin(x);
    let cm: f64 = 1;
    let sm: f64 = 0;
    const o = <usize>(q * terms) << 2;
    for (let m = 0; m < terms; m++) {
      store<f32>(c + o + (<usize>m << 2), <f32>cm);
      store<f32>(s + o + (<usize>m << 2), <f32>sm);
      const next = cm * c1 - sm * s1;
      sm = sm * c1 + cm * s1;
      cm = next;
    }
  }
}

/** Zeroes [from, to) floats of `at`. */
function zero(at: usize, from: i32, to: i32): void {
  for (let i = from; i < to; i++) store<f32>(at + (<usize>i << 2), 0);
}

/** u [r, d] = weight^T values. */
function project(weight: usize, values: usize, u: usize, tokens: i32, rank: i32, dim: i32): void {
  zero(u, 0, rank * dim);
  for (let n = 0; n < tokens; n++) {
    const vRow = values + (<usize>(n * dim) << 2);
    for (let p = 0; p < rank; p++) {
      const w = load<f32>(weight + (<usize>(n * rank + p) << 2));
      const uRow = u + (<usize>(p * dim) << 2);
      for (let j = 0; j < dim; j++) {
        const at = <usize>j << 2;
        store<f32>(uRow + at, load<f32>(uRow + at) + w * load<f32>(vRow + at));
      }
    }
  }
}

export function karatForward(scores: usize, cosC: usize, sinC: usize, weight: usize, values: usize, out: usize, hidden: usize,
  scratch: usize, u: usize, tokens: i32, rank: i32, terms: i32, dim: i32, stride: i32): void {
  const width = tokens * terms;
  const c = scratch;
  const s = scratch + (<usize>stride << 2);
  zero(c, width, stride);
  zero(s, width, stride);
  const rowBytes = <usize>stride << 2;
  for (let k = 0; k < tokens; k++) {
    features(scores + (<usize>(k * tokens) << 2), c, s, tokens, terms);
    for (let p = 0; p < rank; p++) {
      const a = cosC + <usize>p * rowBytes;
      const b = sinC + <usize>p * rowBytes;
      let acc = f32x4.splat(0);
      for (let e: usize = 0; e < rowBytes; e += 16) {
        acc = fma(v128.load(a + e), v128.load(c + e), acc);
        acc = fma(v128.load(b + e), v128.load(s + e), acc);
      }
      const sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
      store<f32>(hidden + (<usize>(k * rank + p) << 2), sum);
    }
  }
  project(weight, values, u, tokens, rank, dim);
  for (let k = 0; k < tokens; k++) {
    const oRow = out + (<usize>(k * dim) << 2);
    zero(oRow, 0, dim);
    for (let p = 0; p < rank; p++) {
      const hv = load<f32>(hidden + (<usize>(k * rank + p) << 2));
      const uRow = u + (<usize>(p * dim) << 2);
      for (let j = 0; j < dim; j++) {
        const at = <usize>j << 2;
        store<f32>(oRow + at, load<f32>(oRow + at) + hv * load<f32>(uRow + at));
      }
    }
  }
}

/**
 * One item's backward: writes dScores [N, N], dValues [N, d] and this item's
 * dWeight [N, r]; dCos / dSin [r, stride] are this item's coefficient gradients
 * (zeroed here; the caller sums items in float64).
 */
export function karatBackward(scores: usize, cosC: usize, sinC: usize, weight: usize, values: usize, hidden: usize, gOut: usize,
  dScores: usize, dCos: usize, dSin: usize, dWeight: usize, dValues: usize, scratch: usize, u: usize, gH: usize, gU: usize,
  tokens: i32, rank: i32, terms: i32, dim: i32, stride: i32): void {
  const width = tokens * terms;
  const rowBytes = <usize>stride << 2;
  const c = scratch;
  const s = c + rowBytes;
  const sa = s + rowBytes;
  const sb = sa + rowBytes;
  const t = sb + rowBytes;
  zero(c, width, stride);
  zero(s, width, stride);
  zero(dCos, 0, rank * stride);
  zero(dSin, 0, rank * stride);
  project(weight, values, u, tokens, rank, dim);
  // gH = gOut U^T, gU = H^T gOut
  zero(gU, 0, rank * dim);
  for (let k = 0; k < tokens; k++) {
    const gRow = gOut + (<usize>(k * dim) << 2);
    for (let p = 0; p < rank; p++) {
      const uRow = u + (<usize>(p * dim) << 2);
      const guRow = gU + (<usize>(p * dim) << 2);
      const hv = load<f32>(hidden + (<usize>(k * rank + p) << 2));
      let sum: f32 = 0;
      for (let j = 0; j < dim; j++) {
        const at = <usize>j << 2;
        const g = load<f32>(gRow + at);
        sum += g * load<f32>(uRow + at);
        store<f32>(guRow + at, load<f32>(guRow + at) + hv * g);
      }
      store<f32>(gH + (<usize>(k * rank + p) << 2), sum);
    }
  }
  // dValues = W gU, dWeight = V gU^T
  for (let n = 0; n < tokens; n++) {
    const vRow = values + (<usize>(n * dim) << 2);
    const dvRow = dValues + (<usize>(n * dim) << 2);
    zero(dvRow, 0, dim);
    for (let p = 0; p < rank; p++) {
      const w = load<f32>(weight + (<usize>(n * rank + p) << 2));
      const guRow = gU + (<usize>(p * dim) << 2);
      let sum: f32 = 0;
      for (let j = 0; j < dim; j++) {
        const at = <usize>j << 2;
        const g = load<f32>(guRow + at);
        store<f32>(dvRow + at, load<f32>(dvRow + at) + w * g);
        sum += load<f32>(vRow + at) * g;
      }
      store<f32>(dWeight + (<usize>(n * rank + p) << 2), sum);
    }
  }
  // Row by row: coefficient gradients and dScores.
  for (let k = 0; k < tokens; k++) {
    features(scores + (<usize>(k * tokens) << 2), c, s, tokens, terms);
    zero(sa, 0, stride);
    zero(sb, 0, stride);
    for (let p = 0; p < rank; p++) {
      const g = f32x4.splat(load<f32>(gH + (<usize>(k * rank + p) << 2)));
      const a = cosC + <usize>p * rowBytes;
      const b = sinC + <usize>p * rowBytes;
      const da = dCos + <usize>p * rowBytes;
      const db = dSin + <usize>p * rowBytes;
      for (let e: usize = 0; e < rowBytes; e += 16) {
        v128.store(da + e, fma(g, v128.load(c + e), v128.load(da + e)));
        v128.store(db + e, fma(g, v128.load(s + e), v128.load(db + e)));
        v128.store(sa + e, fma(g, v128.load(a + e), v128.load(sa + e)));
        v128.store(sb + e, fma(g, v128.load(b + e), v128.load(sb + e)));
      }
    }
    // t = cos(mA) Sb - sin(mA) Sa; dA[k, q] = sum_m m t[q, m]
    for (let e: usize = 0; e < rowBytes; e += 16) {
      v128.store(t + e, f32x4.sub(f32x4.mul(v128.load(c + e), v128.load(sb + e)), f32x4.mul(v128.load(s + e), v128.load(sa + e))));
    }
    const dRow = dScores + (<usize>(k * tokens) << 2);
    for (let q = 0; q < tokens; q++) {
      const o = t + (<usize>(q * terms) << 2);
      let sum: f32 = 0;
      for (let m = 1; m < terms; m++) sum += <f32>m * load<f32>(o + (<usize>m << 2));
      store<f32>(dRow + (<usize>q << 2), sum);
    }
  }
}
