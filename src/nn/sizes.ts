// Size checks for layer constructors: a bad width says which layer and which
// size, instead of 'Invalid typed array length' from deep inside an allocation.

import { formatShape } from '../util/shape.js';

/** Most values one parameter tensor may hold (8 GiB of float32): past it a size is a mistake, not a layer. */
export const MAX_TENSOR_VALUES = 2 ** 31;

/** `value` as a whole number >= min, or an error naming the layer and the size. */
export function checkSize(layer: string, what: string, value: number, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`${layer}: ${what} must be an integer >= ${min}, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

/** A probability in [0, 1) (dropout rates). */
export function checkRate(layer: string, what: string, p: number): number {
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`${layer}: ${what} must be a probability in [0, 1), got ${p}`);
  return p;
}

/** Refuses a parameter shape whose values would not fit in memory. */
export function checkValues(layer: string, shape: readonly number[]): void {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_TENSOR_VALUES) {
    throw new Error(`${layer}: a ${formatShape(shape)} parameter would hold ${count.toExponential(2)} values, over the limit of ${MAX_TENSOR_VALUES}`);
  }
}
