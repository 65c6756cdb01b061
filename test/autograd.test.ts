// Autograd semantics (accumulation, no-grad, graph release, errors) and
// memory scopes (tidy frees intermediates, keeps what it returns).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setBackend } from '../src/tensor/engine.js';
import { noGrad } from '../src/tensor/autograd.js';
import { keep, memory, tidy } from '../src/tensor/scope.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

await setBackend('cpu');

describe('autograd', () => {
  it('accumulates over uses of a tensor: d/dx (x*x + 3x) = 2x + 3', async () => {
    const x = ops.tensor([1.5, -2, 0.25], [3], { requiresGrad: true });
    ops.sum(ops.add(ops.mul(x, x), ops.mul(x, 3))).backward();
    assert.deepEqual(Array.from(await x.grad!.data()), [6, -1, 3.5]);
  });

  it('accumulates across backward calls until the gradient is reset', async () => {
    const w = ops.tensor([2, 3], [2], { requiresGrad: true });
    ops.sum(ops.mul(w, w)).backward();
    ops.sum(ops.mul(w, 10)).backward();
    assert.deepEqual(Array.from(await w.grad!.data()), [14, 16]);
    w.grad!.dispose();
    w.grad = null;
    ops.sum(w).backward();
    assert.deepEqual(Array.from(await w.grad!.data()), [1, 1]);
  });

  it('gradients reach every leaf through shared subgraphs, and skip leaves without requiresGrad', async () => {
    const a = ops.tensor([1, 2], [2], { requiresGrad: true });
    const c = ops.tensor([5, 7], [2]);
    const shared = ops.mul(a, c);
    ops.sum(ops.add(shared, ops.mul(shared, shared))).backward();
    // d/da (a c + a^2 c^2) = c + 2 a c^2
    assert.deepEqual(Array.from(await a.grad!.data()), [5 + 2 * 1 * 25, 7 + 2 * 2 * 49]);
    assert.equal(c.grad, null);
  });

  it('backward with an explicit upstream gradient', async () => {
    const x = ops.tensor([1, 2, 3], [3], { requiresGrad: true });
    ops.mul(x, 2).backward(ops.tensor([1, 0, -1]));
    assert.deepEqual(Array.from(await x.grad!.data()), [2, 0, -2]);
  });

  it('noGrad records nothing', () => {
    const x = ops.tensor([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => ops.mul(x, x));
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradNode, null);
    assert.throws(() => y.backward(), /does not require grad/);
  });

  it('releases the graph after backward unless asked to retain it', async () => {
    const x = ops.tensor([3], [1], { requiresGrad: true });
    const y = ops.sum(ops.exp(x));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.ok(Math.abs((await x.grad!.item()) - 2 * Math.exp(3)) < 1e-4);
    assert.throws(() => y.backward(), /already released/);
  });

  it('clear errors for non-scalar backward and a wrong gradient shape', () => {
    const x = ops.tensor([1, 2], [2], { requiresGrad: true });
    const y = ops.mul(x, 2);
    assert.throws(() => y.backward(), /backward\(\): tensor #\d+ \[2\] is not a scalar; pass a gradient of shape \[2\]/);
    assert.throws(() => y.backward(ops.tensor([1, 2, 3])), /gradient has shape \[3\], expected \[2\]/);
  });

  it('detach cuts the graph: no gradient flows through the detached branch', async () => {
    const x = ops.tensor([3, -2], [2], { requiresGrad: true });
    const d = ops.mul(x, 2).detach();
    assert.equal(d.requiresGrad, false);
    assert.deepEqual(Array.from(await d.dataFloat64()), [6, -4], 'same values');
    // z = sum(detach(2x) * x + x^2): dz/dx = 2x (the detached factor as a constant) + 2x = 4x; through the branch it would be 6x.
    const z = ops.sum(ops.add(ops.mul(d, x), ops.mul(x, x)));
    z.backward();
    assert.deepEqual(Array.from(await x.grad!.dataFloat64()), [12, -8]);
    // A graph of detached values only has nothing to differentiate.
    const y = ops.tensor([1, 2], [2], { requiresGrad: true });
    const only = ops.sum(ops.mul(ops.exp(y).detach(), 3));
    assert.equal(only.requiresGrad, false);
    assert.equal(y.grad, null);
    // Detaching makes a new tensor: the original stays in the graph, and gradients still flow through it.
    const w = ops.tensor([0.5, 4], [2], { requiresGrad: true });
    const e = ops.mul(w, 3);
    const de = e.detach();
    assert.notEqual(de, e);
    assert.equal(e.requiresGrad, true, 'the original still requires grad');
    ops.sum(ops.mul(e, de)).backward(); // d/dw sum(3w * const(3w)) = 3 * 3w
    assert.deepEqual(Array.from(await w.grad!.dataFloat64()), [4.5, 36]);
  });
});

describe('memory scopes', () => {
  it('tidy frees every intermediate and keeps what it returns', async () => {
    const before = memory();
    const x = ops.randn([16, 16], { seed: 1 });
    const result = tidy(() => {
      const a = ops.matmul(x, x);
      const b = ops.exp(ops.mul(a, 0.01));
      return { sum: ops.sum(b), list: [ops.mean(b)] };
    });
    assert.equal(memory().tensors, before.tensors + 3);
    assert.equal(memory().buffers, before.buffers + 3);
    assert.ok(Number.isFinite(await result.sum.item()));
    for (const t of [x, result.sum, result.list[0]!]) t.dispose();
    assert.deepEqual(memory(), before);
  });

  it('a training step inside tidy leaves only parameters and their gradients', async () => {
    const w = ops.randn([8, 4], { seed: 2, requiresGrad: true });
    const x = ops.randn([5, 8], { seed: 3 });
    const labels = ops.tensor([0, 1, 2, 3, 0]);
    const steady: number[] = [];
    for (let step = 0; step < 20; step++) {
      tidy(() => {
        const loss = ops.softmaxCrossEntropy(ops.matmul(x, w), labels, { labelSmoothing: 0.1 });
        loss.backward();
      });
      steady.push(memory().buffers);
    }
    assert.ok(steady.every((n) => n === steady[0]), `live buffers drift: ${steady.join(' ')}`);
    assert.ok(w.grad && !w.grad.isDisposed);
  });

  it('nested scopes hand returned tensors to the parent; keep() escapes all scopes', () => {
    const before = memory().tensors;
    let kept!: Tensor;
    const outer = tidy(() => {
      const inner = tidy(() => {
        kept = keep(ops.ones([2]));
        ops.zeros([3]);
        return ops.ones([4]);
      });
      ops.zeros([5]);
      return inner;
    });
    assert.equal(memory().tensors, before + 2);
    assert.ok(!outer.isDisposed && !kept.isDisposed);
    outer.dispose();
    kept.dispose();
  });

  it('using a disposed tensor is a clear error; tidy frees on exceptions and rejects async functions', () => {
    const before = memory().tensors;
    let leaked!: Tensor;
    assert.throws(() => tidy(() => {
      leaked = ops.ones([2]);
      throw new Error('boom');
    }), /boom/);
    assert.equal(memory().tensors, before);
    assert.throws(() => ops.exp(leaked), /tensor #\d+ \[2\] was disposed/);
    assert.throws(() => tidy((async () => ops.ones([1])) as never), /tidy\(\): the function returned a Promise/);
  });
});

describe('tensor creation', () => {
  it('infers shapes from nested arrays and checks explicit ones', async () => {
    const t = ops.tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(Array.from(await t.data()), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ops.tensor(7).shape, []);
    assert.throws(() => ops.tensor([1, 2, 3], [2, 2]), /tensor\(\): 3 values do not fill shape \[2, 2\] \(4 elements\)/);
    assert.throws(() => ops.tensor([[1, 2], [3]]), /ragged nested array/);
    assert.throws(() => ops.zeros([2, -1]), /shape \[2,-1\] is not valid/);
  });

  it('randn is reproducible under a seed with the requested moments', async () => {
    const a = await ops.randn([4000], { seed: 11 }).data();
    const b = await ops.randn([4000], { seed: 11 }).data();
    assert.deepEqual(a, b);
    const mean = a.reduce((p, v) => p + v, 0) / a.length;
    const variance = a.reduce((p, v) => p + (v - mean) ** 2, 0) / a.length;
    assert.ok(Math.abs(mean) < 0.06 && Math.abs(variance - 1) < 0.08, `mean ${mean}, variance ${variance}`);
  });

  it('reshape shares values, infers -1 and rejects impossible shapes', async () => {
    const t = ops.tensor([1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ops.reshape(t, [3, -1]).shape, [3, 2]);
    assert.throws(() => ops.reshape(t, [4, -1]), /reshape: cannot reshape \[6\] \(6 elements\) to \[4, -1\]/);
    assert.throws(() => ops.add(ops.zeros([2, 3]), ops.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot be broadcast together/);
  });
});

describe('assign', () => {
  it('replaces a leaf\'s values in place, keeping the object, and frees the old buffer', async () => {
    const p = ops.tensor([1, 2], [2], { requiresGrad: true });
    const buffersBefore = memory().buffers;
    tidy(() => {
      p.assign(ops.mul(p, 3));
    });
    assert.deepEqual(Array.from(await p.data()), [3, 6]);
    assert.equal(memory().buffers, buffersBefore);
    assert.throws(() => p.assign(ops.zeros([3])), /assign\(\): .* shape and backend must match/);
    assert.throws(() => ops.mul(p, 2).assign(ops.zeros([2])), /only leaf tensors can be assigned/);
  });
});
