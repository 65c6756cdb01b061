// Training on WebGPU: memory stays flat over many steps, and a KAT trained on
// WebGPU follows the CPU run step for step (same seed, same data).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { syntheticSplit } from '../src/data/synthetic.js';
import { buildModel, type ModelSpec } from '../src/models/registry.js';
import { tensor } from '../src/ops/creation.js';
import { softmaxCrossEntropy } from '../src/ops/nn.js';
import { AdamW } from '../src/optim/index.js';
import { memory, tidy } from '../src/tensor/scope.js';
import { DEFAULT_TRAIN_CONFIG, trainModel } from '../src/train/trainer.js';
import { skipUnless, startBackend } from './support/backends.js';
import { collectGarbage, onBackendAsync } from './support/harness.js';

const webgpu = await startBackend('webgpu');
const cpu = (await startBackend('cpu'))!;

const spec: ModelSpec = {
  name: 'kat-test',
  config: { imageSize: 8, patchSize: 4, channels: 1, classes: 4, dim: 16, depth: 1, heads: 2, mlpRatio: 2, mlp: 'kan', groups: 8, dropout: 0, dropPath: 0 },
};
const data = syntheticSplit({ trainCount: 128, testCount: 64, channels: 1, height: 8, width: 8, classes: 4, seed: 3 });

describe('WebGPU training', () => {
  // Each test is skipped on its own (counted in the run's summary, with the reason) where WebGPU cannot start.
  const skip = skipUnless(webgpu, 'webgpu');
  it('200 training steps leave live buffers and bytes flat', { skip }, async () => {
    await onBackendAsync(webgpu as Backend, async () => {
      const model = buildModel(spec, 1);
      const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
      const images = tensor(data.train.images.subarray(0, 16 * 64), [16, 1, 8, 8]);
      const labels = tensor(data.train.labels.subarray(0, 16), [16]);
      const samples: { buffers: number; bytes: number }[] = [];
      await collectGarbage(); // earlier garbage is freed by the finalizer backstop at the reads' yields, not mid-loop
      for (let step = 0; step < 200; step++) {
        const loss = tidy(() => {
          const l = softmaxCrossEntropy(model.forward(images), labels, { labelSmoothing: 0.1 });
          l.backward();
          return l;
        });
        await loss.item();
        loss.dispose();
        optimizer.step();
        optimizer.zeroGrad();
        if (step >= 10) samples.push(memory());
      }
      const first = samples[0]!;
      for (const s of samples) assert.deepEqual(s, first, `memory drifted from ${JSON.stringify(first)} to ${JSON.stringify(s)}`);
    });
  });

  it('follows the CPU run: same losses and accuracy for the same seed', { skip }, async () => {
    const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 16, lr: 2e-3, seed: 5 };
    const run = (backend: Backend) => onBackendAsync(backend, async () => {
      const model = buildModel(spec, 5);
      const result = await trainModel(model, data.train, data.test, config);
      return result.epochs.map((e) => [e.train_loss, e.test_loss, e.test_acc]);
    });
    const onCpu = await run(cpu);
    const onGpu = await run(webgpu as Backend);
    onCpu.forEach(([trainLoss, testLoss, testAcc], epoch) => {
      const [gTrain, gTest, gAcc] = onGpu[epoch]!;
      assert.ok(Math.abs(gTrain! - trainLoss!) < 2e-3 * Math.abs(trainLoss!), `epoch ${epoch + 1} train loss ${gTrain} vs cpu ${trainLoss}`);
      assert.ok(Math.abs(gTest! - testLoss!) < 2e-3 * Math.abs(testLoss!), `epoch ${epoch + 1} test loss ${gTest} vs cpu ${testLoss}`);
      assert.ok(Math.abs(gAcc! - testAcc!) <= 1 / 64, `epoch ${epoch + 1} test accuracy ${gAcc} vs cpu ${testAcc}`);
    });
  });
});
