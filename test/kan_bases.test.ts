// B-spline (efficient-kan), Gaussian RBF (FastKAN) and Chebyshev (ChebyKAN) bases and layers:
// the basis ops on every backend against float64 evaluations written here
// (the Cox-de Boor recursion as a plain recursive function, the derivative
// identity, the Gaussian formula, cos(k acos(tanh x))), partition of unity and textbook values,
// the grid update (knots recomputed from the raw data; exact reproduction of
// linear splines; least-squares optimality checked through the normal
// equations), the layers against float64 formulas and finite differences,
// kan-mlp's basis option with checkpoints, the CLI and the bench rows.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { benchKanLayers } from '../src/bench/bench.js';
import { GRID_UPDATE_SAMPLES } from '../src/cli/commands/train.js';
import { loadDataset } from '../src/data/index.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { KanMlp, type KanMlpConfig } from '../src/models/kan_mlp.js';
import { buildModel, modelSpec, type ModelSpec } from '../src/models/registry.js';
import { BSplineKanLayer, ChebyKanLayer, createKanLayer, RationalKanLayer, RbfKanLayer } from '../src/nn/kan_bases.js';
import { tensor } from '../src/ops/creation.js';
import { bsplineBasis, chebyshevBasis, radialBasis, uniformKnots } from '../src/ops/kan_bases.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { PARITY_BACKENDS, skipUnless, startBackend } from './support/backends.js';
import { float64Backend, gradcheck, onBackend, onBackendAsync, randomValues, scaledMaxError, toFloat32Values } from './support/harness.js';
import { kat } from './support/cli.js';

// ---------------------------------------------------------------------------
// Float64 references, written independently of the kernels.

/** B_{j,d}(x) by the Cox-de Boor recursion over all knots t (0/0 terms count as 0). */
function coxDeBoor(t: ArrayLike<number>, j: number, d: number, x: number): number {
  if (d === 0) return t[j]! <= x && x < t[j + 1]! ? 1 : 0;
  let value = 0;
  const left = t[j + d]! - t[j]!;
  if (left > 0) value += ((x - t[j]!) / left) * coxDeBoor(t, j, d - 1, x);
  const right = t[j + d + 1]! - t[j + 1]!;
  if (right > 0) value += ((t[j + d + 1]! - x) / right) * coxDeBoor(t, j + 1, d - 1, x);
  return value;
}

/** dB_{j,d}/dx = d B_{j,d-1} / (t_{j+d} - t_j) - d B_{j+1,d-1} / (t_{j+d+1} - t_{j+1}). */
function coxDeBoorDerivative(t: ArrayLike<number>, j: number, d: number, x: number): number {
  if (d === 0) return 0;
  let value = 0;
  const left = t[j + d]! - t[j]!;
  if (left > 0) value += (d / left) * coxDeBoor(t, j, d - 1, x);
  const right = t[j + d + 1]! - t[j + 1]!;
  if (right > 0) value -= (d / right) * coxDeBoor(t, j + 1, d - 1, x);
  return value;
}

/** The knots of channel c of a [channels, knots] grid. */
const knotsOf = (grid: ArrayLike<number>, c: number, knots: number) => Array.from({ length: knots }, (_, m) => grid[c * knots + m]!);

/** Bases [n, channels, K] and dx [n, channels] of sum(bases * gy), NaN where x is NaN. */
function referenceBspline(x: Float64Array, grid: Float64Array, channels: number, knots: number, order: number, gy: Float64Array) {
  const bases = knots - order - 1;
  const y = new Float64Array(x.length * bases);
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const t = knotsOf(grid, i % channels, knots);
    for (let j = 0; j < bases; j++) {
      y[i * bases + j] = Number.isNaN(x[i]!) ? NaN : coxDeBoor(t, j, order, x[i]!);
      dx[i] += Number.isNaN(x[i]!) ? NaN : gy[i * bases + j]! * coxDeBoorDerivative(t, j, order, x[i]!);
    }
  }
  return { y, dx };
}

const silu = (v: number) => v / (1 + Math.exp(-v));

/** Values of a tensor on the float64 backend, unrounded (dataSync would round to float32). */
const read64 = (t: Tensor): Float64Array => Float64Array.from(float64Backend.readSync(t.buffer as Float64Array));

/** Runs fn on `backend` with float64 inputs uploaded there; returns host float64 values of the output and of x's gradient. */
async function basisOnBackend(backend: Backend, x: Float64Array, xShape: number[], gy: Float64Array,
  fn: (x: Tensor) => Tensor): Promise<{ y: Float64Array; dx: Float64Array }> {
  return onBackendAsync(backend, async () => {
    const xt = tensor(x, xShape, { requiresGrad: true });
    const y = fn(xt);
    const values = await y.dataFloat64();
    y.backward(tensor(gy, [...y.shape]));
    const dx = await xt.grad!.dataFloat64();
    y.dispose();
    xt.dispose();
    return { y: values, dx };
  });
}

/** float64 reference plus every parity backend (webgpu on SwiftShader), each with its `skip` option (the reason where it cannot start). */
async function allBackends(): Promise<[string, Backend, string | false][]> {
  const out: [string, Backend, string | false][] = [['cpu-float64', float64Backend, false]];
  for (const name of PARITY_BACKENDS) {
    const backend = await startBackend(name);
    out.push([name, backend!, skipUnless(backend, name)]);
  }
  return out;
}

// ---------------------------------------------------------------------------

describe('bsplineBasis against an independent Cox-de Boor evaluation', async () => {
  const backends = await allBackends();
  // 37 x 11 = 407 elements: more than one 256-element block on the GPU, the last one partial.
  const [rows, channels, gridSize] = [37, 11, 4];
  for (const order of [0, 1, 2, 3, 5]) {
    const knots = gridSize + 2 * order + 1;
    const rng = new Random(100 + order);
    const grid = new Float64Array(channels * knots);
    for (let c = 0; c < channels; c++) {
      let t = -2 + rng.uniform();
      for (let m = 0; m < knots; m++) {
        // Channel 1 has a repeated knot (a zero-width span); channel 2 is uniform; the rest are random.
        if (!(c === 1 && m === Math.floor(knots / 2))) t += c === 2 ? 0.5 : 0.2 + 0.6 * rng.uniform();
        grid[c * knots + m] = t;
      }
    }
    const grid32 = toFloat32Values(grid);
    const x = new Float64Array(rows * channels);
    for (let i = 0; i < x.length; i++) {
      const t = knotsOf(grid32, i % channels, knots);
      x[i] = t[0]! - 0.4 + (t[knots - 1]! - t[0]! + 0.8) * rng.uniform();
    }
    const x32 = toFloat32Values(x);
    for (let c = 0; c < channels; c++) {
      x32[c] = grid32[c * knots + (c % knots)]!; // exactly on a knot (t_0 included)
      x32[channels + c] = grid32[c * knots + knots - 1]!; // the last knot: outside, all zero
    }
    x32[2 * channels + 3] = NaN;
    const gy = toFloat32Values(randomValues(rng, x.length * (knots - order - 1)));
    const expected = referenceBspline(x32, grid32, channels, knots, order, gy);
    for (const [name, backend, skip] of backends) {
      it(`order ${order} on ${name}: bases and dx (knots non-uniform, repeated, uniform; x on knots, outside, NaN)`, { skip }, async () => {
        const actual = await basisOnBackend(backend, x32, [rows, channels], gy,
          (xt) => bsplineBasis(xt, tensor(grid32, [channels, knots]), order));
        const tolerance = name === 'cpu-float64' ? 1e-12 : 2e-6;
        const yError = scaledMaxError(actual.y, expected.y);
        const dxError = scaledMaxError(actual.dx, expected.dx);
        assert.ok(yError <= tolerance, `bases: scaled error ${yError.toExponential(2)}`);
        assert.ok(dxError <= tolerance * 5, `dx: scaled error ${dxError.toExponential(2)}`);
      });
    }
  }
});

