// Pruning GR-KAN hidden channels: scores recomputed here from the raw images
// and the weights in float64; the channels removed are the lowest-scoring
// ones of each group; a pruned model computes what the original computes
// with those channels' outgoing weights set to zero; keeping everything
// changes nothing; parameter counts follow from the shapes; pruned models
// save and load as checkpoints; `kat prune` end to end.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prunableLayers, pruneChannels, scoreChannels, selectChannels } from '../src/analysis/prune.js';
import { syntheticSplit } from '../src/data/synthetic.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import type { KanMlpConfig } from '../src/models/kan_mlp.js';
import { buildModel, type Model, type ModelSpec } from '../src/models/registry.js';
import type { VitConfig } from '../src/models/vit.js';
import { tensor } from '../src/ops/creation.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import { assertBadInputs, kat } from './support/cli.js';
import { rationalReference } from './support/harness.js';

const data = syntheticSplit({ channels: 1, height: 4, width: 4, classes: 3, seed: 8, trainCount: 40, testCount: 8 });

const mlpSpec: ModelSpec = { name: 'kan-mlp', config: { inputs: 16, hidden: [12], classes: 3, groups: 4, dropout: 0 } satisfies KanMlpConfig };

/** A seeded model with rational coefficients moved off their initial values. */
function randomised(spec: ModelSpec, seed: number): Model {
  const model = buildModel(spec, seed);
  const rng = new Random(seed + 100);
  for (const [name, t] of model.namedParameters()) {
    if (name.includes('weight_numerator') || name.includes('weight_denominator') || name.endsWith('bias')) {
      t.assignValues(Array.from({ length: t.size }, () => Math.fround(rng.normal() * 0.4)));
    }
  }
  return model;
}

/** Channel scores of the KAN-MLP's hidden layer, from the raw images and weights, in float64. */
async function referenceScores(model: Model): Promise<Float64Array> {
  const state = await model.stateDict();
  const v = (name: string) => state.get(name)!.values;
  const [a0, b0, w0, c0] = [v('layers.0.act.weight_numerator'), v('layers.0.act.weight_denominator'), v('layers.0.fc.weight'), v('layers.0.fc.bias')];
  const [a1, b1, w1] = [v('layers.1.act.weight_numerator'), v('layers.1.act.weight_denominator'), v('layers.1.fc.weight')];
  const meanAbs = new Float64Array(12);
  for (let n = 0; n < data.train.count; n++) {
    const acted = Array.from(data.train.images.subarray(n * 16, (n + 1) * 16), (x, c) => rationalReference(a0, b0.subarray(Math.floor(c / 4) * 4), x));
    for (let o = 0; o < 12; o++) {
      let h = c0[o]!;
      for (let c = 0; c < 16; c++) h += w0[o * 16 + c]! * acted[c]!;
      meanAbs[o] += Math.abs(rationalReference(a1, b1.subarray(Math.floor(o / 3) * 4), h)) / data.train.count;
    }
  }
  return meanAbs.map((m, c) => m * Math.hypot(...[0, 1, 2].map((o) => w1[o * 12 + c]!)));
}

async function outputs(model: Model, images: Float32Array, count: number, shape: number[]): Promise<Float32Array> {
  model.eval();
  const y = noGrad(() => model.forward(tensor(images, [count, ...shape])));
  const values = await y.data();
  y.dispose();
  return values;
}

