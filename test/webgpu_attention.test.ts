// Fused softmax attention (ops/attention.ts): the WebGPU kernel (online
// softmax forward, FlashAttention-2 backward) against the unfused composition
// matmul / softmax / matmul in float64, forward and all three gradients, at
// ragged sizes (N and d not multiples of the tiles); finite differences
// through the op's fallback path on the float64 CPU backend; bit-identical
// reruns of the backward; and a vit-micro forward and backward on WebGPU
// (which takes the fused path) against the CPU backend. The WebGPU parts are
// skipped when WebGPU cannot start.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { attention } from '../src/ops/attention.js';
import { tensor } from '../src/ops/creation.js';
import { mul } from '../src/ops/elementwise.js';
import { matmul } from '../src/ops/matmul.js';
import { softmax, softmaxCrossEntropy } from '../src/ops/nn.js';
import { buildModel, modelSpec } from '../src/models/registry.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import { memory } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { skipUnless, startBackend } from './support/backends.js';
import {
  assertClose, float64Backend, forwardBackward, gradcheck, onBackend, onBackendAsync, randomValues, sizeOf, toFloat32Values,
  type InputSpec,
} from './support/harness.js';

const webgpu = await startBackend('webgpu');
const cpu = (await startBackend('cpu'))!;

const rng = new Random(1414);

/** q, k, v of one shape, float32-exact, at `scale` (larger spreads the softmax). */
function inputs(shape: number[], scale = 1): InputSpec[] {
  return [0, 1, 2].map(() => ({ shape, values: toFloat32Values(randomValues(rng, sizeOf(shape), { scale })) }));
}

const composed = (s: number) => ([q, k, v]: Tensor[]) => matmul(softmax(mul(matmul(q!, k!, { transposeB: true }), s)), v!);
const projection = (shape: readonly number[]) => toFloat32Values(randomValues(new Random(5), sizeOf(shape)));

describe('attention op', () => {
  it('gives the bits of the composition matmul / softmax / matmul on the CPU (its fused WebAssembly kernel included)', () => {
    onBackend(cpu, () => {
      const [q, k, v] = inputs([2, 3, 9, 8]).map((s) => tensor(Float32Array.from(s.values), s.shape));
      const fused = attention(q!, k!, v!).dataSync();
      const reference = composed(1 / Math.sqrt(8))([q!, k!, v!]).dataSync();
      assert.deepEqual(Array.from(fused), Array.from(reference));
    });
  });

  it('matches float64 finite differences through the fallback path', async () => {
    for (const [shape, scale] of [[[2, 5, 3], undefined], [[1, 2, 7, 4], 0.7]] as const) {
      const specs = [0, 1, 2].map(() => ({ shape: [...shape], values: randomValues(rng, sizeOf(shape)) }));
      await gradcheck(`attention ${shape.join('x')}`, ([q, k, v]) => attention(q!, k!, v!, scale === undefined ? {} : { scale }), specs, rng);
    }
  });

  it('rejects mismatched shapes with a clear error', () => {
    onBackend(float64Backend, () => {
      const a = tensor(new Float32Array(12), [3, 4]);
      const b = tensor(new Float32Array(15), [3, 5]);
      assert.throws(() => attention(a, a, b), /attention: q, k and v must share one shape \[\.\.\., N, d\], got \[3, 4\], \[3, 4\] and \[3, 5\]/);
    });
  });
});

