// Models: sizes and names of the paper's configurations, whole-model
// gradients against float64 finite differences, checkpoints round-trip.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { buildModel, createModel, modelSpec, type ModelSpec } from '../src/models/registry.js';
import { tensor } from '../src/ops/creation.js';
import { softmaxCrossEntropy } from '../src/ops/nn.js';
import { Random } from '../src/tensor/random.js';
import { noGrad } from '../src/tensor/autograd.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { syntheticSplit } from '../src/data/synthetic.js';
import { DEFAULT_TRAIN_CONFIG, trainModel } from '../src/train/trainer.js';
import { float64Backend, onBackendAsync, randomValues } from './support/harness.js';

describe('model configurations', () => {
  it('kat-tiny has 5,718,328 parameters with 1000 classes, in timm\'s names', () => {
    const model = createModel('kat-tiny');
    assert.equal(model.parameterCount(), 5_718_328);
    const names = new Map(model.namedParameters().map(([n, t]) => [n, t.shape]));
    assert.deepEqual(names.get('cls_token'), [1, 1, 192]);
    assert.deepEqual(names.get('pos_embed'), [1, 197, 192]);
    assert.deepEqual(names.get('patch_embed.proj.weight'), [192, 3, 16, 16]);
    assert.deepEqual(names.get('blocks.11.attn.qkv.weight'), [576, 192]);
    assert.deepEqual(names.get('blocks.0.mlp.act1.weight_numerator'), [1, 6]);
    assert.deepEqual(names.get('blocks.0.mlp.act2.weight_denominator'), [8, 4]);
    assert.deepEqual(names.get('blocks.3.mlp.fc1.weight'), [768, 192]);
    assert.deepEqual(names.get('head.weight'), [1000, 192]);
    model.dispose();
  });

  it('vit-tiny matches timm\'s vit_tiny_patch16_224 (5,717,416 parameters); unknown names are errors', () => {
    const model = createModel('vit-tiny');
    assert.equal(model.parameterCount(), 5_717_416);
    model.dispose();
    assert.throws(() => createModel('kat-huge'), /unknown model 'kat-huge': expected one of kat-tiny, kat-small, kat-base, kat-micro/);
  });

  it('variance-preserving init: fc2 after the swish rational has std gain / sqrt(fan_in)', async () => {
    const model = createModel('kat-small');
    const fc2 = model.namedParameters().find(([n]) => n === 'blocks.0.mlp.fc2.weight')![1];
    const values = await fc2.data();
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    // gain^2 = 1 / E[swish_rational(x)^2] = 2.8108 (grkan.md)
    assert.ok(Math.abs(std - Math.sqrt(2.8108 / 1536)) / std < 0.01, `std ${std}`);
    model.dispose();
  });
});

describe('whole-model gradients match float64 finite differences', () => {
  const tiny = (mlp: 'kan' | 'gelu', pool: 'token' | 'avg'): ModelSpec => ({
    name: mlp === 'kan' ? 'kat-test' : 'vit-test',
    config: { imageSize: 4, patchSize: 2, channels: 2, classes: 3, dim: 8, depth: 2, heads: 2, mlpRatio: 2, mlp, groups: 4, dropout: 0, dropPath: 0, pool },
  });
  for (const [mlp, pool] of [['kan', 'token'], ['gelu', 'token'], ['kan', 'avg']] as const) {
    it(`${mlp === 'kan' ? 'KAT' : 'ViT'}, ${pool} pooling: loss gradient for the images and every parameter tensor`, async () => {
      await onBackendAsync(float64Backend, async () => {
        const model = buildModel(tiny(mlp, pool), 3);
        const rng = new Random(5);
        // Move the denominators off b = 0, where |b| has a kink that central differences cannot see.
        for (const [name, param] of model.namedParameters()) {
          if (name.endsWith('weight_denominator')) param.assignValues(randomValues(rng, param.size, { scale: 0.3, awayFromZero: 0.05 }));
        }
        const imageValues = randomValues(rng, 2 * 2 * 4 * 4);
        const labels = tensor([0, 2]);
        const loss = (images: Float64Array) => softmaxCrossEntropy(model.forward(tensor(images, [2, 2, 4, 4])), labels, { labelSmoothing: 0.1 });
        const lossValue = (images: Float64Array) => noGrad(() => float64Backend.readSync(loss(images).buffer as Float64Array)[0]!);
        const images = tensor(imageValues, [2, 2, 4, 4], { requiresGrad: true });
        softmaxCrossEntropy(model.forward(images), labels, { labelSmoothing: 0.1 }).backward();
        const h = 1e-6;
        const check = (what: string, analytic: number, perturb: (delta: number) => void) => {
          perturb(h);
          const plus = lossValue(imageValues);
          perturb(-2 * h);
          const minus = lossValue(imageValues);
          perturb(h);
          const numeric = (plus - minus) / (2 * h);
          assert.ok(Math.abs(numeric - analytic) <= 1e-6 * Math.max(1e-2, Math.abs(numeric)) + 1e-9,
            `${what}: analytic ${analytic} vs finite difference ${numeric}`);
        };
        const imageGrad = await images.grad!.dataFloat64();
        for (const j of [0, 17, 63]) check(`images[${j}]`, imageGrad[j]!, (d) => { imageValues[j]! += d; });
        for (const [name, param] of model.namedParameters()) {
          const grad = await param.grad!.dataFloat64();
          const values = await param.dataFloat64();
          const j = rng.int(param.size);
          check(`${name}[${j}]`, grad[j]!, (d) => {
            values[j]! += d;
            param.assignValues(values);
          });
        }
      });
    });
  }
});

