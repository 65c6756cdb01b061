// The WebGPU reductions (reduce, argmax) and row kernels (softmax, layerNorm,
// softmax-cross-entropy, forward and backward) against the float64 CPU kernels
// on shapes larger than the parity suite's: rows of 1 to 3000 columns, every
// kind of axis set of a rank-4 tensor, reductions long enough to be split into
// partials, layerNorm backward over enough rows for its partial-sum pass. Both
// workgroup-reduction flavours run: subgroup operations (where the adapter has
// them) and workgroup memory only. Skipped when WebGPU cannot start.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendOrSkip } from './support/backends.js';
import { assertClose, float64Backend, randomValues, scaledMaxError, toFloat32Values } from './support/harness.js';
import { Random } from '../src/tensor/random.js';
import type { HostArray, Kernels, ReduceOp } from '../src/backends/backend.js';
import type { WebGpuBackend } from '../src/backends/webgpu/index.js';
import type { GpuBuffer, GpuContext } from '../src/backends/webgpu/context.js';
import { makeReduceKernels } from '../src/backends/webgpu/kernels/reduce.js';
import { makeRowKernels } from '../src/backends/webgpu/kernels/rows.js';

const TOLERANCE = 1e-5;

type Tested = Pick<Kernels<unknown>, 'reduce' | 'argmax' | 'softmax' | 'softmaxBackward' | 'layerNorm' | 'layerNormBackward' |
  'softmaxCrossEntropy' | 'softmaxCrossEntropyBackward'>;
type Run = <B>(k: Kernels<B>, xs: B[]) => B | B[];

const [backend, skip] = await backendOrSkip<WebGpuBackend>('webgpu');

