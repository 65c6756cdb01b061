// Forward values of every op against naive float64 implementations written
// here, independently of the kernels (the parity suite compares backends with
// each other; this pins down what they compute).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ops from '../src/ops/index.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose, randomValues, toFloat32Values } from './support/harness.js';

const rng = new Random(99);
const TOL = 2e-6;
const values = (n: number, options?: Parameters<typeof randomValues>[2]) => toFloat32Values(randomValues(rng, n, options));

describe('forward values against naive float64 references', () => {
  it('unary math, including exact GELU at known values', async () => {
    const x = values(40, { scale: 2 });
    const t = ops.tensor(x, [40]);
    const check = async (f: (t: Tensor) => Tensor, ref: (v: number) => number, name: string) => {
      const y = await f(t).dataFloat64();
      assertClose(y, Array.from(x, ref), TOL, name);
    };
    await check(ops.exp, Math.exp, 'exp');
    await check(ops.tanh, Math.tanh, 'tanh');
    await check(ops.sigmoid, (v) => 1 / (1 + Math.exp(-v)), 'sigmoid');
    await check(ops.relu, (v) => Math.max(0, v), 'relu');
    await check(ops.abs, Math.abs, 'abs');
    await check(ops.sin, Math.sin, 'sin');
    await check(ops.square, (v) => v * v, 'square');
    // GELU(x) = x Phi(x); Phi from tables (scipy.stats.norm.cdf), independent of any erf code.
    const known: [number, number][] = [[1, 0.8413447460685429], [-0.5, 0.3085375387259869], [2, 0.9772498680518208], [-3, 0.0013498980316301]];
    const g = await ops.gelu(ops.tensor(known.map(([v]) => v))).dataFloat64();
    assertClose(g, known.map(([v, cdf]) => v * cdf), 1e-6, 'gelu');
  });

  it('broadcasting binary ops', async () => {
    const a = values(2 * 1 * 4);
    const b = values(3 * 4, { awayFromZero: 0.3 });
    const ta = ops.tensor(a, [2, 1, 4]);
    const tb = ops.tensor(b, [3, 4]);
    const expect = (f: (x: number, y: number) => number) => {
      const out: number[] = [];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) out.push(f(a[i * 4 + k]!, b[j * 4 + k]!));
      return out;
    };
    assert.deepEqual(ops.add(ta, tb).shape, [2, 3, 4]);
    assertClose(await ops.add(ta, tb).dataFloat64(), expect((x, y) => x + y), TOL, 'add');
    assertClose(await ops.sub(ta, tb).dataFloat64(), expect((x, y) => x - y), TOL, 'sub');
    assertClose(await ops.mul(ta, tb).dataFloat64(), expect((x, y) => x * y), TOL, 'mul');
    assertClose(await ops.div(ta, tb).dataFloat64(), expect((x, y) => x / y), TOL, 'div');
    assertClose(await ops.maximum(ta, tb).dataFloat64(), expect(Math.max), TOL, 'maximum');
    assertClose(await ops.sub(1, ta).dataFloat64(), Array.from(a, (v) => 1 - v), TOL, 'number - tensor');
  });

  it('matmul with transposes and batch broadcast', async () => {
    const [batch, m, k, n] = [3, 5, 7, 4];
    const a = values(batch * m * k);
    const b = values(k * n);
    const ref: number[] = [];
    for (let t = 0; t < batch; t++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[t * m * k + i * k + p]! * b[p * n + j]!;
          ref.push(s);
        }
      }
    }
    const ta = ops.tensor(a, [batch, m, k]);
    const tb = ops.tensor(b, [k, n]);
    assertClose(await ops.matmul(ta, tb).dataFloat64(), ref, TOL, 'matmul');
    // The same product through transposed storage.
    const aT = ops.transpose(ta, [0, 2, 1]);
    const bT = ops.transpose(tb);
    assertClose(await ops.matmul(aT, bT, { transposeA: true, transposeB: true }).dataFloat64(), ref, TOL, 'matmul (both transposed)');
    assert.throws(() => ops.matmul(ta, ops.tensor(values(8), [2, 4])), /matmul: inner sizes differ: \[3, 5, 7\] x \[2, 4\] \(7 vs 2\)/);
  });

  it('reductions, argmax', async () => {
    const x = values(2 * 3 * 4);
    const t = ops.tensor(x, [2, 3, 4]);
    const at = (i: number, j: number, k: number) => x[i * 12 + j * 4 + k]!;
    const sum02: number[] = [];
    const max1: number[] = [];
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s += at(i, j, k);
      sum02.push(s);
    }
    for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) max1.push(Math.max(at(i, 0, k), at(i, 1, k), at(i, 2, k)));
    assertClose(await ops.sum(t, [0, 2]).dataFloat64(), sum02, TOL, 'sum');
    assertClose(await ops.max(t, 1).dataFloat64(), max1, TOL, 'max');
    assertClose(await ops.mean(t).dataFloat64(), [x.reduce((p, v) => p + v, 0) / 24], TOL, 'mean');
    const am = await ops.argmax(t, 1).data();
    for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) assert.equal(at(i, am[i * 4 + k]!, k), max1[i * 4 + k]);
  });

  it('transpose, slice, concat, gather', async () => {
    const x = values(2 * 3 * 4);
    const t = ops.tensor(x, [2, 3, 4]);
    const tr = await ops.transpose(t, [2, 0, 1]).dataFloat64();
    const sl = await ops.slice(t, [1, 1, 0], [1, 2, 3]).dataFloat64();
    const ga = await ops.gather(t, ops.tensor([2, 0, 2]), 1).dataFloat64();
    const trRef: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) trRef.push(x[i * 12 + j * 4 + k]!);
    const slRef: number[] = [];
    for (let j = 1; j < 3; j++) for (let k = 0; k < 3; k++) slRef.push(x[12 + j * 4 + k]!);
    const gaRef: number[] = [];
    for (let i = 0; i < 2; i++) for (const j of [2, 0, 2]) for (let k = 0; k < 4; k++) gaRef.push(x[i * 12 + j * 4 + k]!);
    assertClose(tr, trRef, 0, 'transpose');
    assertClose(sl, slRef, 0, 'slice');
    assertClose(ga, gaRef, 0, 'gather');
    const c = ops.concat([ops.tensor([[1, 2]]), ops.tensor([[3, 4], [5, 6]])], 0);
    assert.deepEqual(c.shape, [3, 2]);
    assert.deepEqual(Array.from(await c.data()), [1, 2, 3, 4, 5, 6]);
    assert.throws(() => ops.gather(t, ops.tensor([3]), 1), /gather: index 3 at position 0 is out of range: expected an integer in \[0, 3\)/);
    assert.throws(() => ops.slice(t, [0, 2, 0], [1, 2, 1]), /slice: .* is outside \[2, 3, 4\] on axis 1/);
  });

  it('softmax, layerNorm, softmaxCrossEntropy with label smoothing', async () => {
    const [rows, cols] = [3, 5];
    const x = values(rows * cols, { scale: 3 });
    const w = values(cols);
    const b = values(cols);
    const labels = [4, 0, 2];
    const sm: number[] = [];
    const ln: number[] = [];
    let ce = 0;
    const s = 0.1;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const e = row.map((v) => Math.exp(v));
      const z = e.reduce((p, v) => p + v, 0);
      sm.push(...e.map((v) => v / z));
      const mu = row.reduce((p, v) => p + v, 0) / cols;
      const variance = row.reduce((p, v) => p + (v - mu) ** 2, 0) / cols;
      ln.push(...row.map((v, c) => ((v - mu) / Math.sqrt(variance + 1e-6)) * w[c]! + b[c]!));
      // -sum_c q_c log p_c with q = (1 - s) onehot + s / C
      row.forEach((v, c) => (ce -= ((c === labels[r] ? 1 - s : 0) + s / cols) * Math.log(Math.exp(v) / z)));
    }
    const t = ops.tensor(x, [rows, cols]);
    assertClose(await ops.softmax(t).dataFloat64(), sm, TOL, 'softmax');
    assertClose(await ops.layerNorm(t, ops.tensor(w), ops.tensor(b), 1e-6).dataFloat64(), ln, TOL, 'layerNorm');
    const loss = ops.softmaxCrossEntropy(t, ops.tensor(labels), { labelSmoothing: s });
    assertClose(await loss.dataFloat64(), [ce / rows], TOL, 'softmaxCrossEntropy');
    assert.throws(() => ops.softmaxCrossEntropy(t, ops.tensor([5, 0, 1]), {}), /label 5 of row 0 is out of range: expected an integer in \[0, 5\)/);
    assert.throws(() => ops.softmaxCrossEntropy(t, ops.tensor([1, 2]), {}), /logits \[3, 5\] need labels of shape \[3\]/);
  });

  it('dropout: keeps about 1 - p, scales by 1 / (1 - p), same mask for the same seed', async () => {
    const n = 20000;
    const x = ops.ones([n]);
    const y = await ops.dropout(x, 0.25, { seed: 5 }).data();
    const kept = y.filter((v) => v !== 0);
    assert.ok(Math.abs(kept.length / n - 0.75) < 0.015, `kept fraction ${kept.length / n}`);
    assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6));
    assert.deepEqual(await ops.dropout(x, 0.25, { seed: 5 }).data(), y);
    assert.notDeepEqual(await ops.dropout(x, 0.25, { seed: 6 }).data(), y);
    assert.equal(ops.dropout(x, 0.25, { training: false }), x);
    assert.throws(() => ops.dropout(x, 1), /dropout: p = 1 is not a probability in \[0, 1\)/);
  });
});
