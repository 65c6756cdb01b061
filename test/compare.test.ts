// `kat compare`: entry and seed parsing, the summary's statistics against
// values computed here, and the command end to end: every run equals a
// standalone `kat train` of the same flags, a rerun skips finished runs, an
// interrupted comparison resumes to the same numbers, other settings in the
// same folder are refused, and it runs on 1,000 real Fashion-MNIST images.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FASHION_MNIST_DEFAULT_DIR } from '../src/data/index.js';
import { parseCompareEntries, parseSeeds, summariseRuns, type CompareRun } from '../src/train/compare.js';
import { renderLinePlot } from '../src/viz/line_plot.js';
import { CLI_PATH, jsonLines, kat } from './support/cli.js';

describe('compare: entries, seeds and the summary', () => {
  it('parses NAME[:VARIANT][@widths] entries and refuses malformed ones', () => {
    assert.deepEqual(parseCompareEntries('kat-micro, karat-micro:G3U,kan-mlp:bspline@7,kan-mlp:mlp@256x64'), [
      { label: 'kat-micro', model: 'kat-micro' },
      { label: 'karat-micro:G3U', model: 'karat-micro', karat: 'G3U' },
      { label: 'kan-mlp:bspline@7', model: 'kan-mlp', basis: 'bspline', hidden: [7] },
      { label: 'kan-mlp:mlp@256x64', model: 'kan-mlp', basis: 'mlp', hidden: [256, 64] },
    ]);
    assert.throws(() => parseCompareEntries('vit-micro:G3B'), /vit-micro takes no variant/);
    // S-KAN entries name their pool with '+' (',' separates entries); train gets select:A,B.
    assert.deepEqual(parseCompareEntries('kan-mlp:select:rational+cheby@16'),
      [{ label: 'kan-mlp:select:rational+cheby@16', model: 'kan-mlp', basis: 'select:rational,cheby', hidden: [16] }]);
    assert.throws(() => parseCompareEntries('kan-mlp:bspline:rbf'), /only kan-mlp's select basis lists spaces/);
    assert.throws(() => parseCompareEntries('kat-micro:G1B:cheby'), /only kan-mlp's select basis lists spaces/);
    assert.throws(() => parseCompareEntries('kat-micro@64'), /hidden widths \(@W\) are for kan-mlp only/);
    assert.throws(() => parseCompareEntries('kat-micro,,vit-micro'), /comma-separated list/);
    assert.throws(() => parseCompareEntries('kat-micro,kat-micro'), /listed twice/);
    assert.throws(() => parseCompareEntries('kan-mlp:mlp@0'), /hidden widths must be positive/);
    assert.deepEqual(parseSeeds('3'), [0, 1, 2]);
    assert.deepEqual(parseSeeds('4,0,9'), [4, 0, 9]);
    assert.throws(() => parseSeeds('0'), /count from 1/);
    assert.throws(() => parseSeeds('1,1'), /listed twice/);
    assert.throws(() => parseSeeds('a,b'), /comma-separated list/);
  });

  it('summarises runs: mean, sample std, best epoch, the per-epoch curve', () => {
    const epoch = (e: number, acc: number) => ({
      event: 'epoch' as const, epoch: e, epochs: 3, train_loss: 0, train_acc: 0, test_loss: 0, test_acc: acc, seconds: 1, images_per_s: 10,
    });
    const run = (seed: number, accs: number[], speed: number): CompareRun => ({
      entry: 'a', seed, args: [], params: 7, testAccuracy: accs[accs.length - 1]!, trainSeconds: 10 + seed, imagesPerSecond: speed,
      epochs: accs.map((acc, i) => epoch(i + 1, acc)), checkpoint: '',
    });
    const [row] = summariseRuns([{ label: 'a', model: 'kat-micro' }, { label: 'b', model: 'vit-micro' }],
      [run(0, [0.5, 0.8, 0.7], 100), run(1, [0.6, 0.7, 0.9], 200), run(2, [0.4, 0.9, 0.8], 300)]);
    assert.equal(row!.runs, 3);
    assert.equal(row!.metric, 'accuracy');
    assert.ok(Math.abs(row!.mean - 0.8) < 1e-12);
    assert.ok(Math.abs(row!.std - 0.1) < 1e-12); // finals 0.7, 0.9, 0.8: sample std 0.1
    assert.ok(Math.abs(row!.meanBest - (0.8 + 0.9 + 0.9) / 3) < 1e-12);
    assert.equal(row!.bestEpoch, 2); // best epochs 2, 3, 2
    assert.equal(row!.imagesPerSecond, 200);
    assert.deepEqual(row!.curve.epochs, [1, 2, 3]);
    assert.ok(Math.abs(row!.curve.mean[1]! - 0.8) < 1e-12);
    assert.deepEqual([row!.curve.min[0], row!.curve.max[0]], [0.4, 0.6]);
  });

  it('draws each series where its values fall on the axes', () => {
    const svg = renderLinePlot([{ label: 'x < y', xs: [1, 2, 3], ys: [10, 20, 30] }], { yRange: [0, 40] });
    const [left, top, right, bottom] = /data-box="([^"]+)"/.exec(svg)![1]!.split(' ').map(Number) as [number, number, number, number];
    const points = /<polyline points="([^"]+)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number));
    // x = 2 is mid-way, y = 20 mid-height; labels are escaped.
    assert.ok(Math.abs(points[1]![0]! - (left + right) / 2) < 0.01);
    assert.ok(Math.abs(points[1]![1]! - (top + bottom) / 2) < 0.01);
    assert.match(svg, /x &lt; y/);
  });
});