describe('B-spline facts: partition of unity, textbook values, zeros outside the knots', () => {
  const low = -1;
  const high = 1;
  const gridSize = 6;
  const h = (high - low) / gridSize;
  for (const order of [1, 2, 3, 4]) {
    it(`order ${order}: the ${gridSize + order} bases sum to 1 on [low, high) and are 0 outside the knots`, () => {
      onBackend(float64Backend, () => {
        const xs = Float64Array.from({ length: 101 }, (_, i) => low + (i * (high - low)) / 101);
        const knots = uniformKnots(gridSize, order, low, high);
        const grid = tensor(knots, [1, knots.length]);
        const bases = read64(noGrad(() => bsplineBasis(tensor(xs, [xs.length, 1]), grid, order)));
        const k = gridSize + order;
        for (let i = 0; i < xs.length; i++) {
          let sum = 0;
          for (let j = 0; j < k; j++) sum += bases[i * k + j]!;
          assert.ok(Math.abs(sum - 1) < 1e-14, `x = ${xs[i]}: sum ${sum}`);
        }
        const outside = read64(noGrad(() => bsplineBasis(tensor([low - (order + 0.5) * h, high + order * h, high + 5], [3, 1]), grid, order)));
        assert.deepEqual(Array.from(outside), new Array(3 * k).fill(0));
      });
    });
  }

  it('uniform cubic: 1/6, 2/3, 1/6 at a knot and 1/48, 23/48, 23/48, 1/48 mid-span; quadratic: 1/2, 1/2 and 1/8, 3/4, 1/8', () => {
    onBackend(float64Backend, () => {
      const cases: [number, number, number, number[]][] = [
        // order, knot index s of the span [t_s, t_s+1), offset into the span, the non-zero bases from j = s - order
        [3, 5, 0, [1 / 6, 2 / 3, 1 / 6, 0]],
        [3, 5, 0.5, [1 / 48, 23 / 48, 23 / 48, 1 / 48]],
        [2, 4, 0, [1 / 2, 1 / 2, 0]],
        [2, 4, 0.5, [1 / 8, 3 / 4, 1 / 8]],
      ];
      for (const [order, span, offset, values] of cases) {
        const knots = uniformKnots(gridSize, order, low, high);
        const x = knots[span]! + offset * h;
        const bases = read64(noGrad(() => bsplineBasis(tensor([x], [1, 1]), tensor(knots, [1, knots.length]), order)));
        const expected = new Array(gridSize + order).fill(0);
        values.forEach((v, m) => { expected[span - order + m] = v; });
        assert.ok(scaledMaxError(bases, expected) < 1e-12, `order ${order} at x = ${x}: ${Array.from(bases)}`);
      }
    });
  });
});

describe('radialBasis against exp(-((x - c_k) / h)^2)', async () => {
  const backends = await allBackends();
  const rng = new Random(7);
  const shape = [23, 13]; // 299 elements
  const x = toFloat32Values(randomValues(rng, 299, { scale: 1.5 }));
  const settings = [{}, { low: -1, high: 3, centers: 5, width: 0.7 }];
  for (const options of settings) {
    const low = options.low ?? -2;
    const high = options.high ?? 2;
    const centers = options.centers ?? 8;
    const width = options.width ?? (high - low) / (centers - 1);
    const gy = toFloat32Values(randomValues(rng, 299 * centers));
    const y = new Float64Array(299 * centers);
    const dx = new Float64Array(299);
    for (let i = 0; i < 299; i++) {
      for (let k = 0; k < centers; k++) {
        const c = low + (k * (high - low)) / (centers - 1);
        const phi = Math.exp(-(((x[i]! - c) / width) ** 2));
        y[i * centers + k] = phi;
        dx[i] += gy[i * centers + k]! * phi * (-2 * (x[i]! - c)) / (width * width);
      }
    }
    for (const [name, backend, skip] of backends) {
      it(`${JSON.stringify(options)} on ${name}`, { skip }, async () => {
        const actual = await basisOnBackend(backend, x, shape, gy, (xt) => radialBasis(xt, options));
        const tolerance = name === 'cpu-float64' ? 1e-12 : 5e-6;
        assert.ok(scaledMaxError(actual.y, y) <= tolerance, `forward ${scaledMaxError(actual.y, y)}`);
        assert.ok(scaledMaxError(actual.dx, dx) <= tolerance, `dx ${scaledMaxError(actual.dx, dx)}`);
      });
    }
  }
});

/**
 * T_k(tanh x) [n, degree + 1] as cos(k acos t) (exact math, evaluated in
 * float64; not how the kernels compute it) and dx of sum(T * gy) from
 * d/dx cos(k theta) = k sin(k theta) / sin(theta) (1 - t^2), 1 - t^2 = 1 / cosh^2 x,
 * with its limit k^2 (+-1)^(k+1) where theta is 0 or pi.
 */
function referenceChebyshev(x: ArrayLike<number>, degree: number, gy: ArrayLike<number>) {
  const width = degree + 1;
  const y = new Float64Array(x.length * width);
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const t = Math.tanh(v);
    const theta = Math.acos(t);
    const slope = 1 / Math.cosh(v) ** 2;
    for (let k = 0; k <= degree; k++) {
      y[i * width + k] = Number.isNaN(v) ? NaN : Math.cos(k * theta);
      const ratio = Math.sin(theta) < 1e-7 ? k * k * (t > 0 ? 1 : (-1) ** (k + 1)) : (k * Math.sin(k * theta)) / Math.sin(theta);
      dx[i] += Number.isNaN(v) ? NaN : gy[i * width + k]! * ratio * slope;
    }
  }
  return { y, dx };
}

