// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Group-rational activation over x [rows, channels] (see src/backends/cpu/kernels/group_rational.ts
// for the math). `coefficients` holds, per group, a0..a5 then |b0|..|b3| (10 f32, prepared by
// the caller). Each (row, group) run of channels is processed four lanes at a time (the caller
// guarantees channels-per-group % 4 == 0 for these entry points).

// @ts-ignore: decorator
@inline function horner(v: v128, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128): v128 {
  return f32x4.add(c0, f32x4.mul(v, f32x4.add(c1, f32x4.mul(v, f32x4.add(c2, f32x4.mul(v, f32x4.add(c3, f32x4.mul(v, f32x4.add(c4, f32x4.mul(v, c5))))))))));
}

/** Rows per block: a block of x (and gy, dx) stays in L1/L2 while every group's coefficients pass over it. */
const ROW_BLOCK = 16;

export function groupRationalForward(x: usize, y: usize, coefficients: usize, rows: i32, channels: i32, groups: i32): void {
  const perGroup = channels / groups;
  const one = f32x4.splat(1);
  for (let rowStart = 0; rowStart < rows; rowStart += ROW_BLOCK) {
  const rowEnd = min(rows, rowStart + ROW_BLOCK);
  for (let g = 0; g < groups; g++) {
    const c = coefficients + <usize>(g * 10) * 4;
    const a0 = v128.load32_splat(c), a1 = v128.load32_splat(c, 4), a2 = v128.load32_splat(c, 8);
    const a3 = v128.load32_splat(c, 12), a4 = v128.load32_splat(c, 16), a5 = v128.load32_splat(c, 20);
    const b0 = v128.load32_splat(c, 24), b1 = v128.load32_splat(c, 28), b2 = v128.load32_splat(c, 32), b3 = v128.load32_splat(c, 36);
    for (let r = rowStart; r < rowEnd; r++) {
      let offset = (<usize>(r * channels + g * perGroup)) << 2;
      const end = offset + (<usize>perGroup << 2);
      for (; offset < end; offset += 16) {
        const v = v128.load(x + offset);
        const av = f32x4.abs(v);
        const p = horner(v, a0, a1, a2, a3, a4, a5);
        const q = f32x4.add(one, f32x4.mul(av, f32x4.add(b0, f32x4.mul(av, f32x4.add(b1, f32x4.mul(av, f32x4.add(b2, f32x4.mul(av, b3))))))));
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
  const two = f32x4.splat(2), three = f32x4.splat(3), four = f32x4.splat(4), five = f32x4.splat(5);
  const zero = f32x4.splat(0);
  for (let rowStart = 0; rowStart < rows; rowStart += ROW_BLOCK) {
  const rowEnd = min(rows, rowStart + ROW_BLOCK);
  for (let g = 0; g < groups; g++) {
    const c = coefficients + <usize>(g * 10) * 4;
    const a0 = v128.load32_splat(c), a1 = v128.load32_splat(c, 4), a2 = v128.load32_splat(c, 8);
    const a3 = v128.load32_splat(c, 12), a4 = v128.load32_splat(c, 16), a5 = v128.load32_splat(c, 20);
    const b0 = v128.load32_splat(c, 24), b1 = v128.load32_splat(c, 28), b2 = v128.load32_splat(c, 32), b3 = v128.load32_splat(c, 36);
    // Derivative coefficients, hoisted.
    const da2 = f32x4.mul(two, a2), da3 = f32x4.mul(three, a3), da4 = f32x4.mul(four, a4), da5 = f32x4.mul(five, a5);
    const db1 = f32x4.mul(two, b1), db2 = f32x4.mul(three, b2), db3 = f32x4.mul(four, b3);
    const t = totals + <usize>(g * 10) * 8;
    // Lane sums fold into f64 every ~256 elements: cheap, and float32 never sums more than that.
    const foldEvery = max(1, 256 / perGroup);
    let s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero;
    let u0 = zero, u1 = zero, u2 = zero, u3 = zero;
    for (let r = rowStart; r < rowEnd; r++) {
      let offset = (<usize>(r * channels + g * perGroup)) << 2;
      const end = offset + (<usize>perGroup << 2);
      for (; offset < end; offset += 16) {
        const v = v128.load(x + offset);
        const gv = v128.load(gy + offset);
        const av = f32x4.abs(v);
        const p = horner(v, a0, a1, a2, a3, a4, a5);
        const dp = f32x4.add(a1, f32x4.mul(v, f32x4.add(da2, f32x4.mul(v, f32x4.add(da3, f32x4.mul(v, f32x4.add(da4, f32x4.mul(v, da5))))))));
        const q = f32x4.add(one, f32x4.mul(av, f32x4.add(b0, f32x4.mul(av, f32x4.add(b1, f32x4.mul(av, f32x4.add(b2, f32x4.mul(av, b3))))))));
        const dqAbs = f32x4.add(b0, f32x4.mul(av, f32x4.add(db1, f32x4.mul(av, f32x4.add(db2, f32x4.mul(av, db3))))));
        // sign(x) with sign(0) = +1
        const dq = v128.bitselect(f32x4.neg(dqAbs), dqAbs, f32x4.lt(v, zero));
        const invQ = f32x4.div(one, q);
        v128.store(dx + offset, f32x4.mul(f32x4.mul(gv, f32x4.sub(dp, f32x4.mul(f32x4.mul(p, dq), invQ))), invQ));
        // gy x^i / Q by repeated multiplication (one product per power).
        const t0 = f32x4.mul(gv, invQ);
        const t1 = f32x4.mul(t0, v);
        const t2 = f32x4.mul(t1, v);
        const t3 = f32x4.mul(t2, v);
        const t4 = f32x4.mul(t3, v);
        s0 = f32x4.add(s0, t0);
        s1 = f32x4.add(s1, t1);
        s2 = f32x4.add(s2, t2);
        s3 = f32x4.add(s3, t3);
        s4 = f32x4.add(s4, t4);
        s5 = f32x4.add(s5, f32x4.mul(t4, v));
        // gy P |x|^(j+1) / Q^2; the minus sign is applied when the sums are folded.
        const w0 = f32x4.mul(f32x4.mul(f32x4.mul(t0, p), invQ), av);
        const w1 = f32x4.mul(w0, av);
        const w2 = f32x4.mul(w1, av);
        u0 = f32x4.add(u0, w0);
        u1 = f32x4.add(u1, w1);
        u2 = f32x4.add(u2, w2);
        u3 = f32x4.add(u3, f32x4.mul(w2, av));
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
