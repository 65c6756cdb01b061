// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Cache-blocked GEMM in the GotoBLAS / BLIS layout. For each KC-deep slice of
// k and NC-wide slice of n, op(B) is packed into 8-column panels [kc][8]; for
// each MC-row block of m, op(A) is packed into 6-row slivers [kc][6]. The
// micro-kernel keeps a 6 x 8 block of C in twelve f32x4 registers (of the 16
// that V8 gives WebAssembly on x64) for the whole kc loop: per step two panel
// loads and six broadcast loads feed twelve multiply-adds. A sliver (6 kc
// floats) and a panel (8 kc floats) stay in L1, the packed A block in L2.
// Operands are read through element strides, so transposes happen in the packing.

import { fma } from './simd';

const MR = 6;
const NR = 8;
/** Depth of a packed slice: a 6 x KC sliver plus an 8 x KC panel fit in L1 (32 KiB) with room for C. */
const KC = 256;
/** Rows per packed A block (a multiple of MR): 120 x 256 floats = 120 KiB, in L2. */
const MC = 120;
/** Columns per packed B block (a multiple of NR): 256 x 512 floats = 512 KiB. */
const NC = 512;

/** Floats of scratch one gemm call needs: the packed A block, the packed B block and one edge tile. */
export const GEMM_SCRATCH_FLOATS: i32 = MC * KC + KC * NC + MR * NR;

/** The scratch floats gemm needs (for the host). */
export function gemmScratchFloats(): i32 {
  return GEMM_SCRATCH_FLOATS;
}

/**
 * C_t [m, n] (row stride ldc) = op(A_t) [m, k] x op(B_t) [k, n] for t < batch,
 * with A_t's element (i, p) at a + 4 (t aBatch + i aRow + p aCol), B_t's (p, j) at
 * b + 4 (t bBatch + p bRow + j bCol) and C_t at c + 4 t cBatch. C is
 * overwritten. `scratch` holds GEMM_SCRATCH_FLOATS floats, 16-byte aligned.
 * `packed` (not 0): op(B) already packed by packColumns (one B for every batch
 * index), so threads that share a B pack it once. `bias` (not 0): n values
 * added to every row as C is stored the last time (the same bits as a
 * separate add after the product).
 */
export function gemm(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, aRow: i32, aCol: i32, bRow: i32, bCol: i32, ldc: i32,
  batch: i32, aBatch: i32, bBatch: i32, cBatch: i32, scratch: usize, packed: usize, bias: usize): void {
  const packedA = scratch;
  const packedB = scratch + (<usize>(MC * KC) << 2);
  const tile = packedB + (<usize>(KC * NC) << 2);
  for (let t = 0; t < batch; t++) {
    const at = a + (<usize>t * <usize>aBatch << 2);
    const bt = b + (<usize>t * <usize>bBatch << 2);
    const ct = c + (<usize>t * <usize>cBatch << 2);
    if (k == 0) {
      for (let i = 0; i < m; i++) memory.fill(ct + (<usize>i * <usize>ldc << 2), 0, <usize>n << 2);
      continue;
    }
    for (let jc = 0; jc < n; jc += NC) {
      const nb = min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kb = min(KC, k - pc);
        let panels = packedB;
        if (packed != 0) panels = packed + (<usize>(jc * k + ((nb + NR - 1) & ~(NR - 1)) * pc) << 2);
        else packB(bt + ((<usize>pc * <usize>bRow + <usize>jc * <usize>bCol) << 2), packedB, kb, nb, bRow, bCol);
        for (let ic = 0; ic < m; ic += MC) {
          const mb = min(MC, m - ic);
          packA(at + ((<usize>ic * <usize>aRow + <usize>pc * <usize>aCol) << 2), packedA, mb, kb, aRow, aCol);
          const accumulate = pc > 0;
          const last = pc + kb == k;
          for (let jr = 0; jr < nb; jr += NR) {
            const panel = panels + (<usize>jr * <usize>kb << 2);
            const cols = min(NR, nb - jr);
            for (let ir = 0; ir < mb; ir += MR) {
              const sliver = packedA + (<usize>ir * <usize>kb << 2);
              const rows = min(MR, mb - ir);
              const cp = ct + ((<usize>(ic + ir) * <usize>ldc + <usize>(jc + jr)) << 2);
              const tileBias = bias != 0 && last ? bias + (<usize>(jc + jr) << 2) : 0;
              if (rows == MR && cols == NR) {
                kernel6x8(sliver, panel, cp, kb, ldc, accumulate, tileBias);
              } else {
                kernel6x8(sliver, panel, tile, kb, NR, false, 0);
                storeEdge(tile, cp, rows, cols, ldc, accumulate, tileBias);
              }
            }
          }
        }
      }
    }
  }
}