describe('checkpoints', () => {
  it('round-trip weights, name and configuration; reject a checkpoint of another model', async () => {
    const spec = modelSpec('kat-micro');
    const model = buildModel(spec, 1);
    const bytes = await encodeCheckpoint(model, spec, { test_acc: '0.5' });
    const loaded = decodeCheckpoint(bytes, 'test checkpoint');
    assert.equal(loaded.spec.name, 'kat-micro');
    assert.deepEqual(loaded.spec.config, spec.config);
    assert.equal(loaded.info.test_acc, '0.5');
    const original = await model.stateDict();
    for (const [name, values] of await loaded.model.stateDict()) assert.deepEqual(values.values, original.get(name)!.values, name);
    const other = buildModel(modelSpec('vit-micro'));
    assert.throws(() => other.loadStateDict(original, { source: 'kat checkpoint' }),
      /kat checkpoint does not fit this model: missing 'blocks.0.mlp.fc1.weight'|unexpected 'blocks.0.mlp.act1/);
  });
});

describe('timm-layout checkpoints without katjs metadata', () => {
  it('a KAT checkpoint with only tensors (as timm saves them) is rebuilt from its shapes and computes the same', async () => {
    const spec: ModelSpec = {
      name: 'kat-test',
      config: { imageSize: 8, patchSize: 4, channels: 3, classes: 5, dim: 64, depth: 2, heads: 1, mlpRatio: 4, mlp: 'kan', groups: 8, dropout: 0, dropPath: 0 },
    };
    const model = buildModel(spec, 4);
    const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
    for (const [name, v] of await model.stateDict()) tensors[name] = { shape: [...v.shape], values: v.values };
    const loaded = decodeCheckpoint(encodeSafetensors(tensors), 'timm checkpoint');
    assert.equal(loaded.spec.name, 'kat-d64');
    assert.deepEqual(loaded.spec.config, spec.config);
    const images = tensor(randomValues(new Random(1), 2 * 3 * 8 * 8), [2, 3, 8, 8]);
    model.eval();
    loaded.model.eval();
    assert.deepEqual(await loaded.model.forward(images).data(), await model.forward(images).data());
  });

  it('fc_norm in place of norm (timm\'s global_pool \'avg\') rebuilds a model that pools the patch tokens\' mean', async () => {
    const config = { imageSize: 8, patchSize: 4, channels: 1, classes: 3, dim: 64, depth: 1, heads: 1, mlpRatio: 2, mlp: 'gelu' as const,
      groups: 8, dropout: 0, dropPath: 0, pool: 'avg' as const };
    const model = buildModel({ name: 'vit-test', config }, 2);
    const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
    for (const [name, v] of await model.stateDict()) tensors[name] = { shape: [...v.shape], values: v.values };
    assert.ok('fc_norm.weight' in tensors && !('norm.weight' in tensors));
    const loaded = decodeCheckpoint(encodeSafetensors(tensors), 'timm checkpoint');
    assert.deepEqual(loaded.spec.config, config);
    const images = tensor(randomValues(new Random(3), 2 * 64), [2, 1, 8, 8]);
    loaded.model.eval();
    assert.deepEqual(await loaded.model.forward(images).data(), await model.forward(images).data());
    assert.throws(() => buildModel({ name: 'vit-test', config: { ...config, pool: 'max' as never } }), /pool is "max": expected "token"/);
  });
});

describe('training is deterministic under a seed', () => {
  it('two runs with the same seed give bit-identical weights; another seed does not', async () => {
    const data = syntheticSplit({ trainCount: 96, testCount: 32, channels: 1, height: 8, width: 8, classes: 3, seed: 2 });
    const spec: ModelSpec = {
      name: 'kat-test',
      config: { imageSize: 8, patchSize: 4, channels: 1, classes: 3, dim: 16, depth: 1, heads: 2, mlpRatio: 2, mlp: 'kan', groups: 4, dropout: 0.1, dropPath: 0.1 },
    };
    const run = async (seed: number) => {
      const model = buildModel(spec, seed);
      await trainModel(model, data.train, data.test, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 16, seed });
      return [...(await model.stateDict()).values()].map((v) => Array.from(v.values));
    };
    const first = await run(1);
    assert.deepEqual(await run(1), first);
    assert.notDeepEqual(await run(2), first);
  });
});
