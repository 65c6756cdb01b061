// S-KAN's selectable layer (nn/select_kan.ts): the forward against a float64
// evaluation written here from the formulas (every space), gradients against
// central finite differences in float64, the same layer on every backend
// against cpu-float64, the choice and pruning (same outputs, fewer
// parameters), checkpoints of both, and `kat train --basis select:...`.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { countLayout, tensorLayout } from '../src/models/config_check.js';
import type { KanMlp } from '../src/models/kan_mlp.js';
import { buildModel, modelSpec, type ModelSpec } from '../src/models/registry.js';
import { SELECT_SPACE_SETTINGS, SelectKanLayer, SELECT_SPACES, type SelectSpace } from '../src/nn/select_kan.js';
import { tensor } from '../src/ops/creation.js';
import { mul } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import { pruneSelectModel } from '../src/train/select_phases.js';
import { backendOrSkip, PARITY_BACKENDS } from './support/backends.js';
import { jsonLines, kat } from './support/cli.js';
import { bsplines, float64Backend, onBackendAsync, rationalReference } from './support/harness.js';

const silu = (x: number) => x / (1 + Math.exp(-x));

/** The features of one input value in one space, in float64, from the space's own parameters (`p`: name -> values) and input index i. */
function featuresOf(space: SelectSpace, x: number, i: number, p: Map<string, Float64Array>): number[] {
  const s = SELECT_SPACE_SETTINGS;
  switch (space) {
    case 'rational': return [rationalReference(p.get('rational.weight_numerator')!, p.get('rational.weight_denominator')!, x)];
    case 'bspline': {
      const { gridSize: g, order: k, low, high } = s.bspline;
      const h = (high - low) / g;
      const knots = Array.from({ length: g + 2 * k + 1 }, (_, m) => low + (m - k) * h);
      return [silu(x), ...bsplines(knots, k, x)];
    }
    case 'rbf': {
      const { low, high, centers } = s.rbf;
      const spacing = (high - low) / (centers - 1);
      return [silu(x), ...Array.from({ length: centers }, (_, c) => Math.exp(-(((x - (low + c * spacing)) / spacing) ** 2)))];
    }
    case 'cheby': {
      const theta = Math.acos(Math.tanh(x));
      return Array.from({ length: s.cheby.degree + 1 }, (_, k) => Math.cos(k * theta));
    }
    case 'relu': {
      const K = s.relu.gridSize + s.relu.order;
      const r = (4 * s.relu.gridSize ** 2) / (s.relu.order + 1) ** 2;
      const [starts, ends] = [p.get('relu.grid_start')!, p.get('relu.grid_end')!];
      return Array.from({ length: K }, (_, k) => (r * Math.max(0, ends[i * K + k]! - x) * Math.max(0, x - starts[i * K + k]!)) ** 2);
    }
    case 'af': {
      const [starts, ends] = [p.get('af.grid_start')!, p.get('af.grid_end')!];
      return Array.from(starts, (start, k) => (silu(x - start) * silu(ends[k]! - x)) ** 2);
    }
  }
}

/** y [rows, out] of an unpruned layer in float64: b + sum_s sum_i alpha_is sum_k W_s[j, i K + k] F_sk(x_i). */
function referenceForward(layer: { spaces: readonly SelectSpace[]; temperature: number; inFeatures: number; outFeatures: number },
  p: Map<string, Float64Array>, x: Float64Array, rows: number, kept?: Float64Array): Float64Array {
  const { spaces, inFeatures: n, outFeatures: out } = layer;
  const S = spaces.length;
  const beta = p.get('selection')!;
  const alpha = new Float64Array(n * S);
  for (let i = 0; i < n; i++) {
    const logits = spaces.map((_, s) => (kept && kept[i * S + s] === 0 ? -Infinity : beta[i * S + s]! / layer.temperature));
    const max = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - max));
    const total = e.reduce((a, b) => a + b, 0);
    e.forEach((v, s) => { alpha[i * S + s] = v / total; });
  }
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < out; j++) {
      let acc = p.get('bias')![j]!;
      spaces.forEach((space, s) => {
        const w = p.get(`${space}.weight`)!;
        for (let i = 0; i < n; i++) {
          const f = featuresOf(space, x[r * n + i]!, i, p);
          for (let k = 0; k < f.length; k++) acc += alpha[i * S + s]! * w[(j * n + i) * f.length + k]! * f[k]!;
        }
      });
      y[r * out + j] = acc;
    }
  }
  return y;
}