describe('chebyshevBasis against cos(k acos(tanh x))', async () => {
  const backends = await allBackends();
  const rng = new Random(23);
  const shape = [27, 11]; // 297 elements: a 4-lane tail on the CPU, a partial 256-block on the GPU
  const x = toFloat32Values(randomValues(rng, 297, { scale: 1.5 }));
  // Large |x| (t within 1e-7 of +-1, or +-1 exactly in float32 and float64), +-inf, 0, -0, tiny, NaN.
  [6, -6, 9, -9, 20, -20, 100, Infinity, -Infinity, 0, -0, 1e-6, 0.29, -0.31].forEach((v, i) => { x[3 * i + 1] = v; });
  x[200] = NaN;
  for (const degree of [0, 1, 2, 5, 9, 32]) {
    const gy = toFloat32Values(randomValues(rng, 297 * (degree + 1)));
    const expected = referenceChebyshev(x, degree, gy);
    for (const [name, backend] of backends) {
      it(`degree ${degree} on ${name}: bases and dx (large |x|, +-inf, 0, NaN)`, async () => {
        const actual = await basisOnBackend(backend, x, shape, gy, (xt) => chebyshevBasis(xt, degree));
        // float32: t's rounding (~6e-8 relative, f32 tanh's included) grows by up to |T_k'(t)| = k^2 near |t| = 1, and the
        // recurrence adds its own ~k^2 ulp: measured 1.4e-6, 6.9e-6, 8.1e-5 at degrees 4, 9, 32 (x ~ N(0, 9), cpu and webgpu).
        const tolerance = name === 'cpu-float64' ? 1e-11 : 2e-6 + 2e-7 * degree ** 2;
        const yError = scaledMaxError(actual.y, expected.y);
        const dxError = scaledMaxError(actual.dx, expected.dx);
        assert.ok(yError <= tolerance, `bases: scaled error ${yError.toExponential(2)}`);
        assert.ok(dxError <= tolerance, `dx: scaled error ${dxError.toExponential(2)}`);
        for (let k = 0; k <= degree; k++) assert.ok(Number.isNaN(actual.y[200 * (degree + 1) + k]!), `T_${k} of NaN`);
        assert.ok(Number.isNaN(actual.dx[200]!), 'dx of NaN');
        // At +-inf (x[22], x[25]) t = +-1: T_k = (+-1)^k exactly, zero gradient.
        for (let k = 0; k <= degree; k++) {
          assert.equal(actual.y[22 * (degree + 1) + k], 1);
          assert.equal(actual.y[25 * (degree + 1) + k], k % 2 === 0 ? 1 : -1);
        }
        assert.ok(actual.dx[22] === 0 && actual.dx[25] === 0, `dx at +-inf: ${actual.dx[22]}, ${actual.dx[25]}`); // +0 or -0
      });
    }
  }

  it('degree 0 is the constant 1 with zero gradient; degree 1 is tanh x with gradient 1 - tanh^2 x (float64)', async () => {
    const values = Float64Array.from([-3, -0.5, 0, 0.25, 2]);
    const ones = new Float64Array(5).fill(1);
    const zero = await basisOnBackend(float64Backend, values, [5, 1], ones, (xt) => chebyshevBasis(xt, 0));
    assert.deepEqual(Array.from(zero.y), [1, 1, 1, 1, 1]);
    assert.deepEqual(Array.from(zero.dx), [0, 0, 0, 0, 0]);
    const gy = Float64Array.from(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 0 : 1))); // only T_1's gradient
    const one = await basisOnBackend(float64Backend, values, [5, 1], gy, (xt) => chebyshevBasis(xt, 1));
    values.forEach((v, i) => {
      assert.equal(one.y[2 * i], 1);
      assert.ok(Math.abs(one.y[2 * i + 1]! - Math.tanh(v)) < 1e-15);
      assert.ok(Math.abs(one.dx[i]! - (1 - Math.tanh(v) ** 2)) < 1e-15);
    });
  });

  it('finite differences in float64: the gradient at moderate and large |x|, degrees 0 to 8', async () => {
    const rng2 = new Random(5);
    for (const degree of [0, 1, 3, 8]) {
      const values = randomValues(rng2, 12, { scale: 1.2 });
      values[0] = 3.5; // t = 0.998: the large-|x| regime, still resolvable by central differences
      values[1] = -4;
      await gradcheck(`chebyshevBasis degree ${degree}`, ([input]) => chebyshevBasis(input!, degree), [{ shape: [3, 4], values }], rng2);
    }
  });
});

describe('bad input names the problem', () => {
  it('bsplineBasis, radialBasis, uniformKnots, the layers and kan-mlp', () => {
    const x = tensor([0.1, 0.2, 0.3, 0.4], [2, 2]);
    const grid = tensor(uniformKnots(5, 3, -1, 1), [1, 12]);
    assert.throws(() => bsplineBasis(x, grid, 3), /bsplineBasis: x \[2, 2\] needs a grid of shape \[2, M\].*got \[1, 12\]/);
    const grid2 = tensor(Array.from({ length: 24 }, (_, i) => i % 12), [2, 12]);
    assert.throws(() => bsplineBasis(x, grid2, 11), /order 11 must be an integer in \[0, 8\]/);
    assert.throws(() => bsplineBasis(x, grid2, 1.5), /order 1.5 must be an integer/);
    assert.throws(() => bsplineBasis(x, tensor(new Float32Array(8), [2, 4]), 3), /M >= order \+ 2 = 5, got \[2, 4\]/);
    assert.throws(() => radialBasis(x, { centers: 0 }), /radialBasis: centers 0 must be a positive integer/);
    assert.throws(() => radialBasis(x, { width: 0 }), /radialBasis: width 0 must be a finite number > 0/);
    assert.throws(() => radialBasis(x, { low: 1, high: -1 }), /the centre range \[1, -1\] must be finite with high > low/);
    assert.throws(() => radialBasis(x, { centers: 1, low: 0, high: 0 }), /a single centre has no spacing/);
    assert.throws(() => uniformKnots(0, 3, -1, 1), /gridSize 0 must be a positive integer/);
    assert.throws(() => chebyshevBasis(x, 33), /chebyshevBasis: degree 33 must be an integer in \[0, 32\]/);
    assert.throws(() => chebyshevBasis(x, -1), /chebyshevBasis: degree -1 must be an integer in \[0, 32\]/);
    assert.throws(() => chebyshevBasis(x, 2.5), /chebyshevBasis: degree 2.5 must be an integer/);
    assert.throws(() => new ChebyKanLayer(3, 2, new Random(1), { degree: 40 }), /ChebyKanLayer: degree 40 must be an integer in \[0, 32\]/);
    assert.throws(() => new ChebyKanLayer(3, 2, new Random(1)).forward(x), /ChebyKanLayer: input \[2, 2\] has 2 features, expected 3/);
    const layer = new BSplineKanLayer(3, 2, new Random(1));
    assert.throws(() => layer.forward(x), /BSplineKanLayer: input \[2, 2\] has 2 features, expected 3/);
    assert.throws(() => new RbfKanLayer(3, 2, new Random(1)).forward(x), /RbfKanLayer: input \[2, 2\] has 2 features, expected 3/);
    assert.throws(() => new BSplineKanLayer(3, 2, new Random(1), { order: 0 }), /spline order 0 must be an integer in \[1, 8\]/);
    assert.throws(() => createKanLayer('chebyshev' as 'rbf', 3, 2, new Random(1)), /unknown KAN basis 'chebyshev': expected one of rational, bspline, rbf, af, relu/);
    assert.throws(() => modelSpec('kan-mlp', { basis: 'spline' as 'rbf' }), /unknown basis 'spline': expected one of rational, bspline, rbf, af, relu/);
    assert.throws(() => modelSpec('kat-micro', { basis: 'bspline' }), /basis 'bspline' applies to kan-mlp only/);
  });

  it('updateGrid refuses non-finite data and empty batches', async () => {
    const layer = new BSplineKanLayer(2, 2, new Random(1));
    await assert.rejects(layer.updateGrid(tensor([0.1, NaN, 0.3, 0.4], [2, 2])), /input channel 1 holds a non-finite value/);
    await assert.rejects(layer.updateGrid(tensor(new Float32Array(0), [0, 2])), /has no rows to fit the grid to/);
    layer.dispose();
  });
});

// ---------------------------------------------------------------------------
// The grid update

/** Greville abscissae of a knot row: spline coefficients c_j = a + b * xi_j give exactly a + b x where the bases sum to 1. */
function greville(t: number[], order: number, bases: number): number[] {
  return Array.from({ length: bases }, (_, j) => {
    let s = 0;
    for (let m = 1; m <= order; m++) s += t[j + m]!;
    return s / order;
  });
}

