// AF-KAN and ReLU-KAN layers: parameter counts at 784-64-10, forward against
// float64 evaluations of the papers' formulas written here, gradients against
// finite differences, agreement of every backend (webgpu included, skipped
// without an adapter; the op-level parity and gradcheck suites run them too), kan-mlp training through the CLI,
// and clear errors for bad settings.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import type { KanMlpConfig } from '../src/models/kan_mlp.js';
import { buildModel, countParameters, modelSpec, type ModelSpec } from '../src/models/registry.js';
import { checkModelSpec } from '../src/models/config_check.js';
import { AF_COMBINATIONS, AfKanLayer, ReluKanLayer, type AfCombination, type AfKanOptions } from '../src/nn/kan_bases.js';
import { tensor } from '../src/ops/creation.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { PARITY_BACKENDS, skipUnless, startBackend } from './support/backends.js';
import { kat } from './support/cli.js';
import { float64Backend, gradcheck, onBackend, onBackendAsync, randomValues, scaledMaxError, toFloat32Values } from './support/harness.js';

const silu = (v: number) => v / (1 + Math.exp(-v));

function combineRef(name: AfCombination, a: number, c: number): number {
  switch (name) {
    case 'quad1': return (a * c) ** 2;
    case 'sum': return a + c;
    case 'prod': return a * c;
    case 'quad2': return a * c + a * a + c * c;
    case 'cubic1': return (a + c) * (a * a + c * c);
    case 'cubic2': return (a * c) ** 3;
  }
}

/** LayerNorm over one row, biased variance, eps 1e-5 (PyTorch's). */
function layerNormRef(row: number[], gamma: Float64Array, beta: Float64Array): number[] {
  const mean = row.reduce((s, v) => s + v, 0) / row.length;
  const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
  return row.map((v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma[j]! + beta[j]!);
}

const values = async (t: Tensor) => t.dataFloat64();

/** AF-KAN's y for x [rows, in] in float64, from the layer's parameter values (silu activations). */
async function afReference(layer: AfKanLayer, x: Float64Array, rows: number): Promise<Float64Array> {
  const [n, out, K] = [layer.inFeatures, layer.outFeatures, layer.bases];
  const [s, e, w, b0, tau] = [await values(layer.gridStart), await values(layer.gridEnd), await values(layer.attention.weight),
    await values(layer.attention.bias!), await values(layer.temperature)];
  const [gamma, beta, W] = [await values(layer.layernorm.weight), await values(layer.layernorm.bias), await values(layer.weight)];
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    const logits: number[] = [];
    const totals: number[] = [];
    for (let j = 0; j < n; j++) {
      const v = x[r * n + j]!;
      let l = b0[0]!;
      let total = 0;
      for (let i = 0; i < K; i++) {
        const basis = combineRef(layer.combination, silu(v - s[i]!), silu(e[i]! - v));
        l += w[i]! * basis;
        total += basis;
      }
      logits.push(l / Math.max(tau[0]!, 1));
      totals.push(total);
    }
    const top = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - top));
    const norm = exps.reduce((a, b) => a + b, 0);
    const z = totals.map((t, j) => (exps[j]! / norm) * t);
    const h = layerNormRef(z, gamma, beta).map(silu);
    for (let o = 0; o < out; o++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += W[o * n + j]! * h[j]!;
      y[r * out + o] = acc;
    }
  }
  return y;
}

/** ReLU-KAN's y in float64: fc((r relu(e - u) relu(u - s))^2) over u = LayerNorm(x), r = 4 g^2 / (k + 1)^2. */
async function reluReference(layer: ReluKanLayer, x: Float64Array, rows: number): Promise<Float64Array> {
  const [n, out, K] = [layer.inFeatures, layer.outFeatures, layer.bases];
  const [s, e, W, bias] = [await values(layer.gridStart), await values(layer.gridEnd), await values(layer.fc.weight), await values(layer.fc.bias!)];
  const [gamma, beta] = [await values(layer.layernorm.weight), await values(layer.layernorm.bias)];
  const r = (4 * layer.gridSize ** 2) / (layer.order + 1) ** 2;
  const y = new Float64Array(rows * out);
  for (let row = 0; row < rows; row++) {
    const u = layerNormRef(Array.from(x.slice(row * n, (row + 1) * n)), gamma, beta);
    for (let o = 0; o < out; o++) {
      let acc = bias[o]!;
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < K; i++) {
          const bump = r * Math.max(0, e[j * K + i]! - u[j]!) * Math.max(0, u[j]! - s[j * K + i]!);
          acc += W[o * n * K + j * K + i]! * bump * bump;
        }
      }
      y[row * out + o] = acc;
    }
  }
  return y;
}