describe('fused attention on WebGPU', () => {
  // Each test is skipped on its own (counted in the run's summary, with the reason) where WebGPU cannot start.
  const skip = skipUnless(webgpu, 'webgpu');
  const gpu = webgpu as Backend;

  it('has the fused kernels', { skip }, () => {
    assert.equal(typeof gpu.kernels.attention, 'function');
    assert.equal(typeof gpu.kernels.attentionBackward, 'function');
  });

  // [items..., N, d]: N and d on and off the tiles (64 rows per workgroup, tiles of up to 32 keys).
  const shapes: [number[], number][] = [
    [[3, 17, 16], 1], [[2, 197, 64], 1], [[1, 2, 197, 16], 2], [[2, 17, 64], 2], [[1, 65, 20], 1], [[5, 1, 8], 1], [[1, 33, 3], 3],
  ];
  for (const [shape, spread] of shapes) {
    it(`forward and dq, dk, dv match the float64 composition at ${shape.join('x')}`, { skip }, async () => {
      const specs = inputs(shape, spread);
      const d = shape[shape.length - 1]!;
      const expected = await onBackendAsync(float64Backend, () => forwardBackward(composed(1 / Math.sqrt(d)), specs, projection));
      let calls = 0;
      const kernels = gpu.kernels;
      const fused = kernels.attention!;
      const actual = await onBackendAsync(gpu, () => {
        (kernels as { attention: typeof fused }).attention = (...args) => (calls++, fused.apply(kernels, args));
        try {
          return forwardBackward(([q, k, v]) => attention(q!, k!, v!), specs, projection);
        } finally {
          (kernels as { attention: typeof fused }).attention = fused;
        }
      });
      assert.equal(calls, 1, 'the fused kernel ran');
      assertClose(actual.output, expected.output, 2e-5, 'out');
      ['dq', 'dk', 'dv'].forEach((name, i) => assertClose(actual.grads[i]!, expected.grads[i]!, 1e-4, name));
    });
  }

  it('keeps nothing but its output without gradients', { skip }, async () => {
    await onBackendAsync(gpu, async () => {
      const [q, k, v] = inputs([2, 9, 8]).map((s) => tensor(Float32Array.from(s.values), s.shape));
      const before = memory();
      const y = noGrad(() => attention(q!, k!, v!));
      const during = memory();
      assert.equal(during.tensors, before.tensors + 1, 'tensors: the output only');
      assert.equal(during.buffers, before.buffers + 1, 'buffers: the output only');
      await y.data();
      y.dispose();
      assert.deepEqual(memory(), before);
      for (const t of [q, k, v]) t!.dispose();
    });
  });

  it('gives the same bits on every run of the backward', { skip }, async () => {
    const specs = inputs([4, 70, 32], 2);
    const run = () => onBackendAsync(gpu, () => forwardBackward(([q, k, v]) => attention(q!, k!, v!, { scale: 0.3 }), specs, projection));
    const first = await run();
    const second = await run();
    assert.deepEqual(Array.from(second.output), Array.from(first.output));
    first.grads.forEach((g, i) => assert.deepEqual(Array.from(second.grads[i]!), Array.from(g!), `gradient ${i}`));
  });

  it('vit-micro forward and backward on WebGPU (fused) agree with the CPU backend', { skip }, async () => {
    const spec = modelSpec('vit-micro');
    const images = toFloat32Values(randomValues(new Random(3), 4 * 28 * 28));
    const labels = Float32Array.from([1, 7, 3, 0]);
    let fusedCalls = 0;
    const run = (backend: Backend) => onBackendAsync(backend, async () => {
      const model = buildModel(spec, 11);
      const forward = backend.kernels.attention;
      if (forward) {
        (backend.kernels as { attention: typeof forward }).attention = (...args) => (fusedCalls++, forward.apply(backend.kernels, args));
      }
      try {
        const logits = model.forward(tensor(Float32Array.from(images), [4, 1, 28, 28]));
        const loss = softmaxCrossEntropy(logits, tensor(labels, [4]));
        loss.backward();
        const grads = await Promise.all(model.parameters().map((p) => p.grad!.dataFloat64()));
        return { logits: await logits.dataFloat64(), grads };
      } finally {
        if (forward) (backend.kernels as { attention: typeof forward }).attention = forward;
      }
    });
    const onCpu = await run(cpu);
    const onGpu = await run(gpu);
    assert.equal(fusedCalls, 6, 'one fused attention per block, on the cpu and on webgpu');
    assertClose(onGpu.logits, onCpu.logits, 1e-4, 'logits');
    onCpu.grads.forEach((g, i) => assertClose(onGpu.grads[i]!, g, 1e-4, `parameter ${i} gradient`));
  });
});