/** Channel data with different shapes: normal, uniform, skewed (exponential), many repeated values. */
function gridData(rng: Random, rows: number, channels: number, range = 0.9): Float64Array {
  const x = new Float64Array(rows * channels);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) {
      const kind = c % 4;
      const v = kind === 0 ? rng.normal() * 0.3 : kind === 1 ? (2 * rng.uniform() - 1) * range
        : kind === 2 ? -range + -Math.log(1 - rng.uniform()) * 0.2 : (r % 3 === 0 ? 0.25 : rng.uniform() * range);
      x[r * channels + c] = Math.max(-range, Math.min(range, v));
    }
  }
  return toFloat32Values(x);
}

describe('B-spline grid update (efficient-kan update_grid)', () => {
  it('the new knots are the data quantiles mixed with a uniform grid (2%), extended by `order` spacings on each side', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, channels, gridSize, order, margin] = [101, 4, 5, 3, 0.01];
      const x = gridData(new Random(3), rows, channels);
      const layer = new BSplineKanLayer(channels, 2, new Random(1), { gridSize, order });
      await layer.updateGrid(tensor(x, [rows, channels]), margin);
      const grid = await layer.grid.dataFloat64();
      const knots = gridSize + 2 * order + 1;
      for (let c = 0; c < channels; c++) {
        const sorted = Array.from({ length: rows }, (_, r) => x[r * channels + c]!).sort((a, b) => a - b);
        const [min, max] = [sorted[0]!, sorted[rows - 1]!];
        const h = (max - min + 2 * margin) / gridSize;
        // 101 rows, 5 intervals: the quantiles are the sorted values at 0, 20, 40, 60, 80, 100.
        const inner = [0, 20, 40, 60, 80, 100].map((index, i) => 0.02 * (min - margin + i * h) + 0.98 * sorted[index]!);
        const expected = [...[3, 2, 1].map((k) => inner[0]! - k * h), ...inner, ...[1, 2, 3].map((k) => inner[5]! + k * h)];
        assert.ok(scaledMaxError(knotsOf(grid, c, knots), expected) < 1e-12, `channel ${c}: ${knotsOf(grid, c, knots)} vs ${expected}`);
      }
      layer.dispose();
    });
  });

  it('a spline that is linear on the old grid is reproduced exactly on the new one (outputs unchanged on and between the data)', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, channels, outputs, gridSize, order] = [64, 4, 3, 5, 3];
      const rng = new Random(11);
      const layer = new BSplineKanLayer(channels, outputs, rng, { gridSize, order });
      const bases = gridSize + order;
      const oldKnots = Array.from(uniformKnots(gridSize, order, -1, 1));
      const xi = greville(oldKnots, order, bases);
      const slope = randomValues(rng, outputs * channels);
      const offset = randomValues(rng, outputs * channels);
      const weights = new Float64Array(outputs * channels * bases);
      for (let o = 0; o < outputs; o++) {
        for (let c = 0; c < channels; c++) {
          for (let j = 0; j < bases; j++) weights[(o * channels + c) * bases + j] = offset[o * channels + c]! + slope[o * channels + c]! * xi[j]!;
        }
      }
      layer.splineWeight.assignValues(weights);
      const baseWeight = await layer.baseWeight.dataFloat64();
      const x = gridData(rng, rows, channels);
      // Fresh points between the data points, inside each channel's data range (where the new grid's bases sum to 1).
      const between = new Float64Array(16 * channels);
      for (let i = 0; i < between.length; i++) {
        const column = Array.from({ length: rows }, (_, r) => x[r * channels + (i % channels)]!);
        const [min, max] = [Math.min(...column), Math.max(...column)];
        between[i] = min + (max - min) * rng.uniform();
      }
      // The reference: base path plus the linear spline a + b x, for any x in the data's range.
      const reference = (values: Float64Array) => {
        const n = values.length / channels;
        const y = new Float64Array(n * outputs);
        for (let r = 0; r < n; r++) {
          for (let o = 0; o < outputs; o++) {
            for (let c = 0; c < channels; c++) {
              const v = values[r * channels + c]!;
              y[r * outputs + o] += baseWeight[o * channels + c]! * silu(v) + offset[o * channels + c]! + slope[o * channels + c]! * v;
            }
          }
        }
        return y;
      };
      const run = (values: Float64Array) => noGrad(() => layer.forward(tensor(values, [values.length / channels, channels]))).dataFloat64();
      assert.ok(scaledMaxError(await run(x), reference(x)) < 1e-12, 'before the update');
      await layer.updateGrid(tensor(x, [rows, channels]));
      const grid = await layer.grid.dataFloat64();
      assert.ok(scaledMaxError(grid.slice(0, oldKnots.length), oldKnots) > 0.01, 'the grid moved');
      // The new knots span the data, so the linear spline is representable there: the refit reproduces it.
      assert.ok(scaledMaxError(await run(x), reference(x)) < 1e-9, `after the update, on the data: ${scaledMaxError(await run(x), reference(x))}`);
      assert.ok(scaledMaxError(await run(between), reference(between)) < 1e-9, 'after the update, between the data points');
      layer.dispose();
    });
  });

  it('a general spline is refitted by least squares: the residual is orthogonal to every new basis (normal equations)', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, channels, outputs, gridSize, order] = [200, 4, 2, 5, 3];
      const rng = new Random(21);
      const layer = new BSplineKanLayer(channels, outputs, rng, { gridSize, order, noiseScale: 1 });
      const bases = gridSize + order;
      const knots = gridSize + 2 * order + 1;
      const x = gridData(rng, rows, channels);
      const oldGrid = await layer.grid.dataFloat64();
      const oldWeights = await layer.splineWeight.dataFloat64();
      const xt = tensor(x, [rows, channels]);
      const before = await noGrad(() => layer.forward(xt)).dataFloat64();
      await layer.updateGrid(xt);
      const after = await noGrad(() => layer.forward(xt)).dataFloat64();
      const newGrid = await layer.grid.dataFloat64();
      const newWeights = await layer.splineWeight.dataFloat64();
      let worstOrthogonality = 0;
      let residualSquares = 0;
      let targetSquares = 0;
      for (let c = 0; c < channels; c++) {
        const [tOld, tNew] = [knotsOf(oldGrid, c, knots), knotsOf(newGrid, c, knots)];
        const aOld = Array.from({ length: rows }, (_, r) => Array.from({ length: bases }, (_, j) => coxDeBoor(tOld, j, order, x[r * channels + c]!)));
        const aNew = Array.from({ length: rows }, (_, r) => Array.from({ length: bases }, (_, j) => coxDeBoor(tNew, j, order, x[r * channels + c]!)));
        for (let o = 0; o < outputs; o++) {
          const w = (weights: Float64Array, j: number) => weights[(o * channels + c) * bases + j]!;
          const target = aOld.map((row) => row.reduce((s, b, j) => s + b * w(oldWeights, j), 0));
          const residual = aNew.map((row, r) => row.reduce((s, b, j) => s + b * w(newWeights, j), 0) - target[r]!);
          for (let j = 0; j < bases; j++) {
            const dot = aNew.reduce((s, row, r) => s + row[j]! * residual[r]!, 0);
            const scale = aNew.reduce((s, row, r) => s + Math.abs(row[j]! * target[r]!), 0) + 1e-300;
            worstOrthogonality = Math.max(worstOrthogonality, Math.abs(dot) / scale);
          }
          residualSquares += residual.reduce((s, v) => s + v * v, 0);
          targetSquares += target.reduce((s, v) => s + v * v, 0);
        }
      }
      assert.ok(worstOrthogonality < 1e-9, `A_new^T (A_new w_new - A_old w_old) relative to its terms: ${worstOrthogonality.toExponential(2)}`);
      // The new knots cannot represent the old piecewise cubics exactly, but on the data they come close.
      const relativeResidual = Math.sqrt(residualSquares / targetSquares);
      assert.ok(relativeResidual < 0.1, `relative RMS residual of the refit: ${relativeResidual}`);
      // So the layer's outputs on the data barely move.
      assert.ok(scaledMaxError(after, before) < 0.15, `outputs after vs before: ${scaledMaxError(after, before)}`);
      layer.dispose();
    });
  });

  it('on the float32 cpu backend the update keeps a linear spline to float32 accuracy', async () => {
    const backend = (await startBackend('cpu'))!;
    await onBackendAsync(backend, async () => {
      const [rows, channels, gridSize, order] = [80, 3, 5, 3];
      const layer = new BSplineKanLayer(channels, 1, new Random(2), { gridSize, order });
      const xi = greville(Array.from(uniformKnots(gridSize, order, -1, 1)), order, gridSize + order);
      layer.splineWeight.assignValues(Array.from({ length: channels }, () => xi).flat());
      layer.baseWeight.assignValues(new Float32Array(channels));
      const x = gridData(new Random(4), rows, channels);
      const xt = tensor(x, [rows, channels]);
      await layer.updateGrid(xt);
      const y = await noGrad(() => layer.forward(xt)).dataFloat64();
      const expected = Array.from({ length: rows }, (_, r) => x[r * channels]! + x[r * channels + 1]! + x[r * channels + 2]!);
      assert.ok(scaledMaxError(y, expected) < 1e-5, `${scaledMaxError(y, expected)}`);
      layer.dispose();
    });
  });
});