/** Moves parameters off their initial values (grids jittered, layernorm and biases non-trivial) so every path is exercised. */
function perturb(layer: AfKanLayer | ReluKanLayer, rng: Random): void {
  for (const [name, p] of layer.namedParameters()) {
    const jitter = randomValues(rng, p.size, { scale: 0.1 });
    // float32-representable, so every backend sees the same values.
    p.assignValues(Float64Array.from(p.dataSync(), (v, i) => Math.fround(v + (name === 'temperature' ? 0 : jitter[i]!))));
  }
}

describe('AF-KAN and ReLU-KAN parameter counts', () => {
  it('784-64-10: AF-KAN 52,552, ReLU-KAN 316,842, from the spec and from the built model', () => {
    for (const [basis, expected] of [['af', 52_552], ['relu', 316_842]] as const) {
      const spec = modelSpec('kan-mlp', { basis });
      (spec.config as KanMlpConfig).hidden = [64];
      assert.equal(countParameters(spec), expected, basis);
      const model = buildModel(spec);
      assert.equal(model.parameterCount(), expected, basis);
      model.dispose();
    }
  });

  it('stores its settings in the spec and names its tensors', () => {
    const af = modelSpec('kan-mlp', { basis: 'af' });
    assert.deepEqual((af.config as KanMlpConfig).af, { gridSize: 3, order: 3, activation: 'silu', combination: 'quad1' });
    const model = buildModel(af);
    const names = new Map(model.namedParameters().map(([n, t]) => [n, t.shape.join('x')]));
    assert.equal(names.get('layers.0.grid_start'), '6');
    assert.equal(names.get('layers.0.attention.weight'), '1x6');
    assert.equal(names.get('layers.0.temperature'), '1');
    assert.equal(names.get('layers.0.weight'), '256x784');
    model.dispose();
  });
});

describe('AF-KAN and ReLU-KAN layers against float64 formulas', () => {
  it('AF-KAN forward on cpu equals the formula for every combination (1e-5 relative)', async () => {
    const backend = (await startBackend('cpu'))!;
    await onBackendAsync(backend, async () => {
      const [rows, inputs, outputs] = [4, 7, 3];
      for (const combination of AF_COMBINATIONS) {
        const rng = new Random(11);
        const layer = new AfKanLayer(inputs, outputs, rng, { combination });
        perturb(layer, rng);
        const x = toFloat32Values(randomValues(rng, rows * inputs, { scale: 0.8 }));
        const actual = await noGrad(() => layer.forward(tensor(x, [rows, inputs]))).dataFloat64();
        const error = scaledMaxError(actual, await afReference(layer, x, rows));
        assert.ok(error < 1e-5, `${combination}: ${error}`);
        layer.dispose();
      }
    });
  });

  it('the temperature is used as max(tau, 1); tau starts at sqrt(in)', async () => {
    await onBackendAsync(float64Backend, async () => {
      const layer = new AfKanLayer(9, 2, new Random(3));
      assert.equal((await values(layer.temperature))[0], 3);
      layer.temperature.assignValues([0.25]);
      const x = randomValues(new Random(4), 2 * 9);
      assert.ok(scaledMaxError(await noGrad(() => layer.forward(tensor(x, [2, 9]))).dataFloat64(), await afReference(layer, x, 2)) < 1e-12);
      layer.dispose();
    });
  });

  it('ReLU-KAN forward on cpu equals the formula (1e-5 relative)', async () => {
    const backend = (await startBackend('cpu'))!;
    await onBackendAsync(backend, async () => {
      const [rows, inputs, outputs] = [5, 6, 4];
      const rng = new Random(12);
      const layer = new ReluKanLayer(inputs, outputs, rng, { gridSize: 4, order: 2 });
      perturb(layer, rng);
      const x = toFloat32Values(randomValues(rng, rows * inputs));
      const actual = await noGrad(() => layer.forward(tensor(x, [rows, inputs]))).dataFloat64();
      const error = scaledMaxError(actual, await reluReference(layer, x, rows));
      assert.ok(error < 1e-5, `${error}`);
      layer.dispose();
    });
  });
});