/** A layer with every parameter moved off its initial value (so no term is trivially zero or shared). */
function perturbedLayer(spaces: readonly SelectSpace[], inFeatures: number, outFeatures: number, seed: number): SelectKanLayer {
  const rng = new Random(seed);
  const layer = new SelectKanLayer(inFeatures, outFeatures, rng, { spaces, temperature: 0.7 });
  for (const [name, t] of layer.namedParameters()) {
    const values = new Float64Array(t.size);
    for (let k = 0; k < t.size; k++) {
      const noise = rng.normal();
      // Grids stay ordered (start < end) and near their initial places; weights and logits of order one.
      values[k] = name.includes('grid') ? 0 : name === 'selection' ? 1.5 * noise : name.endsWith('weight') ? 0.5 * noise : 0.3 * noise;
    }
    const current = Float64Array.from(float64Backend.readSync(t.buffer as Float64Array));
    t.assignValues(name.includes('grid') ? current.map((v, k) => v + 0.05 * values[k]! + 0.02 * Math.sin(k)) :
      name.startsWith('rational.') ? current.map((v, k) => v + 0.2 * values[k]!) : values);
  }
  return layer;
}

const read64 = (t: { buffer: unknown }) => Float64Array.from(float64Backend.readSync(t.buffer as Float64Array));
const inputs = (rows: number, n: number) => Float64Array.from({ length: rows * n }, (_, k) => 2.2 * Math.sin(1.7 * k + 0.3) + 0.1 * (k % 3));

describe('SelectKanLayer against a float64 evaluation of its formula', () => {
  it('every space, mixed by softmax(beta / T), on cpu-float64 to 1e-12', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, n, out] = [5, 3, 2];
      const layer = perturbedLayer(SELECT_SPACES, n, out, 11);
      const p = new Map(layer.namedParameters().map(([name, t]) => [name, read64(t)]));
      const x = inputs(rows, n);
      const y = noGrad(() => layer.forward(tensor(x, [rows, n])));
      const expected = referenceForward(layer, p, x, rows);
      const got = read64(y);
      for (let k = 0; k < expected.length; k++) assert.ok(Math.abs(got[k]! - expected[k]!) < 1e-12 * (1 + Math.abs(expected[k]!)), `y[${k}]: ${got[k]} vs ${expected[k]}`);
      layer.dispose();
    });
  });

  it('gradients of x, the selection logits, the weights and the grids match central differences (float64)', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, n, out] = [4, 3, 2];
      const layer = perturbedLayer(SELECT_SPACES, n, out, 5);
      const x = inputs(rows, n);
      const r = Float64Array.from({ length: rows * out }, (_, k) => Math.cos(0.9 * k + 0.1));
      const loss = (xv: Float64Array) => {
        const y = noGrad(() => layer.forward(tensor(xv, [rows, n])));
        const v = read64(y);
        y.dispose();
        return v.reduce((a, yv, k) => a + yv * r[k]!, 0);
      };
      const xt = tensor(x, [rows, n], { requiresGrad: true });
      sum(mul(layer.forward(xt), tensor(r, [rows, out]))).backward();
      const h = 1e-6;
      const check = (what: string, analytic: number, plus: number, minus: number) => {
        const numeric = (plus - minus) / (2 * h);
        assert.ok(Math.abs(analytic - numeric) < 1e-6 * (1 + Math.abs(numeric)), `${what}: autograd ${analytic}, finite differences ${numeric}`);
      };
      const dx = read64(xt.grad!);
      for (let k = 0; k < x.length; k++) {
        const [xp, xm] = [x.slice(), x.slice()];
        xp[k]! += h;
        xm[k]! -= h;
        check(`x[${k}]`, dx[k]!, loss(xp), loss(xm));
      }
      // Every element of the small tensors, a spread of the large ones.
      for (const [name, t] of layer.namedParameters()) {
        const grad = read64(t.grad!);
        const base = read64(t);
        const picks = t.size <= 12 ? [...Array(t.size).keys()] : [0, 1, Math.floor(t.size / 3), Math.floor(t.size / 2), t.size - 2, t.size - 1];
        for (const k of picks) {
          const at = (delta: number) => {
            const v = base.slice();
            v[k]! += delta;
            t.assignValues(v);
            return loss(x);
          };
          const [plus, minus] = [at(h), at(-h)];
          t.assignValues(base);
          check(`${name}[${k}]`, grad[k]!, plus, minus);
        }
      }
      layer.dispose();
    });
  });
});