// ---------------------------------------------------------------------------
// Layers

/** Central finite differences (float64) of sum(layer(x) * p) for a few entries of every parameter, against autograd. */
async function checkParameterGradients(layer: BSplineKanLayer | RbfKanLayer | RationalKanLayer | ChebyKanLayer, x: Tensor, rng: Random): Promise<void> {
  const y = layer.forward(x);
  const projection = tensor(randomValues(new Random(5), y.size), [...y.shape]);
  y.backward(projection);
  const p = read64(projection);
  const loss = () => noGrad(() => read64(layer.forward(x)).reduce((s, v, i) => s + v * p[i]!, 0));
  for (const [name, parameter] of layer.namedParameters()) {
    const analytic = await parameter.grad!.dataFloat64();
    const values = await parameter.dataFloat64();
    const scale = Math.max(1e-3, ...analytic.map(Math.abs));
    for (let sample = 0; sample < 6; sample++) {
      const j = rng.int(values.length);
      const h = 1e-6 * Math.max(1, Math.abs(values[j]!));
      const shifted = Float64Array.from(values);
      shifted[j] = values[j]! + h;
      parameter.assignValues(shifted);
      const plus = loss();
      shifted[j] = values[j]! - h;
      parameter.assignValues(shifted);
      const minus = loss();
      parameter.assignValues(values);
      const numeric = (plus - minus) / (2 * h);
      assert.ok(Math.abs(numeric - analytic[j]!) / scale < 1e-6, `${name}[${j}]: analytic ${analytic[j]} vs finite difference ${numeric}`);
    }
  }
}

describe('KAN layers against float64 formulas and finite differences', () => {
  it('BSplineKanLayer: y = silu(x) W_base^T + B(x) W_spline^T, and every gradient', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, inputs, outputs] = [5, 3, 4];
      const rng = new Random(31);
      const layer = new BSplineKanLayer(inputs, outputs, rng, { gridSize: 4, order: 3, gridRange: [-1.5, 1.5], noiseScale: 2 });
      const x = randomValues(rng, rows * inputs, { scale: 0.9 });
      const [wb, ws, grid] = [await layer.baseWeight.dataFloat64(), await layer.splineWeight.dataFloat64(), await layer.grid.dataFloat64()];
      const expected = new Float64Array(rows * outputs);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < outputs; o++) {
          for (let i = 0; i < inputs; i++) {
            const v = x[r * inputs + i]!;
            expected[r * outputs + o] += wb[o * inputs + i]! * silu(v);
            for (let j = 0; j < 7; j++) expected[r * outputs + o] += ws[(o * inputs + i) * 7 + j]! * coxDeBoor(knotsOf(grid, i, 11), j, 3, v);
          }
        }
      }
      const xt = tensor(x, [rows, inputs]);
      assert.ok(scaledMaxError(await noGrad(() => layer.forward(xt)).dataFloat64(), expected) < 1e-12);
      await checkParameterGradients(layer, xt, rng);
      await gradcheck('BSplineKanLayer dx', ([input]) => layer.forward(input!), [{ shape: [rows, inputs], values: x }], rng);
      layer.dispose();
    });
  });

  it('RbfKanLayer: y = spline_linear(rbf(layernorm(x))) + base_linear(silu(x)), and every gradient', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, inputs, outputs, centers] = [4, 3, 2, 5];
      const rng = new Random(41);
      const layer = new RbfKanLayer(inputs, outputs, rng, { centers, low: -1.5, high: 1.5 });
      // Non-trivial layernorm parameters, so their gradients are tested at a general point.
      layer.layernorm!.weight.assignValues(randomValues(rng, inputs, { scale: 0.5 }).map((v) => 1 + v));
      layer.layernorm!.bias.assignValues(randomValues(rng, inputs, { scale: 0.3 }));
      const x = randomValues(rng, rows * inputs);
      const [gamma, beta] = [await layer.layernorm!.weight.dataFloat64(), await layer.layernorm!.bias.dataFloat64()];
      const spline = await layer.splineLinear.weight.dataFloat64();
      const [base, bias] = [await layer.baseLinear!.weight.dataFloat64(), await layer.baseLinear!.bias!.dataFloat64()];
      const expected = new Float64Array(rows * outputs);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.slice(r * inputs, (r + 1) * inputs));
        const mean = row.reduce((s, v) => s + v, 0) / inputs;
        const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / inputs;
        const normed = row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma[i]! + beta[i]!);
        for (let o = 0; o < outputs; o++) {
          let y = bias[o]!;
          for (let i = 0; i < inputs; i++) {
            y += base[o * inputs + i]! * silu(row[i]!);
            for (let k = 0; k < centers; k++) {
              const c = -1.5 + (k * 3) / (centers - 1);
              y += spline[o * inputs * centers + i * centers + k]! * Math.exp(-(((normed[i]! - c) / 0.75) ** 2));
            }
          }
          expected[r * outputs + o] = y;
        }
      }
      const xt = tensor(x, [rows, inputs]);
      assert.ok(scaledMaxError(await noGrad(() => layer.forward(xt)).dataFloat64(), expected) < 1e-12);
      await checkParameterGradients(layer, xt, rng);
      await gradcheck('RbfKanLayer dx', ([input]) => layer.forward(input!), [{ shape: [rows, inputs], values: x }], rng);
      layer.dispose();
    });
  });
});

