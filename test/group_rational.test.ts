// groupRational on the float32 CPU backend against an independent float64
// evaluation of the formulas in grkan.md (plain powers, no Horner), including
// x = 0 and b = 0, shared [1, 6] and per-group [G, 6] numerators.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skipUnless, startBackend } from './support/backends.js';
import { tensor } from '../src/ops/creation.js';
import { groupRational } from '../src/ops/group_rational.js';
import { Random } from '../src/tensor/random.js';
import { elementRelativeError, scaledMaxError, onBackendAsync, randomValues, toFloat32Values } from './support/harness.js';

const sgn = (v: number) => (v < 0 ? -1 : 1); // sign(0) = +1, as grkan.md specifies

/** Forward and all gradients of sum(F(x) * gy) in float64, straight from the formulas. */
function reference(x: Float64Array, a: Float64Array, b: Float64Array, gy: Float64Array, channels: number, groups: number) {
  const shared = a.length === 6 && groups > 1;
  const perGroup = channels / groups;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const da = new Float64Array(a.length);
  const db = new Float64Array(b.length);
  for (let i = 0; i < x.length; i++) {
    const g = Math.floor((i % channels) / perGroup);
    const ai = (k: number) => a[(shared ? 0 : g) * 6 + k]!;
    const bj = (k: number) => b[g * 4 + k]!;
    const v = x[i]!;
    let P = 0;
    let dP = 0;
    for (let k = 0; k <= 5; k++) P += ai(k) * v ** k;
    for (let k = 1; k <= 5; k++) dP += k * ai(k) * v ** (k - 1);
    let Q = 1;
    let dQ = 0;
    for (let j = 0; j < 4; j++) {
      Q += Math.abs(bj(j)) * Math.abs(v) ** (j + 1);
      dQ += (j + 1) * Math.abs(bj(j)) * Math.abs(v) ** j;
    }
    dQ *= sgn(v);
    y[i] = P / Q;
    dx[i] = gy[i]! * (dP / Q - (P * dQ) / (Q * Q));
    for (let k = 0; k <= 5; k++) da[(shared ? 0 : g) * 6 + k] += gy[i]! * v ** k / Q;
    for (let j = 0; j < 4; j++) db[g * 4 + j] += gy[i]! * -(P / (Q * Q)) * sgn(bj(j)) * Math.abs(v) ** (j + 1);
  }
  return { y, dx, da, db };
}

interface Case {
  name: string;
  shape: number[];
  groups: number;
  sharedNumerator: boolean;
  zeroX: boolean;
  zeroB: boolean;
}

const cases: Case[] = [
  { name: 'shared numerator', shape: [4, 7, 24], groups: 8, sharedNumerator: true, zeroX: false, zeroB: false },
  { name: 'per-group numerator', shape: [5, 32], groups: 4, sharedNumerator: false, zeroX: false, zeroB: false },
  { name: 'x = 0 entries and b = 0 entries, shared', shape: [6, 16], groups: 8, sharedNumerator: true, zeroX: true, zeroB: true },
  { name: 'x = 0 entries and b = 0 entries, per group', shape: [3, 3, 12], groups: 3, sharedNumerator: false, zeroX: true, zeroB: true },
  { name: 'one group', shape: [9, 5], groups: 1, sharedNumerator: true, zeroX: true, zeroB: false },
  { name: 'KAT-T act1 layout, 16 images', shape: [16, 197, 192], groups: 8, sharedNumerator: true, zeroX: true, zeroB: true },
];

/** Relative L2 error ||a - e|| / ||e||. */
function relativeL2(actual: Float64Array, expected: Float64Array): number {
  let diff = 0;
  let norm = 0;
  expected.forEach((e, i) => {
    diff += (actual[i]! - e) ** 2;
    norm += e * e;
  });
  return Math.sqrt(diff / Math.max(norm, 1e-300));
}

/**
 * The TypeScript kernel (cpu-js) computes in float64 and rounds once, so every
 * element is within 1e-5. Float32 kernels (SIMD, GPU) lose relative accuracy
 * where values cancel to near zero; for them y and dx are held to 1e-6 relative
 * L2 (FlashKAT's measure) and every output to 1e-5 of its largest value.
 */
const BACKENDS: { name: string; strict: boolean }[] = [
  { name: 'cpu-js', strict: true },
  { name: 'cpu', strict: false },
  { name: 'webgpu', strict: false },
];

