// Softmax attention as one op: out = softmax(scale q k^T) v over the last two
// axes. On a backend with the fused kernel (WebGPU: a FlashAttention-style
// online softmax that keeps only each row's log-sum-exp and recomputes the
// scores block by block in the backward) the [N, N] matrix never exists.
// Elsewhere the op is the composition matmul, scale, softmax, matmul, exactly
// the ops (and bits) the transformer used before.

import { formatShape, Tensor } from '../tensor/tensor.js';
import { mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { softmax } from './nn.js';
import { assertTensor, backendOf, output } from './op.js';

/** Widest head the fused kernel is used for; wider heads take the composition. */
export const FUSED_ATTENTION_MAX_DIM = 256;

/** Options of attention(). */
export interface AttentionOptions {
  /** Multiplies q k^T before the softmax (default 1 / sqrt(d)). */
  scale?: number;
  /** Use the composition even where the backend has the fused kernel (the reference in tests). */
  unfused?: boolean;
}

/**
 * softmax(scale q k^T) v for q, k, v of one shape [..., N, d]; returns [..., N, d].
 * Gradients flow to all three inputs.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const op = 'attention';
  assertTensor(op, 'q', q);
  assertTensor(op, 'k', k);
  assertTensor(op, 'v', v);
  const backend = backendOf(op, q, k, v);
  if (q.rank < 2 || q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
    throw new Error(`${op}: q, k and v must share one shape [..., N, d], got ${formatShape(q.shape)}, ${formatShape(k.shape)} ` +
      `and ${formatShape(v.shape)}`);
  }
  const tokens = q.shape[q.rank - 2]!;
  const dim = q.shape[q.rank - 1]!;
  const scale = options.scale ?? 1 / Math.sqrt(dim);
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale ${scale} must be a finite number`);
  const kernels = backend.kernels;
  const fused = !options.unfused && kernels.attention && kernels.attentionBackward && q.size > 0 && dim <= FUSED_ATTENTION_MAX_DIM;
  if (!fused) return matmul(softmax(mul(matmul(q, k, { transposeB: true }), scale)), v);
  const items = q.size / (tokens * dim);
  const [out, lse] = kernels.attention!(q.buffer, k.buffer, v.buffer, items, tokens, dim, scale);
  const logSumExp = Tensor.fromBuffer(backend, lse, [items, tokens]);
  const y: Tensor = output(op, backend, out, q.shape, [q, k, v, logSumExp], (g) => {
    const [dq, dk, dv] = kernels.attentionBackward!(q.buffer, k.buffer, v.buffer, y.buffer, logSumExp.buffer, g.buffer,
      items, tokens, dim, scale);
    return [
      Tensor.fromBuffer(backend, dq, q.shape),
      Tensor.fromBuffer(backend, dk, k.shape),
      Tensor.fromBuffer(backend, dv, v.shape),
      null,
    ];
  });
  // Without a backward (inference, or no input needs gradients) the log-sum-exp is not needed.
  if (!y.gradNode) logSumExp.dispose();
  return y;
}
