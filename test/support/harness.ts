// Test support: backends to run on, seeded random inputs, comparisons, and a
// float64 central-finite-difference gradient check.

import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { onBackendAsync } from '../../src/tensor/engine.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/ops/creation.js';

/** The float64 reference backend: every finite-difference check runs on it. */
export const float64Backend = new CpuBackend('float64');

export { onBackend, onBackendAsync } from '../../src/tensor/engine.js';

export interface InputSpec {
  shape: number[];
  values: Float64Array;
  /** Differentiate with respect to this input (default true). */
  grad?: boolean;
}

/** Values from N(0, scale^2), kept at least `awayFromZero` from 0 (for ops with a kink there). */
export function randomValues(rng: Random, size: number, options: { scale?: number; awayFromZero?: number; positive?: boolean } = {}): Float64Array {
  const values = new Float64Array(size);
  const scale = options.scale ?? 1;
  const margin = options.awayFromZero ?? 0;
  for (let i = 0; i < size; i++) {
    let v = rng.normal() * scale;
    if (Math.abs(v) < margin) v = v < 0 ? v - margin : v + margin;
    if (options.positive) v = Math.abs(v) + margin;
    values[i] = v;
  }
  return values;
}

/** Rounds to float32, so float32 and float64 backends see identical inputs. */
export function toFloat32Values(values: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function makeInputs(specs: readonly InputSpec[]): Tensor[] {
  return specs.map((s) => tensor(Float64Array.from(s.values), s.shape, { requiresGrad: s.grad ?? true }));
}

/** max |actual - expected| / max(max |expected|, floor): an error relative to the array's scale. */
export function scaledMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-12): number {
  assert.equal(actual.length, expected.length, 'length mismatch');
  let maxDiff = 0;
  let maxRef = floor;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
    if (Number.isNaN(e)) continue;
    maxDiff = Math.max(maxDiff, Math.abs(a - e));
    maxRef = Math.max(maxRef, Math.abs(e));
  }
  return maxDiff / maxRef;
}

/** Largest element-wise relative error |a - e| / (|e| + floor). */
export function elementRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-30): number {
  assert.equal(actual.length, expected.length, 'length mismatch');
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (Math.abs(expected[i]!) + floor));
  }
  return worst;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  const error = scaledMaxError(actual, expected);
  assert.ok(error <= tolerance, `${what}: scaled max error ${error.toExponential(3)} > ${tolerance.toExponential(1)}\n` +
    `  actual   ${Array.from(actual).slice(0, 6).map((v) => v.toPrecision(8)).join(', ')}\n` +
    `  expected ${Array.from(expected).slice(0, 6).map((v) => v.toPrecision(8)).join(', ')}`);
}

export interface ForwardBackward {
  output: Float64Array;
  outputShape: readonly number[];
  /** Gradient of sum(output * projection) for each input (null where not differentiated). */
  grads: (Float64Array | null)[];
}

/**
 * Runs fn forward on the current backend, then backward with the upstream
 * gradient `projection` (seeded from the output shape), returning host values.
 */
export async function forwardBackward(fn: (inputs: Tensor[]) => Tensor, specs: readonly InputSpec[],
  projection: (shape: readonly number[]) => Float64Array): Promise<ForwardBackward> {
  const inputs = makeInputs(specs);
  const y = fn(inputs);
  const output = await y.dataFloat64();
  const grads: (Float64Array | null)[] = [];
  if (y.requiresGrad) {
    y.backward(tensor(projection(y.shape), [...y.shape]));
  }
  for (const [i, input] of inputs.entries()) {
    grads.push((specs[i]!.grad ?? true) ? (input.grad ? await input.grad.dataFloat64() : new Float64Array(input.size)) : null);
  }
  return { output, outputShape: y.shape, grads };
}

/**
 * Central finite differences in float64 of L = sum(fn(inputs) * projection)
 * with respect to up to `samples` elements of each differentiated input,
 * compared with the autograd gradients. Runs on the float64 backend.
 */
