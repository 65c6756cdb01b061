// Sizing a model from its spec alone (issue 13): parameter counts and tensor
// layouts without allocating, the training memory estimate, and --max-memory
// refusing a run or a checkpoint before anything is allocated.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { DEFAULT_MEMORY_FRACTION, parseMemorySize } from '../src/cli/memory.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { MODEL_LIMITS, tensorLayout } from '../src/models/config_check.js';
import {
  activationValuesPerSample, estimateLoadMemory, estimateTrainingMemory, formatBytes, MemoryLimitError, checkMemoryLimit,
} from '../src/models/memory_estimate.js';
import { buildModel, countParameters, MODEL_NAMES, modelSpec, type ModelSpec } from '../src/models/registry.js';
import { kat } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kat-memory-'));

/**
 * Every named model (the base ones with 2 of their 12 identical blocks: each
 * takes seconds to initialise in full), kan-mlp with each basis, odd shapes.
 */
const SPECS: ModelSpec[] = [
  ...MODEL_NAMES.map((name) => modelSpec(name)).map((s) => s.name.endsWith('-base') ? { ...s, config: { ...s.config, depth: 2 } } : s),
  modelSpec('kan-mlp', { basis: 'bspline' }),
  modelSpec('kan-mlp', { basis: 'rbf' }),
  modelSpec('kan-mlp', { basis: 'af' }),
  modelSpec('kan-mlp', { basis: 'relu' }),
  modelSpec('kan-mlp', { basis: 'cheby' }),
  modelSpec('kan-mlp', { basis: 'mlp', hidden: [64], activation: 'gelu' }),
  { name: 'kan-mlp', config: { inputs: 5, hidden: [4], classes: 2, groups: 8, dropout: 0, basis: 'af', af: { gridSize: 2, order: 1, combination: 'sum' } } },
  { name: 'kan-mlp', config: { inputs: 5, hidden: [], classes: 3, groups: 8, dropout: 0, basis: 'relu', relu: { gridSize: 4, order: 2 } } },
  { name: 'kan-mlp', config: { inputs: 5, hidden: [3], classes: 2, groups: 8, dropout: 0, basis: 'cheby', cheby: { degree: 0 } } },
  { name: 'kan-mlp', config: { inputs: 7, hidden: [], classes: 3, groups: 4, dropout: 0, basis: 'rbf', rbf: { centers: 3, layerNorm: false, baseUpdate: false } } },
  { name: 'kan-mlp', config: { inputs: 6, hidden: [5, 9], classes: 1, groups: 8, dropout: 0, basis: 'bspline', bspline: { gridSize: 4, order: 2 } } },
  { name: 'kan-mlp', config: { inputs: 12, hidden: [10], classes: 2, groups: 8, dropout: 0.1 } },
  { name: 'vit-d48', config: { imageSize: 32, patchSize: 8, channels: 3, classes: 10, dim: 48, depth: 2, heads: 3, mlpRatio: 3.5, mlp: 'gelu', groups: 8, dropout: 0, dropPath: 0.1 } },
];

describe('parameters and tensors from the spec alone', () => {
  it('countParameters and tensorLayout equal what buildModel allocates, for every named model and kan-mlp basis', () => {
    for (const spec of SPECS) {
      const model = buildModel(spec);
      try {
        assert.equal(countParameters(spec), model.parameterCount(), spec.name);
        const layout = tensorLayout(spec);
        assert.deepEqual(layout.parameters, model.namedParameters().map(([name, t]) => [name, [...t.shape]]), `${spec.name} parameters`);
        assert.deepEqual(layout.buffers, (model.namedBuffers?.() ?? []).map(([name, t]) => [name, [...t.shape]]), `${spec.name} buffers`);
      } finally {
        model.dispose();
      }
    }
  });

  it('the full-size models have timm\'s parameter counts', () => {
    // ViT-Ti/16, S/16, B/16 at 224 with 1000 classes, as timm counts them; KAT adds 2 x (6 + 4 x 8) rational coefficients per block.
    assert.equal(countParameters(modelSpec('vit-tiny')), 5_717_416);
    assert.equal(countParameters(modelSpec('vit-small')), 22_050_664);
    assert.equal(countParameters(modelSpec('vit-base')), 86_567_656);
    assert.equal(countParameters(modelSpec('kat-base')), 86_567_656 + 12 * 2 * (6 + 32));
  });

  // Counting never builds the model: building would take minutes and 1.2 GB, so the timeout is a hang guard.
  it('counts a model far too large to build, at once', { timeout: 10_000 }, () => {
    const before = process.memoryUsage().arrayBuffers;
    // ViT-L's size (300 million parameters, 1.2 GB) and a tenth of the parameter limit.
    const large: ModelSpec = { name: 'vit-large', config: { ...(modelSpec('vit-base').config), depth: 24, dim: 1024, heads: 16 } };
    assert.equal(countParameters(large), 304_326_632);
    const deep: ModelSpec = { name: 'vit-deep', config: { ...(modelSpec('vit-tiny').config), depth: MODEL_LIMITS.depth } };
    assert.ok(countParameters(deep) > 450e6 && countParameters(deep) < MODEL_LIMITS.parameters);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'no large allocation');
  });
});