describe('S-KAN choice by contribution', () => {
  it('contributions: sum_j Var_x(alpha_is phi_ijs(x_i)) per node and space, against a float64 evaluation of each term', async () => {
    await onBackendAsync(float64Backend, async () => {
      const [rows, n, out] = [9, 3, 2];
      const layer = perturbedLayer(SELECT_SPACES, n, out, 17);
      const p = new Map(layer.namedParameters().map(([name, t]) => [name, read64(t)]));
      const x = inputs(rows, n);
      const got = await layer.contributions(tensor(x, [rows, n]));
      const S = SELECT_SPACES.length;
      const beta = p.get('selection')!;
      for (let i = 0; i < n; i++) {
        const e = SELECT_SPACES.map((_, s) => Math.exp(beta[i * S + s]! / layer.temperature));
        const total = e.reduce((a, b) => a + b, 0);
        SELECT_SPACES.forEach((space, s) => {
          const w = p.get(`${space}.weight`)!;
          // Each row's term alpha phi_ijs(x_ri) directly, then its sample variance over the rows.
          let expected = 0;
          for (let j = 0; j < out; j++) {
            const terms = Array.from({ length: rows }, (_, r) => {
              const f = featuresOf(space, x[r * n + i]!, i, p);
              return (e[s]! / total) * f.reduce((acc, v, k) => acc + w[(j * n + i) * f.length + k]! * v, 0);
            });
            const mean = terms.reduce((a, b) => a + b, 0) / rows;
            expected += terms.reduce((a, v) => a + (v - mean) ** 2, 0) / (rows - 1);
          }
          const value = got[i * S + s]!;
          assert.ok(Math.abs(value - expected) <= 1e-9 * (1e-12 + expected), `node ${i} ${space}: ${value} vs ${expected}`);
        });
      }
      layer.dispose();
    });
  });

  it('ranks by what a space adds, where alpha alone is fooled by coefficients that make up for a small weight', async () => {
    const spec = modelSpec('kan-mlp', { basis: 'select', select: { spaces: ['rational', 'cheby'] }, hidden: [3], channels: 1, imageSize: 2, classes: 2 });
    const model = buildModel(spec, 4) as KanMlp;
    const sample = tensor(Float32Array.from({ length: 64 * 4 }, (_, k) => 1.5 * Math.sin(0.37 * k + 0.1)), [64, 1, 2, 2]);
    const setUp = (model: KanMlp) => {
      for (const [name, t] of model.namedParameters()) {
        // alpha favours rational (0.88 vs 0.12), but its coefficients are 1e-3 of cheby's.
        if (name.endsWith('selection')) t.assignValues(Float32Array.from({ length: t.size }, (_, k) => (k % 2 === 0 ? 2 : 0)));
        if (name.endsWith('rational.weight')) t.assignValues(Float32Array.from({ length: t.size }, (_, k) => 1e-3 * Math.cos(k)));
        if (name.endsWith('cheby.weight')) t.assignValues(Float32Array.from({ length: t.size }, (_, k) => Math.cos(k + 0.5)));
      }
      return model;
    };
    const byAlpha = await setUp(model).chooseSpaces({ keep: 1 });
    assert.ok(byAlpha.every((layer) => layer.every((node) => node.spaces[0] === 'rational')), 'by alpha every node keeps rational');
    const twin = setUp(buildModel(spec, 4) as KanMlp);
    const byContribution = await twin.chooseSpaces({ keep: 1, sample });
    assert.ok(byContribution.every((layer) => layer.every((node) => node.spaces[0] === 'cheby')), 'by contribution every node keeps cheby');
    for (const m of [model, twin]) m.dispose();
    sample.dispose();
  });

  it('choose with scores keeps each node\'s top scores, or those whose share reaches the threshold', async () => {
    const layer = new SelectKanLayer(3, 2, new Random(1), { spaces: ['rational', 'bspline', 'cheby'] });
    const scores = [1, 5, 2, /* */ 0.5, 0.1, 9, /* */ 4, 4.5, 1.5];
    const top = await layer.choose({ keep: 1, scores });
    assert.deepEqual(top.map((node) => node.spaces), [['bspline'], ['cheby'], ['bspline']]);
    const other = new SelectKanLayer(3, 2, new Random(1), { spaces: ['rational', 'bspline', 'cheby'] });
    const shared = await other.choose({ threshold: 0.4, scores });
    assert.deepEqual(shared.map((node) => [...node.spaces].sort()), [['bspline'], ['cheby'], ['bspline', 'rational']]);
    const third = new SelectKanLayer(3, 2, new Random(1), { spaces: ['rational', 'bspline', 'cheby'] });
    await assert.rejects(() => third.choose({ scores: [1, 2] }), /2 scores, expected 3 inputs x 3 spaces/);
    for (const l of [layer, other, third]) l.dispose();
  });
});

