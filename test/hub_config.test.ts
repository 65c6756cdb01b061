import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { headsForArchitecture, labelsFor, parseHubConfig } from '../src/io/hub_config.js';
import { IMAGENET_1K_LABELS } from '../src/data/imagenet_labels.js';

// build/test/*.js -> test/fixtures
const FIXTURE = fileURLToPath(new URL('../../test/fixtures/torch/hub_kat_small32/config.json', import.meta.url));

const CIFAR10 = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

describe('parseHubConfig', () => {
  it('reads the timm push_to_hub fixture', async () => {
    const config = parseHubConfig(await readFile(FIXTURE, 'utf8'), FIXTURE);
    assert.equal(config.architecture, 'kat_tiny_patch16_224');
    assert.equal(config.numClasses, 10);
    assert.equal(config.numFeatures, 48);
    assert.equal(config.globalPool, 'token');
    assert.deepEqual(config.labelNames, CIFAR10);
    assert.deepEqual(config.preprocess, {
      inputSize: [3, 32, 32],
      interpolation: 'bicubic',
      cropPct: 0.875,
      cropMode: 'center',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    });
    // No model_args: heads come from the architecture name (kat_tiny -> 3).
    assert.equal(config.modelArgs, undefined);
    assert.equal(config.heads, 3);
  });

  it("fills missing fields with timm's defaults", () => {
    const config = parseHubConfig('{}');
    assert.equal(config.architecture, undefined);
    assert.equal(config.numClasses, undefined);
    assert.equal(config.labelNames, undefined);
    assert.equal(config.heads, undefined);
    assert.deepEqual(config.preprocess, {
      inputSize: [3, 224, 224],
      interpolation: 'bicubic',
      cropPct: 0.875,
      cropMode: 'center',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    });
    // Partial pretrained_cfg, nulls count as missing.
    const partial = parseHubConfig(
      JSON.stringify({
        pretrained_cfg: { interpolation: 'bilinear', crop_pct: null, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], num_classes: 7 },
      }),
    );
    assert.equal(partial.preprocess.interpolation, 'bilinear');
    assert.equal(partial.preprocess.cropPct, 0.875);
    assert.deepEqual(partial.preprocess.inputSize, [3, 224, 224]);
    assert.deepEqual(partial.preprocess.mean, [0.5, 0.5, 0.5]);
    assert.equal(partial.numClasses, 7, 'pretrained_cfg.num_classes when the top level has none');
    // Defaults are fresh objects, not shared.
    const a = parseHubConfig('{}');
    a.preprocess.mean[0] = 9;
    assert.equal(parseHubConfig('{}').preprocess.mean[0], 0.485);
  });

  it('reads model_args and the heads', () => {
    const withArgs = parseHubConfig(
      JSON.stringify({ architecture: 'kat_base_patch16_224', model_args: { num_heads: 4, embed_dim: 64 } }),
    );
    assert.deepEqual(withArgs.modelArgs, { num_heads: 4, embed_dim: 64 });
    assert.equal(withArgs.heads, 4, 'model_args.num_heads wins over the name');
    assert.equal(parseHubConfig('{"architecture":"kat_small_patch16_224"}').heads, 6);
    assert.equal(parseHubConfig('{"architecture":"kat_base_patch16_224.vitinit"}').heads, 12);
    assert.equal(headsForArchitecture('vit_tiny_patch16_224'), 3);
    assert.equal(headsForArchitecture('deit_small_distilled_patch16_224'), 6);
    assert.equal(headsForArchitecture('deit_base_patch16_384'), 12);
    assert.equal(headsForArchitecture('vit_base_patch16_224.augreg_in21k'), 12);
    assert.equal(headsForArchitecture('resnet50'), undefined);
    assert.equal(headsForArchitecture('vit_tinyish_patch16'), undefined);
  });

  it('accepts a BOM, label_descriptions and num_classes 0', () => {
    const config = parseHubConfig('\uFEFF' + JSON.stringify({ num_classes: 0, label_descriptions: { a: 'the a' } }));
    assert.equal(config.numClasses, 0);
    assert.deepEqual(config.labelDescriptions, { a: 'the a' });
  });

  it('rejects wrong types with one clear error naming the field and the file', () => {
    const cases: [unknown, string][] = [
      [[1, 2], "'(top level)' must be a JSON object"],
      [{ architecture: 5 }, "'architecture' must be a non-empty string, got 5"],
      [{ num_classes: '10' }, "'num_classes' must be a non-negative integer"],
      [{ num_classes: 2.5 }, "'num_classes' must be a non-negative integer, got 2.5"],
      [{ pretrained_cfg: [] }, "'pretrained_cfg' must be an object"],
      [{ pretrained_cfg: { input_size: [3, 224] } }, "'pretrained_cfg.input_size' must be an array of 3 positive integers, got an array of 2"],
      [{ pretrained_cfg: { input_size: [3, 0, 224] } }, "'pretrained_cfg.input_size'"],
      [{ pretrained_cfg: { interpolation: 'lanczos' } }, "'pretrained_cfg.interpolation' must be one of 'bicubic', 'bilinear', 'nearest', got \"lanczos\""],
      [{ pretrained_cfg: { crop_pct: 0 } }, "'pretrained_cfg.crop_pct' must be a number in (0, 1]"],
      [{ pretrained_cfg: { crop_pct: '0.9' } }, "'pretrained_cfg.crop_pct'"],
      [{ pretrained_cfg: { crop_mode: 'middle' } }, "'pretrained_cfg.crop_mode' must be one of 'center', 'squash', 'border'"],
      [{ pretrained_cfg: { mean: [0.5, '0.5', 0.5] } }, "'pretrained_cfg.mean' must be an array of 3 finite numbers"],
      [{ pretrained_cfg: { std: [0.5, 0, 0.5] } }, "'pretrained_cfg.std' must be an array of 3 positive numbers"],
      [{ pretrained_cfg: { num_classes: -1 } }, "'pretrained_cfg.num_classes'"],
      [{ label_names: 'cat' }, "'label_names' must be an array of strings"],
      [{ label_names: ['a', 2] }, "'label_names' must be an array of strings"],
      [{ num_classes: 3, label_names: ['a', 'b'] }, "'label_names' must be an array of num_classes (3) strings, got an array of 2"],
      [{ label_descriptions: { a: 1 } }, "'label_descriptions' must be an object of strings"],
      [{ model_args: 'x' }, "'model_args' must be an object"],
      [{ model_args: { num_heads: 0 } }, "'model_args.num_heads' must be a positive integer, got 0"],
    ];
    for (const [value, expected] of cases) {
      assert.throws(
        () => parseHubConfig(JSON.stringify(value), 'repo/config.json'),
        (err: Error) => {
          assert.ok(err.message.startsWith('repo/config.json: '), err.message);
          assert.ok(err.message.includes(expected), `${JSON.stringify(value)}: ${err.message}`);
          return true;
        },
      );
    }
    assert.throws(() => parseHubConfig('{"num_classes": 10,', 'x/config.json'), /^Error: x\/config.json: not valid JSON/);
  });
});

