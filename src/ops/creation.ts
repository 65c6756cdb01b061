// Making tensors from host values, constants and random numbers.

import { engine } from '../tensor/engine.js';
import { globalRandom, Random } from '../tensor/random.js';
import { formatShape, shapeSize, Tensor } from '../tensor/tensor.js';

/** A number or nested arrays of numbers, as tensor() takes them (the shape is inferred). */
export type NestedNumbers = number | readonly NestedNumbers[];
/** Values tensor() accepts: nested numbers or a flat typed array. */
export type TensorData = NestedNumbers | Float32Array | Float64Array;

/** Options of the tensor creation functions. */
export interface TensorOptions {
  /** Record gradients for this leaf (parameters, inputs to differentiate). */
  requiresGrad?: boolean;
  /** A label used in error messages. */
  name?: string;
}

function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${op}: shape ${JSON.stringify(shape)} is not valid: expected an array of non-negative integers`);
  }
}

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let level: NestedNumbers = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = (level as readonly NestedNumbers[])[0] ?? 0;
  }
  return shape;
}

function flatten(data: NestedNumbers, shape: readonly number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (typeof data !== 'number') throw new Error(`tensor(): ragged nested array: expected a number at depth ${depth} for shape ${formatShape(shape)}`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new Error(`tensor(): ragged nested array: expected ${shape[depth]} items at depth ${depth} for shape ${formatShape(shape)}`);
  }
  for (const item of data as readonly NestedNumbers[]) flatten(item, shape, depth + 1, out);
}

function leaf(values: ArrayLike<number>, shape: readonly number[], options: TensorOptions): Tensor {
  const backend = engine.backend;
  const t = Tensor.fromBuffer(backend, backend.upload(values), shape);
  t.requiresGrad = options.requiresGrad ?? false;
  t.name = options.name;
  return t;
}

/**
 * A tensor from values: a number, nested arrays (shape inferred) or a flat
 * array / typed array with an explicit shape (default: 1-D).
 */
export function tensor(data: TensorData, shape?: readonly number[], options: TensorOptions = {}): Tensor {
  let values: ArrayLike<number>;
  let inferred: number[];
  if (data instanceof Float32Array || data instanceof Float64Array) {
    values = data;
    inferred = [data.length];
  } else if (typeof data === 'number') {
    values = [data];
    inferred = [];
  } else if (Array.isArray(data)) {
    inferred = inferShape(data);
    const flat: number[] = [];
    flatten(data, inferred, 0, flat);
    values = flat;
  } else {
    throw new Error(`tensor(): data must be a number, a nested array of numbers or a Float32Array/Float64Array, got ${typeof data}`);
  }
  let finalShape = inferred;
  if (shape !== undefined) {
    checkShape('tensor()', shape);
    if (shapeSize(shape) !== values.length) {
      throw new Error(`tensor(): ${values.length} values do not fill shape ${formatShape(shape)} (${shapeSize(shape)} elements)`);
    }
    finalShape = [...shape];
  }
  return leaf(values, finalShape, options);
}

/** A tensor of the given shape with every element `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShape('full()', shape);
  const backend = engine.backend;
  const t = Tensor.fromBuffer(backend, backend.kernels.fill(shapeSize(shape), value), shape);
  t.requiresGrad = options.requiresGrad ?? false;
  t.name = options.name;
  return t;
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Options of the random creation functions (randn, rand). */
export interface RandomOptions extends TensorOptions {
  /** Seed for this call alone; without it the global generator (setSeed) is used. */
  seed?: number;
}

/** Normal values with the given mean and standard deviation. */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randn()', shape);
  const rng = options.seed === undefined ? globalRandom : new Random(options.seed);
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const values = new Float64Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return leaf(values, shape, options);
}

/** Uniform values in [low, high). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand()', shape);
  const rng = options.seed === undefined ? globalRandom : new Random(options.seed);
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const values = new Float64Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.uniform();
  return leaf(values, shape, options);
}

/** Zeros with the shape and backend of `like`. */
export function zerosLike(like: Tensor): Tensor {
  return Tensor.fromBuffer(like.backend, like.backend.kernels.fill(like.size, 0), like.shape);
}
