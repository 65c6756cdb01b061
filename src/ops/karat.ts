// Fourier-KArAt attention (Kolmogorov-Arnold Attention, arXiv 2503.10632), as one fused op.
//
// Softmax is replaced, row by row, by a learned low-rank Fourier KAN operator:
// for each query row A_k of the scores A = Q K^T / sqrt(d) (N tokens),
//
//   H[k, p]  = sum_q sum_{m=0..G} a[p, q, m] cos(m A[k, q]) + b[p, q, m] sin(m A[k, q])    (p < r)
//   sigma(A_k) = W H_k                    (W [N, r]: a row of N "attention weights")
//   out_k      = sum_n sigma(A_k)[n] V[n] = H_k (W^T V)
//
// with no normalisation. The op never forms the [N, N, 2(G+1)] features nor a
// second N x N matrix: kernels walk A row by row (cos/sin of m x by the angle-
// addition recurrence), keep H [N, r] for the backward and multiply by
// U = W^T V [r, d].

import { formatShape, Tensor } from '../tensor/tensor.js';
import { assertTensor, backendOf, output } from './op.js';

/**
 * Fourier-KArAt attention. scores [B, h, N, N] (or [B*h, N, N] with h dividing
 * it), coefCos / coefSin [h, r, N, G+1] (a and b), weight [h, N, r] (W), values
 * [..., N, d] with the same leading axes as scores. Batch item i uses head i % h.
 * Returns [..., N, d].
 */
export function karatAttention(scores: Tensor, coefCos: Tensor, coefSin: Tensor, weight: Tensor, values: Tensor): Tensor {
  const op = 'karatAttention';
  assertTensor(op, 'scores', scores);
  assertTensor(op, 'coefCos', coefCos);
  assertTensor(op, 'coefSin', coefSin);
  assertTensor(op, 'weight', weight);
  assertTensor(op, 'values', values);
  const backend = backendOf(op, scores, coefCos, coefSin, weight, values);
  if (coefCos.rank !== 4) throw new Error(`${op}: coefCos must be [h, r, N, G+1], got ${formatShape(coefCos.shape)}`);
  const [heads, rank, tokens, terms] = coefCos.shape as [number, number, number, number];
  if (coefSin.shape.join() !== coefCos.shape.join()) {
    throw new Error(`${op}: coefSin ${formatShape(coefSin.shape)} must have coefCos's shape ${formatShape(coefCos.shape)}`);
  }
  if (weight.rank !== 3 || weight.shape[0] !== heads || weight.shape[1] !== tokens || weight.shape[2] !== rank) {
    throw new Error(`${op}: weight must be [h, N, r] = [${heads}, ${tokens}, ${rank}] (from coefCos ${formatShape(coefCos.shape)}), ` +
      `got ${formatShape(weight.shape)}`);
  }
  if (scores.rank < 3 || scores.shape[scores.rank - 1] !== tokens || scores.shape[scores.rank - 2] !== tokens) {
    throw new Error(`${op}: scores must be [..., N, N] with N = ${tokens} tokens, got ${formatShape(scores.shape)}`);
  }
  const items = scores.size / (tokens * tokens);
  if (items % heads !== 0) throw new Error(`${op}: scores ${formatShape(scores.shape)} hold ${items} rows of heads, not a multiple of h = ${heads}`);
  const lead = scores.shape.slice(0, -2);
  if (values.rank !== scores.rank || values.shape.slice(0, -1).join() !== [...lead, tokens].join()) {
    throw new Error(`${op}: values must be [${[...lead, tokens].join(', ')}, d] to match scores ${formatShape(scores.shape)}, ` +
      `got ${formatShape(values.shape)}`);
  }
  const dim = values.shape[values.rank - 1]!;
  const [out, hiddenBuffer] = backend.kernels.karatAttention(scores.buffer, coefCos.buffer, coefSin.buffer, weight.buffer, values.buffer,
    items, heads, tokens, rank, terms, dim);
  const hidden = Tensor.fromBuffer(backend, hiddenBuffer, [items, tokens, rank]);
  return output(op, backend, out, values.shape, [scores, coefCos, coefSin, weight, values, hidden], (g) => {
    const [dScores, dCos, dSin, dWeight, dValues] = backend.kernels.karatAttentionBackward(scores.buffer, coefCos.buffer, coefSin.buffer,
      weight.buffer, values.buffer, hidden.buffer, g.buffer, items, heads, tokens, rank, terms, dim);
    return [
      Tensor.fromBuffer(backend, dScores, scores.shape),
      Tensor.fromBuffer(backend, dCos, coefCos.shape),
      Tensor.fromBuffer(backend, dSin, coefSin.shape),
      Tensor.fromBuffer(backend, dWeight, weight.shape),
      Tensor.fromBuffer(backend, dValues, values.shape),
      null,
    ];
  });
}