describe('labelsFor', () => {
  it('uses label_names, then ImageNet for 1000 classes, then class i', async () => {
    const config = parseHubConfig(await readFile(FIXTURE, 'utf8'));
    assert.deepEqual(labelsFor(config, 10), CIFAR10);
    const imagenet = labelsFor(undefined, 1000);
    assert.equal(imagenet.length, 1000);
    assert.equal(imagenet[0], 'tench');
    assert.deepEqual(labelsFor(undefined, 3), ['class 0', 'class 1', 'class 2']);
    // Names that do not match the head's size are not used.
    assert.deepEqual(labelsFor(config, 2), ['class 0', 'class 1']);
    assert.deepEqual(labelsFor(parseHubConfig('{}'), 0), []);
    // A copy: callers may not alter the shared list.
    imagenet[0] = 'changed';
    assert.equal(IMAGENET_1K_LABELS[0], 'tench');
  });
});

describe('IMAGENET_1K_LABELS', () => {
  it('has the 1000 class names in class-index order', () => {
    assert.equal(IMAGENET_1K_LABELS.length, 1000);
    const anchors: [number, string][] = [
      [0, 'tench'],
      [1, 'goldfish'],
      [2, 'great white shark'],
      [207, 'golden retriever'],
      [281, 'tabby'],
      [285, 'Egyptian cat'],
      [409, 'analog clock'],
      [954, 'banana'],
      [999, 'toilet tissue'],
    ];
    for (const [index, name] of anchors) assert.equal(IMAGENET_1K_LABELS[index], name, `class ${index}`);
    for (const [i, name] of IMAGENET_1K_LABELS.entries()) {
      assert.equal(typeof name, 'string');
      assert.ok(name.length > 0 && name.trim() === name, `class ${i}: '${name}'`);
    }
    // The two names WordNet's first lemmas share; everything else is unique.
    assert.equal(IMAGENET_1K_LABELS[134], 'crane');
    assert.equal(IMAGENET_1K_LABELS[517], 'crane');
    assert.equal(new Set(IMAGENET_1K_LABELS).size, 998);
    assert.ok(Object.isFrozen(IMAGENET_1K_LABELS));
  });
});