describe('SelectKanLayer on every backend against cpu-float64', async () => {
  const spaces: SelectSpace[] = [...SELECT_SPACES];
  const [rows, n, out] = [37, 6, 5];
  const x = inputs(rows, n);
  const gy = Float64Array.from({ length: rows * out }, (_, k) => Math.sin(0.37 * k));
  /** Output, dx and every parameter's gradient on a backend, as float64 host values. */
  async function run(backend: Backend): Promise<Map<string, Float64Array>> {
    return onBackendAsync(backend, async () => {
      const reference = await onBackendAsync(float64Backend, async () => {
        const l = perturbedLayer(spaces, n, out, 3);
        const values = new Map(l.namedParameters().map(([name, t]) => [name, read64(t)]));
        l.dispose();
        return values;
      });
      const layer = new SelectKanLayer(n, out, new Random(3), { spaces, temperature: 0.7 });
      for (const [name, t] of layer.namedParameters()) t.assignValues(reference.get(name)!);
      const xt = tensor(x, [rows, n], { requiresGrad: true });
      const y = layer.forward(xt);
      const result = new Map<string, Float64Array>([['y', Float64Array.from(await y.dataFloat64())]]);
      y.backward(tensor(gy, [rows, out]));
      result.set('dx', Float64Array.from(await xt.grad!.dataFloat64()));
      for (const [name, t] of layer.namedParameters()) result.set(`d ${name}`, Float64Array.from(await t.grad!.dataFloat64()));
      layer.dispose();
      return result;
    });
  }
  const expected = await run(float64Backend);
  for (const name of PARITY_BACKENDS) {
    const [backend, skip] = await backendOrSkip(name);
    it(`${name}: output and every gradient within float32 rounding`, { skip }, async () => {
      const got = await run(backend!);
      for (const [what, values] of expected) {
        const scale = Math.max(1e-3, ...Array.from(values, Math.abs));
        const error = Math.max(...Array.from(values, (v, k) => Math.abs(got.get(what)![k]! - v))) / scale;
        assert.ok(error < 2e-4, `${name} ${what}: max error ${error} of the largest value`);
      }
    });
  }
});

/** Perturbed selection logits so the choice is not a tie, on a kan-mlp of select layers. */
function selectModel(spaces: SelectSpace[], hidden: number[], seed: number): { spec: ModelSpec; model: KanMlp } {
  const spec = modelSpec('kan-mlp', { basis: 'select', select: { spaces }, hidden, channels: 1, imageSize: 4, classes: 3 });
  const model = buildModel(spec, seed) as KanMlp;
  const rng = new Random(seed + 1);
  for (const [name, t] of model.namedParameters()) {
    if (name.endsWith('selection')) t.assignValues(Float32Array.from({ length: t.size }, () => 2 * rng.normal()));
  }
  return { spec, model };
}