export async function gradcheck(name: string, fn: (inputs: Tensor[]) => Tensor, specs: readonly InputSpec[], rng: Random,
  options: { samples?: number; tolerance?: number; step?: number } = {}): Promise<void> {
  const samples = options.samples ?? 12;
  const tolerance = options.tolerance ?? 1e-6;
  await onBackendAsync(float64Backend, async () => {
    let projection: Float64Array | null = null;
    const project = (shape: readonly number[]) => (projection ??= randomValues(new Random(7), sizeOf(shape)));
    const { grads } = await forwardBackward(fn, specs, project);
    const base = specs.map((s) => Float64Array.from(s.values));
    // Read at float64 (dataSync would round to float32).
    const lossF64 = (values: Float64Array[]): number => noGrad(() => {
      const inputs = specs.map((s, i) => tensor(values[i]!, s.shape));
      const t = fn(inputs);
      const out = float64Backend.readSync(t.buffer as Float64Array);
      let sum = 0;
      for (let j = 0; j < out.length; j++) sum += out[j]! * projection![j]!;
      return sum;
    });
    specs.forEach((spec, i) => {
      if (!(spec.grad ?? true)) return;
      const analytic = grads[i]!;
      const picks = spec.values.length <= samples
        ? [...spec.values.keys()]
        : Array.from({ length: samples }, () => rng.int(spec.values.length));
      let scale = 1e-3;
      for (const v of analytic) scale = Math.max(scale, Math.abs(v));
      for (const j of picks) {
        const x = base[i]![j]!;
        const h = (options.step ?? 1e-6) * Math.max(1, Math.abs(x));
        base[i]![j] = x + h;
        const plus = lossF64(base);
        base[i]![j] = x - h;
        const minus = lossF64(base);
        base[i]![j] = x;
        const numeric = (plus - minus) / (2 * h);
        const error = Math.abs(numeric - analytic[j]!) / scale;
        assert.ok(error <= tolerance, `${name}: d/d(input ${i})[${j}] analytic ${analytic[j]} vs finite difference ${numeric} ` +
          `(error ${error.toExponential(2)} of scale ${scale.toExponential(2)})`);
      }
    });
  });
}

/** KAT's rational P(x)/Q(x) written out in float64: a0..a5 over 1 + sum of |b_j| |x|^(j+1) (grkan.md). */
export function rationalReference(a: ArrayLike<number>, b: ArrayLike<number>, x: number): number {
  let p = 0;
  for (let i = 0; i < 6; i++) p += a[i]! * x ** i;
  let q = 1;
  for (let j = 0; j < 4; j++) q += Math.abs(b[j]!) * Math.abs(x) ** (j + 1);
  return p / q;
}

/**
 * Lets the collector free every tensor nothing reaches (a full collection,
 * then tasks for the finalizers), so a test that counts live tensors starts
 * from what is really held, not from garbage earlier tests left to the
 * tensor layer's finalizer backstop.
 */
export async function collectGarbage(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Cox-de Boor in float64 on knots t: the order-p bases of x (0 outside [t_0, t_{M-1})). */
export function bsplines(t: readonly number[], p: number, x: number): number[] {
  let b: number[] = t.slice(0, -1).map((_, j) => (t[j]! <= x && x < t[j + 1]! ? 1 : 0));
  for (let d = 1; d <= p; d++) {
    b = b.slice(0, -1).map((_, j) => {
      const left = t[j + d]! - t[j]! > 0 ? ((x - t[j]!) / (t[j + d]! - t[j]!)) * b[j]! : 0;
      const right = t[j + d + 1]! - t[j + 1]! > 0 ? ((t[j + d + 1]! - x) / (t[j + d + 1]! - t[j + 1]!)) * b[j + 1]! : 0;
      return left + right;
    });
  }
  return b;
}