/** A copy of `model` with the columns of the removed channels zeroed in the linear map that reads them. */
async function withChannelsZeroed(model: Model, spec: ModelSpec, kept: { layer: string; width: number; channels: number[] }[]): Promise<Model> {
  const copy = buildModel(spec);
  const state = await model.stateDict();
  for (const [i, layer] of prunableLayers(copy).entries()) {
    const name = copy.namedParameters().find(([, t]) => t === layer.out.weight)![0];
    const entry = state.get(name)!;
    const values = Float32Array.from(entry.values);
    const keep = new Set(kept[i]!.channels);
    for (let r = 0; r < layer.out.outFeatures; r++) for (let c = 0; c < layer.width; c++) if (!keep.has(c)) values[r * layer.width + c] = 0;
    state.set(name, { shape: entry.shape, values });
  }
  copy.loadStateDict(state);
  return copy;
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length);
  let scale = 1e-6;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('channel scores and pruning (kan-mlp)', () => {
  it('scores are mean |activation| x outgoing weight norm over the data, as recomputed from the images', async () => {
    const model = randomised(mlpSpec, 1);
    const [scores] = await scoreChannels(model, data.train, { images: 1000 });
    const expected = await referenceScores(model);
    assert.equal(scores!.layer, 'layers.0-1');
    for (let c = 0; c < 12; c++) {
      assert.ok(Math.abs(scores!.channels[c]! - expected[c]!) <= 1e-4 * Math.max(...expected), `channel ${c}: ${scores!.channels[c]} vs ${expected[c]}`);
    }
    for (let g = 0; g < 4; g++) assert.ok(Math.abs(scores!.groups[g]! - (expected[3 * g]! + expected[3 * g + 1]! + expected[3 * g + 2]!)) <= 1e-4 * Math.max(...expected));
    model.dispose();
  });

  it('pruning removes the lowest-scoring channel of each group, and the result computes the original without them', async () => {
    const model = randomised(mlpSpec, 2);
    const scores = await scoreChannels(model, data.train, { images: 1000 });
    const expected = await referenceScores(model);
    const pruned = await pruneChannels(model, mlpSpec, scores, 2 / 3);
    const removed = [0, 1, 2, 3].map((g) => [0, 1, 2].map((i) => 3 * g + i).reduce((lo, c) => (expected[c]! < expected[lo]! ? c : lo)));
    assert.deepEqual(pruned.kept[0]!.channels, [...Array(12).keys()].filter((c) => !removed.includes(c)));
    assert.deepEqual((pruned.spec.config as KanMlpConfig).hidden, [8]);
    const reference = await withChannelsZeroed(model, mlpSpec, pruned.kept);
    assertClose(await outputs(pruned.model, data.test.images, 8, [1, 4, 4]), await outputs(reference, data.test.images, 8, [1, 4, 4]), 1e-5, 'pruned logits');
    // 4 channels removed: 16 weights + 1 bias into each, 3 weights out of each.
    assert.equal(pruned.model.parameterCount(), model.parameterCount() - 4 * (16 + 1 + 3));
    for (const m of [model, pruned.model, reference]) m.dispose();
  });

  it('keep = 1 leaves the model and its outputs identical; the pruned model saves and loads as a checkpoint', async () => {
    const model = randomised(mlpSpec, 3);
    const scores = await scoreChannels(model, data.train);
    const same = await pruneChannels(model, mlpSpec, scores, 1);
    assert.deepEqual(await outputs(same.model, data.test.images, 8, [1, 4, 4]), await outputs(model, data.test.images, 8, [1, 4, 4]));
    assert.equal(same.model.parameterCount(), model.parameterCount());
    const half = await pruneChannels(model, mlpSpec, scores, 0.5);
    const loaded = decodeCheckpoint(await encodeCheckpoint(half.model, half.spec));
    assert.deepEqual(loaded.spec, half.spec);
    assert.deepEqual(await outputs(loaded.model, data.test.images, 8, [1, 4, 4]), await outputs(half.model, data.test.images, 8, [1, 4, 4]));
    for (const m of [model, same.model, half.model, loaded.model]) m.dispose();
  });

  it('two hidden layers in a row (one linear map loses rows and columns): outputs = the original with the channels zeroed', async () => {
    const spec: ModelSpec = { name: 'kan-mlp', config: { inputs: 16, hidden: [12, 8], classes: 3, groups: 4, dropout: 0 } satisfies KanMlpConfig };
    const model = randomised(spec, 6);
    const pruned = await pruneChannels(model, spec, await scoreChannels(model, data.train), 0.5);
    assert.deepEqual(pruned.kept.map((k) => [k.layer, k.width, k.channels.length]), [['layers.0-1', 12, 8], ['layers.1-2', 8, 4]]);
    assert.deepEqual((pruned.spec.config as KanMlpConfig).hidden, [8, 4]);
    const reference = await withChannelsZeroed(model, spec, pruned.kept);
    assertClose(await outputs(pruned.model, data.test.images, 8, [1, 4, 4]), await outputs(reference, data.test.images, 8, [1, 4, 4]), 1e-5, 'logits');
    for (const m of [model, pruned.model, reference]) m.dispose();
  });

  it('selectChannels keeps the top of each group in order; bad input is refused', async () => {
    assert.deepEqual(selectChannels(Float64Array.from([3, 1, 2, 0, 5, 5]), 2, 2), [0, 2, 4, 5]);
    assert.deepEqual(selectChannels(Float64Array.from([1, 1, 1, 1]), 1, 2), [0, 1]);
    assert.throws(() => selectChannels(new Float64Array(6), 4, 1), /do not split into 4 groups/);
    assert.throws(() => selectChannels(new Float64Array(6), 2, 4), /must be in 1..3/);
    const model = randomised(mlpSpec, 4);
    const scores = await scoreChannels(model, data.train, { images: 8 });
    await assert.rejects(pruneChannels(model, mlpSpec, scores, 0), /keep must be a fraction in \(0, 1\], got 0/);
    await assert.rejects(pruneChannels(model, mlpSpec, scores, 1.5), /keep must be a fraction/);
    await assert.rejects(pruneChannels(model, mlpSpec, [], 0.5), /no scores of 12 channels for layer 'layers.0-1'/);
    const vit = buildModel({ name: 'vit-micro', config: { ...katConfig, mlp: 'gelu' } });
    await assert.rejects(scoreChannels(vit, katData.train), /no GR-KAN hidden layer/);
    for (const m of [model, vit]) m.dispose();
  });
});

