// Batched matmul. Memory plan: pack op(A) as [m, k] rows and op(B) as [n, k]
// rows (a transpose copy only where needed), so every output is a dot product
// of two contiguous rows. A 4 x 4 block of outputs is computed at once: 8 loads
// feed 16 multiply-adds per step, and the sums stay in float64 registers until
// the single rounding at the store.

import type { HostArray } from '../../backend.js';
import type { WasmKernels } from '../wasm.js';
import type { Alloc } from './alloc.js';

function transposeInto(src: HostArray, srcOffset: number, rows: number, cols: number, dst: HostArray): void {
  // dst [cols, rows] = src [rows, cols]^T
  for (let r = 0; r < rows; r++) {
    const base = srcOffset + r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[base + c]!;
  }
}

/** C [m, n] = A [m, k] * Bt [n, k]^T, A at aOff, Bt at bOff, C at cOff. */
function matmulRowsByRows(A: HostArray, aOff: number, Bt: HostArray, bOff: number, C: HostArray, cOff: number,
  m: number, k: number, n: number): void {
  const m4 = m - (m % 4);
  const n4 = n - (n % 4);
  for (let i = 0; i < m4; i += 4) {
    const a0 = aOff + i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
    for (let j = 0; j < n4; j += 4) {
      const b0 = bOff + j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = A[a0 + p]!, x1 = A[a1 + p]!, x2 = A[a2 + p]!, x3 = A[a3 + p]!;
        const y0 = Bt[b0 + p]!, y1 = Bt[b1 + p]!, y2 = Bt[b2 + p]!, y3 = Bt[b3 + p]!;
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let c = cOff + i * n + j;
      C[c] = c00; C[c + 1] = c01; C[c + 2] = c02; C[c + 3] = c03; c += n;
      C[c] = c10; C[c + 1] = c11; C[c + 2] = c12; C[c + 3] = c13; c += n;
      C[c] = c20; C[c + 1] = c21; C[c + 2] = c22; C[c + 3] = c23; c += n;
      C[c] = c30; C[c + 1] = c31; C[c + 2] = c32; C[c + 3] = c33;
    }
  }
  // Edges: the rows and columns left over by the 4 x 4 blocks.
  for (let i = 0; i < m; i++) {
    const jStart = i < m4 ? n4 : 0;
    const a = aOff + i * k;
    for (let j = jStart; j < n; j++) {
      const b = bOff + j * k;
      let sum = 0;
      for (let p = 0; p < k; p++) sum += A[a + p]! * Bt[b + p]!;
      C[cOff + i * n + j] = sum;
    }
  }
}

/**
 * `scratch` allocates untracked temporaries (the packed operands). With `wasm`
 * (float32 only) the SIMD kernel does the work; the loops below remain the
 * float64 reference and the fallback where WebAssembly SIMD is missing.
 */
export function makeMatmulKernel(alloc: Alloc, scratch: Alloc, wasm: WasmKernels | null) {
  function matmul(a: HostArray, b: HostArray, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): HostArray {
    const out = alloc(batch * m * n, true);
    if (wasm && out instanceof Float32Array && a instanceof Float32Array && b instanceof Float32Array) {
      wasm.matmul(a, b, out, batch, m, k, n, transA, transB, aBatchStride, bBatchStride);
      return out;
    }
    const packedA = transA ? scratch(m * k) : null;
    const packedB = transB ? null : scratch(n * k);
    let lastA = -1;
    let lastB = -1;
    for (let t = 0; t < batch; t++) {
      const aStart = t * aBatchStride;
      const bStart = t * bBatchStride;
      // Broadcast operands (stride 0) are packed once.
      if (packedA && aStart !== lastA) transposeInto(a, aStart, k, m, packedA);
      if (packedB && bStart !== lastB) transposeInto(b, bStart, k, n, packedB);
      lastA = aStart;
      lastB = bStart;
      matmulRowsByRows(packedA ?? a, packedA ? 0 : aStart, packedB ?? b, packedB ? 0 : bStart, out, t * m * n, m, k, n);
    }
    return out;
  }

  /** matmul + bias [n] on every row, in the product's store (WebAssembly only: null elsewhere, and callers add separately). */
  const matmulBias = wasm ? (a: HostArray, b: HostArray, bias: HostArray, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): HostArray => {
    const out = alloc(batch * m * n, true) as Float32Array;
    wasm.matmul(a as Float32Array, b as Float32Array, out, batch, m, k, n, transA, transB, aBatchStride, bBatchStride, bias as Float32Array);
    return out;
  } : undefined;
  return { matmul, matmulBias };
}