describe('ChebyKanLayer against its float64 formula', () => {
  it('y_j = sum_i sum_k W[j, i (degree + 1) + k] cos(k acos(tanh x_i)), init std 1 / (in (degree + 1)), every gradient', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, inputs, outputs, degree] = [5, 3, 2, 4];
      const rng = new Random(43);
      const layer = new ChebyKanLayer(inputs, outputs, rng, { degree });
      assert.deepEqual(layer.namedParameters().map(([n, t]) => [n, [...t.shape]]), [['cheby_linear.weight', [outputs, inputs * (degree + 1)]]]);
      const x = randomValues(rng, rows * inputs, { scale: 1.5 });
      const w = await layer.chebyLinear.weight.dataFloat64();
      const expected = new Float64Array(rows * outputs);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < outputs; o++) {
          let y = 0;
          for (let i = 0; i < inputs; i++) {
            const theta = Math.acos(Math.tanh(x[r * inputs + i]!));
            for (let k = 0; k <= degree; k++) y += w[o * inputs * (degree + 1) + i * (degree + 1) + k]! * Math.cos(k * theta);
          }
          expected[r * outputs + o] = y;
        }
      }
      const xt = tensor(x, [rows, inputs]);
      assert.ok(scaledMaxError(await noGrad(() => layer.forward(xt)).dataFloat64(), expected) < 1e-12);
      await checkParameterGradients(layer, xt, rng);
      await gradcheck('ChebyKanLayer dx', ([input]) => layer.forward(input!), [{ shape: [rows, inputs], values: x }], rng);
      layer.dispose();
      // ChebyKAN's init: normal(0, 1 / (in (degree + 1))), here 1 / 320.
      const wide = new ChebyKanLayer(64, 64, new Random(2), { degree: 4 });
      const weights = await wide.chebyLinear.weight.dataFloat64();
      const std = Math.sqrt(weights.reduce((s, v) => s + v * v, 0) / weights.length);
      assert.ok(Math.abs(std * 320 - 1) < 0.02, `std ${std} vs ${1 / 320}`);
      wide.dispose();
    });
  });
});

// ---------------------------------------------------------------------------
// kan-mlp, checkpoints, CLI, bench

describe('kan-mlp with --basis', () => {
  it('builds efficient-kan and FastKAN layers under their names; the default stays GR-KAN', () => {
    const names = (spec: ModelSpec) => {
      const model = buildModel(spec);
      const out = new Map(model.namedParameters().map(([n, t]) => [n, t.shape.join('x')]));
      model.dispose();
      return out;
    };
    const rational = names(modelSpec('kan-mlp'));
    assert.equal((modelSpec('kan-mlp').config as KanMlpConfig).basis, 'rational');
    assert.equal(rational.get('layers.0.act.weight_denominator'), '8x4');
    const bspline = names(modelSpec('kan-mlp', { basis: 'bspline' }));
    assert.equal(bspline.get('layers.0.base_weight'), '256x784');
    assert.equal(bspline.get('layers.0.spline_weight'), '256x784x8');
    assert.equal(bspline.get('layers.2.spline_weight'), '10x128x8');
    assert.equal(bspline.has('layers.0.grid'), false, 'the grid is a buffer, not a parameter');
    const rbf = names(modelSpec('kan-mlp', { basis: 'rbf' }));
    assert.equal(rbf.get('layers.0.layernorm.weight'), '784');
    assert.equal(rbf.get('layers.0.spline_linear.weight'), `256x${784 * 8}`);
    assert.equal(rbf.get('layers.1.base_linear.bias'), '128');
    const cheby = names(modelSpec('kan-mlp', { basis: 'cheby' }));
    assert.deepEqual([...cheby], [['layers.0.cheby_linear.weight', `256x${784 * 5}`], ['layers.1.cheby_linear.weight', `128x${256 * 5}`],
      ['layers.2.cheby_linear.weight', `10x${128 * 5}`]]);
    assert.deepEqual((modelSpec('kan-mlp', { basis: 'cheby' }).config as KanMlpConfig).cheby, { degree: 4 });
  });

  it('cheby: the checkpoint keeps the degree and rebuilds the same function; settings without the basis are refused', async () => {
    const spec: ModelSpec = { name: 'kan-mlp', config: { inputs: 6, hidden: [5], classes: 3, groups: 8, dropout: 0, basis: 'cheby', cheby: { degree: 7 } } };
    const model = buildModel(spec, 3) as KanMlp;
    assert.ok(model.layers.every((layer) => layer instanceof ChebyKanLayer && layer.degree === 7));
    const x = tensor(randomValues(new Random(8), 40 * 6, { scale: 2 }), [40, 6]);
    const before = await noGrad(() => model.forward(x)).data();
    const loaded = decodeCheckpoint(await encodeCheckpoint(model, spec), 'test checkpoint');
    assert.deepEqual(loaded.spec, spec);
    assert.deepEqual(await noGrad(() => loaded.model.forward(x)).data(), before);
    model.dispose();
    loaded.model.dispose();
    assert.throws(() => buildModel({ name: 'kan-mlp', config: { ...spec.config, basis: 'rbf' } as KanMlpConfig }),
      /cheby settings are given, but the basis is 'rbf'/);
  });

  it('checkpoints keep the basis and the updated grids; eval rebuilds the same function', async () => {
    const spec: ModelSpec = { name: 'kan-mlp', config: { inputs: 6, hidden: [5], classes: 3, groups: 8, dropout: 0, basis: 'bspline', bspline: { gridSize: 4, order: 2 } } };
    const model = buildModel(spec, 3) as KanMlp;
    const x = tensor(gridData(new Random(6), 40, 6, 2), [40, 6]);
    const before = await noGrad(() => model.forward(x)).data();
    assert.equal(await model.updateGrids(x), 2);
    const after = await noGrad(() => model.forward(x)).data();
    assert.ok(scaledMaxError(after, before) < 0.05, `the refit keeps the function close on the data: ${scaledMaxError(after, before)}`);
    const bytes = await encodeCheckpoint(model, spec);
    const loaded = decodeCheckpoint(bytes, 'test checkpoint');
    assert.deepEqual(loaded.spec, spec);
    const [grid, loadedGrid] = [await (model.layers[1] as BSplineKanLayer).grid.data(), await ((loaded.model as KanMlp).layers[1] as BSplineKanLayer).grid.data()];
    assert.deepEqual(loadedGrid, grid);
    assert.deepEqual(await noGrad(() => loaded.model.forward(x)).data(), after);
    // A checkpoint without its grids does not fit.
    const { decodeSafetensors, encodeSafetensors } = await import('../src/io/safetensors.js');
    const contents = decodeSafetensors(bytes, 'test');
    const tensors = Object.fromEntries([...contents.tensors].filter(([n]) => n !== 'layers.0.grid').map(([n, t]) => [n, { shape: t.shape, values: t.values }]));
    assert.throws(() => decodeCheckpoint(encodeSafetensors(tensors, contents.metadata), 'gridless'), /gridless does not fit this model: missing 'layers.0.grid' \[6, 9\]/);
    model.dispose();
    loaded.model.dispose();
  });

  it('a checkpoint written before bases existed (no basis in its config) loads as GR-KAN', async () => {
    const spec: ModelSpec = { name: 'kan-mlp', config: { inputs: 4, hidden: [8], classes: 2, groups: 4, dropout: 0 } };
    const model = buildModel(spec, 1);
    const loaded = decodeCheckpoint(await encodeCheckpoint(model, spec));
    assert.ok((loaded.model as KanMlp).layers.every((layer) => layer instanceof RationalKanLayer));
    model.dispose();
    loaded.model.dispose();
  });
});

