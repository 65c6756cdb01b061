// The weight average (WeightAverage, trainModel's `ema`): its values against
// a float64 recurrence computed here, swapping, resuming, and refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { syntheticImages } from '../src/data/synthetic.js';
import { buildModel, modelSpec, type Model } from '../src/models/registry.js';
import { tensor } from '../src/ops/creation.js';
import { WeightAverage } from '../src/optim/ema.js';
import { memory } from '../src/tensor/scope.js';
import { Random } from '../src/tensor/random.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel, type TrainConfig, type TrainState } from '../src/train/trainer.js';

describe('WeightAverage', () => {
  it('follows average = d average + (1 - d) p with the warmed-up decay, against float64', async () => {
    const rng = new Random(3);
    const shapes = [[3, 5], [7], [2, 2, 2]];
    const params = shapes.map((shape) => tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape));
    const reference = await Promise.all(params.map(async (p) => Array.from(await p.dataFloat64())));
    const average = new WeightAverage(params, 0.9);
    for (let t = 0; t < 40; t++) {
      // New "optimizer" values, then the update.
      params.forEach((p) => p.assignValues(Array.from({ length: p.size }, () => rng.normal())));
      const d = Math.min(0.9, (1 + t) / (10 + t));
      assert.equal(average.currentDecay(), d);
      average.update();
      for (const [i, p] of params.entries()) {
        const values = await p.dataFloat64();
        reference[i] = reference[i]!.map((a, j) => d * a + (1 - d) * values[j]!);
      }
    }
    assert.equal(average.updates, 40);
    for (const [i, a] of average.values().entries()) {
      const got = await a.data();
      got.forEach((v, j) => assert.ok(Math.abs(v - reference[i]![j]!) < 1e-6, `average ${i}[${j}]: ${v} vs ${reference[i]![j]}`));
    }
    average.dispose();
  });

  it('swap exchanges the weights with the averages and back, without copies or leaks', async () => {
    const p = tensor([1, 2, 3, 4], [4]);
    const average = new WeightAverage([p], 0.5);
    p.assignValues([5, 6, 7, 8]);
    average.update(); // decay min(0.5, 1/10) = 0.1: 0.1 x old + 0.9 x new
    const live = Array.from(await p.data());
    const averaged = Array.from(await average.values()[0]!.data());
    const buffers = memory().buffers;
    average.swap();
    assert.deepEqual(Array.from(await p.data()), averaged);
    assert.deepEqual(Array.from(await average.values()[0]!.data()), live);
    assert.throws(() => average.update(), /swapped into the model/);
    average.swap();
    assert.deepEqual(Array.from(await p.data()), live);
    assert.equal(memory().buffers, buffers);
    average.dispose();
  });

  it('restart starts the average again from the current weights, with the warmup', async () => {
    const p = tensor([1, 2, 3], [3]);
    const average = new WeightAverage([p], 0.99);
    for (let t = 0; t < 5; t++) {
      p.assignValues([t, 2 * t, -t]);
      average.update();
    }
    p.assignValues([7, 8, 9]);
    average.restart();
    assert.equal(average.updates, 0);
    assert.deepEqual(Array.from(await average.values()[0]!.data()), [7, 8, 9]);
    assert.equal(average.currentDecay(), 0.1);
    average.swap();
    assert.throws(() => average.restart(), /swapped into the model/);
    average.swap();
    average.dispose();
  });

  it('refuses a decay outside (0, 1) and saved values of another shape', () => {
    const p = tensor([1, 2], [2]);
    for (const bad of [0, 1, -0.5, 1.5, Number.NaN]) assert.throws(() => new WeightAverage([p], bad), /decay must be in \(0, 1\)/);
    const average = new WeightAverage([p], 0.99);
    assert.throws(() => average.load([{ shape: [3], values: new Float32Array(3) }], 1), /has shape \[3\]/);
    assert.throws(() => average.load([], 1), /0 saved averages for 1 parameters/);
    average.dispose();
  });
});

