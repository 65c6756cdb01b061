// Resumable training: `kat train --checkpoint-every N` / `--resume FILE` continue
// bit for bit (the optimizer moments, the step count, both RNGs and the epoch
// all come back), and a file that would continue another run is refused.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { syntheticImages } from '../src/data/synthetic.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { buildModel, modelSpec, type Model, type ModelSpec } from '../src/models/registry.js';
import type { NamedValues } from '../src/nn/module.js';
import { tensor } from '../src/ops/creation.js';
import { AdamW, SGD, type Optimizer } from '../src/optim/index.js';
import { globalRandom, Random, setSeed } from '../src/tensor/random.js';
import { decodeResumeCheckpoint, encodeResumeCheckpoint, loadResumeWeights } from '../src/train/resume.js';
import { DEFAULT_TRAIN_CONFIG, trainModel, type TrainConfig, type TrainState } from '../src/train/trainer.js';
import { assertBadInputs, CLI_PATH, jsonLines, kat } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kat-resume-'));

function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${what} differs`);
}

function assertSameWeights(a: ReadonlyMap<string, NamedValues>, b: ReadonlyMap<string, NamedValues>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, t] of a) {
    assert.deepEqual([...b.get(name)!.shape], [...t.shape], name);
    assertSameBits(t.values, b.get(name)!.values, name);
  }
}

function differs(a: ReadonlyMap<string, NamedValues>, b: ReadonlyMap<string, NamedValues>): boolean {
  return [...a].some(([name, t]) => !Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength)
    .equals(Buffer.from(b.get(name)!.values.buffer, b.get(name)!.values.byteOffset, b.get(name)!.values.byteLength)));
}

async function weightsOf(model: Model): Promise<Map<string, NamedValues>> {
  // Copies: the next step gives the parameters new values.
  return new Map([...await model.stateDict()].map(([name, t]) => [name, { shape: [...t.shape], values: t.values.slice() }]));
}

describe('Random state', () => {
  it('getState / setState continue the same sequence, including a cached normal', () => {
    const a = new Random(7);
    a.normal(); // leaves the second Box-Muller value cached
    const b = new Random(99);
    b.setState(structuredClone(a.getState()));
    for (let i = 0; i < 5; i++) assert.equal(b.normal(), a.normal());
    for (let i = 0; i < 5; i++) assert.equal(b.nextUint32(), a.nextUint32());
    assert.ok(a.getState().s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff));
  });

  it('setState refuses malformed states', () => {
    const r = new Random(1);
    for (const bad of [null, {}, { s: [1, 2, 3], spareNormal: null }, { s: [0, 0, 0, 0], spareNormal: null }, { s: [1, 2, 3, -4], spareNormal: null },
      { s: [1, 2, 3, 4], spareNormal: 'x' }, { s: [1, 2, 3, 4], spareNormal: Number.NaN }]) {
      assert.throws(() => r.setState(bad as never), /Random.setState/);
    }
  });
});

describe('optimizer state export / import', () => {
  for (const make of [(p: ReturnType<typeof tensor>[]) => new AdamW(p, { lr: 0.01, weightDecay: 0.1 }), (p: ReturnType<typeof tensor>[]) => new SGD(p, { lr: 0.01, momentum: 0.9 })]) {
    it(`${make([tensor([0], [1], { requiresGrad: true })]).name}: a restored copy takes the same steps`, async () => {
      const params = () => [tensor([0.5, -1, 2], [3], { requiresGrad: true }), tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true })];
      const stepWith = async (optimizer: Optimizer, ps: ReturnType<typeof tensor>[], k: number) => {
        ps.forEach((p, i) => { p.grad = tensor(Array.from({ length: p.size }, (_, j) => Math.sin(k + i + j)), p.shape); });
        optimizer.step();
        optimizer.zeroGrad();
      };
      const a = params();
      const first = make(a);
      for (let k = 0; k < 3; k++) await stepWith(first, a, k);
      const b = params();
      await Promise.all(b.map(async (p, i) => p.assignValues(await a[i]!.data())));
      const second = make(b);
      second.importState(await first.exportState());
      for (let k = 3; k < 6; k++) {
        await stepWith(first, a, k);
        await stepWith(second, b, k);
      }
      for (let i = 0; i < a.length; i++) assertSameBits(await a[i]!.data(), await b[i]!.data(), `param ${i}`);
      assert.equal(second.stepCount, first.stepCount);
    });
  }
});

describe('trainModel resume', () => {
  const train = syntheticImages({ count: 96, channels: 1, height: 28, width: 28, classes: 4, seed: 3 });
  const test = syntheticImages({ count: 32, channels: 1, height: 28, width: 28, classes: 4, seed: 3, sampleSeed: 4 });
  // Dropout and drop-path draw from the global RNG; shift and flip from the augmentation RNG.
  const spec: ModelSpec = modelSpec('kat-micro', { channels: 1, imageSize: 28, classes: 4, dropout: 0.1, dropPath: 0.2 });

  for (const optimizer of ['adamw', 'sgd'] as const) {
    const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, epochs: 3, batchSize: 32, optimizer, shift: 2, flip: true, seed: 5 };

    it(`${optimizer}: resuming after epoch 1 or 2 ends with the uninterrupted run's weights, bit for bit`, async () => {
      const saved: { state: TrainState; weights: Map<string, NamedValues> }[] = [];
      const reference = buildModel(spec, config.seed);
      await trainModel(reference, train, test, config, {}, {
        checkpointEvery: 1, onCheckpoint: async (state) => { saved.push({ state, weights: await weightsOf(reference) }); },
      });
      const expected = await weightsOf(reference);
      assert.deepEqual(saved.map((s) => s.state.epoch), [1, 2]);

      const resume = async (from: { state: TrainState; weights: Map<string, NamedValues> }, state = from.state) => {
        const model = buildModel(spec, 1234); // other initial weights: the saved ones must replace them
        model.loadStateDict(from.weights);
        setSeed(999);
        globalRandom.uniform();
        const result = await trainModel(model, train, test, config, {}, { resume: state });
        assert.deepEqual(result.epochs.map((e) => e.epoch), [1, 2, 3]);
        return weightsOf(model);
      };
      for (const from of saved) assertSameWeights(await resume(from), expected);

      // Through the file format: weights and state written, read back and loaded.
      const info = { dataset: 'synthetic' };
      const model = buildModel(spec, config.seed);
      model.loadStateDict(saved[0]!.weights);
      const bytes = await encodeResumeCheckpoint(model, spec, info, saved[0]!.state, { note: 'test' });
      const decoded = decodeResumeCheckpoint(bytes, 'resume file');
      assert.deepEqual(decoded.run, { note: 'test' });
      assert.deepEqual(decoded.spec, spec);
      const fresh = buildModel(spec, 77);
      loadResumeWeights(fresh, decoded.weights, 'resume file');
      await trainModel(fresh, train, test, config, {}, { resume: decoded.state });
      assertSameWeights(await weightsOf(fresh), expected);

      if (optimizer === 'sgd') return;
      // Each part of the state matters: without it the run goes elsewhere.
      const other = new Random(12345).getState();
      const first = saved[0]!;
      assert.ok(differs(await resume(first, { ...first.state, random: other }), expected), 'the global RNG state made no difference');
      assert.ok(differs(await resume(first, { ...first.state, augmentRandom: other }), expected), 'the augmentation RNG state made no difference');
      // The optimizer's own state dropped (the weight average kept: a run with one refuses a state without).
      const averageOnly = {
        tensors: new Map([...first.state.optimizer.tensors].filter(([key]) => key.endsWith('.ema'))),
        scalars: Object.fromEntries(Object.entries(first.state.optimizer.scalars).filter(([key]) => key === 'emaUpdates')),
      };
      assert.ok(differs(await resume(first, { ...first.state, optimizer: averageOnly }), expected), 'the optimizer state made no difference');
    });
  }

  it('refuses a state that does not fit the run', async () => {
    const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 32, seed: 5 };
    let state: TrainState | undefined;
    const model = buildModel(spec, config.seed);
    await trainModel(model, train, test, config, {}, { checkpointEvery: 1, onCheckpoint: (s) => { state = s; } });
    await assert.rejects(trainModel(model, train, test, { ...config, epochs: 1 }, {}, { resume: state! }), /nothing or everything would be left/);
    await assert.rejects(trainModel(model, train, test, { ...config, batchSize: 16 }, {}, { resume: state! }), /took 3 steps in 1 epochs, but this data and batch size make 6 steps per epoch/);
  });
});