/** Floats packWhole writes for op(B) [k, n]. */
export function packedWholeFloats(k: i32, n: i32): i32 {
  return ((n + NR - 1) & ~(NR - 1)) * k;
}

/**
 * Columns [first, first + count) of op(B) [k, n] (first a multiple of 8, the
 * range inside one NC-wide block), packed where gemm reads them when given
 * `packed`: NC-wide blocks of KC-deep slices of 8-column panels. Ranges are
 * independent, so threads pack a B together.
 */
export function packColumns(b: usize, dst: usize, k: i32, n: i32, bRow: i32, bCol: i32, first: i32, count: i32): void {
  const jc = first - first % NC;
  const padded = (min(NC, n - jc) + NR - 1) & ~(NR - 1);
  for (let pc = 0; pc < k; pc += KC) {
    const kb = min(KC, k - pc);
    packB(b + ((<usize>pc * <usize>bRow + <usize>first * <usize>bCol) << 2), dst + (<usize>(jc * k + padded * pc + (first - jc) * kb) << 2),
      kb, count, bRow, bCol);
  }
}

/** op(A) rows [mb] x depth [kb] into slivers [ceil(mb / 6)][kb][6], rows past mb zero. */
function packA(src: usize, dst: usize, mb: i32, kb: i32, aRow: i32, aCol: i32): void {
  for (let i0 = 0; i0 < mb; i0 += MR) {
    const rows = min(MR, mb - i0);
    let out = dst + (<usize>i0 * <usize>kb << 2);
    const base = src + (<usize>i0 * <usize>aRow << 2);
    if (aRow == 1 && rows == MR) {
      // op(A) stored transposed: the six rows of a sliver are adjacent in memory.
      const step = <usize>aCol << 2;
      let from = base;
      for (let p = 0; p < kb; p++) {
        v128.store(out, v128.load(from));
        store<u64>(out, load<u64>(from, 16), 16);
        from += step;
        out += MR << 2;
      }
      continue;
    }
    if (aCol == 1 && rows == MR) {
      const rowStep = <usize>aRow << 2;
      const r0 = base, r1 = r0 + rowStep, r2 = r1 + rowStep, r3 = r2 + rowStep, r4 = r3 + rowStep, r5 = r4 + rowStep;
      let p: usize = 0;
      const k4 = <usize>(kb & ~3);
      // Four depths at a time: load a vector from each row and write the 4 x 6 transpose.
      for (; p < k4; p += 4) {
        const o = p << 2;
        const v0 = v128.load(r0 + o), v1 = v128.load(r1 + o), v2 = v128.load(r2 + o);
        const v3 = v128.load(r3 + o), v4 = v128.load(r4 + o), v5 = v128.load(r5 + o);
        const t01lo = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
        const t01hi = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
        const t23lo = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
        const t23hi = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
        const t45lo = v128.shuffle<f32>(v4, v5, 0, 4, 1, 5);
        const t45hi = v128.shuffle<f32>(v4, v5, 2, 6, 3, 7);
        // depth p: v0[0] v1[0] v2[0] v3[0] v4[0] v5[0]
        v128.store(out, v128.shuffle<f32>(t01lo, t23lo, 0, 1, 4, 5));
        store<u64>(out, i64x2.extract_lane(t45lo, 0), 16);
        v128.store(out, v128.shuffle<f32>(t01lo, t23lo, 2, 3, 6, 7), 24);
        store<u64>(out, i64x2.extract_lane(t45lo, 1), 40);
        v128.store(out, v128.shuffle<f32>(t01hi, t23hi, 0, 1, 4, 5), 48);
        store<u64>(out, i64x2.extract_lane(t45hi, 0), 64);
        v128.store(out, v128.shuffle<f32>(t01hi, t23hi, 2, 3, 6, 7), 72);
        store<u64>(out, i64x2.extract_lane(t45hi, 1), 88);
        out += 96;
      }
      for (; p < <usize>kb; p++) {
        const o = p << 2;
        store<f32>(out, load<f32>(r0 + o));
        store<f32>(out, load<f32>(r1 + o), 4);
        store<f32>(out, load<f32>(r2 + o), 8);
        store<f32>(out, load<f32>(r3 + o), 12);
        store<f32>(out, load<f32>(r4 + o), 16);
        store<f32>(out, load<f32>(r5 + o), 20);
        out += MR << 2;
      }
      continue;
    }
    for (let p = 0; p < kb; p++) {
      const column = base + (<usize>p * <usize>aCol << 2);
      for (let r = 0; r < MR; r++) {
        store<f32>(out + (<usize>r << 2), r < rows ? load<f32>(column + (<usize>r * <usize>aRow << 2)) : 0);
      }
      out += MR << 2;
    }
  }
}

