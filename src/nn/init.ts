// Parameter initialisers (host-side, seeded), as timm and KAT use them.

import { tensor } from '../ops/creation.js';
import type { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { shapeSize } from '../util/shape.js';

/** Normal(0, std) truncated to [-2 std, 2 std] by resampling (timm's trunc_normal_ with a = -2, b = 2 in std units). */
export function truncNormal(rng: Random, shape: readonly number[], std: number): Tensor {
  const values = new Float32Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    values[i] = z * std;
  }
  return tensor(values, shape);
}

export function normal(rng: Random, shape: readonly number[], std: number): Tensor {
  const values = new Float32Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return tensor(values, shape);
}

/** Uniform in [-bound, bound] (PyTorch's default for conv / linear weights uses bound = 1 / sqrt(fan_in)). */
export function uniform(rng: Random, shape: readonly number[], bound: number): Tensor {
  const values = new Float32Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng.uniform() - 1) * bound;
  return tensor(values, shape);
}

export function constant(shape: readonly number[], value: number): Tensor {
  return tensor(new Float32Array(shapeSize(shape)).fill(value), shape);
}