/** Runs kat until its first `checkpoint` JSON event, then SIGKILLs it. */
function killAfterFirstCheckpoint(args: string[]): Promise<{ signal: NodeJS.Signals | null; events: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (/"event":"checkpoint"/.test(stdout)) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`kat exited ${code} before it was killed:\n${stderr}`));
      else resolve({ signal, events: stdout.trim() === '' ? [] : jsonLines(stdout.split('\n').filter((l) => l.endsWith('}')).join('\n')) });
    });
  });
}

function fileWeights(path: string): Map<string, NamedValues> {
  return new Map([...decodeSafetensors(readFileSync(path), path).tensors].map(([name, t]) => [name, { shape: t.shape, values: t.values }]));
}

describe('kat train --checkpoint-every / --resume', () => {
  const settings = ['--model', 'kat-micro', '--dataset', 'synthetic:1x28x28:10:512', '--epochs', '4', '--batch-size', '32'];
  const reference = join(dir, 'reference.safetensors');
  const out = join(dir, 'run.safetensors');
  const resumeFile = join(dir, 'run.resume.safetensors');

  it('a run SIGKILLed after its first checkpoint, resumed, ends with the uninterrupted run\'s weights bit for bit', async () => {
    const uninterrupted = kat('train', ...settings, '--json', '--out', reference);
    assert.equal(uninterrupted.code, 0, uninterrupted.stderr);

    const killed = await killAfterFirstCheckpoint(['train', ...settings, '--checkpoint-every', '1', '--json', '--out', out]);
    assert.equal(killed.signal, 'SIGKILL');
    const checkpoint = killed.events.find((e) => e.event === 'checkpoint')!;
    assert.deepEqual(checkpoint, { event: 'checkpoint', epoch: 1, step: 16, path: resumeFile });
    assert.ok(!existsSync(out), 'the killed run wrote --out');
    assert.ok(existsSync(resumeFile));

    // The resume file is a normal checkpoint too.
    const evaluated = kat('eval', '--checkpoint', resumeFile, '--dataset', 'synthetic:1x28x28:10:512', '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);

    // Every other flag (and --out) comes from the file.
    const resumed = kat('train', '--resume', resumeFile, '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const events = jsonLines(resumed.stdout);
    const epochs = events.filter((e) => e.event === 'epoch').map((e) => e.epoch as number);
    assert.ok(epochs[0]! >= 2 && epochs[epochs.length - 1] === 4, `resumed epochs ${epochs.join()}`);
    const done = events[events.length - 1]!;
    assert.equal(done.checkpoint, out);
    const expected = jsonLines(uninterrupted.stdout);
    assert.equal(done.test_acc, expected[expected.length - 1]!.test_acc);
    assertSameWeights(fileWeights(out), fileWeights(reference));
  });

  it('kan-mlp with B-spline grid updates and SGD resumes bit for bit too', () => {
    const mlp = ['--model', 'kan-mlp', '--basis', 'bspline', '--grid-update', '3', '--optimizer', 'sgd', '--dataset', 'synthetic:1x12x12:10:384',
      '--epochs', '3', '--batch-size', '32'];
    const ref = join(dir, 'mlp-reference.safetensors');
    const mlpOut = join(dir, 'mlp.safetensors');
    assert.equal(kat('train', ...mlp, '--out', ref).code, 0);
    // The finished run leaves its last resumable checkpoint (after epoch 2): resuming it redoes epoch 3 with its grid update.
    assert.equal(kat('train', ...mlp, '--checkpoint-every', '1', '--out', mlpOut).code, 0);
    const again = join(dir, 'mlp-again.safetensors');
    const resumed = kat('train', '--resume', join(dir, 'mlp.resume.safetensors'), '--out', again, '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(jsonLines(resumed.stdout).filter((e) => e.event === 'epoch').map((e) => e.epoch), [3]);
    assertSameWeights(fileWeights(again), fileWeights(ref));
  });

  it('refuses a file without training state, or one that would continue another run, with one clear error', () => {
    assert.ok(existsSync(resumeFile) && existsSync(reference), 'needs the first test\'s files');
    const contents = decodeSafetensors(readFileSync(resumeFile), resumeFile);
    const tensors = Object.fromEntries([...contents.tensors].map(([name, t]) => [name, { shape: t.shape, values: t.values }]));
    const edited = (name: string, edit: (state: Record<string, any>) => void) => {
      const state = JSON.parse(contents.metadata.kat_train_state!) as Record<string, any>;
      edit(state);
      const path = join(dir, name);
      writeFileSync(path, encodeSafetensors(tensors, { ...contents.metadata, kat_train_state: JSON.stringify(state) }));
      return path;
    };
    assertBadInputs([
      [['train', '--resume', reference], /no training state to resume.*--checkpoint-every/],
      [['train', '--resume', join(dir, 'missing.safetensors')], /--resume checkpoint '.*missing.safetensors' does not exist/],
      [['train', '--resume', dir], /is a directory/],
      [['train', '--resume', resumeFile, '--lr', '0.1'], /continues another run: --lr '0.1' \(the file's run: '0.005'\)/],
      [['train', '--resume', resumeFile, '--dataset', 'synthetic:1x28x28:10:256'], /continues another run: --dataset/],
      [['train', '--resume', resumeFile, '--model', 'kan-mlp', '--seed', '3'], /--model 'kan-mlp'.*--seed '3'/],
      [['train', '--resume', resumeFile, '--max-steps', '10'], /--max-steps '10' \(the file's run: unset\)/],
      [['train', '--resume', resumeFile, '--backend', 'cpu-float64'], /needs a float32 backend/],
      [['train', '--resume', edited('v2.safetensors', (s) => { s.version = 2; })], /format version '2'; this katjs reads version 1/],
      [['train', '--resume', edited('data.safetensors', (s) => { s.run.data.train = 999; })], /the data now has .*has the dataset changed/],
      [['train', '--resume', edited('done.safetensors', (s) => { s.epoch = 4; s.globalStep = 64; })], /after epoch 4 of 4: nothing or everything/],
      [['train', '--checkpoint-every', '0'], /--checkpoint-every must be a positive integer/],
    ]);
  });

  it('refuses to resume on a CSV file whose values changed since the run started', () => {
    const csv = join(dir, 'rings.csv');
    const random = new Random(2);
    const rows = ['x1,x2,side', ...Array.from({ length: 300 }, () => {
      const [x1, x2] = [random.normal().toFixed(4), random.normal().toFixed(4)];
      return `${x1},${x2},${Number(x1) > 0 ? 'right' : 'left'}`;
    })];
    writeFileSync(csv, rows.join('\n'));
    const run = kat('train', '--dataset', `csv:${csv}`, '--target', 'side', '--epochs', '2', '--checkpoint-every', '1', '--out', join(dir, 'rings.safetensors'));
    assert.equal(run.code, 0, run.stderr);
    rows[1] = rows[1]!.replace(/,[^,]*,/, ',0.123,'); // one feature of one row
    writeFileSync(csv, rows.join('\n'));
    assertBadInputs([[['train', '--resume', join(dir, 'rings.resume.safetensors')], /the data now has .*has the dataset changed/]]);
  });

  it('refuses a --checkpoint-every target that is not a regular file before training', () => {
    mkdirSync(join(dir, 'blocked.resume.safetensors'));
    assertBadInputs([[['train', '--checkpoint-every', '1', '--out', join(dir, 'blocked.safetensors')], /--checkpoint-every writes .*not a regular file/]]);
  });
});