/** op(B) depth [kb] x columns [nb] into panels [ceil(nb / 8)][kb][8], columns past nb zero. */
function packB(src: usize, dst: usize, kb: i32, nb: i32, bRow: i32, bCol: i32): void {
  for (let j0 = 0; j0 < nb; j0 += NR) {
    const cols = min(NR, nb - j0);
    let out = dst + (<usize>j0 * <usize>kb << 2);
    const base = src + (<usize>j0 * <usize>bCol << 2);
    if (bCol == 1 && cols == NR) {
      const step = <usize>bRow << 2;
      let from = base;
      for (let p = 0; p < kb; p++) {
        v128.store(out, v128.load(from));
        v128.store(out, v128.load(from, 16), 16);
        from += step;
        out += NR << 2;
      }
      continue;
    }
    if (bRow == 1 && cols == NR) {
      // op(B) stored transposed ([n, k] rows): transpose 4 x 4 blocks of two row quartets.
      const colStep = <usize>bCol << 2;
      let p: usize = 0;
      const k4 = <usize>(kb & ~3);
      for (; p < k4; p += 4) {
        for (let half: usize = 0; half < 2; half++) {
          const r = base + half * 4 * colStep + (p << 2);
          const v0 = v128.load(r), v1 = v128.load(r + colStep), v2 = v128.load(r + 2 * colStep), v3 = v128.load(r + 3 * colStep);
          const lo01 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
          const hi01 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
          const lo23 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
          const hi23 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
          const o = out + (half << 4);
          v128.store(o, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5));
          v128.store(o, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), 32);
          v128.store(o, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), 64);
          v128.store(o, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), 96);
        }
        out += 4 * (NR << 2);
      }
      for (; p < <usize>kb; p++) {
        for (let j = 0; j < NR; j++) store<f32>(out + (<usize>j << 2), load<f32>(base + (<usize>j * colStep) + (p << 2)));
        out += NR << 2;
      }
      continue;
    }
    for (let p = 0; p < kb; p++) {
      const row = base + (<usize>p * <usize>bRow << 2);
      for (let j = 0; j < NR; j++) {
        store<f32>(out + (<usize>j << 2), j < cols ? load<f32>(row + (<usize>j * <usize>bCol << 2)) : 0);
      }
      out += NR << 2;
    }
  }
}

/** The valid rows x cols of a 6 x 8 tile into C (added when accumulating; then `bias`, when not 0, added per column). */
function storeEdge(tile: usize, c: usize, rows: i32, cols: i32, ldc: i32, accumulate: bool, bias: usize): void {
  for (let r = 0; r < rows; r++) {
    const from = tile + (<usize>(r * NR) << 2);
    const to = c + (<usize>r * <usize>ldc << 2);
    for (let j = 0; j < cols; j++) {
      const value = load<f32>(from + (<usize>j << 2));
      const at = to + (<usize>j << 2);
      let sum = accumulate ? load<f32>(at) + value : value;
      if (bias != 0) sum += load<f32>(bias + (<usize>j << 2));
      store<f32>(at, sum);
    }
  }
}