describe('kat train --basis, eval and info', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kat-bases-'));
  const data = 'synthetic:1x6x6:3:96';
  for (const basis of ['bspline', 'rbf']) {
    it(`--basis ${basis}: trains, the checkpoint says so, eval reproduces the accuracy`, () => {
      const out = join(dir, `${basis}.safetensors`);
      const train = kat('train', '--model', 'kan-mlp', '--basis', basis, '--dataset', data, '--epochs', '2', '--batch-size', '16', '--out', out, '--json');
      assert.equal(train.code, 0, train.stderr);
      const done = JSON.parse(train.stdout.trim().split('\n').pop()!) as { test_acc: number };
      const info = kat('info', '--checkpoint', out, '--json');
      assert.equal(info.code, 0, info.stderr);
      const described = JSON.parse(info.stdout) as { config: KanMlpConfig; tensors: { name: string }[] };
      assert.equal(described.config.basis, basis);
      assert.ok(described.tensors.some((t) => t.name === (basis === 'bspline' ? 'layers.0.spline_weight' : 'layers.0.spline_linear.weight')));
      const evaluated = kat('eval', '--checkpoint', out, '--json');
      assert.equal(evaluated.code, 0, evaluated.stderr);
      assert.equal((JSON.parse(evaluated.stdout) as { test_acc: number }).test_acc, done.test_acc);
    });
  }

  it('--basis cheby: the loss falls over 3 epochs, it beats chance, the checkpoint keeps degree 4, eval reproduces the accuracy', () => {
    const out = join(dir, 'cheby.safetensors');
    // 384 images (96 are too few for ChebyKAN's small initial weights to move in 3 epochs).
    const train = kat('train', '--model', 'kan-mlp', '--basis', 'cheby', '--hidden', '16', '--dataset', 'synthetic:1x6x6:3:384', '--epochs', '3',
      '--batch-size', '16', '--lr', '0.01', '--out', out, '--json');
    assert.equal(train.code, 0, train.stderr);
    const epochs = train.stdout.trim().split('\n').map((line) => JSON.parse(line) as { train_loss?: number; test_acc: number })
      .filter((e) => e.train_loss !== undefined);
    assert.equal(epochs.length, 3);
    assert.ok(epochs[2]!.train_loss! < 0.85 * epochs[0]!.train_loss!, `train loss ${epochs.map((e) => e.train_loss).join(' -> ')}`);
    assert.ok(epochs[2]!.test_acc > 0.6, `test accuracy ${epochs[2]!.test_acc} (chance 1/3)`);
    const info = kat('info', '--checkpoint', out, '--json');
    assert.equal(info.code, 0, info.stderr);
    const described = JSON.parse(info.stdout) as { config: KanMlpConfig; tensors: { name: string; shape: number[] }[] };
    assert.equal(described.config.basis, 'cheby');
    assert.deepEqual(described.config.cheby, { degree: 4 });
    assert.deepEqual(described.tensors.find((t) => t.name === 'layers.0.cheby_linear.weight')?.shape, [16, 36 * 5]);
    const evaluated = kat('eval', '--checkpoint', out, '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const done = JSON.parse(train.stdout.trim().split('\n').pop()!) as { test_acc: number };
    assert.equal((JSON.parse(evaluated.stdout) as { test_acc: number }).test_acc, done.test_acc);
  });

  it('an unknown basis, or a basis for a transformer: one kat: line, exit 2', () => {
    const unknown = kat('train', '--model', 'kan-mlp', '--basis', 'wavelet', '--dataset', data);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "kat: train: unknown basis 'wavelet': expected one of rational, bspline, rbf, af, relu, cheby, mlp, or select:SPACE,SPACE,... (S-KAN)\n");
    const transformer = kat('train', '--model', 'kat-micro', '--basis', 'rbf', '--dataset', data);
    assert.equal(transformer.code, 2);
    assert.match(transformer.stderr, /^kat: train: --basis applies to --model kan-mlp only \(kat-micro has GR-KAN rational layers\)\n$/);
  });
});

describe('bench: KAN layers of each basis at equal widths', () => {
  it('times forward and forward+backward and measures what the forward keeps and the peak', async () => {
    const backend = (await startBackend('cpu'))!;
    const [rows, width] = [48, 16];
    const results = await onBackendAsync(backend, () => benchKanLayers(backend, rows, width, width, { runs: 1, callsPerRun: 1 }));
    assert.deepEqual(results.map((r) => r.op), ['rational', 'bspline', 'rbf', 'af', 'relu', 'cheby', 'mlp'].flatMap((b) => [`kan layer ${b} fwd`, `kan layer ${b} fwd+bwd`]));
    for (const row of results) {
      assert.equal(row.shape, `[${rows}, ${width}] -> ${width}`);
      assert.ok(row.median_ms > 0 && row.elements_per_s! > 0 && row.ratio! > 0);
      assert.equal(row.reference, 'rational');
    }
    const get = (op: string) => results.find((r) => r.op === op)!;
    assert.equal(get('kan layer rational fwd').ratio, 1);
    // The B-spline forward keeps its [rows, width, 8] expansion (the matmul's input) and the output, 4 bytes each.
    const expansion = rows * width * 8 * 4;
    assert.ok(get('kan layer bspline fwd').live_bytes! >= expansion + rows * width * 4, `${get('kan layer bspline fwd').live_bytes}`);
    assert.ok(get('kan layer rbf fwd').live_bytes! >= expansion + rows * width * 4);
    for (const basis of ['rational', 'bspline', 'rbf', 'af', 'relu', 'cheby', 'mlp']) {
      assert.ok(get(`kan layer ${basis} fwd+bwd`).peak_bytes! >= get(`kan layer ${basis} fwd`).live_bytes!, basis);
    }
    // Parameters at equal widths: B-spline (8 + 1) x 256, RBF 8 x 256 + 256 + bias and layernorm; GR-KAN 256 + bias + 10 per group.
    assert.equal(get('kan layer bspline fwd').parameters, width * width * 9);
    assert.equal(get('kan layer rbf fwd').parameters, width * width * 9 + width + 2 * width);
    assert.equal(get('kan layer rational fwd').parameters, width * width + width + 6 + 8 * 4);
    // AF-KAN: W, layernorm, grid 2 x 6, attention 6 + 1, tau; ReLU-KAN: layernorm, grids 2 x 6 per input, fc over 6 bases + bias.
    assert.equal(get('kan layer af fwd').parameters, width * width + 2 * width + 12 + 7 + 1);
    assert.equal(get('kan layer relu fwd').parameters, 2 * width + 12 * width + width * width * 6 + width);
    // ChebyKAN: one bias-free Linear over 5 bases per input; its forward keeps x and the [rows, width, 5] expansion.
    assert.equal(get('kan layer cheby fwd').parameters, width * width * 5);
    assert.ok(get('kan layer cheby fwd').live_bytes! >= rows * width * 5 * 4 + rows * width * 4);
    // The MLP baseline: one Linear.
    assert.equal(get('kan layer mlp fwd').parameters, width * width + width);
  });
});

