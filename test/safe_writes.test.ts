// Nothing that existed is lost and nothing bad is written (issue 13, items 2-4):
// output paths are checked before any work, a checkpoint is decoded back before
// it replaces the old one, metrics that overflow are errors, and a signal or a
// SIGKILL mid-write leaves no temporary file behind.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeTabularPreprocessing, parseCsv, tabularSplit, type TabularDataset } from '../src/data/csv.js';
import { checkOutputPath, writeFileAtomic } from '../src/io/files.js';
import { encodeCheckpoint } from '../src/models/checkpoint.js';
import { readCheckpointFile, writeCheckpointFile } from '../src/models/checkpoint_files.js';
import type { KanMlpConfig } from '../src/models/kan_mlp.js';
import { buildModel, modelSpec, type ModelSpec } from '../src/models/registry.js';
import { setBackend } from '../src/tensor/engine.js';
import { Random } from '../src/tensor/random.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel } from '../src/train/trainer.js';
import { CLI_PATH, kat } from './support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'katjs-safe-writes-'));
let dirs = 0;
after(() => {
  spawnSync('chattr', ['-R', '-i', root], { stdio: 'ignore' });
  rmSync(root, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = join(root, `case${dirs++}`);
  mkdirSync(dir);
  return dir;
}

function tmpFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

/** y = 2 a - b + noise, as CSV text; `scale` multiplies the target. */
function regressionCsv(rows: number, scale = 1): string {
  const rng = new Random(5);
  const lines = ['a,b,y'];
  for (let i = 0; i < rows; i++) {
    const [a, b] = [rng.uniform(), rng.uniform()];
    lines.push(`${a},${b},${(2 * a - b + 0.1 * rng.uniform()) * scale}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A target of +-1.79e308 that the features cannot predict: its RMSE (about its spread or more) exceeds float64's range. */
function unmeasurableCsv(rows: number): string {
  const rng = new Random(6);
  const lines = ['a,b,y'];
  for (let i = 0; i < rows; i++) lines.push(`${rng.uniform()},${rng.uniform()},${i % 2 ? '' : '-'}1.79e308`);
  return `${lines.join('\n')}\n`;
}

function smallKanMlp(inputs: number, basis?: 'bspline'): { spec: ModelSpec; model: ReturnType<typeof buildModel> } {
  const spec = modelSpec('kan-mlp', { classes: 1, ...(basis ? { basis } : {}) });
  Object.assign(spec.config as KanMlpConfig, { inputs, hidden: [8] });
  return { spec, model: buildModel(spec, 3) };
}

/** A special file made by a shell tool (mknod needs root), or null where that is not possible here. */
function special(path: string, tool: string, ...args: string[]): string | null {
  return spawnSync(tool, [path, ...args], { stdio: 'ignore' }).status === 0 ? path : null;
}

/** A directory no one (not even root) may create files in: immutable as root, read-only otherwise; null if impossible. */
function unwritableDir(parent: string): string | null {
  const dir = join(parent, 'locked');
  mkdirSync(dir);
  if (process.getuid?.() === 0) return spawnSync('chattr', ['+i', dir], { stdio: 'ignore' }).status === 0 ? dir : null;
  chmodSync(dir, 0o555);
  return dir;
}

/** A PID no process has now: a child's after it exited. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid!;
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  return pid;
}

function startKat(env: NodeJS.ProcessEnv, ...args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout }));
  });
  return { child, done };
}

/** Polls `check` until it holds; fails early if `child` exits first. */
async function waitFor(what: string, child: ChildProcess, check: () => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kat exited (${child.exitCode ?? child.signalCode}) before ${what}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('output paths are checked before any work', () => {
  it('refuses special files, directories, an empty path, a path under a file and an unwritable directory', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'file.txt'), 'x');
    const cases: [string | null, RegExp][] = [
      [special(join(dir, 'null'), 'mknod', 'c', '1', '3'), /is a character device, not a regular file/],
      [special(join(dir, 'fifo'), 'mkfifo'), /is a FIFO, not a regular file/],
      [dir, /is a directory, not a regular file/],
      ['', /'' is an empty path/],
      [join(dir, 'new') + '/', /'.*new\/' names a directory, not a file/],
      [join(dir, 'file.txt', 'x.safetensors'), /is under '.*file\.txt', which is a regular file, not a directory/],
      [join(dir, 'file.txt', 'deeper', 'x.safetensors'), /is under '.*file\.txt', which is a regular file, not a directory/],
    ];
    const locked = unwritableDir(dir);
    if (locked) cases.push([join(locked, 'new', 'x.safetensors'), /cannot create files in '.*locked'/]);
    for (const [path, pattern] of cases) {
      if (path === null) continue; // not possible on this machine (mknod needs root)
      await assert.rejects(checkOutputPath(path), pattern, path);
    }
    // Fine: a new file in directories still to be made, an existing regular file.
    assert.equal(await checkOutputPath(join(dir, 'a', 'b', 'x.safetensors')), join(dir, 'a', 'b', 'x.safetensors'));
    assert.equal(await checkOutputPath(join(dir, 'file.txt')), join(dir, 'file.txt'));
  });

  it('refuses an output that is one of the inputs, however it is named', async () => {
    const dir = freshDir();
    const source = join(dir, 'model.safetensors');
    writeFileSync(source, 'weights');
    symlinkSync(source, join(dir, 'link.safetensors'));
    spawnSync('ln', [source, join(dir, 'hard.safetensors')]);
    for (const out of [source, join(dir, '.', 'model.safetensors'), join(dir, 'link.safetensors'), join(dir, 'hard.safetensors')]) {
      await assert.rejects(checkOutputPath(out, { inputs: [source] }), /is the input '.*model\.safetensors'/, out);
    }
    await checkOutputPath(join(dir, 'other.safetensors'), { inputs: [source] });
  });

  it('writeFileAtomic leaves a device a device, and writes through a symbolic link', async (t) => {
    const dir = freshDir();
    const device = special(join(dir, 'null'), 'mknod', 'c', '1', '3');
    if (device) {
      await assert.rejects(writeFileAtomic(device, new Uint8Array([1, 2])), /failed to write '.*null': .* is a character device/);
      assert.ok(statSync(device).isCharacterDevice());
    } else t.diagnostic('mknod needs root: the device case is skipped');
    const real = join(dir, 'real.bin');
    writeFileSync(real, 'old');
    symlinkSync('real.bin', join(dir, 'latest.bin'));
    await writeFileAtomic(join(dir, 'latest.bin'), new Uint8Array([7]));
    assert.ok(lstatSync(join(dir, 'latest.bin')).isSymbolicLink());
    assert.equal(readlinkSync(join(dir, 'latest.bin')), 'real.bin');
    assert.deepEqual([...readFileSync(real)], [7]);
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('kat train, prune and plot refuse a bad --out before loading data or training', () => {
    const dir = freshDir();
    const csv = join(dir, 'data.csv');
    writeFileSync(csv, regressionCsv(50));
    const device = special(join(dir, 'null'), 'mknod', 'c', '1', '3');
    const fifo = special(join(dir, 'out.svg'), 'mkfifo');
    const locked = unwritableDir(dir);
    const checkpoint = join(dir, 'model.safetensors');
    writeFileSync(checkpoint, 'not even read: the --out check comes first');
    const train = ['train', '--dataset', `csv:${csv}`, '--target', 'y', '--epochs', '1000'];
    const cases: [string[] | null, RegExp][] = [
      [device ? [...train, '--out', device] : null, /^kat: train: --out '.*null' is a character device, not a regular file$/],
      [[...train, '--out', ''], /^kat: train: --out '' is an empty path$/],
      [[...train, '--out', dir], /^kat: train: --out '.*' is a directory, not a regular file$/],
      [[...train, '--out', join(csv, 'x.safetensors')], /^kat: train: --out .* is under '.*data\.csv', which is a regular file, not a directory$/],
      [locked ? [...train, '--out', join(locked, 'x.safetensors')] : null, /^kat: train: --out .*: cannot create files in '.*locked'/],
      [['prune', '--checkpoint', checkpoint, '--out', checkpoint], /^kat: prune: --out '.*model\.safetensors' is the input/],
      [['prune', '--checkpoint', checkpoint, '--out', join(dir, '.', 'model.safetensors')], /^kat: prune: --out .* is the input/],
      [fifo ? ['plot', '--checkpoint', checkpoint, '--out', fifo] : null, /^kat: plot: --out '.*out\.svg' is a FIFO, not a regular file$/],
    ];
    const before = readFileSync(checkpoint);
    for (const [args, pattern] of cases) {
      if (args === null) continue;
      const run = kat(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      const errors = run.stderr.split('\n').filter((line) => line.startsWith('kat: '));
      assert.equal(errors.length, 1, run.stderr);
      assert.match(errors[0]!, pattern);
      // Refused up front: no model was built, no data read.
      assert.doesNotMatch(run.stderr, /^(model|data) /m, args.join(' '));
    }
    if (device) assert.ok(statSync(device).isCharacterDevice(), 'the device is still a device');
    if (fifo) assert.ok(statSync(fifo).isFIFO());
    assert.deepEqual(readFileSync(checkpoint), before, 'prune left its source alone');
  });
});

describe('a checkpoint is decoded back before it replaces the old one', () => {
  it('refuses a model whose config or metadata would not read back, leaving the old file byte-identical', async () => {
    const dir = freshDir();
    const path = join(dir, 'model.safetensors');
    const { spec, model } = smallKanMlp(2);
    await writeCheckpointFile(path, model, spec, { note: 'old' });
    const old = readFileSync(path);
    // NaN turns into null in JSON: the config would not come back as written.
    const nanSpec = { ...spec, config: { ...spec.config, dropout: Number.NaN } };
    await assert.rejects(writeCheckpointFile(path, model, nanSpec, {}), /not writing '.*model\.safetensors', as it would not read back/);
    // A regression target's infinite spread, stored as null: kat eval would refuse the file.
    const table = parseCsv(regressionCsv(40));
    const { preprocessing } = tabularSplit(table, { target: 'y', seed: 0 });
    const tabular = encodeTabularPreprocessing({ ...preprocessing, targetStd: Number.POSITIVE_INFINITY });
    await assert.rejects(writeCheckpointFile(path, model, spec, { tabular }),
      /not writing '.*', as it would not read back: the new checkpoint: its 'tabular' metadata has no valid target mean and std/);
    assert.deepEqual(readFileSync(path), old);
    assert.deepEqual(tmpFiles(dir), []);
    model.dispose();
  });

  it('writes exactly the encoded bytes when they read back, B-spline grids included', async () => {
    await setBackend('cpu');
    const dir = freshDir();
    const path = join(dir, 'spline.safetensors');
    const { spec, model } = smallKanMlp(3, 'bspline');
    await writeCheckpointFile(path, model, spec, { note: 'x' });
    assert.deepEqual(new Uint8Array(readFileSync(path)), await encodeCheckpoint(model, spec, { note: 'x' }));
    const back = await readCheckpointFile(path);
    assert.deepEqual(back.info, { note: 'x' });
    back.model.dispose();
    model.dispose();
  });
});

describe('metrics that overflow are errors', () => {
  function regressionSplit(): { train: TabularDataset; test: TabularDataset } {
    const { train, test } = tabularSplit(parseCsv(regressionCsv(120)), { target: 'y', seed: 0 });
    return { train, test };
  }

  function withTargetStd(data: TabularDataset, targetStd: number): TabularDataset {
    return { ...data, preprocessing: { ...data.preprocessing, targetStd } };
  }

  it('RMSE and R^2 of a target around 1e200 are finite: R^2 is scale-free, RMSE scales with the target', async () => {
    await setBackend('cpu');
    const { test } = regressionSplit();
    const { model } = smallKanMlp(test.width);
    const unit = await evaluate(model, withTargetStd(test, 1));
    const huge = await evaluate(model, withTargetStd(test, 1e200));
    assert.ok(Number.isFinite(huge.rmse!) && Number.isFinite(huge.r2!), `RMSE ${huge.rmse}, R^2 ${huge.r2}`);
    assert.ok(Math.abs(huge.r2! - unit.r2!) < 1e-12, `${huge.r2} vs ${unit.r2}`);
    assert.ok(Math.abs(huge.rmse! / 1e200 - unit.rmse!) < 1e-12 * unit.rmse!);
    model.dispose();
  });

  it('evaluate and trainModel throw rather than report an RMSE of Infinity or NaN, before any epoch event', async () => {
    await setBackend('cpu');
    const { train, test } = regressionSplit();
    const { model } = smallKanMlp(test.width);
    await assert.rejects(evaluate(model, withTargetStd(test, Number.POSITIVE_INFINITY)),
      /evaluating on .*test, the RMSE came out Infinity: .*standard deviation Infinity/);
    let epochs = 0;
    await assert.rejects(trainModel(model, withTargetStd(train, Number.POSITIVE_INFINITY), withTargetStd(test, Number.POSITIVE_INFINITY),
      { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 16 }, { onEpoch: () => { epochs++; } }), /RMSE came out Infinity/);
    assert.equal(epochs, 0);
    model.dispose();
  });

  it('kat train on a target around 1e300 reports a finite RMSE and writes a checkpoint kat eval reads', () => {
    const dir = freshDir();
    const csv = join(dir, 'huge.csv');
    writeFileSync(csv, regressionCsv(100, 1e300));
    const out = join(dir, 'model.safetensors');
    const run = kat('train', '--dataset', `csv:${csv}`, '--target', 'y', '--task', 'regression', '--epochs', '1', '--json', '--out', out);
    assert.equal(run.code, 0, run.stderr);
    const done = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    assert.ok(Number.isFinite(done.test_rmse) && done.test_rmse > 1e297 && Number.isFinite(done.test_r2), run.stdout);
    const evaluated = kat('eval', '--checkpoint', out, '--dataset', `csv:${csv}`, '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as Record<string, number>).test_r2, done.test_r2);
  });

  it('kat train on a target too large to measure fails and keeps the old checkpoint', () => {
    const dir = freshDir();
    const good = join(dir, 'good.csv');
    const huge = join(dir, 'huge.csv');
    writeFileSync(good, regressionCsv(100));
    writeFileSync(huge, unmeasurableCsv(100));
    const out = join(dir, 'model.safetensors');
    assert.equal(kat('train', '--dataset', `csv:${good}`, '--target', 'y', '--epochs', '1', '--out', out).code, 0);
    const old = readFileSync(out);
    const run = kat('train', '--dataset', `csv:${huge}`, '--target', 'y', '--task', 'regression', '--epochs', '1', '--out', out);
    assert.equal(run.code, 1, `a run whose metrics overflow must fail:\n${run.stdout}${run.stderr}`);
    const errors = run.stderr.split('\n').filter((line) => line.startsWith('kat: '));
    assert.equal(errors.length, 1, run.stderr);
    assert.match(errors[0]!, /RMSE came out Infinity/);
    assert.equal(run.stdout, '');
    assert.deepEqual(readFileSync(out), old);
    assert.deepEqual(tmpFiles(dir), []);
  });
});

describe('interrupted writes leave no temporary file', () => {
  function trainArgs(dir: string, out: string, ...extra: string[]): string[] {
    const csv = join(dir, 'data.csv');
    writeFileSync(csv, regressionCsv(200));
    return ['train', '--dataset', `csv:${csv}`, '--target', 'y', '--epochs', '1', '--out', out, ...extra];
  }

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during the checkpoint write removes the temp file, keeps the old checkpoint and exits ${code}`, async () => {
      const dir = freshDir();
      const out = join(dir, 'model.safetensors');
      writeFileSync(out, 'the old checkpoint');
      // KATJS_TEST_SLOW_WRITE holds the write open halfway, with its temp file on disk, long enough to signal it.
      const { child, done } = startKat({ KATJS_TEST_SLOW_WRITE: '30000' }, ...trainArgs(dir, out));
      await waitFor('the temp file', child, () => tmpFiles(dir).length > 0);
      // The handler is installed just after the temp file appears; a loaded machine can pause the child in between.
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill(signal);
      const run = await done;
      assert.equal(run.code, code, run.stderr);
      assert.match(run.stderr, /^kat: interrupted; '.*model\.safetensors' untouched$/m);
      assert.deepEqual(tmpFiles(dir), []);
      assert.equal(readFileSync(out, 'utf8'), 'the old checkpoint');
    });
  }

  it('SIGTERM during training exits at once and leaves the old checkpoint alone', async () => {
    const dir = freshDir();
    const out = join(dir, 'model.safetensors');
    writeFileSync(out, 'the old checkpoint');
    const args = trainArgs(dir, out, '--json', '--log-steps');
    args[args.indexOf('--epochs') + 1] = '10000';
    const { child, done } = startKat({}, ...args);
    let steps = '';
    child.stdout!.on('data', (text: string) => { steps += text; });
    await waitFor('a training step', child, () => steps.includes('"event":"step"'));
    const sent = Date.now();
    child.kill('SIGTERM');
    const run = await done;
    assert.ok(Date.now() - sent < 10_000, 'it stopped promptly');
    assert.ok(run.signal === 'SIGTERM' || run.code === 143, `code ${run.code}, signal ${run.signal}`);
    assert.deepEqual(tmpFiles(dir), []);
    assert.equal(readFileSync(out, 'utf8'), 'the old checkpoint');
  });

  it('the temp file a SIGKILL leaves is removed by the next write to that checkpoint', async () => {
    const dir = freshDir();
    const out = join(dir, 'model.safetensors');
    writeFileSync(out, 'the old checkpoint');
    const { child, done } = startKat({ KATJS_TEST_SLOW_WRITE: '30000' }, ...trainArgs(dir, out));
    await waitFor('the temp file', child, () => tmpFiles(dir).length > 0);
    child.kill('SIGKILL');
    await done;
    assert.equal(tmpFiles(dir).length, 1, 'SIGKILL cannot be handled: its temp file stays');
    assert.equal(readFileSync(out, 'utf8'), 'the old checkpoint');
    const run = kat(...trainArgs(dir, out));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('removes stale temp files of dead processes only, and only those of the target written', async () => {
    const dir = freshDir();
    const dead = deadPid();
    const stale = `.model.safetensors.${dead}.0123456789ab.tmp`;
    const live = `.model.safetensors.${process.pid}.0123456789ab.tmp`; // a write in progress elsewhere
    const other = `.other.safetensors.${dead}.0123456789ab.tmp`;
    for (const name of [stale, live, other]) writeFileSync(join(dir, name), 'partial');
    await writeFileAtomic(join(dir, 'model.safetensors'), new Uint8Array([1]));
    assert.deepEqual(tmpFiles(dir).sort(), [live, other].sort());
  });
});
