// Shared plumbing for ops: wrapping kernel outputs as tensors, recording the
// backward rule, shape helpers with errors that name the op and the shapes.

import type { Backend } from '../backends/backend.js';
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { contiguousStrides, formatShape } from '../util/shape.js';

export { contiguousStrides };

export type BackwardRule = (gradient: Tensor) => readonly (Tensor | null)[];

/**
 * Wraps a kernel's output buffer as a tensor; if gradients are being recorded
 * and an input requires grad, attaches `backward` (given the output gradient,
 * it returns one gradient per input, each of that input's shape).
 */
export function output(op: string, backend: Backend, buffer: unknown, shape: readonly number[],
  inputs: readonly Tensor[], backward?: BackwardRule): Tensor {
  return record(op, Tensor.fromBuffer(backend, buffer, shape), inputs, backward);
}

/** Attaches the backward rule to an op's result (when gradients are recorded and needed). */
export function record(op: string, result: Tensor, inputs: readonly Tensor[], backward?: BackwardRule): Tensor {
  if (backward && engine.gradEnabled && inputs.some((t) => t.requiresGrad)) {
    result.requiresGrad = true;
    result.gradNode = { op, inputs, backward };
  }
  return result;
}

/** The backend all inputs live on; an error if they are on different ones. */
export function backendOf(op: string, ...tensors: Tensor[]): Backend {
  const backend = tensors[0]!.backend;
  for (const t of tensors) {
    if (t.backend !== backend) {
      throw new Error(`${op}: inputs are on different backends ('${backend.name}' and '${t.backend.name}'); move them to one first`);
    }
  }
  return backend;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of two shapes, or an error naming the op and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together (axis ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `outShape` (0 along broadcast axes). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = contiguousStrides(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => {
    const axis = i - offset;
    return axis < 0 || shape[axis] === 1 ? 0 : strides[axis]!;
  });
}

/** Resolves a possibly negative axis, or throws naming the op and the rank. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const resolved = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || resolved < 0 || resolved >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}: expected an integer in [${-rank}, ${rank})`);
  }
  return resolved;
}

export function assertTensor(op: string, name: string, value: unknown): asserts value is Tensor {
  if (!(value instanceof Tensor)) {
    throw new Error(`${op}: ${name} must be a Tensor, got ${value === null ? 'null' : typeof value}`);
  }
}