describe('kat train --grid-update (efficient-kan grid update during training)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kat-grid-update-'));
  const data = 'synthetic:1x6x6:3:96';

  it('refits the first layer grid to quantiles of the data it saw', async () => {
    const seed = 5;
    const { train } = await loadDataset(data, { seed });
    const out = join(dir, 'updated.safetensors');
    // Fewer rows than a grid update samples: the update saw the whole train split (quantiles ignore order).
    assert.ok(train.count <= GRID_UPDATE_SAMPLES);
    const run = kat('train', '--model', 'kan-mlp', '--basis', 'bspline', '--grid-update', '1', '--dataset', data, '--epochs', '1',
      '--batch-size', '16', '--seed', String(seed), '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const grid = decodeSafetensors(new Uint8Array(readFileSync(out)), 'updated').tensors.get('layers.0.grid')!;
    const features = train.channels * train.height * train.width;
    const [gridSize, order, eps, margin] = [5, 3, 0.02, 0.01]; // kan-mlp's B-spline defaults, updateGrids' margin
    const knots = gridSize + 2 * order + 1;
    assert.deepEqual(grid.shape, [features, knots]);
    const uniform = uniformKnots(gridSize, order, -1, 1);
    let differs = false;
    for (let c = 0; c < features; c++) {
      const column = Array.from({ length: train.count }, (_, r) => train.images[r * features + c]!).sort((a, b) => a - b);
      const [low, high] = [column[0]!, column[train.count - 1]!];
      const step = (high - low + 2 * margin) / gridSize;
      for (let m = 0; m < knots; m++) {
        const i = m - order; // position on the grid proper (0..gridSize), beyond it spacing `step`
        const clamped = Math.min(Math.max(i, 0), gridSize);
        const inner = eps * (low - margin + clamped * step) + (1 - eps) * column[Math.floor((clamped * (train.count - 1)) / gridSize)]!;
        const expected = inner + (i - clamped) * step;
        const actual = grid.values[c * knots + m]!;
        assert.ok(Math.abs(actual - expected) <= 1e-5 * (1 + Math.abs(expected)), `channel ${c} knot ${m}: ${actual} vs ${expected}`);
        if (m > 0) assert.ok(actual >= grid.values[c * knots + m - 1]!, `channel ${c}: knots not sorted at ${m}`);
        if (Math.abs(actual - uniform[m]!) > 1e-3) differs = true;
      }
      assert.ok(grid.values[c * knots + order]! >= low - margin && grid.values[c * knots + order + gridSize]! <= high + margin);
    }
    assert.ok(differs, 'the grid is still the initial uniform one');
  });

  it('without --grid-update the grid stays uniform', () => {
    const out = join(dir, 'plain.safetensors');
    const run = kat('train', '--model', 'kan-mlp', '--basis', 'bspline', '--dataset', data, '--epochs', '1', '--batch-size', '32',
      '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const grid = decodeSafetensors(new Uint8Array(readFileSync(out)), 'plain').tensors.get('layers.0.grid')!;
    const uniform = uniformKnots(5, 3, -1, 1);
    grid.values.forEach((v, i) => assert.ok(Math.abs(v - uniform[i % uniform.length]!) < 1e-6));
  });

  it('with another basis or model, or a bad count: one kat: line, exit 2, no checkpoint', () => {
    const out = join(dir, 'never.safetensors');
    const rbf = kat('train', '--model', 'kan-mlp', '--basis', 'rbf', '--grid-update', '2', '--dataset', data, '--out', out);
    assert.equal(rbf.code, 2);
    assert.match(rbf.stderr, /^kat: train: --grid-update refits B-spline grids: it needs --model kan-mlp --basis bspline \(got --model kan-mlp --basis rbf\)\n$/);
    const transformer = kat('train', '--model', 'kat-micro', '--grid-update', '1', '--dataset', data, '--out', out);
    assert.equal(transformer.code, 2);
    assert.match(transformer.stderr, /^kat: train: --grid-update .*got --model kat-micro, no --basis\)\n$/);
    const negative = kat('train', '--model', 'kan-mlp', '--basis', 'bspline', '--grid-update', '-1', '--dataset', data, '--out', out);
    assert.equal(negative.code, 2);
    assert.match(negative.stderr, /^kat: train: --grid-update must be a non-negative integer in \[0, 100,000\], got -1\n$/);
    assert.ok(!existsSync(out));
  });
});

describe('the WebAssembly basis kernels over several arena chunks', async () => {
  // 300 x 64 elements: the B-spline kernels take ~100 rows per chunk at this width, the RBF ones ~7000 elements.
  const simd: [string, Backend, string | false][] = [];
  for (const name of ['cpu', 'cpu-plain-simd']) {
    const backend = await startBackend(name);
    simd.push([name, backend!, skipUnless(backend, name)]);
  }
  const [rows, channels, gridSize, order] = [300, 64, 5, 3];
  const rng = new Random(31);
  const knots = gridSize + 2 * order + 1;
  // Uniform knots with a per-channel offset and scale, and every 7th channel non-uniform.
  const grid = new Float64Array(channels * knots);
  for (let c = 0; c < channels; c++) {
    let t = -1.5 + 0.3 * rng.uniform();
    const step = 0.2 + 0.3 * rng.uniform();
    for (let m = 0; m < knots; m++) grid[c * knots + m] = (t += c % 7 === 0 ? 0.1 + 0.5 * rng.uniform() : step);
  }
  const grid32 = toFloat32Values(grid);
  const x32 = toFloat32Values(randomValues(rng, rows * channels, { scale: 1.5 }));
  x32[rows * channels - 5] = NaN; // in the last chunk
  const bases = knots - order - 1;
  const gy = toFloat32Values(randomValues(rng, rows * channels * bases));
  const expected = referenceBspline(x32, grid32, channels, knots, order, gy);
  const centers = 8;
  const rbfY = new Float64Array(rows * channels * centers);
  const rbfDx = new Float64Array(rows * channels);
  for (let i = 0; i < rows * channels; i++) {
    for (let k = 0; k < centers; k++) {
      const z = (x32[i]! - (-2 + (4 * k) / 7)) / (4 / 7);
      rbfY[i * centers + k] = Math.exp(-z * z);
      rbfDx[i] += gy[i * centers + k]! * Math.exp(-z * z) * (-2 * z) / (4 / 7);
    }
  }
  for (const [name, backend, skip] of simd) {
    it(`bsplineBasis and its dx on ${name}`, { skip }, async () => {
      const actual = await basisOnBackend(backend, x32, [rows, channels], gy, (xt) => bsplineBasis(xt, tensor(grid32, [channels, knots]), order));
      assert.ok(scaledMaxError(actual.y, expected.y) <= 2e-6, `bases ${scaledMaxError(actual.y, expected.y)}`);
      assert.ok(scaledMaxError(actual.dx, expected.dx) <= 1e-5, `dx ${scaledMaxError(actual.dx, expected.dx)}`);
      assert.ok(Number.isNaN(actual.dx[rows * channels - 5]!) && Number.isNaN(actual.y[(rows * channels - 5) * bases]!));
    });
    it(`radialBasis and its dx on ${name}`, { skip }, async () => {
      const actual = await basisOnBackend(backend, x32, [rows, channels], gy, (xt) => radialBasis(xt));
      assert.ok(scaledMaxError(actual.y, rbfY) <= 5e-6, `forward ${scaledMaxError(actual.y, rbfY)}`);
      assert.ok(scaledMaxError(actual.dx, rbfDx) <= 5e-6, `dx ${scaledMaxError(actual.dx, rbfDx)}`);
    });
  }
});