/** Central finite differences (float64) of sum(layer(x) * p) for entries of every parameter, against autograd. */
async function checkParameterGradients(layer: AfKanLayer | ReluKanLayer, x: Tensor, rng: Random): Promise<void> {
  const y = layer.forward(x);
  const projection = tensor(randomValues(new Random(5), y.size), [...y.shape]);
  y.backward(projection);
  const p = await projection.dataFloat64();
  const loss = () => noGrad(() => Array.from(float64Backend.readSync(layer.forward(x).buffer as Float64Array)).reduce((s, v, i) => s + v * p[i]!, 0));
  for (const [name, parameter] of layer.namedParameters()) {
    const analytic = await parameter.grad!.dataFloat64();
    const current = await parameter.dataFloat64();
    const scale = Math.max(1e-3, ...analytic.map(Math.abs));
    const picks = current.length <= 8 ? [...current.keys()] : Array.from({ length: 8 }, () => rng.int(current.length));
    for (const j of picks) {
      const h = 1e-6 * Math.max(1, Math.abs(current[j]!));
      const shifted = Float64Array.from(current);
      shifted[j] = current[j]! + h;
      parameter.assignValues(shifted);
      const plus = loss();
      shifted[j] = current[j]! - h;
      parameter.assignValues(shifted);
      const minus = loss();
      parameter.assignValues(current);
      const numeric = (plus - minus) / (2 * h);
      assert.ok(Math.abs(numeric - analytic[j]!) / scale < 1e-6, `${name}[${j}]: analytic ${analytic[j]} vs finite difference ${numeric}`);
    }
  }
}

describe('AF-KAN and ReLU-KAN gradients against float64 finite differences', () => {
  const cases: [string, (rng: Random) => AfKanLayer | ReluKanLayer][] = [
    ['AF-KAN quad1', (rng) => new AfKanLayer(5, 3, rng)],
    ['AF-KAN cubic1 (gelu)', (rng) => new AfKanLayer(4, 2, rng, { combination: 'cubic1', activation: 'gelu', gridSize: 2, order: 1 })],
    ['ReLU-KAN', (rng) => new ReluKanLayer(5, 3, rng)],
  ];
  for (const [name, make] of cases) {
    it(`${name}: every parameter and the input`, async () => {
      await onBackendAsync(float64Backend, async () => {
        const rng = new Random(21);
        const layer = make(rng);
        perturb(layer, rng);
        const rows = 3;
        const x = randomValues(rng, rows * layer.inFeatures, { scale: 0.8 });
        await checkParameterGradients(layer, tensor(x, [rows, layer.inFeatures]), rng);
        await gradcheck(`${name} dx`, ([input]) => layer.forward(input!), [{ shape: [rows, layer.inFeatures], values: x }], rng);
        layer.dispose();
      });
    });
  }
});

describe('AF-KAN and ReLU-KAN layers agree on every backend with cpu-float64', () => {
  /** Output and every gradient (input first, then parameters in order) of sum(layer(x) * p) on one backend, by name. */
  async function run(backend: Backend, make: () => AfKanLayer | ReluKanLayer, x: Float64Array, rows: number): Promise<Map<string, Float64Array>> {
    return onBackendAsync(backend, async () => {
      const layer = make();
      const input = tensor(x, [rows, layer.inFeatures], { requiresGrad: true });
      const y = layer.forward(input);
      y.backward(tensor(randomValues(new Random(9), y.size), [...y.shape]));
      const out = new Map([['output', await y.dataFloat64()], ['dx', await input.grad!.dataFloat64()]]);
      for (const [name, p] of layer.namedParameters()) out.set(name, await p.grad!.dataFloat64());
      layer.dispose();
      return out;
    });
  }

  for (const [name, make] of [
    ['AF-KAN', () => new AfKanLayer(12, 5, new Random(2))],
    ['ReLU-KAN', () => new ReluKanLayer(12, 5, new Random(2))],
  ] as const) {
    // One test per backend, so a backend that cannot start is a counted skip rather than a silent pass.
    for (const backendName of PARITY_BACKENDS) it(`${name} on ${backendName}`, async (t) => {
      const backend = await startBackend(backendName);
      const skip = skipUnless(backend, backendName);
      if (skip) return t.skip(skip);
      const rows = 6;
      const x = toFloat32Values(randomValues(new Random(8), rows * 12));
      const reference = await run(float64Backend, make, x, rows);
      {
        const results = await run(backend!, make, x, rows);
        for (const [what, r] of results) {
          // b0's gradient is 0 exactly (it shifts every logit alike) and float32 leaves rounding noise there, the sum of
          // the logits' gradients: measured against the attention weight's gradient, which sums the same terms times the bases.
          const floor = what === 'attention.bias' ? Math.max(...reference.get('attention.weight')!.map(Math.abs)) : 1e-3;
          const error = scaledMaxError(r, reference.get(what)!, floor);
          assert.ok(error < 1e-4, `${name} on ${backendName}, ${what}: ${error}`);
        }
      }
    });
  }
});

