// The WebGPU group-rational kernels against an independent float64 evaluation
// of the formulas in grkan.md (plain powers, no Horner): forward, dx and the
// coefficient gradients, on KAT-like shapes, with vec4 and scalar paths, shared
// and per-group numerators, one group, x = 0 and b = 0; both workgroup
// reductions (subgroups and workgroup memory); and bit-identical coefficient
// gradients from run to run; and each work layout the autotuner may pick.
// Skipped when WebGPU cannot start.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import type { GpuBuffer } from '../src/backends/webgpu/context.js';
import type { WebGpuBackend } from '../src/backends/webgpu/index.js';
import { Random } from '../src/tensor/random.js';
import { GROUP_RATIONAL_SHAPES, makeGroupRationalKernels, type GroupRationalShapeName } from '../src/backends/webgpu/kernels/group_rational.js';
import { backendOrSkip } from './support/backends.js';
import { randomValues, toFloat32Values } from './support/harness.js';

const sgn = (v: number) => (v < 0 ? -1 : 1); // sign(0) = +1

interface Reference {
  y: Float64Array;
  dx: Float64Array;
  da: Float64Array;
  db: Float64Array;
  /** Per element, the sum of the magnitudes of the terms that make y and dx (the scale of their rounding error). */
  yScale: Float64Array;
  dxScale: Float64Array;
}

/** Forward and all gradients of sum(F(x) * gy) in float64, straight from the formulas. */
function reference(x: Float64Array, a: Float64Array, b: Float64Array, gy: Float64Array, channels: number, groups: number,
  shared: boolean): Reference {
  const perGroup = channels / groups;
  const n = x.length;
  const r: Reference = {
    y: new Float64Array(n), dx: new Float64Array(n), da: new Float64Array(a.length), db: new Float64Array(b.length),
    yScale: new Float64Array(n), dxScale: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const g = Math.floor((i % channels) / perGroup);
    const na = shared ? 0 : g * 6;
    const v = x[i]!;
    const av = Math.abs(v);
    let P = 0, Pabs = 0, dP = 0, dPabs = 0;
    for (let k = 0; k <= 5; k++) {
      P += a[na + k]! * v ** k;
      Pabs += Math.abs(a[na + k]!) * av ** k;
    }
    for (let k = 1; k <= 5; k++) {
      dP += k * a[na + k]! * v ** (k - 1);
      dPabs += k * Math.abs(a[na + k]!) * av ** (k - 1);
    }
    let Q = 1, dQ = 0;
    for (let j = 0; j < 4; j++) {
      Q += Math.abs(b[g * 4 + j]!) * av ** (j + 1);
      dQ += (j + 1) * Math.abs(b[g * 4 + j]!) * av ** j;
    }
    dQ *= sgn(v);
    const gyi = gy[i]!;
    r.y[i] = P / Q;
    r.yScale[i] = Pabs / Q;
    r.dx[i] = gyi * (dP / Q - (P * dQ) / (Q * Q));
    r.dxScale[i] = Math.abs(gyi) * (dPabs / Q + (Pabs * Math.abs(dQ)) / (Q * Q));
    for (let k = 0; k <= 5; k++) r.da[na + k] += gyi * v ** k / Q;
    for (let j = 0; j < 4; j++) r.db[g * 4 + j] += gyi * -(P / (Q * Q)) * sgn(b[g * 4 + j]!) * av ** (j + 1);
  }
  return r;
}

/**
 * Largest element-wise relative error |actual - expected| / max(|expected|, floor_i),
 * where small values are floored at 0.1 of the magnitude of the terms that sum to
 * them (sum |a_k x^k| / Q for y): float32 cannot resolve cancellation below that.
 */
function flooredRelativeError(actual: ArrayLike<number>, expected: Float64Array, scale: Float64Array): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    worst = Math.max(worst, Math.abs(actual[i]! - e) / Math.max(Math.abs(e), 0.1 * scale[i]!, 1e-30));
  }
  return worst;
}

/**
 * Coefficient gradients: the larger of the error relative to the vector's largest
 * entry and the relative L2 error (one entry alone can be a near-cancelling sum of
 * thousands of random-sign terms, where float32 terms leave ~1e-7 of their scale).
 */
function gradientError(actual: ArrayLike<number>, expected: Float64Array): number {
  assert.equal(actual.length, expected.length);
  let maxDiff = 0, maxRef = 0, diff2 = 0, ref2 = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i]! - expected[i]!;
    maxDiff = Math.max(maxDiff, Math.abs(d));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
    diff2 += d * d;
    ref2 += expected[i]! ** 2;
  }
  return Math.max(maxDiff / maxRef, Math.sqrt(diff2 / ref2));
}

interface Case {
  name: string;
  rows: number;
  channels: number;
  groups: number;
  shared: boolean;
}