describe('S-KAN phases: choose, prune, save', () => {
  const images = Float32Array.from({ length: 7 * 16 }, (_, k) => 1.8 * Math.sin(0.61 * k) + 0.2);

  for (const [what, choice] of [['top 1', { keep: 1 }], ['top 2', { keep: 2 }], ['threshold 0.25', { threshold: 0.25 }]] as const) {
    it(`${what}: the pruned model computes the same outputs with fewer parameters, and its layout is the checked one`, async () => {
      const { spec, model } = selectModel(['rational', 'bspline', 'rbf', 'cheby', 'relu', 'af'], [5], 2);
      const x = tensor(images, [7, 1, 4, 4]);
      const choices = await model.chooseSpaces(choice);
      for (const layer of choices) {
        for (const node of layer) {
          if ('keep' in choice) assert.equal(node.spaces.length, choice.keep);
          else assert.ok(node.spaces.length >= 1 && node.weights.slice(1).every((w) => w >= 0));
          assert.ok(Math.abs(node.weights.reduce((a, b) => a + b, 0) - 1) < 1e-6, 'kept weights are renormalised');
        }
      }
      const before = await noGrad(() => model.forward(x)).data();
      const pruned = await pruneSelectModel(model, spec);
      const after = await noGrad(() => pruned.model.forward(x)).data();
      const scale = Math.max(...Array.from(before, Math.abs));
      for (let k = 0; k < before.length; k++) assert.ok(Math.abs(after[k]! - before[k]!) <= 4e-7 * scale, `logit ${k}: ${after[k]} vs ${before[k]}`);
      assert.ok(pruned.model.parameterCount() < model.parameterCount());
      assert.equal(pruned.model.parameterCount(), countLayout(tensorLayout(pruned.spec).parameters));
      // Blocks kept: every node's kept spaces, each (input, space) block of W is out x K values.
      const kept = choices[0]!.reduce((n, node) => n + node.spaces.length, 0);
      const inputs = pruned.spec.config as { select: { inputs: number[][][] } };
      assert.equal(inputs.select.inputs[0]!.reduce((n, list) => n + list.length, 0), kept);
      pruned.model.dispose();
      model.dispose();
    });
  }

  it('checkpoints keep the choice (phase 2) and the pruned layout; another layout is refused with one clear error', async () => {
    const { spec, model } = selectModel(['rational', 'cheby', 'relu'], [4], 9);
    const x = tensor(images, [7, 1, 4, 4]);
    await model.chooseSpaces({ keep: 1 });
    const bytes = await encodeCheckpoint(model, spec);
    const loaded = decodeCheckpoint(bytes, 'phase 2');
    assert.deepEqual(await (loaded.model as KanMlp).spaceChoices(), await model.spaceChoices());
    const expected = await noGrad(() => model.forward(x)).data();
    assert.deepEqual(await noGrad(() => loaded.model.forward(x)).data(), expected);
    const pruned = await pruneSelectModel(model, spec);
    const prunedBytes = await encodeCheckpoint(pruned.model, pruned.spec);
    const reloaded = decodeCheckpoint(prunedBytes, 'pruned');
    assert.deepEqual(await noGrad(() => reloaded.model.forward(x)).data(), await noGrad(() => pruned.model.forward(x)).data());
    // The pruned weights under a config that says other inputs were kept: refused, naming the tensor and both shapes.
    const config = JSON.parse(JSON.stringify(pruned.spec.config)) as { select: { inputs: number[][][] } };
    const moved = config.select.inputs[0]!;
    const from = moved.findIndex((list) => list.length > 1);
    const to = (from + 1) % moved.length;
    moved[to] = [...moved[to]!, moved[from]!.pop()!].sort((a, b) => a - b);
    const lying = await encodeCheckpoint(pruned.model, { name: 'kan-mlp', config: config as never });
    assert.throws(() => decodeCheckpoint(lying, 'lying.safetensors'), /lying\.safetensors.*layers\.0\.\w+\.weight.*shape/s);
    // And an unknown space in the config.
    const unknown = await encodeCheckpoint(model, { name: 'kan-mlp', config: { ...(spec.config as object), select: { spaces: ['rational', 'fourier', 'relu'] } } as never });
    assert.throws(() => decodeCheckpoint(unknown, 'unknown.safetensors'), /unknown space 'fourier': expected one of rational, bspline, rbf, cheby, relu, af/);
    for (const m of [model, loaded.model, pruned.model, reloaded.model]) m.dispose();
  });
});

