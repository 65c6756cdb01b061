// The CPU backend's SIMD kernels with worker threads: the same results as the
// float64 reference, and the same bits on every run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuBackend } from '../src/backends/cpu/index.js';
import { Random } from '../src/tensor/random.js';
import { float64Backend, randomValues, scaledMaxError } from './support/harness.js';

const threaded = new CpuBackend('float32', { threads: 2 });
await threaded.wasm!.ready;
process.once('beforeExit', () => threaded.dispose());

const rng = new Random(12);
const f32 = (n: number, scale = 1) => Float32Array.from(randomValues(rng, n, { scale }));

describe('CPU kernels on worker threads', () => {
  it('start two threads', () => {
    assert.equal(threaded.wasm!.threads, 2);
  });

  it('matmul (large enough to split) matches float64', () => {
    const [m, k, n] = [301, 203, 157];
    const a = f32(m * k);
    const b = f32(n * k);
    const actual = threaded.kernels.matmul(a, b, 1, m, k, n, false, true, 0, 0);
    const expected = float64Backend.kernels.matmul(Float64Array.from(a), Float64Array.from(b), 1, m, k, n, false, true, 0, 0);
    assert.ok(scaledMaxError(actual, expected) < 1e-5, `error ${scaledMaxError(actual, expected)}`);
  });

  it('group rational (chunked, one thread) matches float64 and repeats bit for bit', () => {
    const [rows, channels, groups] = [2000, 96, 8];
    const x = f32(rows * channels, 1.5);
    const gy = f32(rows * channels);
    const a = f32(6, 0.5);
    const b = f32(groups * 4, 0.5);
    const [x64, gy64, a64, b64] = [x, gy, a, b].map((v) => Float64Array.from(v));
    const y = threaded.kernels.groupRational(x, a, b, rows, channels, groups, true);
    const yRef = float64Backend.kernels.groupRational(x64!, a64!, b64!, rows, channels, groups, true);
    assert.ok(scaledMaxError(y, yRef) < 1e-5);
    const first = threaded.kernels.groupRationalBackward(x, a, b, gy, rows, channels, groups, true);
    const again = threaded.kernels.groupRationalBackward(x, a, b, gy, rows, channels, groups, true);
    const reference = float64Backend.kernels.groupRationalBackward(x64!, a64!, b64!, gy64!, rows, channels, groups, true);
    first.forEach((out, i) => {
      assert.ok(scaledMaxError(out, reference[i]!) < 1e-5, `output ${i}: error ${scaledMaxError(out, reference[i]!)}`);
      assert.deepEqual(again[i], out, `output ${i} differs between two runs`);
    });
  });
});
