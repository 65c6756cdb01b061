// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Group-rational activation over x [rows, channels] (see src/backends/cpu/kernels/group_rational.ts
// for the math). `coefficients` holds, per group, COEFFICIENTS f32 prepared by the caller:
// a0..a5, |b0|..|b3|, then the derivative coefficients 2a2 3a3 4a4 5a5 2|b1| 3|b2| 4|b3|.
// Each (row, group) run of channels is processed four lanes at a time (the caller
// guarantees channels-per-group % 4 == 0 for these entry points).

import { fma, fnma } from './simd';

/** f32 values per group in `coefficients`. */
const COEFFICIENTS = 17;

/** Rows per block: a block of x (and gy, dx) stays in L1/L2 while every group's coefficients pass over it. */
const ROW_BLOCK = 16;

export function groupRationalForward(x: usize, y: usize, coefficients: usize, rows: i32, channels: i32, groups: i32): void {
  const perGroup = channels / groups;
  const one = f32x4.splat(1);
  for (let rowStart = 0; rowStart < rows; rowStart += ROW_BLOCK) {
    const rowEnd = min(rows, rowStart + ROW_BLOCK);
    for (let g = 0; g < groups; g++) {
      const c = coefficients + <usize>(g * COEFFICIENTS) * 4;
      const a0 = v128.load32_splat(c), a1 = v128.load32_splat(c, 4), a2 = v128.load32_splat(c, 8);
      const a3 = v128.load32_splat(c, 12), a4 = v128.load32_splat(c, 16), a5 = v128.load32_splat(c, 20);
      const b0 = v128.load32_splat(c, 24), b1 = v128.load32_splat(c, 28), b2 = v128.load32_splat(c, 32), b3 = v128.load32_splat(c, 36);
      for (let r = rowStart; r < rowEnd; r++) {
        let offset = (<usize>(r * channels + g * perGroup)) << 2;
        const end = offset + (<usize>perGroup << 2);
        for (; offset < end; offset += 16) {
          const v = v128.load(x + offset);
          const av = f32x4.abs(v);
          const p = fma(fma(fma(fma(fma(a5, v, a4), v, a3), v, a2), v, a1), v, a0);
          const q = fma(fma(fma(fma(b3, av, b2), av, b1), av, b0), av, one);
          v128.store(y + offset, f32x4.div(p, q));
        }
      }
    }
  }
}

/**
 * dx and the per-group coefficient-gradient sums. `totals` receives, per group,
 * 10 f64: d a0..a5, then d|b0|..d|b3| (the caller applies sign(b_j)). Sums
 * run in f32 lanes over about 256 elements of a group, then fold into f64 in row order.
 */