const katConfig: VitConfig = {
  imageSize: 8, patchSize: 4, channels: 1, classes: 3, dim: 16, depth: 2, heads: 2, mlpRatio: 4, mlp: 'kan', groups: 4, dropout: 0, dropPath: 0,
};
const katSpec: ModelSpec = { name: 'kat-micro', config: katConfig };
const katData = syntheticSplit({ channels: 1, height: 8, width: 8, classes: 3, seed: 9, trainCount: 24, testCount: 6 });

describe('pruning a KAT', () => {
  it('keeps the best half of every group in every block; outputs = the original with those channels zeroed; checkpoint round trip', async () => {
    const model = randomised(katSpec, 5);
    const scores = await scoreChannels(model, katData.train);
    assert.deepEqual(scores.map((s) => [s.layer, s.channels.length, s.groups.length]), [['blocks.0.mlp', 64, 4], ['blocks.1.mlp', 64, 4]]);
    const pruned = await pruneChannels(model, katSpec, scores, 0.5);
    for (const [i, kept] of pruned.kept.entries()) {
      const s = scores[i]!.channels;
      for (let g = 0; g < 4; g++) {
        const members = [...Array(16).keys()].map((k) => g * 16 + k);
        const inKept = members.filter((c) => kept.channels.includes(c));
        assert.equal(inKept.length, 8);
        const lowestKept = Math.min(...inKept.map((c) => s[c]!));
        for (const c of members.filter((m) => !inKept.includes(m))) assert.ok(s[c]! <= lowestKept, `block ${i} channel ${c} outscores a kept one`);
      }
    }
    assert.equal((pruned.spec.config as VitConfig).mlpRatio, 2);
    // Per block, 32 channels removed: a row of fc1 (16 weights + 1 bias) and a column of fc2 (16) each.
    assert.equal(pruned.model.parameterCount(), model.parameterCount() - 2 * 32 * (16 + 1 + 16));
    const reference = await withChannelsZeroed(model, katSpec, pruned.kept);
    const logits = await outputs(pruned.model, katData.test.images, 6, [1, 8, 8]);
    assertClose(logits, await outputs(reference, katData.test.images, 6, [1, 8, 8]), 1e-5, 'pruned KAT logits');
    const loaded = decodeCheckpoint(await encodeCheckpoint(pruned.model, pruned.spec));
    assert.deepEqual(await outputs(loaded.model, katData.test.images, 6, [1, 8, 8]), logits);
    const same = await pruneChannels(model, katSpec, scores, 1);
    assert.deepEqual(await outputs(same.model, katData.test.images, 6, [1, 8, 8]), await outputs(model, katData.test.images, 6, [1, 8, 8]));
    for (const m of [model, pruned.model, reference, loaded.model, same.model]) m.dispose();
  });
});