describe('kat train --basis select:...', () => {
  it('runs the three phases: the choice is reported, the saved model is pruned and scores what the unpruned one scored', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kat-select-')), 'select.safetensors');
    const run = kat('train', '--model', 'kan-mlp', '--basis', 'select:rational,bspline,cheby', '--hidden', '8', '--dataset', 'synthetic:1x6x6:3:192',
      '--epochs', '3', '--select-after', '2', '--batch-size', '32', '--lr', '0.01', '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    const select = events.find((e) => e.event === 'select') as { epoch: number; layers: Record<string, number>[] };
    assert.equal(select.epoch, 3);
    // Top 1 of each of the 36 inputs and 8 hidden nodes.
    assert.deepEqual(select.layers.map((l) => Object.values(l).reduce((a, b) => a + b, 0)), [36, 8]);
    const done = events.find((e) => e.event === 'done')!;
    assert.ok((done.pruned_params as number) < (done.params as number));
    assert.equal(done.pruned_test_acc, done.test_acc);
    const saved = decodeCheckpoint(new Uint8Array(readFileSync(out)), 'select');
    assert.equal(saved.model.parameterCount(), done.pruned_params);
    saved.model.dispose();
    // kat info: the choice per node, the same counts as the run reported.
    const info = kat('info', '--checkpoint', out, '--json');
    assert.equal(info.code, 0, info.stderr);
    const selection = (jsonLines(info.stdout)[0] as { selection: { pruned: boolean; counts: Record<string, number>[]; layers: { space: string[] }[][] } }).selection;
    assert.equal(selection.pruned, true);
    assert.deepEqual(selection.counts, select.layers);
    assert.deepEqual(selection.layers.map((l) => l.length), [36, 8]);
    const text = kat('info', '--checkpoint', out);
    assert.match(text.stdout, /selection {2}pruned to the spaces each node kept/);
    assert.match(text.stdout, /layer 0: 36 nodes: \w+ \d+/);
    const bad = kat('train', '--model', 'kan-mlp', '--basis', 'select:rational,fourier', '--epochs', '2');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown activation space 'fourier' in --basis select:rational,fourier: expected select:SPACE,SPACE,\.\.\. of rational, bspline/);
    const late = kat('train', '--model', 'kan-mlp', '--basis', 'select', '--epochs', '2', '--select-after', '2');
    assert.match(late.stderr, /--select-after 2 leaves no epoch of the 2 for phase 2/);
  });
});

describe('kat train --basis select with --checkpoint-every / --resume', () => {
  it('a run killed after the choice resumes with the same choice, to the same numbers as an uninterrupted run', async () => {
    const { spawn } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const { CLI_PATH } = await import('./support/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'kat-select-resume-'));
    const settings = ['--model', 'kan-mlp', '--basis', 'select:rational,cheby,relu', '--hidden', '16', '--dataset', 'synthetic:1x10x10:3:3072',
      '--epochs', '4', '--select-after', '2', '--batch-size', '32', '--seed', '4'];
    const whole = kat('train', ...settings, '--out', join(dir, 'whole.safetensors'), '--json');
    assert.equal(whole.code, 0, whole.stderr);
    // The same run, killed (SIGKILL: no handler runs) once epoch 3, the first after the choice, has been checkpointed.
    const out = join(dir, 'cut.safetensors');
    const child = spawn(process.execPath, [CLI_PATH, 'train', ...settings, '--out', out, '--json', '--checkpoint-every', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (/"event":"checkpoint","epoch":3/.test(text)) child.kill('SIGKILL');
      });
      child.on('close', (c) => resolve(c));
    });
    assert.equal(code, null, 'killed before it finished');
    assert.ok(existsSync(join(dir, 'cut.resume.safetensors')));
    const resumed = kat('train', '--resume', join(dir, 'cut.resume.safetensors'), '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const last = (run: string) => jsonLines(run).filter((e) => e.event === 'epoch').pop()!;
    assert.equal(last(resumed.stdout).epoch, 4);
    assert.equal(last(resumed.stdout).test_loss, last(whole.stdout).test_loss);
    const done = (run: string) => jsonLines(run).find((e) => e.event === 'done')!;
    assert.equal(done(resumed.stdout).pruned_params, done(whole.stdout).pruned_params);
    // The saved (pruned) weights, tensor by tensor.
    const { decodeSafetensors } = await import('../src/io/safetensors.js');
    const tensors = (path: string) => decodeSafetensors(new Uint8Array(readFileSync(path)), path).tensors;
    const [a, b] = [tensors(out), tensors(join(dir, 'whole.safetensors'))];
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, t] of a) assert.deepEqual(Array.from(t.values as ArrayLike<number>), Array.from(b.get(name)!.values as ArrayLike<number>), name);
  });
});