describe('the memory estimate', () => {
  it('parameters, gradients and optimizer state scale with the parameter count; activations with the batch', () => {
    const spec = modelSpec('kat-micro');
    const params = countParameters(spec);
    const at64 = estimateTrainingMemory(spec, { batchSize: 64, evalBatchSize: 1 });
    const parts = Object.fromEntries(at64.parts.map((p) => [p.what, p.bytes]));
    assert.deepEqual(parts, {
      parameters: params * 4, gradients: params * 4, 'AdamW moments': 2 * params * 4,
      'activations of a 64-sample batch': 2 * 64 * activationValuesPerSample(spec) * 4,
    });
    assert.equal(at64.bytes, Object.values(parts).reduce((a, b) => a + b, 0));
    const sgd = estimateTrainingMemory(spec, { batchSize: 64, optimizer: 'sgd', bytesPerValue: 8, dataBytes: 1000, evalBatchSize: 1 });
    assert.equal(sgd.parts.find((p) => p.what === 'SGD momentum')!.bytes, params * 8);
    assert.equal(sgd.parts.find((p) => p.what === 'data')!.bytes, 1000);
    // Evaluation (250 samples, no gradients) counts when it is the larger.
    const small = estimateTrainingMemory(spec, { batchSize: 8 });
    assert.equal(small.parts.find((p) => p.what.startsWith('activations'))!.what, 'activations of a 250-sample evaluation batch');
    assert.equal(estimateLoadMemory(spec).bytes, params * 4);
  });

  it('attention grows with the square of the tokens', () => {
    const at112 = activationValuesPerSample(modelSpec('vit-micro', { imageSize: 112 }));
    const at224 = activationValuesPerSample(modelSpec('vit-micro', { imageSize: 224 }));
    assert.ok(at224 / at112 > 10, `${at224 / at112}`);
  });

  it('checkMemoryLimit says what, how much, of what, and the limit', () => {
    const e = estimateTrainingMemory(modelSpec('kat-micro'), { batchSize: 64 });
    assert.throws(() => checkMemoryLimit(e, 2 ** 20, 'training kat-micro'), (error: unknown) => error instanceof MemoryLimitError &&
      /^training kat-micro needs about \d+(\.\d+)? MiB \(parameters 607 KiB, gradients 607 KiB, AdamW moments 1\.18 MiB, activations of a \d+-sample .*batch \d+(\.\d+)? MiB\), over the memory limit of 1\.00 MiB$/.test(error.message));
    checkMemoryLimit(e, 2 ** 40, 'fits');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(5 * 2 ** 30), '5.00 GiB');
  });

  it('--max-memory sizes: bytes, KiB/MiB/GiB (and K/M/G), KB/MB/GB; anything else is refused', () => {
    const cases: [string, number | undefined][] = [
      ['4096', 4096], ['512MiB', 512 * 2 ** 20], ['1.5 GiB', 1.5 * 2 ** 30], ['2G', 2 ** 31], ['2gb', 2e9], ['10k', 10240], ['1TiB', 2 ** 40],
      ['0', undefined], ['-1GiB', undefined], ['1e9', undefined], ['0x10', undefined], ['GiB', undefined], ['4 parsecs', undefined], ['', undefined],
      ['1e400', undefined], ['99999999999999999999TiB', undefined],
    ];
    for (const [text, bytes] of cases) assert.equal(parseMemorySize(text), bytes, text);
    assert.equal(DEFAULT_MEMORY_FRACTION, 0.5);
  });
});