const cases: Case[] = [
  { name: 'KAT-T act1: [197*8, 192], 8 groups, shared numerator (vec4)', rows: 197 * 8, channels: 192, groups: 8, shared: true },
  { name: '[64, 768], 8 groups, per-group numerator (vec4)', rows: 64, channels: 768, groups: 8, shared: false },
  { name: '[333, 24], 8 groups of 3 channels, shared (scalar)', rows: 333, channels: 24, groups: 8, shared: true },
  { name: '[257, 24], 8 groups of 3 channels, per group (scalar)', rows: 257, channels: 24, groups: 8, shared: false },
  { name: '[300, 40], one group (vec4)', rows: 300, channels: 40, groups: 1, shared: true },
  { name: '[129, 7], one group (scalar)', rows: 129, channels: 7, groups: 1, shared: false },
  { name: '[40, 3072], one group split into column tiles', rows: 40, channels: 3072, groups: 1, shared: true },
  { name: '[50, 1536], 4 groups of 384, shared', rows: 50, channels: 1536, groups: 4, shared: true },
  { name: '[3, 64], 64 groups of one channel, per group', rows: 3, channels: 64, groups: 64, shared: false },
];

interface Outputs {
  y: Float32Array;
  dx: Float32Array;
  da: Float32Array;
  db: Float32Array;
}

async function run(backend: Backend<GpuBuffer>, c: Case, x: Float64Array, a: Float64Array, b: Float64Array, gy: Float64Array,
  k: Pick<Backend<GpuBuffer>['kernels'], 'groupRational' | 'groupRationalBackward'> = backend.kernels): Promise<Outputs> {
  const buffers = [x, a, b, gy].map((v) => backend.upload(v));
  const [xb, ab, bb, gyb] = buffers as [GpuBuffer, GpuBuffer, GpuBuffer, GpuBuffer];
  const yb = k.groupRational(xb, ab, bb, c.rows, c.channels, c.groups, c.shared);
  const grads = k.groupRationalBackward(xb, ab, bb, gyb, c.rows, c.channels, c.groups, c.shared);
  const [y, dx, da, db] = (await Promise.all([yb, ...grads].map((t) => backend.read(t)))) as Float32Array[];
  for (const t of [...buffers, yb, ...grads]) backend.free(t);
  return { y: y!, dx: dx!, da: da!, db: db! };
}

/** Runs `fn` with the backend's subgroup reduction switched off (the workgroup-memory tree instead). */
async function withoutSubgroups<T>(backend: WebGpuBackend, fn: () => Promise<T>): Promise<T> {
  const ctx = backend.ctx;
  const had = ctx.subgroups;
  Object.defineProperty(ctx, 'subgroups', { value: false, configurable: true });
  try {
    return await fn();
  } finally {
    Object.defineProperty(ctx, 'subgroups', { value: had, configurable: true });
  }
}

/** Inputs of a case: x with zeros, b with zeros, random a and gy (float32 values). */
function inputs(c: Case) {
  const rng = new Random(c.rows * 7919 + c.channels * 31 + c.groups);
  const size = c.rows * c.channels;
  const x = toFloat32Values(randomValues(rng, size, { scale: 1.5 }));
  for (let i = 0; i < size; i += 7) x[i] = 0;
  const a = toFloat32Values(randomValues(rng, (c.shared ? 1 : c.groups) * 6, { scale: 0.6 }));
  const b = toFloat32Values(randomValues(rng, c.groups * 4, { scale: 0.6 }));
  for (let i = 0; i < b.length; i += 3) b[i] = 0;
  const gy = toFloat32Values(randomValues(rng, size));
  return { x, a, b, gy };
}

describe('webgpu groupRational: every autotuner layout matches the float64 reference', async () => {
  const [gpu, skip] = await backendOrSkip<WebGpuBackend>('webgpu');
  const backend = gpu!; // null only where every test below is skipped
  after(() => gpu?.sync());
  // Ragged and vector shapes, shared and per-group numerators, one and many groups, a split group.
  const picked = [cases[0]!, cases[2]!, cases[3]!, cases[5]!, cases[6]!, cases[8]!];
  for (const shape of Object.keys(GROUP_RATIONAL_SHAPES) as GroupRationalShapeName[]) {
    it(`layout '${shape}' (${JSON.stringify(GROUP_RATIONAL_SHAPES[shape])})`, { skip }, async () => {
      const kernels = makeGroupRationalKernels(backend.ctx, { shape });
      for (const c of picked) {
        const { x, a, b, gy } = inputs(c);
        const expected = reference(x, a, b, gy, c.channels, c.groups, c.shared);
        const out = await run(backend, c, x, a, b, gy, kernels);
        const errors = {
          y: flooredRelativeError(out.y, expected.y, expected.yScale),
          dx: flooredRelativeError(out.dx, expected.dx, expected.dxScale),
          da: gradientError(out.da, expected.da),
          db: gradientError(out.db, expected.db),
        };
        for (const [key, error] of Object.entries(errors)) {
          assert.ok(error <= 1e-5, `${shape}, ${c.name}: ${key} relative error ${error.toExponential(2)} > 1e-5`);
        }
      }
    });
  }
});