const DATA = 'synthetic:1x8x8:4:512';
const COMMON = ['--dataset', DATA, '--epochs', '2', '--batch-size', '32'];

function compare(out: string, ...extra: string[]) {
  return kat('compare', '--models', 'kan-mlp:mlp@16,kan-mlp:rational@16', '--seeds', '0,3', ...COMMON, '--out', out, ...extra);
}

describe('kat compare end to end', () => {
  const root = mkdtempSync(join(tmpdir(), 'kat-compare-'));
  const out = join(root, 'cmp');

  it('runs every model x seed as kat train would, writes the table, JSON, run folders and the plot', () => {
    const run = compare(out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    const runs = events.filter((e) => e.event === 'run');
    assert.deepEqual(runs.map((r) => `${r.entry}/${r.seed}`), ['kan-mlp:mlp@16/0', 'kan-mlp:rational@16/0', 'kan-mlp:mlp@16/3', 'kan-mlp:rational@16/3']);
    // Each run against a standalone kat train with the same flags: the same accuracy, bit for bit.
    for (const [model, basis, seed] of [['mlp', 'mlp', 3], ['rational', 'rational', 0]] as const) {
      const alone = kat('train', '--model', 'kan-mlp', '--basis', basis, '--hidden', '16', ...COMMON, '--seed', String(seed),
        '--out', join(root, `${model}${seed}.safetensors`), '--json');
      assert.equal(alone.code, 0, alone.stderr);
      const done = jsonLines(alone.stdout).find((e) => e.event === 'done')!;
      const mine = runs.find((r) => r.entry === `kan-mlp:${model}@16` && r.seed === seed)!;
      assert.equal(mine.testAccuracy, done.test_acc);
      assert.equal(mine.params, done.params);
    }
    const summary = events.find((e) => e.event === 'summary') as { rows: { label: string; runs: number; mean: number }[] };
    assert.deepEqual(summary.rows.map((r) => [r.label, r.runs]), [['kan-mlp:mlp@16', 2], ['kan-mlp:rational@16', 2]]);
    const accs = runs.filter((r) => r.entry === 'kan-mlp:mlp@16').map((r) => r.testAccuracy as number);
    assert.ok(Math.abs(summary.rows[0]!.mean - (accs[0]! + accs[1]!) / 2) < 1e-12);
    for (const folder of ['kan-mlp_mlp_16.seed0', 'kan-mlp_rational_16.seed3']) {
      const record = JSON.parse(readFileSync(join(out, folder, 'run.json'), 'utf8')) as CompareRun;
      assert.equal(record.epochs.length, 2);
      assert.ok(existsSync(join(out, folder, 'model.safetensors')));
      assert.ok(!existsSync(join(out, folder, 'model.resume.safetensors')), 'the optimizer state goes once a run is done');
    }
    const svg = readFileSync(join(out, 'accuracy.svg'), 'utf8');
    assert.equal((svg.match(/<g data-series=/g) ?? []).length, 2);
    assert.deepEqual([...readFileSync(join(out, 'accuracy.png')).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    // Without --json: the table.
    const table = compare(out);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /model\s+params\s+runs\s+test acc % \(final\)/);
    assert.match(table.stdout, /kan-mlp:rational@16\s+[\d,]+\s+2\s+\d+\.\d\d ± \d+\.\d\d/);
  });

  it('skips finished runs when rerun, and refuses a folder holding other settings without touching it', () => {
    const record = join(out, 'kan-mlp_mlp_16.seed0', 'run.json');
    const before = statSync(record).mtimeMs;
    const again = compare(out);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /4 runs already finished in .*, 0 to run/);
    assert.equal(statSync(record).mtimeMs, before);
    const other = kat('compare', '--models', 'kan-mlp:mlp@16', '--seeds', '1', '--dataset', DATA, '--epochs', '3', '--out', out);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /holds a run made with other settings .*--epochs 2.*now.*--epochs 3.*pass another --out/s);
    assert.equal(statSync(record).mtimeMs, before);
  });

  it('resumes an interrupted comparison from the last epoch to the same results as an uninterrupted run', async () => {
    const resumed = join(root, 'interrupted');
    // Epochs long enough (about a second) to be interrupted between the first epoch's checkpoint and the end.
    const settings = ['--dataset', 'synthetic:1x16x16:4:4096', '--epochs', '3', '--batch-size', '32', '--seed', '0'];
    const flags = ['compare', '--models', 'kan-mlp:rational@64', '--seeds', '0,', ...settings.slice(0, 6), '--out', resumed, '--json'];
    const child = spawn(process.execPath, [CLI_PATH, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    const runDir = join(resumed, 'kan-mlp_rational_64.seed0');
    const code = await new Promise<number | null>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(runDir, 'model.resume.safetensors')) && existsSync(join(runDir, 'events.jsonl'))) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 5);
      child.on('close', (c) => {
        clearInterval(poll);
        resolve(c);
      });
    });
    assert.equal(code, 130, 'interrupted after the first epoch');
    assert.ok(!existsSync(join(runDir, 'run.json')));
    const rerun = kat(...flags);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /kat train .*--seed 0\n/);
    const got = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as CompareRun;
    assert.deepEqual(got.epochs.map((e) => e.epoch), [1, 2, 3]);
    const alone = kat('train', '--model', 'kan-mlp', '--basis', 'rational', '--hidden', '64', ...settings, '--out', join(root, 'alone.safetensors'), '--json');
    assert.equal(alone.code, 0, alone.stderr);
    const epochs = jsonLines(alone.stdout).filter((e) => e.event === 'epoch');
    assert.deepEqual(got.epochs.map((e) => e.test_acc), epochs.map((e) => e.test_acc));
    assert.deepEqual(got.epochs.map((e) => e.train_loss), epochs.map((e) => e.train_loss));
  });

  it('refuses bad arguments with one clear error', () => {
    const cases: [string[], RegExp][] = [
      [['compare'], /--models is required/],
      [['compare', '--models', 'kat-micro@3'], /hidden widths \(@W\) are for kan-mlp only/],
      [['compare', '--models', 'kat-micro', '--seeds', '0'], /count from 1 to 32/],
      [['compare', '--models', 'kat-micro', '--epochs', '0'], /--epochs/],
    ];
    for (const [args, pattern] of cases) {
      const run = kat(...args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, pattern);
    }
  });
});

