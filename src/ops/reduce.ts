// Reductions: sum, mean, max, min over any axes, argmax, and sumTo (the
// backward of broadcasting).

import type { ReduceOp } from '../backends/backend.js';
import { formatShape, Tensor } from '../tensor/tensor.js';
import { div, equal, mul } from './elementwise.js';
import { broadcastTo, reshape } from './layout.js';
import { assertTensor, normalizeAxis, output, sameShape } from './op.js';

/** Options of the reductions (sum, mean, max, min). */
export interface ReduceOptions {
  /** Keep reduced axes with size 1 (default false). */
  keepDims?: boolean;
}

function resolveAxes(op: string, x: Tensor, axes: number | readonly number[] | undefined): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const resolved = list.map((a) => normalizeAxis(op, a, x.rank));
  if (new Set(resolved).size !== resolved.length) {
    throw new Error(`${op}: axes ${JSON.stringify(list)} name an axis twice (tensor of shape ${formatShape(x.shape)})`);
  }
  return resolved.sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceOp(op: ReduceOp, x: Tensor, axesArg: number | readonly number[] | undefined, options: ReduceOptions): Tensor {
  assertTensor(op, 'x', x);
  const axes = resolveAxes(op, x, axesArg);
  if (op !== 'sum' && axes.some((a) => x.shape[a] === 0)) {
    throw new Error(`${op}: cannot reduce an empty axis of shape ${formatShape(x.shape)}`);
  }
  const shape = options.keepDims ? keptShape(x.shape, axes) : x.shape.filter((_, i) => !axes.includes(i));
  const backend = x.backend;
  const buffer = backend.kernels.reduce(op, x.buffer, x.shape, axes);
  let result: Tensor;
  return (result = output(op, backend, buffer, shape, [x], (g) => {
    const gKept = reshape(g, keptShape(x.shape, axes));
    if (op === 'sum') return [broadcastTo(gKept, x.shape)];
    // max/min: the gradient is shared equally by the elements that attain the extreme.
    const extreme = reshape(result.detach(), keptShape(x.shape, axes));
    const hits = equal(x, extreme);
    const count = sum(hits, axes, { keepDims: true });
    return [mul(hits, div(gKept, count))];
  }));
}

/** Sum over `axes` (default all). */
export function sum(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  return reduceOp('sum', x, axes, options);
}

/** Maximum over `axes` (default all). */
export function max(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  return reduceOp('max', x, axes, options);
}

/** Minimum over `axes` (default all). */
export function min(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  return reduceOp('min', x, axes, options);
}

/** Mean over `axes` (default all). */
export function mean(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  assertTensor('mean', 'x', x);
  const resolved = resolveAxes('mean', x, axes);
  const count = resolved.reduce((n, a) => n * x.shape[a]!, 1);
  return div(sum(x, resolved, options), count);
}

/** Index of the largest value along `axis` (first on ties), as float values; not differentiable. */
export function argmax(x: Tensor, axis = -1): Tensor {
  assertTensor('argmax', 'x', x);
  const a = normalizeAxis('argmax', axis, x.rank);
  const outer = x.shape.slice(0, a).reduce((n, d) => n * d, 1);
  const inner = x.shape.slice(a + 1).reduce((n, d) => n * d, 1);
  if (x.shape[a] === 0) throw new Error(`argmax: axis ${axis} of shape ${formatShape(x.shape)} is empty`);
  const buffer = x.backend.kernels.argmax(x.buffer, outer, x.shape[a]!, inner);
  return output('argmax', x.backend, buffer, x.shape.filter((_, i) => i !== a), [x]);
}

/** Sums `g` down to `shape` over the axes that broadcasting expanded. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const offset = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < offset || (shape[i - offset] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return reshape(sum(g, axes), shape);
}