describe('kat train --max-memory', () => {
  // kat() has its own hang guard; "before the data is made" is the message (the estimate, no epoch line), not a time.
  it('a model that cannot fit fails at once with the estimate, before the data is made (synthetic:1x2000x2000:10:16)', () => {
    for (const model of ['kan-mlp', 'vit-micro']) {
      const size = model === 'kan-mlp' ? 2000 : 2002;
      const run = kat('train', '--model', model, '--dataset', `synthetic:1x${size}x${size}:10:16`, '--backend', 'cpu', '--out', join(dir, 'big.safetensors'), '--max-memory', '8GiB');
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '', 'nothing trained or printed before the refusal');
      assert.match(run.stderr, new RegExp(`^kat: train: training ${model} needs about \\d+(\\.\\d+)? (GiB|TiB) \\(parameters [^)]*\\), over the --max-memory limit of 8\\.00 GiB; ` +
        'use a smaller --batch-size, model or dataset, or raise --max-memory\\n$'));
    }
  });

  it('the default limit is half of this machine\'s RAM; a malformed size is a usage error', () => {
    // Attention over 81,797 tokens: hundreds of TiB, over half of any machine's RAM.
    const run = kat('train', '--model', 'vit-micro', '--dataset', 'synthetic:1x2002x2002:10:16', '--backend', 'cpu', '--out', join(dir, 'big.safetensors'));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /over the default --max-memory limit of [\d.]+ [GM]iB \(half of this machine's [\d.]+ [GM]iB of RAM\)/);
    const bad = kat('train', '--max-memory', '12 parsecs');
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "kat: train: --max-memory must be a size such as 512MiB, 4GiB or 1073741824 (bytes), got '12 parsecs'\n");
  });

  it('a run under the limit trains; the same run under a smaller limit is refused before it starts', () => {
    const args = ['train', '--dataset', 'synthetic:1x14x14:3:32', '--batch-size', '8', '--max-steps', '1', '--backend', 'cpu', '--out', join(dir, 'small.safetensors')];
    const ok = kat(...args, '--max-memory', '1GiB');
    assert.equal(ok.code, 0, ok.stderr);
    const refused = kat(...args, '--max-memory', '100KiB');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^kat: train: training kat-micro needs about [\d.]+ MiB \(parameters 602 KiB, gradients 602 KiB, .*\), over the --max-memory limit of 100 KiB; /);
  });
});

describe('loading a checkpoint under --max-memory', () => {
  it('decodeCheckpoint refuses a model over maxMemory before building it; kat info / eval take --max-memory', async () => {
    const spec = modelSpec('kat-micro');
    const bytes = await encodeCheckpoint(buildModel(spec), spec);
    assert.throws(() => decodeCheckpoint(bytes, 'big', { maxMemory: 100_000 }),
      /^MemoryLimitError: big: its model kat-micro needs about 607 KiB \(parameters 607 KiB\), over the memory limit of 97\.7 KiB$/);
    decodeCheckpoint(bytes, 'fits', { maxMemory: 10_000_000 }).model.dispose();
    const path = join(dir, 'micro.safetensors');
    writeFileSync(path, bytes);
    const info = kat('info', '--checkpoint', path, '--max-memory', '100KiB');
    assert.equal(info.code, 1);
    assert.equal(info.stderr, `kat: checkpoint '${path}': its model kat-micro needs about 607 KiB (parameters 607 KiB), over the --max-memory limit of 100 KiB\n`);
    assert.equal(kat('info', '--checkpoint', path, '--max-memory', '1MiB').code, 0);
    for (const command of ['eval', 'formula', 'plot', 'prune']) {
      const refused = kat(command, '--checkpoint', path, '--max-memory', '100KiB', '--backend', 'cpu', ...(command === 'plot' ? ['--out', join(dir, 'p.svg')] : []));
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^kat: checkpoint '[^']+': its model kat-micro needs about 607 KiB \(parameters 607 KiB\), over the --max-memory limit of 100 KiB\n$/, command);
    }
  });
});