/** The same context with the subgroups feature hidden: the kernels fall back to workgroup memory. */
function withoutSubgroups(ctx: GpuContext): GpuContext {
  return new Proxy(ctx, {
    get(target, key) {
      if (key === 'subgroups') return false;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function flavours(b: WebGpuBackend): [string, Kernels<GpuBuffer>][] {
  const plain = withoutSubgroups(b.ctx);
  const fallback = { ...b.kernels, ...makeReduceKernels(plain), ...makeRowKernels(plain) } satisfies Tested;
  return b.ctx.subgroups ? [['subgroups', b.kernels], ['workgroup memory', fallback]] : [['workgroup memory', b.kernels]];
}

const list = <B>(out: B | B[]): B[] => (Array.isArray(out) ? out : [out]);

/** Runs `run` on the float64 CPU kernels and on `kernels`, returning both outputs as host arrays. */
async function both(b: WebGpuBackend, kernels: Kernels<GpuBuffer>, inputs: Float64Array[], run: Run): Promise<[HostArray[], Float32Array[]]> {
  const cpuIn = inputs.map((v) => float64Backend.upload(v));
  const expected = list(run(float64Backend.kernels, cpuIn)).map((buffer) => float64Backend.readSync(buffer));
  const gpuIn = inputs.map((v) => b.upload(v));
  const gpuOut = list(run(kernels, gpuIn));
  const actual = await Promise.all(gpuOut.map((buffer) => b.read(buffer)));
  for (const buffer of [...gpuIn, ...gpuOut]) b.free(buffer);
  return [expected, actual];
}

/**
 * Checks every output to `tolerance` of its largest magnitude, or of `floor`
 * where that is larger (outputs that are exactly 0 in float64, such as the
 * loss of a single class, are float32 rounding residues on the GPU).
 */
async function check(b: WebGpuBackend, kernels: Kernels<GpuBuffer>, what: string, inputs: Float64Array[], run: Run,
  tolerance = TOLERANCE, floor = 0): Promise<Float32Array[]> {
  const [expected, actual] = await both(b, kernels, inputs, run);
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => {
    assert.equal(actual[i]!.length, e.length, `${what} output ${i}: length`);
    if (floor > 0) {
      const error = scaledMaxError(actual[i]!, e, floor);
      assert.ok(error <= tolerance, `${what} output ${i}: error ${error.toExponential(3)} of max(max |expected|, ${floor})`);
    } else {
      assertClose(actual[i]!, e, tolerance, `${what} output ${i}`);
    }
  });
  return actual;
}

const rng = new Random(2024);
const normal = (size: number, scale = 1) => toFloat32Values(randomValues(rng, size, { scale }));
const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

describe('webgpu reductions and row kernels vs float64', () => {
  // Without a device every test is still declared, and skipped with the reason (counted in the run's summary).
  const b = backend!;
  for (const [flavour, k] of backend ? flavours(backend) : [['workgroup memory', null as unknown as Kernels<GpuBuffer>] as const]) {
    describe(flavour, () => {
      it('reduce sum / max / min over leading, middle, trailing, interleaved and all axes of a rank-4 tensor', { skip }, async () => {
        const shape = [70, 6, 5, 40];
        const x = normal(size(shape));
        const axesSets = [[0], [0, 1], [1], [1, 2], [3], [2, 3], [0, 2], [1, 3], [0, 1, 2, 3], []];
        for (const axes of axesSets) {
          for (const op of ['sum', 'max', 'min'] as ReduceOp[]) {
            await check(b, k, `${op} over [${axes.join(', ')}]`, [x], (kk, [xb]) => kk.reduce(op, xb!, shape, axes));
          }
        }
      });

      it('reduce: long reductions split into partials, size-1 axes, rank 0', { skip }, async () => {
        const cases: [number[], number[]][] = [
          [[3, 100000], [1]], // few outputs, one workgroup each: split
          [[20000, 20], [0]], // a column sum over many rows: split twice
          [[1, 300000], [0, 1]], // everything: split
          [[4, 1, 3000, 1], [1, 2]], // size-1 axes vanish
          [[257, 65], [1]],
          [[], []],
        ];
        for (const [shape, axes] of cases) {
          const x = normal(size(shape));
          for (const op of ['sum', 'max', 'min'] as ReduceOp[]) {
            await check(b, k, `${op} of [${shape.join(', ')}] over [${axes.join(', ')}]`, [x], (kk, [xb]) => kk.reduce(op, xb!, shape, axes));
          }
        }
      });

      it('reduce: NaN propagates through max and min, empty reductions give the identity', { skip }, async () => {
        const shape = [4, 300];
        const x = normal(size(shape));
        x[1 * 300 + 17] = Number.NaN; // a long row: the workgroup kernel
        const [, maxes] = await both(b, k, [x], (kk, [xb]) => kk.reduce('max', xb!, shape, [1]));
        const [, mins] = await both(b, k, [x], (kk, [xb]) => kk.reduce('min', xb!, shape, [1]));
        assert.ok(Number.isNaN(maxes[0]![1]!) && Number.isNaN(mins[0]![1]!));
        assert.ok([0, 2, 3].every((r) => Number.isFinite(maxes[0]![r]!) && Number.isFinite(mins[0]![r]!)));
        const [, cols] = await both(b, k, [x], (kk, [xb]) => kk.reduce('max', xb!, shape, [0])); // short columns: one invocation each
        assert.ok(Number.isNaN(cols[0]![17]!) && Number.isFinite(cols[0]![16]!));
        for (const [op, identity] of [['sum', 0], ['max', -Infinity], ['min', Infinity]] as const) {
          const [expected, actual] = await both(b, k, [new Float64Array(0)], (kk, [xb]) => kk.reduce(op, xb!, [3, 0], [1]));
          assert.deepEqual(Array.from(actual[0]!), Array.from(expected[0]!));
          assert.deepEqual(Array.from(actual[0]!), [identity, identity, identity]);
        }
      });

      it('argmax: first index on ties, NaN never chosen, along every position of the axis', { skip }, async () => {
        const cases: [number, number, number][] = [[5, 1000, 1], [4, 300, 20], [7, 10, 3], [3, 70, 2], [1, 5000, 1], [2, 1, 5]];
        for (const [outer, n, inner] of cases) {
          // Small integers: many ties.
          const x = Float64Array.from(normal(outer * n * inner, 3), Math.round);
          x[0] = Number.NaN;
          if (outer > 2) for (let i = 0; i < n; i++) x[(2 * n + i) * inner] = i % 3 === 0 ? Number.NaN : -Infinity;
          await check(b, k, `argmax [${outer}, ${n}, ${inner}]`, [x], (kk, [xb]) => kk.argmax(xb!, outer, n, inner), 0);
        }
      });

      for (const cols of [1, 7, 256, 1000, 3000]) {
        const rows = cols >= 1000 ? 6 : 40;
        it(`softmax, layerNorm, softmaxCrossEntropy and their backwards: ${rows} rows of ${cols}`, { skip }, async () => {
          const x = normal(rows * cols, 3);
          const gy = normal(rows * cols);
          await check(b, k, 'softmax', [x], (kk, [xb]) => kk.softmax(xb!, rows, cols));
          const y = Float64Array.from(Float32Array.from(float64Backend.readSync(float64Backend.kernels.softmax(x, rows, cols))));
          await check(b, k, 'softmaxBackward', [y, gy], (kk, [yb, gb]) => kk.softmaxBackward(yb!, gb!, rows, cols));

          const weight = normal(cols);
          const bias = normal(cols);
          await check(b, k, 'layerNorm', [x, weight, bias], (kk, [xb, wb, bb]) => kk.layerNorm(xb!, wb!, bb!, rows, cols, 1e-5));
          const [, mean, rstd] = float64Backend.kernels.layerNorm(x, weight, bias, rows, cols, 1e-5).map((v) => toFloat32Values(Float64Array.from(v)));
          await check(b, k, 'layerNormBackward', [x, weight, mean!, rstd!, gy],
            (kk, [xb, wb, mb, rb, gb]) => kk.layerNormBackward(xb!, wb!, mb!, rb!, gb!, rows, cols));

          const labels = Float64Array.from({ length: rows }, () => rng.int(cols));
          const gLoss = normal(rows);
          for (const smoothing of [0, 0.1]) {
            const [, lse] = await check(b, k, `softmaxCrossEntropy (smoothing ${smoothing})`, [x, labels],
              (kk, [zb, lb]) => kk.softmaxCrossEntropy(zb!, lb!, rows, cols, smoothing), TOLERANCE, 1);
            await check(b, k, `softmaxCrossEntropyBackward (smoothing ${smoothing})`, [x, labels, Float64Array.from(lse!), gLoss],
              (kk, [zb, lb, sb, gb]) => kk.softmaxCrossEntropyBackward(zb!, lb!, sb!, gb!, rows, cols, smoothing));
          }
        });
      }

      for (const [rows, cols] of [[300, 7], [300, 256], [300, 1000], [300, 3000], [1100, 192]] as const) {
        it(`layerNormBackward over ${rows} rows of ${cols}: dWeight and dBias through per-workgroup partials`, { skip }, async () => {
          const x = normal(rows * cols, 2);
          const weight = normal(cols);
          const bias = normal(cols);
          const gy = normal(rows * cols);
          const [, mean, rstd] = float64Backend.kernels.layerNorm(x, weight, bias, rows, cols, 1e-5).map((v) => toFloat32Values(Float64Array.from(v)));
          const run: Run = (kk, [xb, wb, mb, rb, gb]) => kk.layerNormBackward(xb!, wb!, mb!, rb!, gb!, rows, cols);
          const first = await check(b, k, 'layerNormBackward', [x, weight, mean!, rstd!, gy], run);
          // Deterministic: the same bits on a second run.
          const [, second] = await both(b, k, [x, weight, mean!, rstd!, gy], run);
          first.forEach((v, i) => assert.deepEqual(second[i], v, `output ${i} differs between runs`));
        });
      }

      it('softmaxCrossEntropy: a label out of range gives NaN for its row only', { skip }, async () => {
        const [rows, classes] = [5, 300];
        const z = normal(rows * classes);
        const bad = Float64Array.from([2, -1, 7.5, 300, 4]);
        const good = Float64Array.from([2, 0, 7, 0, 4]);
        const valid = [true, false, false, false, true];
        const [expected] = await both(b, k, [z, good], (kk, [zb, lb]) => {
          const [loss, lse] = kk.softmaxCrossEntropy(zb!, lb!, rows, classes, 0.1);
          return [loss, lse, kk.softmaxCrossEntropyBackward(zb!, lb!, lse, kk.fill(rows, 1), rows, classes, 0.1)];
        });
        // The CPU kernels throw on the bad labels: compare the valid rows with the good-label reference.
        const [loss, lse, dz] = await gpuOnly(b, k, z, bad, rows, classes);
        assertClose(lse!, expected[1]!, TOLERANCE, 'logSumExp');
        for (let r = 0; r < rows; r++) {
          const rowGrad = dz!.subarray(r * classes, (r + 1) * classes);
          if (valid[r]) {
            assertClose([loss![r]!], [expected[0]![r]!], TOLERANCE, `loss of row ${r}`);
            assertClose(rowGrad, expected[2]!.subarray(r * classes, (r + 1) * classes), TOLERANCE, `gradient of row ${r}`);
          } else {
            assert.ok(Number.isNaN(loss![r]!), `loss of row ${r} is NaN`);
            assert.ok(rowGrad.every(Number.isNaN), `gradient of row ${r} is NaN`);
          }
        }
      });
    });
  }
});

/** softmaxCrossEntropy forward and backward on the GPU only (the CPU kernels throw on bad labels). */
async function gpuOnly(b: WebGpuBackend, k: Kernels<GpuBuffer>, z: Float64Array, labels: Float64Array, rows: number,
  classes: number): Promise<Float32Array[]> {
  const zb = b.upload(z);
  const lb = b.upload(labels);
  const [loss, lse] = k.softmaxCrossEntropy(zb, lb, rows, classes, 0.1);
  const ones = k.fill(rows, 1);
  const dz = k.softmaxCrossEntropyBackward(zb, lb, lse, ones, rows, classes, 0.1);
  const out = await Promise.all([loss, lse, dz].map((buffer) => b.read(buffer)));
  for (const buffer of [zb, lb, loss, lse, ones, dz]) b.free(buffer);
  return out;
}
