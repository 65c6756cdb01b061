// Fused neural-network ops: softmax, layernorm, softmax-cross-entropy; and
// the mean squared error (composed of element-wise ops and a reduction).

import { formatShape, Tensor } from '../tensor/tensor.js';
import { square, sub } from './elementwise.js';
import { mean as meanOp, sum } from './reduce.js';
import { assertTensor, backendOf, normalizeAxis, output } from './op.js';

/** Softmax over the last axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertTensor('softmax', 'x', x);
  if (x.rank === 0 || normalizeAxis('softmax', axis, x.rank) !== x.rank - 1) {
    throw new Error(`softmax: only the last axis is supported (got axis ${axis} of ${formatShape(x.shape)}); transpose first`);
  }
  const cols = x.shape[x.rank - 1]!;
  const rows = x.size / Math.max(cols, 1);
  const backend = x.backend;
  let y: Tensor;
  return (y = output('softmax', backend, backend.kernels.softmax(x.buffer, rows, cols), x.shape, [x], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.softmaxBackward(y.buffer, g.buffer, rows, cols), x.shape),
  ]));
}

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias; weight and bias are [C]. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  assertTensor('layerNorm', 'x', x);
  assertTensor('layerNorm', 'weight', weight);
  assertTensor('layerNorm', 'bias', bias);
  const backend = backendOf('layerNorm', x, weight, bias);
  const cols = x.shape[x.rank - 1];
  if (cols === undefined || weight.rank !== 1 || bias.rank !== 1 || weight.shape[0] !== cols || bias.shape[0] !== cols) {
    throw new Error(`layerNorm: x ${formatShape(x.shape)} needs weight and bias of shape [${cols ?? 'C'}], ` +
      `got ${formatShape(weight.shape)} and ${formatShape(bias.shape)}`);
  }
  const rows = x.size / Math.max(cols, 1);
  const [y, mean, rstd] = backend.kernels.layerNorm(x.buffer, weight.buffer, bias.buffer, rows, cols, eps);
  const stats = [Tensor.fromBuffer(backend, mean, [rows]), Tensor.fromBuffer(backend, rstd, [rows])] as const;
  return output('layerNorm', backend, y, x.shape, [x, weight, bias, ...stats], (g) => {
    const [dx, dw, db] = backend.kernels.layerNormBackward(x.buffer, weight.buffer, stats[0].buffer, stats[1].buffer, g.buffer, rows, cols);
    return [
      Tensor.fromBuffer(backend, dx, x.shape),
      Tensor.fromBuffer(backend, dw, weight.shape),
      Tensor.fromBuffer(backend, db, bias.shape),
      null,
      null,
    ];
  });
}

/** Options of softmaxCrossEntropy(). */
export interface CrossEntropyOptions {
  /** Label smoothing s: the target is (1 - s) one-hot + s / classes. Default 0. */
  labelSmoothing?: number;
  /** 'mean' (default), 'sum' or 'none' (one loss per row). */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of softmax(logits) against integer labels, fused (never forms
 * log-probabilities in memory). logits [..., C], labels [...] (integer values).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  assertTensor('softmaxCrossEntropy', 'logits', logits);
  assertTensor('softmaxCrossEntropy', 'labels', labels);
  const backend = backendOf('softmaxCrossEntropy', logits, labels);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`softmaxCrossEntropy: labelSmoothing ${smoothing} must be in [0, 1)`);
  const classes = logits.shape[logits.rank - 1];
  const rowShape = logits.shape.slice(0, -1);
  if (classes === undefined || classes === 0 || labels.shape.join() !== rowShape.join()) {
    throw new Error(`softmaxCrossEntropy: logits ${formatShape(logits.shape)} need labels of shape ${formatShape(rowShape)} ` +
      `(one class index per row), got ${formatShape(labels.shape)}`);
  }
  const rows = labels.size;
  const [loss, lse] = backend.kernels.softmaxCrossEntropy(logits.buffer, labels.buffer, rows, classes, smoothing);
  const logSumExp = Tensor.fromBuffer(backend, lse, rowShape);
  const perRow = output('softmaxCrossEntropy', backend, loss, rowShape, [logits, labels, logSumExp], (g) => [
    Tensor.fromBuffer(backend,
      backend.kernels.softmaxCrossEntropyBackward(logits.buffer, labels.buffer, logSumExp.buffer, g.buffer, rows, classes, smoothing),
      logits.shape),
    null,
    null,
  ]);
  const reduction = options.reduction ?? 'mean';
  if (reduction === 'none') return perRow;
  if (reduction === 'sum') return sum(perRow);
  if (reduction === 'mean') return meanOp(perRow);
  throw new Error(`softmaxCrossEntropy: reduction '${reduction as string}' is not one of 'mean', 'sum', 'none'`);
}

/** Options of meanSquaredError(). */
export interface SquaredErrorOptions {
  /** 'mean' (default), 'sum' or 'none' (the element-wise squared errors). */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * (prediction - target)^2, averaged (default), summed or per element. Both
 * tensors must have the same shape: broadcasting [B, 1] against [B] would
 * silently compare every prediction with every target. Gradients flow to
 * both inputs.
 */
export function meanSquaredError(prediction: Tensor, target: Tensor, options: SquaredErrorOptions = {}): Tensor {
  assertTensor('meanSquaredError', 'prediction', prediction);
  assertTensor('meanSquaredError', 'target', target);
  backendOf('meanSquaredError', prediction, target);
  if (prediction.shape.join() !== target.shape.join()) {
    throw new Error(`meanSquaredError: prediction ${formatShape(prediction.shape)} and target ${formatShape(target.shape)} ` +
      'must have the same shape (reshape one first)');
  }
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new Error(`meanSquaredError: reduction '${reduction as string}' is not one of 'mean', 'sum', 'none'`);
  }
  if (reduction === 'mean' && prediction.size === 0) throw new Error('meanSquaredError: the mean of no elements is undefined (empty tensors)');
  const squared = square(sub(prediction, target));
  return reduction === 'none' ? squared : reduction === 'sum' ? sum(squared) : meanOp(squared);
}