/** Not inlined: a small function called per tile is optimised early by the engine's tiering, a large one late. */
function kernel6x8(a: usize, b: usize, c: usize, k: i32, ldc: i32, accumulate: bool, bias: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0), c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = fma(x, b0, c00); c01 = fma(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = fma(x, b0, c10); c11 = fma(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = fma(x, b0, c20); c21 = fma(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = fma(x, b0, c30); c31 = fma(x, b1, c31);
    x = v128.load32_splat(a, 16);
    c40 = fma(x, b0, c40); c41 = fma(x, b1, c41);
    x = v128.load32_splat(a, 20);
    c50 = fma(x, b0, c50); c51 = fma(x, b1, c51);
    a += MR << 2;
    b += NR << 2;
  }
  const step = <usize>ldc << 2;
  let cp = c;
  if (accumulate) {
    v128.store(cp, f32x4.add(v128.load(cp), c00)); v128.store(cp, f32x4.add(v128.load(cp, 16), c01), 16); cp += step;
    v128.store(cp, f32x4.add(v128.load(cp), c10)); v128.store(cp, f32x4.add(v128.load(cp, 16), c11), 16); cp += step;
    v128.store(cp, f32x4.add(v128.load(cp), c20)); v128.store(cp, f32x4.add(v128.load(cp, 16), c21), 16); cp += step;
    v128.store(cp, f32x4.add(v128.load(cp), c30)); v128.store(cp, f32x4.add(v128.load(cp, 16), c31), 16); cp += step;
    v128.store(cp, f32x4.add(v128.load(cp), c40)); v128.store(cp, f32x4.add(v128.load(cp, 16), c41), 16); cp += step;
    v128.store(cp, f32x4.add(v128.load(cp), c50)); v128.store(cp, f32x4.add(v128.load(cp, 16), c51), 16);
  } else {
    v128.store(cp, c00); v128.store(cp, c01, 16); cp += step;
    v128.store(cp, c10); v128.store(cp, c11, 16); cp += step;
    v128.store(cp, c20); v128.store(cp, c21, 16); cp += step;
    v128.store(cp, c30); v128.store(cp, c31, 16); cp += step;
    v128.store(cp, c40); v128.store(cp, c41, 16); cp += step;
    v128.store(cp, c50); v128.store(cp, c51, 16);
  }
  // The bias after the tile is complete (still in L1): (C + AB) + bias, as a separate add would round.
  if (bias != 0) addBias(c, step, bias);
}

function addBias(c: usize, step: usize, bias: usize): void {
  const b0 = v128.load(bias);
  const b1 = v128.load(bias, 16);
  for (let r = 0; r < MR; r++) {
    v128.store(c, f32x4.add(v128.load(c), b0));
    v128.store(c, f32x4.add(v128.load(c, 16), b1), 16);
    c += step;
  }
}

/**
 * A register-only loop of independent fused multiply-adds (twelve f32x4
 * chains): `iterations` x 96 flops at the SIMD peak, the ceiling gemm is measured against.
 */
export function fmaPeak(iterations: i32, seed: f32): f32 {
  const m = f32x4.splat(seed);
  const x = f32x4.splat(0.999);
  let c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
  for (let i = 0; i < iterations; i++) {
    c0 = fma(c0, x, m); c1 = fma(c1, x, m); c2 = fma(c2, x, m); c3 = fma(c3, x, m);
    c4 = fma(c4, x, m); c5 = fma(c5, x, m); c6 = fma(c6, x, m); c7 = fma(c7, x, m);
    c8 = fma(c8, x, m); c9 = fma(c9, x, m); c10 = fma(c10, x, m); c11 = fma(c11, x, m);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11))), 0);
}

/** The first address past the module's static data (tables every instance writes when it starts): the host's heap starts above it. */
export function staticDataEnd(): usize {
  return __heap_base;
}
