// Every op's forward on every backend (cpu-float64 included) against float64
// references written here with Math.*, never with the kernels. The parity
// suite compares backends with the float64 backend, which runs the same
// TypeScript kernels as cpu-js: a wrong formula there would pass it. This
// file pins down what each op computes, independently of all of them.
//
// Sizes are above the WebAssembly cut-off (64 elements), so the SIMD kernels
// run on cpu and cpu-plain-simd; the binary ops run on equal shapes, a
// repeating operand on either side, a scalar, and a general broadcast.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import * as ops from '../src/ops/index.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { PARITY_BACKENDS, skipUnless, startBackend } from './support/backends.js';
import { float64Backend, onBackendAsync, randomValues, toFloat32Values } from './support/harness.js';

/** erf by its Maclaurin series (float64, |x| < 6; accurate to ~1e-9 there), so GELU's reference shares no code with the kernels. */
function erfSeries(x: number): number {
  if (Math.abs(x) >= 6) return Math.sign(x);
  let term = x;
  let total = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    total += add;
    if (Math.abs(add) < 1e-17 * Math.abs(total)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * total;
}

const UNARY: [string, (t: Tensor) => Tensor, (v: number) => number, 'any' | 'positive' | 'nonzero'][] = [
  ['neg', ops.neg, (v) => -v, 'any'],
  ['exp', ops.exp, Math.exp, 'any'],
  ['log', ops.log, Math.log, 'positive'],
  ['sqrt', ops.sqrt, Math.sqrt, 'positive'],
  ['rsqrt', ops.rsqrt, (v) => 1 / Math.sqrt(v), 'positive'],
  ['abs', ops.abs, Math.abs, 'any'],
  ['sign', ops.sign, Math.sign, 'any'],
  ['square', ops.square, (v) => v * v, 'any'],
  ['reciprocal', ops.reciprocal, (v) => 1 / v, 'nonzero'],
  ['tanh', ops.tanh, Math.tanh, 'any'],
  ['sigmoid', ops.sigmoid, (v) => 1 / (1 + Math.exp(-v)), 'any'],
  ['relu', ops.relu, (v) => Math.max(v, 0), 'any'],
  ['gelu', ops.gelu, (v) => 0.5 * v * (1 + erfSeries(v / Math.SQRT2)), 'any'],
  ['sin', ops.sin, Math.sin, 'any'],
  ['cos', ops.cos, Math.cos, 'any'],
];

const BINARY: [string, (a: Tensor | number, b: Tensor | number) => Tensor, (a: number, b: number) => number][] = [
  ['add', ops.add, (a, b) => a + b],
  ['sub', ops.sub, (a, b) => a - b],
  ['mul', ops.mul, (a, b) => a * b],
  ['div', ops.div, (a, b) => a / b],
  ['pow', ops.pow, Math.pow],
  ['maximum', ops.maximum, Math.max],
  ['minimum', ops.minimum, Math.min],
  ['equal', ops.equal, (a, b) => (a === b ? 1 : 0)],
  ['greater', ops.greater, (a, b) => (a > b ? 1 : 0)],
];

/** Element by element: |actual - expected| <= tolerance * (1 + |expected|); NaN only where expected is NaN. */
function assertElementsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const ok = a === e || Math.abs(a - e) <= tolerance * (1 + Math.abs(e));
    assert.ok(ok, `${what}: element ${i} is ${a}, expected ${e} (tolerance ${tolerance} x (1 + |expected|))`);
  }
}

/** Row-major strides of `shape`, 0 on size-1 axes, aligned to the right of `outShape` (numpy broadcasting). */
function broadcastIndex(shape: readonly number[], outShape: readonly number[]): (flat: number) => number {
  const rank = outShape.length;
  return (flat) => {
    let index = 0;
    let stride = 1;
    let rest = flat;
    const offsets: number[] = [];
    for (let axis = rank - 1; axis >= 0; axis--) {
      offsets[axis] = rest % outShape[axis]!;
      rest = Math.floor(rest / outShape[axis]!);
    }
    for (let axis = rank - 1, own = shape.length - 1; own >= 0; axis--, own--) {
      const size = shape[own]!;
      if (size !== 1) index += offsets[axis]! * stride;
      stride *= size;
    }
    return index;
  };
}

const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

const rng = new Random(2025);
const N = 150; // > 64: the WebAssembly path on cpu and cpu-plain-simd
const inputs = {
  any: toFloat32Values(randomValues(rng, N, { scale: 2 })),
  positive: toFloat32Values(randomValues(rng, N, { scale: 2, positive: true, awayFromZero: 0.05 })),
  nonzero: toFloat32Values(randomValues(rng, N, { scale: 2, awayFromZero: 0.1 })),
};
for (let i = 0; i < N; i += 10) inputs.any[i] = 0; // sign(0), relu(0), abs(0)