export function groupRationalBackward(x: usize, gy: usize, dx: usize, coefficients: usize, totals: usize, rows: i32, channels: i32,
  groups: i32): void {
  const perGroup = channels / groups;
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  const signBit = i32x4.splat(0x80000000);
  // Lane sums fold into f64 every ~256 elements: cheap, and float32 never sums more than that.
  const foldEvery = max(1, 256 / perGroup);
  for (let rowStart = 0; rowStart < rows; rowStart += ROW_BLOCK) {
    const rowEnd = min(rows, rowStart + ROW_BLOCK);
    for (let g = 0; g < groups; g++) {
      const c = coefficients + <usize>(g * COEFFICIENTS) * 4;
      const a0 = v128.load32_splat(c), a1 = v128.load32_splat(c, 4), a2 = v128.load32_splat(c, 8);
      const a3 = v128.load32_splat(c, 12), a4 = v128.load32_splat(c, 16), a5 = v128.load32_splat(c, 20);
      const b0 = v128.load32_splat(c, 24), b1 = v128.load32_splat(c, 28), b2 = v128.load32_splat(c, 32), b3 = v128.load32_splat(c, 36);
      const da2 = v128.load32_splat(c, 40), da3 = v128.load32_splat(c, 44), da4 = v128.load32_splat(c, 48), da5 = v128.load32_splat(c, 52);
      const db1 = v128.load32_splat(c, 56), db2 = v128.load32_splat(c, 60), db3 = v128.load32_splat(c, 64);
      const t = totals + <usize>(g * 10) * 8;
      let s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero;
      let u0 = zero, u1 = zero, u2 = zero, u3 = zero;
      for (let r = rowStart; r < rowEnd; r++) {
        let offset = (<usize>(r * channels + g * perGroup)) << 2;
        const end = offset + (<usize>perGroup << 2);
        for (; offset < end; offset += 16) {
          const v = v128.load(x + offset);
          const gv = v128.load(gy + offset);
          const av = f32x4.abs(v);
          const p = fma(fma(fma(fma(fma(a5, v, a4), v, a3), v, a2), v, a1), v, a0);
          const dp = fma(fma(fma(fma(da5, v, da4), v, da3), v, da2), v, a1);
          const q = fma(fma(fma(fma(b3, av, b2), av, b1), av, b0), av, one);
          const dqAbs = fma(fma(fma(db3, av, db2), av, db1), av, b0);
          // dQ/dx = sign(x) dQ/d|x| with sign(0) = +1: x + 0 turns -0 into +0 before the sign bit is taken.
          const dq = v128.xor(dqAbs, v128.and(f32x4.add(v, zero), signBit));
          const invQ = f32x4.div(one, q);
          const ratio = f32x4.mul(p, invQ);
          // dx = gy (P' - (P/Q) Q') / Q
          const t0 = f32x4.mul(gv, invQ);
          v128.store(dx + offset, f32x4.mul(t0, fnma(ratio, dq, dp)));
          // d a_i: sum of gy x^i / Q, one product per power.
          s0 = f32x4.add(s0, t0);
          s1 = fma(t0, v, s1);
          const t1 = f32x4.mul(t0, v);
          s2 = fma(t1, v, s2);
          const t2 = f32x4.mul(t1, v);
          s3 = fma(t2, v, s3);
          const t3 = f32x4.mul(t2, v);
          s4 = fma(t3, v, s4);
          s5 = fma(f32x4.mul(t3, v), v, s5);
          // d|b_j|: minus the sum of gy P |x|^(j+1) / Q^2 (the sign is applied when folding).
          const w0 = f32x4.mul(f32x4.mul(t0, ratio), av);
          u0 = f32x4.add(u0, w0);
          u1 = fma(w0, av, u1);
          const w1 = f32x4.mul(w0, av);
          u2 = fma(w1, av, u2);
          u3 = fma(f32x4.mul(w1, av), av, u3);
        }
        if ((r + 1 - rowStart) % foldEvery == 0 || r == rowEnd - 1) {
          foldLanes(t, 0, s0); foldLanes(t, 1, s1); foldLanes(t, 2, s2); foldLanes(t, 3, s3); foldLanes(t, 4, s4); foldLanes(t, 5, s5);
          foldLanes(t, 6, f32x4.neg(u0)); foldLanes(t, 7, f32x4.neg(u1)); foldLanes(t, 8, f32x4.neg(u2)); foldLanes(t, 9, f32x4.neg(u3));
          s0 = zero; s1 = zero; s2 = zero; s3 = zero; s4 = zero; s5 = zero;
          u0 = zero; u1 = zero; u2 = zero; u3 = zero;
        }
      }
    }
  }
}

/** totals[index] += the four lanes of `lanes`, in f64. */
// @ts-ignore: decorator
@inline function foldLanes(totals: usize, index: i32, lanes: v128): void {
  const at = totals + (<usize>index << 3);
  const sum = <f64>f32x4.extract_lane(lanes, 0) + <f64>f32x4.extract_lane(lanes, 1) + <f64>f32x4.extract_lane(lanes, 2) +
    <f64>f32x4.extract_lane(lanes, 3);
  store<f64>(at, load<f64>(at) + sum);
}
