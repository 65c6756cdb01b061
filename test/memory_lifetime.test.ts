// Memory without tidy(): the tensor layer frees what nothing can use
// (Module.forward's scope, backward releasing its graph, a finalizer backstop),
// never twice, and an out-of-memory error says what is alive and what to do.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuBackend } from '../src/backends/cpu/index.js';
import { createModel } from '../src/models/registry.js';
import * as ops from '../src/ops/index.js';
import { softmaxCrossEntropy } from '../src/ops/nn.js';
import { noGrad } from '../src/tensor/autograd.js';
import { engine } from '../src/tensor/engine.js';
import { keep, memory, tidy } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { collectGarbage, onBackendAsync } from './support/harness.js';
import { assertFlat, inferenceLoop, trainingLoop } from './support/memory_loops.js';

function digits(batch: number): Tensor {
  return ops.tensor(Array.from({ length: batch * 784 }, (_, i) => Math.cos(i * 0.1)), [batch, 1, 28, 28]);
}

describe('memory without tidy (cpu)', () => {
  it('a forward under noGrad leaves only its output alive', async () => {
    const model = createModel('kat-micro').eval();
    const x = digits(2);
    await collectGarbage();
    const before = memory();
    const out = noGrad(() => model.forward(x));
    assert.equal(memory().tensors, before.tensors + 1, 'the output and nothing else');
    const bytesWithOutput = memory().bytes;
    assert.equal(bytesWithOutput, before.bytes + out.size * 4);
    out.dispose();
    assert.deepEqual(memory(), before);
    model.dispose();
    x.dispose();
  });

  it('backward frees the intermediates the graph saved, unless retainGraph', async () => {
    const model = createModel('kat-micro');
    const params = model.parameters().length;
    const x = digits(2);
    const y = ops.tensor([3, 7], [2]);
    await collectGarbage();
    const before = memory().tensors;
    const logits = model.forward(x);
    const saved = memory().tensors - before;
    assert.ok(saved > 100, `the forward keeps its intermediates for backward (${saved})`);
    const loss = softmaxCrossEntropy(logits, y);
    loss.backward(undefined, { retainGraph: true });
    assert.ok(memory().tensors >= before + saved + params, 'retainGraph keeps them');
    loss.backward();
    // What is left: one gradient per parameter, and the six tensors made at the caller's level, which the
    // caller may still hold: logits, the loss's per-row values and log-sum-exp, mean's sum, its count, the loss.
    const left = memory().tensors - before - params;
    assert.equal(left, 6, `${left} tensors besides the gradients after backward`);
    await logits.data(); // the caller's tensors are still usable
    assert.throws(() => loss.backward(), /already released/);
    model.dispose();
    x.dispose();
    y.dispose();
  });

  it('tidy() and keep() work as before inside and around modules', () => {
    const model = createModel('kat-micro');
    const x = digits(1);
    const before = memory();
    let kept: Tensor | null = null;
    const out = tidy(() => {
      const logits = model.forward(x);
      kept = keep(ops.mul(logits, 2));
      softmaxCrossEntropy(logits, ops.tensor([1], [1])).backward();
      return logits;
    });
    const grads = model.parameters().filter((p) => p.grad).length;
    assert.equal(memory().tensors, before.tensors + 2 + grads, 'the returned and the kept tensor, and the gradients');
    assert.equal(kept!.isDisposed, false);
    out.dispose();
    kept!.dispose();
    for (const p of model.parameters()) { p.grad?.dispose(); p.grad = null; }
    assert.deepEqual(memory(), before);
    model.dispose();
    x.dispose();
  });

  it('frees tensors nothing reaches, each buffer exactly once', async () => {
    const backend = new CpuBackend('float32');
    const frees = new Map<unknown, number>();
    const free = backend.free.bind(backend);
    backend.free = (buffer) => {
      frees.set(buffer, (frees.get(buffer) ?? 0) + 1);
      free(buffer);
    };
    await onBackendAsync(backend, async () => {
      await collectGarbage();
      const before = memory();
      const collected = engine.collected;
      let disposedFirst: Tensor | null = ops.tensor([1, 2, 3, 4], [4]);
      (() => {
        const a = ops.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
        const view = a.view([6]); // shares a's buffer
        ops.exp(view);
        a.dispose(); // the view still holds the buffer; the collector frees it with the view
        disposedFirst!.dispose();
      })();
      disposedFirst = null;
      assert.equal(memory().tensors, before.tensors + 2, 'the view and exp(view) await the collector');
      await collectGarbage();
      assert.deepEqual(memory(), before, 'everything unreachable is freed');
      assert.equal(engine.collected - collected, 2, 'the collector freed the two undisposed tensors, not the disposed ones');
      for (const [, count] of frees) assert.equal(count, 1, 'no buffer is freed twice');
      assert.equal(frees.size, 3, 'three buffers freed: a/view, exp(view), disposedFirst');
    });
  });

  it('an out-of-memory error says what is alive and how to free it', async () => {
    const backend = await CpuBackend.create('float32', { threads: 1 });
    assert.ok(backend.wasm?.holdsTensors, 'the SIMD backend keeps tensors in its memory');
    await onBackendAsync(backend, async () => {
      const big = ops.tensor(new Float32Array(300 * 200), [300, 200]);
      big.name = 'activations';
      const heap = backend.wasm!.heap;
      heap.alloc = () => null; // the memory is full from here on
      let reclaims = 0;
      const pressure = backend.memoryPressure!;
      backend.memoryPressure = { reclaim: (bytes) => { reclaims++; return pressure.reclaim(bytes); }, describe: () => pressure.describe() };
      assert.throws(() => ops.matmul(big, big, { transposeB: true }), (error: Error) => {
        assert.match(error.message, /out of WebAssembly memory/);
        assert.match(error.message, /\d+ tensors are alive, \d+ bytes on backend 'cpu'/);
        assert.match(error.message, /'activations' #\d+ \[300, 200\]/);
        assert.match(error.message, /dispose\(\)/);
        assert.match(error.message, /tidy\(/);
        return true;
      });
      assert.ok(reclaims > 0, 'the tensor layer was asked to reclaim before the error');
      assert.equal(engine.dueForCollection(), true, 'the next awaited read lets the collector run first');
      await big.data();
      assert.equal(engine.dueForCollection(), false);
      big.dispose();
    });
  });

  it('the issue\'s loop: 300 calls of vit-tiny under noGrad stay flat', async () => {
    assertFlat(await inferenceLoop('vit-tiny', 300), 'vit-tiny noGrad forward + dispose, 300 calls');
  });

  it('a kat-micro inference loop without tidy or dispose: 2,000 iterations stay flat', async () => {
    assertFlat(await inferenceLoop('kat-micro', 2000, { batch: 8, dispose: false }), 'kat-micro inference, 2000 iterations');
  });

  it('a kat-micro training step without tidy: 2,000 iterations stay flat', async () => {
    assertFlat(await trainingLoop('kat-micro', 2000), 'kat-micro training, 2000 iterations');
  });
});