const realSkip = !existsSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz')) && !process.env.CI
  ? `Fashion-MNIST is not installed at ${FASHION_MNIST_DEFAULT_DIR}` : false;

describe('kat compare on 1,000 real Fashion-MNIST images', { skip: realSkip }, () => {
  it('compares an MLP and a GR-KAN, both far above chance', () => {
    // The first 1,000 training and test images of the real files, as a data set folder of their own.
    const dir = mkdtempSync(join(tmpdir(), 'kat-fashion-1000-'));
    mkdirSync(dir, { recursive: true });
    for (const [prefix, rank] of [['train-images-idx3-ubyte', 3], ['train-labels-idx1-ubyte', 1], ['t10k-images-idx3-ubyte', 3], ['t10k-labels-idx1-ubyte', 1]] as const) {
      const prefixName = prefix.startsWith('t10k') ? 't10k' : 'train';
      const bytes = gunzipSync(readFileSync(join(FASHION_MNIST_DEFAULT_DIR, `${prefix}.gz`)));
      const header = Buffer.from(bytes.subarray(0, 4 + 4 * rank));
      header.writeUInt32BE(1000, 4);
      const per = rank === 3 ? 28 * 28 : 1;
      writeFileSync(join(dir, `${prefix}.gz`), gzipSync(Buffer.concat([header, bytes.subarray(4 + 4 * rank, 4 + 4 * rank + 1000 * per)])));
      assert.ok(prefixName);
    }
    const out = join(dir, 'cmp');
    const run = kat('compare', '--models', 'kan-mlp:mlp@64,kan-mlp:rational@64', '--seeds', '2', '--dataset', `fashion-mnist:${dir}`,
      '--epochs', '3', '--lr', '0.002', '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const summary = jsonLines(run.stdout).find((e) => e.event === 'summary') as { rows: { label: string; params: number; mean: number }[] };
    assert.deepEqual(summary.rows.map((r) => r.params), [50_890, 50_966]);
    for (const row of summary.rows) assert.ok(row.mean > 0.6, `${row.label}: ${row.mean}`);
    assert.ok(statSync(join(out, 'accuracy.png')).size > 1000);
  });
});

describe('function-fitting data and kat compare on regression', () => {
  it('J0 by its integral matches published values; tables are fixed draws of the named function', async () => {
    const { besselJ0, functionTable, FITTING_FUNCTIONS, parseDatasetSpec } = await import('../src/data/index.js');
    // Abramowitz & Stegun, table 9.1; the first zero j_{0,1}.
    assert.ok(Math.abs(besselJ0(1) - 0.7651976865579666) < 1e-12);
    assert.ok(Math.abs(besselJ0(10) - -0.2459357644513483) < 1e-12);
    assert.ok(Math.abs(besselJ0(2.404825557695773)) < 1e-12);
    assert.ok(Math.abs(besselJ0(20) - 0.1670246643405831) < 1e-12);
    const a = functionTable('exp-sin', 50);
    assert.deepEqual(a, functionTable('exp-sin', 50));
    assert.deepEqual(a.columns, ['x1', 'x2', 'y']);
    for (const row of a.rows) {
      const [x, y, f] = row.map(Number) as [number, number, number];
      assert.ok(x >= -1 && x <= 1 && y >= -1 && y <= 1);
      assert.equal(f, Math.exp(Math.sin(Math.PI * x) + y * y));
    }
    assert.equal(Object.keys(FITTING_FUNCTIONS).length, 7);
    assert.deepEqual(parseDatasetSpec('function:xy:500'), { kind: 'function', name: 'xy', count: 500 });
    assert.throws(() => parseDatasetSpec('function:wave'), /unknown function 'wave': expected function:NAME\[:count\] with NAME one of bessel, exp-sin/);
    assert.throws(() => functionTable('xy', 5), /count 5 must be an integer in \[10,/);
  });

  it('reports test RMSE (lower is better) for regression runs, equal to kat train\'s', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kat-compare-fit-')), 'fit');
    const common = ['--dataset', 'function:xy:400', '--epochs', '3', '--lr', '0.01'];
    const run = kat('compare', '--models', 'kan-mlp:mlp@8,kan-mlp:cheby@4', '--seeds', '1', ...common, '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const summary = jsonLines(run.stdout).find((e) => e.event === 'summary') as { rows: { label: string; metric: string; mean: number; meanBest: number }[] };
    assert.deepEqual(summary.rows.map((r) => r.metric), ['rmse', 'rmse']);
    const alone = kat('train', '--model', 'kan-mlp', '--basis', 'cheby', '--hidden', '4', ...common, '--seed', '0', '--out', join(out, 'alone.safetensors'), '--json');
    const done = jsonLines(alone.stdout).find((e) => e.event === 'done')!;
    assert.equal(summary.rows[1]!.mean, done.test_rmse);
    assert.ok(summary.rows[1]!.meanBest <= summary.rows[1]!.mean);
    // kat eval reads the function data set back with the checkpoint's encoding: the same RMSE.
    const evaluated = kat('eval', '--checkpoint', join(out, 'alone.safetensors'), '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const figures = jsonLines(evaluated.stdout).at(-1)!;
    assert.ok(Math.abs(Number(figures.test_rmse) - Number(done.test_rmse)) <= 1e-6 * Number(done.test_rmse), JSON.stringify(figures));
    // S-KAN runs record their pruned size beside the trained one.
    const select = kat('compare', '--models', 'kan-mlp:select@3', '--seeds', '1', ...common, '--out', out, '--json');
    assert.equal(select.code, 0, select.stderr);
    const selectRow = (jsonLines(select.stdout).find((e) => e.event === 'summary') as { rows: { params: number; prunedParams?: number }[] }).rows[0]!;
    assert.ok(selectRow.prunedParams! > 0 && selectRow.prunedParams! < selectRow.params, JSON.stringify(selectRow));
    const table = kat('compare', '--models', 'kan-mlp:mlp@8,kan-mlp:cheby@4', '--seeds', '1', ...common, '--out', out);
    assert.match(table.stdout, /test RMSE \(final\)/);
    assert.match(readFileSync(join(out, 'accuracy.svg'), 'utf8'), /test RMSE \(mean; band/);
  });
});
