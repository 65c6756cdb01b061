// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).

import { fma } from './simd';
//
// C [m4, n8] = A [m4, k] x B, with A row-major and B packed in column panels
// [n8 / 8][k][8]: the inner loop streams one contiguous 8-wide panel of B and
// four rows of A. A 4 x 8 block of C lives in eight f32x4 registers for the
// whole k loop (8 multiply-adds per 2 vector loads and 4 broadcasts), and is
// stored once. The caller pads m to a multiple of 4 and n to a multiple of 8
// with zeros and crops the result.
export function matmulPacked(a: usize, b: usize, c: usize, m4: i32, k: i32, n8: i32): void {
  const rowBytes = <usize>k << 2;
  const cRowBytes = <usize>n8 << 2;
  for (let i = 0; i < m4; i += 4) {
    const a0 = a + <usize>i * rowBytes;
    const a1 = a0 + rowBytes;
    const a2 = a1 + rowBytes;
    const a3 = a2 + rowBytes;
    for (let j = 0; j < n8; j += 8) {
      let bp = b + ((<usize>j * <usize>k) << 2);
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      for (let p: usize = 0; p < <usize>k; p++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        const offset = p << 2;
        const x0 = f32x4.splat(load<f32>(a0 + offset));
        const x1 = f32x4.splat(load<f32>(a1 + offset));
        const x2 = f32x4.splat(load<f32>(a2 + offset));
        const x3 = f32x4.splat(load<f32>(a3 + offset));
        c00 = fma(x0, b0, c00);
        c01 = fma(x0, b1, c01);
        c10 = fma(x1, b0, c10);
        c11 = fma(x1, b1, c11);
        c20 = fma(x2, b0, c20);
        c21 = fma(x2, b1, c21);
        c30 = fma(x3, b0, c30);
        c31 = fma(x3, b1, c31);
        bp += 32;
      }
      let cp = c + <usize>i * cRowBytes + (<usize>j << 2);
      v128.store(cp, c00);
      v128.store(cp, c01, 16);
      cp += cRowBytes;
      v128.store(cp, c10);
      v128.store(cp, c11, 16);
      cp += cRowBytes;
      v128.store(cp, c20);
      v128.store(cp, c21, 16);
      cp += cRowBytes;
      v128.store(cp, c30);
      v128.store(cp, c31, 16);
    }
  }
}