describe('kat train --basis af / relu and bad settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kat-af-'));

  it('--basis af learns MNIST in one epoch; eval reads the checkpoint back with the same accuracy', () => {
    const out = join(dir, 'af.safetensors');
    const train = kat('train', '--model', 'kan-mlp', '--basis', 'af', '--epochs', '1', '--out', out, '--json');
    assert.equal(train.code, 0, train.stderr);
    const done = JSON.parse(train.stdout.trim().split('\n').pop()!) as { test_acc: number; params: number };
    assert.ok(done.test_acc > 0.5, `test accuracy ${done.test_acc} (chance 0.1)`);
    const evaluated = kat('eval', '--checkpoint', out, '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as { test_acc: number }).test_acc, done.test_acc);
    const info = kat('info', '--checkpoint', out, '--json');
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual((JSON.parse(info.stdout) as { config: KanMlpConfig }).config.af, { gridSize: 3, order: 3, activation: 'silu', combination: 'quad1' });
  });

  it('--basis relu trains on a small synthetic set and evaluates the same', () => {
    const out = join(dir, 'relu.safetensors');
    const train = kat('train', '--model', 'kan-mlp', '--basis', 'relu', '--dataset', 'synthetic:1x6x6:3:96', '--epochs', '2',
      '--batch-size', '16', '--out', out, '--json');
    assert.equal(train.code, 0, train.stderr);
    const events = train.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; train_loss?: number; test_acc: number });
    const epochs = events.filter((e) => e.event === 'epoch');
    assert.equal(epochs.length, 2);
    // It learns: the training loss falls from the first epoch to the second, and starts near ln 3 (three balanced classes).
    assert.ok(epochs[1]!.train_loss! < epochs[0]!.train_loss!, `train loss ${epochs[0]!.train_loss} then ${epochs[1]!.train_loss}`);
    assert.ok(Math.abs(epochs[0]!.train_loss! - Math.log(3)) < 0.3, `first epoch loss ${epochs[0]!.train_loss}`);
    const done = events.pop()!;
    const evaluated = kat('eval', '--checkpoint', out, '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as { test_acc: number }).test_acc, done.test_acc);
    const info = kat('info', '--checkpoint', out, '--json');
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { config: KanMlpConfig }).config.basis, 'relu', 'the checkpoint says it is a ReLU-KAN');
  });

  it('bad settings: one clear error each', () => {
    const base = { inputs: 4, hidden: [], classes: 2, groups: 8, dropout: 0 };
    const check = (config: object) => () => checkModelSpec('kan-mlp', config, 'model');
    assert.throws(check({ ...base, basis: 'af', af: { combination: 'quad3' } }),
      /^Error: model config: af: combination is "quad3": expected one of quad1, sum, prod, quad2, cubic1, cubic2$/);
    assert.throws(check({ ...base, basis: 'af', af: { activation: 'swish' } }), /af: activation is "swish": expected one of silu, relu, gelu, tanh, sigmoid$/);
    assert.throws(check({ ...base, basis: 'af', af: { gridSize: 0 } }), /af: gridSize is 0: expected an integer from 1 to 1024$/);
    assert.throws(check({ ...base, basis: 'af', af: { grid: 3 } }), /grid/);
    assert.throws(check({ ...base, basis: 'relu', relu: { order: -1 } }), /relu: order is -1: expected an integer from 0 to 1024$/);
    assert.throws(check({ ...base, basis: 'relu', af: {} }), /^Error: model config: af settings are given, but the basis is 'relu'$/);
    const options = { gridSize: 2.5 } as AfKanOptions;
    assert.throws(() => new AfKanLayer(3, 2, new Random(1), options), /^Error: AfKanLayer: gridSize 2.5 must be an integer in \[1, 1024\]$/);
    assert.throws(() => new AfKanLayer(3, 2, new Random(1), { combination: 'x' as AfCombination }), /AfKanLayer: unknown combination 'x'/);
    assert.throws(() => onBackend(float64Backend, () => new AfKanLayer(3, 2, new Random(1)).forward(tensor([1, 2], [1, 2]))),
      /AfKanLayer: input \[1, 2\] has 2 features, expected 3/);
    const spec: ModelSpec = checkModelSpec('kan-mlp', { ...base, basis: 'af', af: { combination: 'sum', order: 0 } });
    assert.equal(countParameters(spec), 4 * 2 + 2 * 4 + 2 * 3 + 4 + 1);
  });
});
