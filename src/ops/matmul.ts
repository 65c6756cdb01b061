// Batched matrix multiply with optional transposes and broadcast batch axes.

import { formatShape, Tensor } from '../tensor/tensor.js';
import { add } from './elementwise.js';
import { broadcastTo } from './layout.js';
import { assertTensor, backendOf, broadcastShapes, output } from './op.js';
import { sumTo } from './reduce.js';

/** Options of matmul(): read either operand transposed without a copy. */
export interface MatmulOptions {
  /** Use a's last two axes transposed ([..., K, M] read as [..., M, K]). */
  transposeA?: boolean;
  /** Use b's last two axes transposed ([..., N, K] read as [..., K, N]). */
  transposeB?: boolean;
  /** [N] added to every row of the result (fused into the product where the backend can: one pass over C fewer). */
  bias?: Tensor;
}

/**
 * op(a) [..., M, K] x op(b) [..., K, N] -> [..., M, N]. Batch axes broadcast
 * (a 2-D operand is shared by the whole batch without copying).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  assertTensor('matmul', 'a', a);
  assertTensor('matmul', 'b', b);
  const backend = backendOf('matmul', a, b);
  const transA = options.transposeA ?? false;
  const transB = options.transposeB ?? false;
  if (a.rank < 2 || b.rank < 2) {
    throw new Error(`matmul: inputs need at least 2 axes, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const m = transA ? aCols : aRows;
  const k = transA ? aRows : aCols;
  const kB = transB ? bCols : bRows;
  const n = transB ? bRows : bCols;
  if (k !== kB) {
    throw new Error(`matmul: inner sizes differ: ${formatShape(a.shape)}${transA ? '^T' : ''} x ${formatShape(b.shape)}${transB ? '^T' : ''} ` +
      `(${k} vs ${kB})`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batchShape = broadcastShapes('matmul', aBatch, bBatch);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  // An operand covers the whole batch, or one matrix shared by it (stride 0), or is expanded.
  const operand = (t: Tensor, tBatch: readonly number[]): [Tensor, number] => {
    const count = tBatch.reduce((p, d) => p * d, 1);
    const matrix = t.shape[t.rank - 2]! * t.shape[t.rank - 1]!;
    if (count === 1) return [t, 0];
    if (count === batch) return [t, matrix];
    return [broadcastTo(t, [...batchShape, ...t.shape.slice(-2)]), matrix];
  };
  const bias = options.bias;
  if (bias !== undefined) {
    assertTensor('matmul', 'bias', bias);
    backendOf('matmul', a, b, bias);
    if (bias.rank !== 1 || bias.shape[0] !== n) {
      throw new Error(`matmul: bias ${formatShape(bias.shape)} does not match the product's ${n} columns: expected [${n}]`);
    }
    if (!backend.kernels.matmulBias) return add(matmul(a, b, { transposeA: transA, transposeB: transB }), bias);
  }
  const [aUsed, aStride] = operand(a, aBatch);
  const [bUsed, bStride] = operand(b, bBatch);
  const buffer = bias
    ? backend.kernels.matmulBias!(aUsed.buffer, bUsed.buffer, bias.buffer, batch, m, k, n, transA, transB, aStride, bStride)
    : backend.kernels.matmul(aUsed.buffer, bUsed.buffer, batch, m, k, n, transA, transB, aStride, bStride);
  return output('matmul', backend, buffer, [...batchShape, m, n], bias ? [a, b, bias] : [a, b], (g) => [
    // C = op(A) op(B): dA = g op(B)^T (transposed back if A was), dB = op(A)^T g (likewise).
    a.requiresGrad
      ? sumTo(transA ? matmul(b, g, { transposeA: transB, transposeB: true }) : matmul(g, b, { transposeB: !transB }), a.shape)
      : null,
    b.requiresGrad
      ? sumTo(transB ? matmul(g, a, { transposeA: true, transposeB: transA }) : matmul(a, g, { transposeA: !transA }), b.shape)
      : null,
    ...(bias ? [bias.requiresGrad ? sumTo(g, bias.shape) : null] : []),
  ]);
}