for (const { name, strict } of BACKENDS) describe(`groupRational on ${name} matches a float64 reference`, async () => {
  const backend = await startBackend(name);
  const skip = skipUnless(backend, name);
  for (const c of cases) {
    it(c.name, { skip }, async () => {
      const rng = new Random(c.shape.reduce((p, d) => p * 31 + d, c.groups));
      const size = c.shape.reduce((p, d) => p * d, 1);
      const channels = c.shape[c.shape.length - 1]!;
      const x = toFloat32Values(randomValues(rng, size, { scale: 1.5 }));
      if (c.zeroX) for (let i = 0; i < size; i += 5) x[i] = 0;
      const a = toFloat32Values(randomValues(rng, (c.sharedNumerator ? 1 : c.groups) * 6, { scale: 0.6 }));
      const b = toFloat32Values(randomValues(rng, c.groups * 4, { scale: 0.6 }));
      if (c.zeroB) for (let i = 0; i < b.length; i += 3) b[i] = 0;
      const gy = toFloat32Values(randomValues(rng, size));
      const expected = reference(x, a, b, gy, channels, c.groups);

      const actual = await onBackendAsync(backend!, async () => {
        const xt = tensor(x, c.shape, { requiresGrad: true });
        const at = tensor(a, [c.sharedNumerator ? 1 : c.groups, 6], { requiresGrad: true });
        const bt = tensor(b, [c.groups, 4], { requiresGrad: true });
        const y = groupRational(xt, at, bt);
        y.backward(tensor(gy, c.shape));
        return {
          y: await y.dataFloat64(), dx: await xt.grad!.dataFloat64(), da: await at.grad!.dataFloat64(), db: await bt.grad!.dataFloat64(),
        };
      });
      for (const key of ['y', 'dx', 'da', 'db'] as const) {
        if (strict) {
          const error = elementRelativeError(actual[key], expected[key]);
          assert.ok(error <= 1e-5, `${key}: element-wise relative error ${error.toExponential(2)} > 1e-5`);
        } else {
          // Per-element accuracy is meaningless where values cancel to near zero; bound it against the largest value.
          const l2 = relativeL2(actual[key], expected[key]);
          const scaled = scaledMaxError(actual[key], expected[key]);
          const l2Limit = key === 'y' || key === 'dx' ? 1e-6 : 1e-5;
          assert.ok(l2 <= l2Limit && scaled <= 1e-5, `${key}: relative L2 error ${l2.toExponential(2)} (max ${l2Limit}), ` +
            `max error ${scaled.toExponential(2)} of the largest value (max 1e-5)`);
        }
      }
      if (c.zeroB) {
        // sign(0) = +1: a zero b still gets a (non-zero) gradient, so it can leave 0.
        for (let j = 0; j < b.length; j += 3) assert.notEqual(actual.db[j], 0, `db[${j}] at b = 0 must not vanish`);
      }
    });
  }

  it('the reference formulas agree with one-sided finite differences at x = 0 and b = 0', () => {
    // F's right derivative at x = 0 and d/db at b = 0 from the right are the sign(0) = +1 formulas.
    const a = Float64Array.from([0.1, 0.8, -0.3, 0.2, 0.05, -0.01]);
    const b = Float64Array.from([0, 0.4, 0, 0.1]);
    const h = 1e-7;
    const f = (x: number, bb: Float64Array) => reference(Float64Array.of(x), a, bb, Float64Array.of(1), 1, 1).y[0]!;
    const at0 = reference(Float64Array.of(0), a, b, Float64Array.of(1), 1, 1);
    assert.ok(Math.abs((f(h, b) - f(0, b)) / h - at0.dx[0]!) < 1e-6);
    const x = 0.7;
    const atX = reference(Float64Array.of(x), a, b, Float64Array.of(1), 1, 1);
    for (const j of [0, 2]) {
      const bPlus = Float64Array.from(b);
      bPlus[j] = h;
      assert.ok(Math.abs((f(x, bPlus) - f(x, b)) / h - atX.db[j]!) < 1e-6, `db${j}`);
    }
  });
});

describe('groupRational rejects bad shapes with a clear error', () => {
  const x = tensor(new Float32Array(2 * 10), [2, 10]);
  const a = tensor(new Float32Array(6), [1, 6]);
  it('D % G != 0', () => {
    assert.throws(() => groupRational(x, a, tensor(new Float32Array(12), [3, 4])),
      /groupRational: x \[2, 10\] has D = 10 channels, which 3 groups do not divide/);
  });
  it('denominator not [G, 4]', () => {
    assert.throws(() => groupRational(x, a, tensor(new Float32Array(10), [2, 5])), /denominator must be \[G, 4\].*got \[2, 5\]/);
    assert.throws(() => groupRational(x, a, tensor(new Float32Array(4), [4])), /denominator must be \[G, 4\].*got \[4\]/);
  });
  it('numerator neither [1, 6] nor [G, 6]', () => {
    const b = tensor(new Float32Array(8), [2, 4]);
    assert.throws(() => groupRational(x, tensor(new Float32Array(18), [3, 6]), b), /numerator must be \[1, 6\] \(shared\) or \[2, 6\].*got \[3, 6\]/);
    assert.throws(() => groupRational(x, tensor(new Float32Array(5), [1, 5]), b), /numerator must be.*got \[1, 5\]/);
  });
  it('scalar x and non-tensor arguments', () => {
    const b = tensor(new Float32Array(4), [1, 4]);
    assert.throws(() => groupRational(tensor(1), a, b), /x must have a channel axis/);
    assert.throws(() => groupRational([1, 2] as never, a, b), /x must be a Tensor/);
  });
});