describe('trainModel with ema', () => {
  const train = syntheticImages({ count: 96, channels: 1, height: 28, width: 28, classes: 4, seed: 3 });
  const test = syntheticImages({ count: 32, channels: 1, height: 28, width: 28, classes: 4, seed: 3, sampleSeed: 4 });
  const spec = modelSpec('kat-micro', { channels: 1, imageSize: 28, classes: 4 });
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, epochs: 3, batchSize: 32, seed: 5, ema: 0.9 };

  const weightsOf = async (model: Model) => Promise.all(model.parameters().map(async (p) => Float64Array.from(await p.data())));

  it('returns the model holding the average of every step\'s weights, and reports its accuracy', async () => {
    // Reference: the same run without an average, folding each step's weights into a float64 average here.
    const plain = buildModel(spec, config.seed);
    // The average starts at the initial weights.
    let reference = await weightsOf(plain);
    let step = 0;
    await trainModel(plain, train, test, { ...config, ema: 0 }, {
      onStep: async () => {
        const weights = await weightsOf(plain);
        const d = Math.min(0.9, (1 + step) / (10 + step));
        reference = reference.map((a, i) => a.map((v, j) => d * v + (1 - d) * weights[i]![j]!));
        step++;
      },
    });
    const averaged = buildModel(spec, config.seed);
    const result = await trainModel(averaged, train, test, config);
    const got = await weightsOf(averaged);
    let worst = 0;
    got.forEach((w, i) => w.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - reference[i]![j]!) / (1e-3 + Math.abs(reference[i]![j]!))); }));
    assert.ok(worst < 1e-4, `the returned weights are not the average of the steps' weights (worst relative difference ${worst})`);
    // The reported figures are the returned weights' own.
    const check = await evaluate(averaged, test);
    assert.equal(result.testAccuracy, check.accuracy);
    assert.ok(Math.abs(result.testLoss - check.loss) < 1e-6);
  });

  it('an epoch-start hook that asks for it restarts the average there: the result averages only the steps after', async () => {
    const plain = buildModel(spec, config.seed);
    let reference: Float64Array[] = [];
    let step = 0;
    await trainModel(plain, train, test, { ...config, ema: 0 }, {
      onEpochStart: async (epoch) => {
        if (epoch === 2) {
          reference = await weightsOf(plain);
          step = 0;
        }
      },
      onStep: async (e) => {
        if (e.epoch < 2) return;
        const weights = await weightsOf(plain);
        const d = Math.min(0.9, (1 + step) / (10 + step));
        reference = reference.map((a, i) => a.map((v, j) => d * v + (1 - d) * weights[i]![j]!));
        step++;
      },
    });
    const averaged = buildModel(spec, config.seed);
    await trainModel(averaged, train, test, config, { onEpochStart: (epoch) => (epoch === 2 ? { restartAverage: true } : undefined) });
    const got = await weightsOf(averaged);
    let worst = 0;
    got.forEach((w, i) => w.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - reference[i]![j]!) / (1e-3 + Math.abs(reference[i]![j]!))); }));
    assert.ok(worst < 1e-4, `the returned weights are not the average of the steps after the restart (worst relative difference ${worst})`);
  });

  it('resumes bit for bit with the average, and refuses a state without one (or with one for a run without)', async () => {
    const saved: { state: TrainState; weights: Float32Array[] }[] = [];
    const reference = buildModel(spec, config.seed);
    await trainModel(reference, train, test, config, {}, {
      checkpointEvery: 1,
      onCheckpoint: async (state) => { saved.push({ state, weights: await Promise.all(reference.parameters().map(async (p) => (await p.data()).slice())) }); },
    });
    const expected = await Promise.all(reference.parameters().map(async (p) => (await p.data()).slice()));
    const from = saved[0]!;
    assert.ok([...from.state.optimizer.tensors.keys()].some((key) => key.endsWith('.ema')), 'the state holds no average');
    const resumed = buildModel(spec, 99);
    resumed.parameters().forEach((p, i) => p.assignValues(from.weights[i]!));
    await trainModel(resumed, train, test, config, {}, { resume: from.state });
    const got = await Promise.all(resumed.parameters().map((p) => p.data()));
    got.forEach((w, i) => assert.ok(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(expected[i]!.buffer)), `parameter ${i} differs`));

    const withoutAverage = {
      ...from.state,
      optimizer: {
        tensors: new Map([...from.state.optimizer.tensors].filter(([key]) => !key.endsWith('.ema'))),
        scalars: Object.fromEntries(Object.entries(from.state.optimizer.scalars).filter(([key]) => key !== 'emaUpdates')),
      },
    };
    await assert.rejects(trainModel(buildModel(spec, 1), train, test, config, {}, { resume: withoutAverage }), /no weight average to continue/);
    await assert.rejects(trainModel(buildModel(spec, 1), train, test, { ...config, ema: 0 }, {}, { resume: from.state }), /has a weight average/);
    await assert.rejects(trainModel(buildModel(spec, 1), train, test, { ...config, ema: 1.5 }), /ema must be a decay in \(0, 1\)/);
  });
});