// ---------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'kat-prune-'));

/** KAN-MLP parameters from its widths: per layer a [1, 6] numerator, [G, 4] denominator, weights and biases. */
function kanMlpParameters(widths: number[], groups: number): number {
  let total = 0;
  for (let i = 0; i + 1 < widths.length; i++) {
    let g = Math.min(groups, widths[i]!);
    while (widths[i]! % g !== 0) g--;
    total += 6 + 4 * g + widths[i]! * widths[i + 1]! + widths[i + 1]!;
  }
  return total;
}

describe('kat prune', () => {
  const checkpoint = join(dir, 'mlp.safetensors');

  it('prunes a checkpoint trained by kat train, fine-tunes, reports and writes a checkpoint that eval reproduces', () => {
    const trained = kat('train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x8x8:4:64', '--epochs', '1', '--batch-size', '16',
      '--backend', 'cpu', '--out', checkpoint, '--json');
    assert.equal(trained.code, 0, trained.stderr);
    const out = join(dir, 'pruned.safetensors');
    const run = kat('prune', '--checkpoint', checkpoint, '--keep', '0.5', '--epochs', '1', '--batch-size', '16', '--images', '32',
      '--out', out, '--backend', 'cpu', '--json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as Record<string, any>;
    assert.equal(report.before.params, kanMlpParameters([64, 256, 128, 4], 8));
    assert.equal(report.pruned.params, kanMlpParameters([64, 128, 64, 4], 8));
    assert.equal(report.fine_tuned.params, report.pruned.params);
    assert.deepEqual(report.layers.map((l: any) => [l.layer, l.width, l.kept, l.group_scores.length]), [['layers.0-1', 256, 128, 8], ['layers.1-2', 128, 64, 8]]);
    const info = JSON.parse(kat('info', '--checkpoint', out, '--json').stdout) as Record<string, any>;
    assert.equal(info.params, report.pruned.params);
    assert.deepEqual(info.config.hidden, [128, 64]);
    const evaluated = JSON.parse(kat('eval', '--checkpoint', out, '--json').stdout) as Record<string, any>;
    assert.equal(evaluated.test_acc, report.fine_tuned.test_acc);
    const before = JSON.parse(kat('eval', '--checkpoint', checkpoint, '--json').stdout) as Record<string, any>;
    assert.equal(report.before.test_acc, before.test_acc);
  });

  it('--keep 1 --epochs 0 keeps the model as it was', () => {
    const out = join(dir, 'same.safetensors');
    const run = kat('prune', '--checkpoint', checkpoint, '--keep', '1', '--epochs', '0', '--out', out, '--backend', 'cpu', '--json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as Record<string, any>;
    assert.equal(report.pruned.params, report.before.params);
    assert.equal(report.pruned.test_acc, report.before.test_acc);
    assert.equal(report.pruned.test_loss, report.before.test_loss);
  });

  it('bad input: one clear error line, non-zero exit, nothing overwritten', () => {
    const out = join(dir, 'pruned.safetensors');
    const before = readFileSync(out);
    const cases: [string[], RegExp][] = [
      [['prune', '--checkpoint', checkpoint, '--keep', '0', '--out', out], /--keep must be a fraction in \(0, 1\], got 0/],
      [['prune', '--checkpoint', checkpoint, '--keep', '2', '--out', out], /--keep must be a fraction in \(0, 1\], got 2/],
      [['prune', '--checkpoint', checkpoint, '--epochs', '-1', '--out', out], /--epochs must be a non-negative integer in \[0, 100,000\], got -1/],
      [['prune', '--keep', '0.5'], /prune: --checkpoint FILE is required/],
      [['prune', '--checkpoint', join(dir, 'nope.safetensors'), '--out', out], /checkpoint '.*nope.safetensors' does not exist/],
      [['prune', '--checkpoint', checkpoint, '--out', out, '--lr', '1e30', '--batch-size', '16'], /loss became|NaN|Infinity/],
    ];
    assertBadInputs(cases);
    assert.deepEqual(readFileSync(out), before, 'a failed run changed the output checkpoint');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });
});