describe('webgpu groupRational matches a float64 reference', async () => {
  const [gpu, skip] = await backendOrSkip<WebGpuBackend>('webgpu');
  const backend = gpu!; // null only where every test below is skipped
  after(() => gpu?.sync());
  const reductions = gpu?.ctx.subgroups ? ['subgroups', 'workgroup memory'] : ['workgroup memory'];

  for (const c of cases) {
    it(c.name, { skip }, async () => {
      const rng = new Random(c.rows * 7919 + c.channels * 31 + c.groups);
      const size = c.rows * c.channels;
      const x = toFloat32Values(randomValues(rng, size, { scale: 1.5 }));
      for (let i = 0; i < size; i += 7) x[i] = 0;
      const a = toFloat32Values(randomValues(rng, (c.shared ? 1 : c.groups) * 6, { scale: 0.6 }));
      const b = toFloat32Values(randomValues(rng, c.groups * 4, { scale: 0.6 }));
      for (let i = 0; i < b.length; i += 3) b[i] = 0;
      const gy = toFloat32Values(randomValues(rng, size));
      const expected = reference(x, a, b, gy, c.channels, c.groups, c.shared);

      for (const reduction of reductions) {
        const go = (): Promise<Outputs> => run(backend, c, x, a, b, gy);
        const first: Outputs = reduction === 'subgroups' ? await go() : await withoutSubgroups(backend, go);
        const errors = {
          y: flooredRelativeError(first.y, expected.y, expected.yScale),
          dx: flooredRelativeError(first.dx, expected.dx, expected.dxScale),
          da: gradientError(first.da, expected.da),
          db: gradientError(first.db, expected.db),
        };
        for (const [key, error] of Object.entries(errors)) {
          assert.ok(error <= 1e-5, `${reduction}: ${key} relative error ${error.toExponential(2)} > 1e-5`);
        }
        // sign(0) = +1: a zero b still gets a non-zero gradient.
        for (let j = 0; j < b.length; j += 3) assert.notEqual(first.db[j], 0, `${reduction}: db[${j}] at b = 0 must not vanish`);

        const second: Outputs = reduction === 'subgroups' ? await go() : await withoutSubgroups(backend, go);
        for (const key of ['y', 'dx', 'da', 'db'] as const) {
          assert.deepEqual(new Uint32Array(second[key].buffer), new Uint32Array(first[key].buffer), `${reduction}: ${key} differs between runs`);
        }
      }
    });
  }

  it('frees its temporary buffers', { skip }, async () => {
    const c = cases[0]!;
    const zeros = new Float64Array(c.rows * c.channels);
    await run(backend, c, zeros, new Float64Array(6), new Float64Array(c.groups * 4), zeros);
    const before = backend.memory().buffers;
    await run(backend, c, zeros, new Float64Array(6), new Float64Array(c.groups * 4), zeros);
    assert.equal(backend.memory().buffers, before);
  });
});

describe('webgpu gather with indices out of range', async () => {
  const [gpu, skip] = await backendOrSkip<WebGpuBackend>('webgpu');
  const backend = gpu!; // null only where every test below is skipped
  it('writes 0 for them, and its backward ignores them', { skip }, async () => {
    // x [2, 3, 2]; indices: valid 2, 0, 2 and invalid -1, 1.5, 3.
    const x = backend.upload(Float32Array.from({ length: 12 }, (_, i) => i + 1));
    const indices = backend.upload([2, -1, 0, 1.5, 3, 2]);
    const out = backend.kernels.gather(x, indices, 2, 3, 2, 6);
    assert.deepEqual(Array.from(await backend.read(out)), [5, 6, 0, 0, 1, 2, 0, 0, 0, 0, 5, 6, 11, 12, 0, 0, 7, 8, 0, 0, 0, 0, 11, 12]);
    const g = backend.upload(Float32Array.from({ length: 24 }, (_, i) => i + 1));
    const dx = backend.kernels.gatherBackward(g, indices, 2, 3, 2, 6);
    // Row 0 of each outer block gets g at j = 2; row 2 gets j = 0 + j = 5, in that order; row 1 nothing.
    assert.deepEqual(Array.from(await backend.read(dx)), [5, 6, 0, 0, 1 + 11, 2 + 12, 17, 18, 0, 0, 13 + 23, 14 + 24]);
    for (const t of [x, indices, out, g, dx]) backend.free(t);
  });
});