// Binary operands: a [5, 6, 5]; b of each layout. Every 7th b equals a (equal, minimum / maximum ties).
const A_SHAPE = [5, 6, 5];
const aValues = toFloat32Values(randomValues(rng, sizeOf(A_SHAPE), { scale: 1.5 }));
const LAYOUTS: { name: string; shape: number[] | null; bFirst?: boolean }[] = [
  { name: 'equal shapes', shape: [5, 6, 5] },
  { name: 'b repeating (a bias)', shape: [6, 5] },
  { name: 'a repeating on the left', shape: [6, 5], bFirst: true },
  { name: 'general broadcast', shape: [5, 1, 5] },
  { name: 'scalar', shape: null },
];

const TOLERANCE: Record<string, number> = { 'cpu-float64': 1e-12, webgpu: 2e-5 };
const tolerance = (name: string) => TOLERANCE[name] ?? 2e-6;

describe('every op forward against float64 Math.* references, on every backend', async () => {
  const names = ['cpu-float64', ...PARITY_BACKENDS];
  const started = await Promise.all(names.map((name) => (name === 'cpu-float64' ? float64Backend : startBackend(name))));
  for (const [index, name] of names.entries()) {
    const backend = started[index] as Backend;
    const skip = skipUnless(started[index], name);
    const tol = tolerance(name);
    const on = <T>(fn: () => Promise<T>) => onBackendAsync(backend, fn);

    describe(name, () => {
      for (const [op, fn, ref, domain] of UNARY) {
        it(`${op}`, { skip }, () => on(async () => {
          const x = inputs[domain];
          const y = await fn(ops.tensor(x, [10, 15])).dataFloat64();
          // exp, reciprocal and rsqrt are checked relative to each value (their outputs span orders of magnitude).
          assertElementsClose(y, Array.from(x, ref), tol, `${op} on ${name}`);
        }));
      }

      for (const [op, fn, ref] of BINARY) {
        it(`${op}: equal shapes, repeating on either side, scalar, general broadcast`, { skip }, () => on(async () => {
          for (const layout of LAYOUTS) {
            const bShape = layout.shape ?? [];
            const bSize = sizeOf(bShape);
            const b = toFloat32Values(randomValues(new Random(bSize + op.length), bSize, { scale: 1.5, awayFromZero: 0.2 }));
            const outShape = A_SHAPE;
            const bAt = broadcastIndex(bShape, outShape);
            for (let i = 0; i < aValues.length; i += 7) b[bAt(i)] = aValues[i]!;
            // pow: a positive base (a real power for every exponent).
            const a = op === 'pow' ? aValues.map(Math.abs) : aValues;
            const at = ops.tensor(a, A_SHAPE);
            const bt = layout.shape ? ops.tensor(b, bShape) : b[0]!;
            const expected = Array.from({ length: sizeOf(outShape) }, (_, i) =>
              layout.bFirst ? ref(b[bAt(i)]!, a[i]!) : ref(a[i]!, b[bAt(i)]!));
            const out = layout.bFirst ? fn(bt, at) : fn(at, bt);
            assert.deepEqual(out.shape, outShape, `${op} ${layout.name}: shape`);
            assertElementsClose(await out.dataFloat64(), expected, tol, `${op} on ${name}, ${layout.name}`);
          }
        }));
      }

      it('sum, mean, max, min over each axis, two axes and all; argmax along each axis', { skip }, () => on(async () => {
        const shape = [4, 9, 5];
        const x = toFloat32Values(randomValues(new Random(5), sizeOf(shape)));
        const at = (i: number, j: number, k: number) => x[(i * 9 + j) * 5 + k]!;
        const t = ops.tensor(x, shape);
        for (const axes of [[0], [1], [2], [0, 2], [0, 1, 2]]) {
          const kept = [0, 1, 2].filter((a) => !axes.includes(a));
          const outShape = kept.map((a) => shape[a]!);
          const groups = new Map<string, number[]>();
          for (let i = 0; i < 4; i++) for (let j = 0; j < 9; j++) for (let k = 0; k < 5; k++) {
            const key = kept.map((a) => [i, j, k][a]).join(',');
            groups.set(key, [...(groups.get(key) ?? []), at(i, j, k)]);
          }
          const rows = [...groups.values()]; // insertion order is row-major over the kept axes
          const reduce = async (f: (x: Tensor, axes: number[]) => Tensor, g: (v: number[]) => number, what: string) => {
            const out = f(t, axes);
            assert.deepEqual(out.shape, outShape, `${what} over ${axes}: shape`);
            assertElementsClose(await out.dataFloat64(), rows.map(g), tol * 10, `${what} over [${axes}] on ${name}`);
          };
          const total = (v: number[]) => v.reduce((s, e) => s + e, 0);
          await reduce(ops.sum, total, 'sum');
          await reduce(ops.mean, (v) => total(v) / v.length, 'mean');
          await reduce(ops.max, (v) => Math.max(...v), 'max');
          await reduce(ops.min, (v) => Math.min(...v), 'min');
        }
        for (const axis of [0, 1, 2]) {
          const expected: number[] = [];
          const dims = [4, 9, 5];
          const others = [0, 1, 2].filter((a) => a !== axis);
          for (let p = 0; p < dims[others[0]!]!; p++) for (let q = 0; q < dims[others[1]!]!; q++) {
            let best = 0;
            for (let r = 1; r < dims[axis]!; r++) {
              const idx = (s: number) => { const v = [0, 0, 0]; v[others[0]!] = p; v[others[1]!] = q; v[axis] = s; return at(v[0]!, v[1]!, v[2]!); };
              if (idx(r) > idx(best)) best = r;
            }
            expected.push(best);
          }
          assert.deepEqual(Array.from(await ops.argmax(t, axis).dataFloat64()), expected, `argmax along ${axis} on ${name}`);
        }
        // Ties: the first index wins (as torch.argmax and numpy.argmax), along the last axis and a leading one.
        const ties = ops.tensor([1, 3, 3, 0, 2, 2, 2, 2, -1, -5, -1, -5], [3, 4]);
        assert.deepEqual(Array.from(await ops.argmax(ties, 1).dataFloat64()), [1, 0, 0], `argmax ties along 1 on ${name}`);
        assert.deepEqual(Array.from(await ops.argmax(ops.tensor([4, 1, 4, 1, 0, 1], [3, 2]), 0).dataFloat64()), [0, 0], `argmax ties along 0 on ${name}`);
      }));

      it('softmax, layerNorm, matmul (every transpose), meanSquaredError', { skip }, () => on(async () => {
        const r = new Random(11);
        const [rows, cols] = [7, 19];
        const x = toFloat32Values(randomValues(r, rows * cols, { scale: 2 }));
        const w = toFloat32Values(randomValues(r, cols));
        const b = toFloat32Values(randomValues(r, cols));
        const softmax: number[] = [];
        const norm: number[] = [];
        for (let i = 0; i < rows; i++) {
          const row = Array.from(x.subarray(i * cols, (i + 1) * cols));
          const m = Math.max(...row);
          const e = row.map((v) => Math.exp(v - m));
          const s = e.reduce((p, v) => p + v, 0);
          softmax.push(...e.map((v) => v / s));
          const mu = row.reduce((p, v) => p + v, 0) / cols;
          const variance = row.reduce((p, v) => p + (v - mu) ** 2, 0) / cols;
          norm.push(...row.map((v, j) => ((v - mu) / Math.sqrt(variance + 1e-5)) * w[j]! + b[j]!));
        }
        const xt = ops.tensor(x, [rows, cols]);
        assertElementsClose(await ops.softmax(xt).dataFloat64(), softmax, tol, `softmax on ${name}`);
        assertElementsClose(await ops.layerNorm(xt, ops.tensor(w), ops.tensor(b)).dataFloat64(), norm, tol * 10, `layerNorm on ${name}`);

        const [m, k, n] = [6, 11, 9];
        const a = toFloat32Values(randomValues(r, m * k));
        const c = toFloat32Values(randomValues(r, k * n));
        const product: number[] = [];
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p]! * c[p * n + j]!;
          product.push(s);
        }
        const aT = new Float64Array(m * k);
        const cT = new Float64Array(k * n);
        for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) aT[p * m + i] = a[i * k + p]!;
        for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) cT[j * k + p] = c[p * n + j]!;
        for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const left = ops.tensor(transposeA ? aT : a, transposeA ? [k, m] : [m, k]);
          const right = ops.tensor(transposeB ? cT : c, transposeB ? [n, k] : [k, n]);
          assertElementsClose(await ops.matmul(left, right, { transposeA, transposeB }).dataFloat64(), product, tol * 10,
            `matmul transposeA=${transposeA} transposeB=${transposeB} on ${name}`);
        }
        const target = toFloat32Values(randomValues(r, rows * cols));
        const mse = Array.from(x, (v, i) => (v - target[i]!) ** 2).reduce((p, v) => p + v, 0) / x.length;
        assertElementsClose(await ops.meanSquaredError(xt, ops.tensor(target, [rows, cols])).dataFloat64(), [mse], tol * 10, `meanSquaredError on ${name}`);
      }));
    });
  }
});