describe('kat plot of an S-KAN model', () => {
  it('draws each node\'s strongest edge as phi_ij(x) - phi_ij(0), the function its coefficients define', async () => {
    const { selectNodeCurves, renderSelectSvg } = await import('../src/viz/select_plot.js');
    // One space (alpha = 1): phi_ij(x) = sum_k W[j, i K + k] T_k(tanh x), written out here in float64.
    const spec = modelSpec('kan-mlp', { basis: 'select', select: { spaces: ['cheby'] }, hidden: [3], channels: 1, imageSize: 2, classes: 2 });
    const model = buildModel(spec, 8) as KanMlp;
    const ranges = [Array.from({ length: 4 }, (): [number, number] => [-2, 1.5]), Array.from({ length: 3 }, (): [number, number] => [-1, 1])];
    const curves = await selectNodeCurves(model, ranges, { perSpace: 10, points: 9 });
    assert.equal(curves.length, 4 + 3);
    const weight = await (model.layers[0] as SelectKanLayer).members[0]!.weight.data();
    const K = SELECT_SPACE_SETTINGS.cheby.degree + 1;
    const phi = (i: number, j: number, x: number) => {
      const theta = Math.acos(Math.tanh(x));
      let total = 0;
      for (let k = 0; k < K; k++) total += weight[(j * 4 + i) * K + k]! * Math.cos(k * theta);
      return total;
    };
    for (const curve of curves.filter((c) => c.layer === 0)) {
      let widest = -1;
      for (let j = 0; j < 3; j++) {
        const values = Array.from(curve.xs, (x) => phi(curve.input, j, x) - phi(curve.input, j, 0));
        widest = Math.max(widest, Math.max(...values) - Math.min(...values));
        if (j === curve.output) curve.ys.forEach((y, k) => assert.ok(Math.abs(y - values[k]!) < 1e-5, `node ${curve.input}: ${y} vs ${values[k]}`));
      }
      assert.ok(Math.abs(Math.max(...curve.ys) - Math.min(...curve.ys) - widest) < 1e-5, 'the strongest edge is drawn');
    }
    const svg = renderSelectSvg(curves, { title: 'test' });
    assert.equal((svg.match(/<g data-layer=/g) ?? []).length, 7);
    assert.match(svg, /data-space="cheby"/);
    model.dispose();
  });

  it('selectLayerCurves draws the given nodes, in order, as selectNodeCurves draws them', async () => {
    const { selectLayerCurves, selectNodeCurves } = await import('../src/viz/select_plot.js');
    const spec = modelSpec('kan-mlp', { basis: 'select', select: { spaces: ['rational', 'cheby'] }, hidden: [5], channels: 1, imageSize: 2, classes: 3 });
    const model = buildModel(spec, 3) as KanMlp;
    const ranges = [Array.from({ length: 4 }, (_, i): [number, number] => [-1 - i / 4, 1 + i / 3]),
      Array.from({ length: 5 }, (): [number, number] => [-2, 2])];
    const all = await selectNodeCurves(model, ranges, { perSpace: 10, points: 7 });
    const some = await selectLayerCurves(model.layers[0] as SelectKanLayer, 0, [3, 1], ranges[0]!, 7);
    assert.deepEqual(some.map((c) => c.input), [3, 1]);
    for (const curve of some) {
      const same = all.find((c) => c.layer === 0 && c.input === curve.input)!;
      assert.equal(curve.output, same.output);
      assert.deepEqual(curve.choice, same.choice);
      assert.deepEqual([...curve.xs], [...same.xs]);
      curve.ys.forEach((y, k) => assert.ok(Math.abs(y - same.ys[k]!) < 1e-6, `node ${curve.input}, point ${k}: ${y} vs ${same.ys[k]}`));
    }
    await assert.rejects(selectLayerCurves(model.layers[1] as SelectKanLayer, 1, [5], ranges[1]!), /node 5 is not an input of layer 1 \(0\.\.4\)/);
    model.dispose();
  });

  it('kat plot --out FILE.png on a trained S-KAN checkpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kat-select-plot-'));
    const checkpoint = join(dir, 'select.safetensors');
    const trained = kat('train', '--model', 'kan-mlp', '--basis', 'select:rational,rbf', '--hidden', '4', '--dataset', 'synthetic:1x4x4:3:96',
      '--epochs', '2', '--select-after', '1', '--out', checkpoint);
    assert.equal(trained.code, 0, trained.stderr);
    const run = kat('plot', '--checkpoint', checkpoint, '--out', join(dir, 'plot.png'), '--images', '64', '--json');
    assert.equal(run.code, 0, run.stderr);
    const report = jsonLines(run.stdout)[0]!;
    assert.equal(report.activations, 2);
    assert.ok((report.panels as number) >= 2 && (report.panels as number) <= 16);
    assert.deepEqual([...readFileSync(join(dir, 'plot.png')).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });
});
