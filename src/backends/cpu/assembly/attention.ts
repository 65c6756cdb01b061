// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Fused softmax attention per (batch x head) item, q, k, v [N, d]: the scores
// of a block of query rows, their softmax and the product with V are made
// while the block's scores [rows, N] sit in cache; only the output and each
// row's log-sum-exp leave. The backward recomputes one item's scores and
// probabilities (the same bits as the forward's: each score's dot product
// runs in the same order) and writes dq, dk, dv with plain stores, so items
// are independent and the results deterministic.

import { gemm, GEMM_SCRATCH_FLOATS } from './matmul';
import { softmaxRow } from './normalization';

/** Bytes of the GEMM's scratch at the start of an attention scratch block (rounded to 64). */
const GEMM_BYTES: usize = ((<usize>GEMM_SCRATCH_FLOATS << 2) + 63) & ~63;

/** Floats of scratch attentionForward needs for `rows` query rows of `tokens` keys. */
export function attentionForwardScratch(rows: i32, tokens: i32): i32 {
  return <i32>(GEMM_BYTES >> 2) + rows * tokens;
}

/** Floats of scratch attentionBackward needs for one item of `tokens` tokens. */
export function attentionBackwardScratch(tokens: i32): i32 {
  return <i32>(GEMM_BYTES >> 2) + 2 * tokens * tokens;
}

/**
 * Rows [first, first + count) of one item: out = softmax(scale q k^T) v and
 * lse = each row's log-sum-exp of the scaled scores.
 */
export function attentionForward(q: usize, k: usize, v: usize, out: usize, lse: usize, tokens: i32, dim: i32, scale: f32, first: i32,
  count: i32, scratch: usize): void {
  const scores = scratch + GEMM_BYTES;
  const rowBytes = <usize>dim << 2;
  // scores [count, N] = q_rows [count, d] x k^T (k [N, d] read transposed)
  gemm(q + <usize>first * rowBytes, k, scores, count, dim, tokens, dim, 1, 1, dim, tokens, 1, 0, 0, 0, scratch, 0, 0);
  const scoreBytes = <usize>tokens << 2;
  for (let r = 0; r < count; r++) {
    const row = scores + <usize>r * scoreBytes;
    store<f32>(lse + (<usize>(first + r) << 2), <f32>softmaxRow(row, row, tokens, scale));
  }
  // out_rows [count, d] = P [count, N] x v [N, d]
  gemm(scores, v, out + <usize>first * rowBytes, count, tokens, dim, tokens, 1, dim, 1, dim, 1, 0, 0, 0, scratch, 0, 0);
}

/**
 * One item's gradients: with P = softmax(scale q k^T) recomputed,
 * dP = gOut v^T, dS = scale P (dP - rowsum(gOut out)), dq = dS k,
 * dk = dS^T q, dv = P^T gOut.
 */
export function attentionBackward(q: usize, k: usize, v: usize, out: usize, gOut: usize, dq: usize, dk: usize, dv: usize, tokens: i32,
  dim: i32, scale: f32, scratch: usize): void {
  const probabilities = scratch + GEMM_BYTES;
  const dScores = probabilities + ((<usize>tokens * <usize>tokens) << 2);
  gemm(q, k, probabilities, tokens, dim, tokens, dim, 1, 1, dim, tokens, 1, 0, 0, 0, scratch, 0, 0);
  const scoreBytes = <usize>tokens << 2;
  for (let r = 0; r < tokens; r++) {
    const row = probabilities + <usize>r * scoreBytes;
    softmaxRow(row, row, tokens, scale);
  }
  gemm(gOut, v, dScores, tokens, dim, tokens, dim, 1, 1, dim, tokens, 1, 0, 0, 0, scratch, 0, 0);
  const rowBytes = <usize>dim << 2;
  for (let r = 0; r < tokens; r++) {
    const g = gOut + <usize>r * rowBytes;
    const o = out + <usize>r * rowBytes;
    let dot: f64 = 0;
    for (let j: usize = 0; j < rowBytes; j += 4) dot += <f64>load<f32>(g + j) * <f64>load<f32>(o + j);
    const delta = <f32>dot;
    const p = probabilities + <usize>r * scoreBytes;
    const d = dScores + <usize>r * scoreBytes;
    for (let j: usize = 0; j < scoreBytes; j += 4) store<f32>(d + j, scale * load<f32>(p + j) * (load<f32>(d + j) - delta));
  }
  // dq [N, d] = dS [N, N] x k [N, d]; dk = dS^T x q; dv = P^T x gOut
  gemm(dScores, k, dq, tokens, tokens, dim, tokens, 1, dim, 1, dim, 1, 0, 0, 0, scratch, 0, 0);
  gemm(dScores, q, dk, tokens, tokens, dim, 1, tokens, dim, 1, dim, 1, 0, 0, 0, scratch, 0, 0);
  gemm(probabilities, gOut, dv, tokens, tokens, dim, 1, tokens, dim, 1, dim, 1, 0, 0, 0, scratch, 0, 0);
}
