// Shape and data-movement ops: reshape (a view), broadcastTo, transpose,
// slice, concat, gather.

import { formatShape, shapeSize, Tensor } from '../tensor/tensor.js';
import { assertTensor, backendOf, broadcastShapes, broadcastStrides, contiguousStrides, normalizeAxis, output, record, sameShape } from './op.js';
import { sumTo } from './reduce.js';

/** Same values in a new shape; one dimension may be -1 (inferred). Shares the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor('reshape', 'x', x);
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1 || !shape.every((d) => d === -1 || (Number.isInteger(d) && d >= 0))) {
    throw new Error(`reshape: shape ${formatShape(shape)} is not valid: expected non-negative integers and at most one -1`);
  }
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (shapeSize(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new Error(`reshape: cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`);
  }
  if (sameShape(resolved, x.shape)) return x;
  return record('reshape', x.view(resolved), [x], (g) => [reshape(g, x.shape)]);
}

/** Repeats `x` along size-1 (or missing leading) axes to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor('broadcastTo', 'x', x);
  const full = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(full, shape)) {
    throw new Error(`broadcastTo: cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`);
  }
  if (sameShape(x.shape, shape)) return x;
  const buffer = x.backend.kernels.copyStrided(x.buffer, shape, broadcastStrides(x.shape, shape), 0);
  return output('broadcastTo', x.backend, buffer, shape, [x], (g) => [sumTo(g, x.shape)]);
}

/** Permutes axes (default: reverses them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  assertTensor('transpose', 'x', x);
  const order = perm ? perm.map((a) => normalizeAxis('transpose', a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
  if (order.length !== x.rank || new Set(order).size !== x.rank) {
    throw new Error(`transpose: ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of ${formatShape(x.shape)}`);
  }
  const strides = contiguousStrides(x.shape);
  const shape = order.map((a) => x.shape[a]!);
  const buffer = x.backend.kernels.copyStrided(x.buffer, shape, order.map((a) => strides[a]!), 0);
  const inverse = new Array<number>(x.rank);
  order.forEach((a, i) => (inverse[a] = i));
  return output('transpose', x.backend, buffer, shape, [x], (g) => [transpose(g, inverse)]);
}

/** Swaps two axes. */
export function swapAxes(x: Tensor, axis1: number, axis2: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const a = normalizeAxis('swapAxes', axis1, x.rank);
  const b = normalizeAxis('swapAxes', axis2, x.rank);
  [perm[a], perm[b]] = [perm[b]!, perm[a]!];
  return transpose(x, perm);
}

/** The block starting at `begin` with `size` per axis (-1: to the end). */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  assertTensor('slice', 'x', x);
  if (begin.length !== x.rank || (size && size.length !== x.rank)) {
    throw new Error(`slice: begin ${formatShape(begin)}${size ? ` and size ${formatShape(size)}` : ''} must have one entry per axis of ${formatShape(x.shape)}`);
  }
  const sizes = begin.map((b, i) => {
    const s = size?.[i] ?? -1;
    const resolved = s === -1 ? x.shape[i]! - b : s;
    if (!Number.isInteger(b) || b < 0 || !Number.isInteger(resolved) || resolved < 0 || b + resolved > x.shape[i]!) {
      throw new Error(`slice: begin ${formatShape(begin)} size ${formatShape(size ?? [])} is outside ${formatShape(x.shape)} on axis ${i}`);
    }
    return resolved;
  });
  const strides = contiguousStrides(x.shape);
  const offset = begin.reduce((o, b, i) => o + b * strides[i]!, 0);
  const buffer = x.backend.kernels.copyStrided(x.buffer, sizes, strides, offset);
  return output('slice', x.backend, buffer, sizes, [x], (g) => [
    Tensor.fromBuffer(x.backend, x.backend.kernels.sliceBackward(g.buffer, x.shape, begin, sizes), x.shape),
  ]);
}

/** Joins tensors along `axis`; all other axes must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: expected a non-empty array of tensors');
  for (let i = 0; i < xs.length; i++) assertTensor('concat', `input ${i}`, xs[i]);
  const backend = backendOf('concat', ...xs);
  const first = xs[0]!;
  const a = normalizeAxis('concat', axis, first.rank);
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d: number, i: number) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${xs.map((s) => formatShape(s.shape)).join(', ')} differ outside axis ${axis}`);
    }
  }
  const outer = first.shape.slice(0, a).reduce((n: number, d: number) => n * d, 1);
  const inner = first.shape.slice(a + 1).reduce((n: number, d: number) => n * d, 1);
  const sizes = xs.map((t) => t.shape[a]!);
  const shape = [...first.shape];
  shape[a] = sizes.reduce((n, d) => n + d, 0);
  const buffer = backend.kernels.concat(xs.map((t) => t.buffer), outer, sizes, inner);
  return output('concat', backend, buffer, shape, xs, (g) => {
    let start = 0;
    return xs.map((t) => {
      const begin = shape.map((_, i) => (i === a ? start : 0));
      start += t.shape[a]!;
      return t.requiresGrad ? slice(g, begin, t.shape) : null;
    });
  });
}

/**
 * Picks entries of `x` along `axis` at `indices` (integers, any shape): the
 * result's shape is x.shape with that axis replaced by indices.shape.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  assertTensor('gather', 'x', x);
  assertTensor('gather', 'indices', indices);
  const backend = backendOf('gather', x, indices);
  const a = normalizeAxis('gather', axis, x.rank);
  const outer = x.shape.slice(0, a).reduce((n, d) => n * d, 1);
  const inner = x.shape.slice(a + 1).reduce((n, d) => n * d, 1);
  const axisSize = x.shape[a]!;
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  const buffer = backend.kernels.gather(x.buffer, indices.buffer, outer, axisSize, inner, indices.size);
  return output('gather', backend, buffer, shape, [x, indices], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.gatherBackward(g.buffer, indices.buffer, outer, axisSize, inner, indices.size), x.shape),
    null,
  ]);
}
