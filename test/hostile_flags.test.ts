// Hostile flags and special files (issue 13, items 5 and 9): every size flag
// has a range, numbers are decimal only, and commands read regular files
// only: a device, a FIFO or a directory is refused at once, never read.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkRange, CliError, describeRange, integerIn, numberIn, parseArguments, parseDecimal } from '../src/cli/flags.js';
import { loadCifar10 } from '../src/data/cifar10.js';
import { ImageDecodePool } from '../src/data/image_pool.js';
import { defaultPreprocess } from '../src/models/pretrained.js';
import type { VitConfig } from '../src/models/vit.js';
import { CLI_PATH, jsonLines } from './support/cli.js';

/** kat with a short timeout: a command that hangs on a FIFO fails the test instead of stalling it. */
function run(...args: string[]): { code: number | null; stdout: string; stderr: string; errors: string[] } {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.error, undefined, `${args.join(' ')}: ${result.error?.message} (hung?)`);
  return {
    code: result.status, stdout: result.stdout, stderr: result.stderr,
    errors: result.stderr.split('\n').filter((line) => line.startsWith('kat: ')),
  };
}

function assertOneError(args: string[], pattern: RegExp): void {
  const r = run(...args);
  assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
  assert.equal(r.errors.length, 1, `${args.join(' ')}: expected one kat: line, got:\n${r.stderr}`);
  assert.match(r.errors[0]!, pattern, args.join(' '));
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(' ')}: a stack trace`);
}

let dir: string;
let fifo: string | undefined;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kat-hostile-'));
  const path = join(dir, 'pipe');
  if (spawnSync('mkfifo', [path]).status === 0) fifo = path;
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('number flags', () => {
  const spec = { n: { type: 'number', help: 'a number' }, k: { type: integerIn(1, 10), help: 'a count' } } as const;
  const parse = (...args: string[]) => parseArguments('cmd', args, spec).flags;

  it('take decimal numbers only: no hex, binary, octal, Infinity, blanks or white space', () => {
    for (const [text, value] of [['16', 16], ['-2.5', -2.5], ['1e3', 1000], ['.5', 0.5], ['5.', 5], ['+7', 7], ['2E-2', 0.02]] as const) {
      assert.equal(parseDecimal(text), value, text);
      assert.equal(parse('--n', text).n, value, text);
    }
    for (const text of ['0x10', '0b11', '0o7', '010x', 'Infinity', '-Infinity', 'NaN', '', ' ', ' 5', '5 ', '1e', '1_000', '1e999', '١٢']) {
      assert.equal(parseDecimal(text), undefined, JSON.stringify(text));
      assert.throws(() => parse(`--n=${text}`), (e: Error) => e instanceof CliError && /flag '--n' expects a number/.test(e.message), JSON.stringify(text));
    }
  });

  it('with a range are checked as they are parsed, and the message states the range', () => {
    assert.equal(parse('--k', '10').k, 10);
    assert.throws(() => parse('--k', '11'), /cmd: --k must be a positive integer in \[1, 10\], got 11/);
    assert.throws(() => parse('--k', '2.5'), /--k must be a positive integer in \[1, 10\], got 2.5/);
    assert.equal(describeRange(integerIn(0, 100_000)), 'a non-negative integer in [0, 100,000]');
    assert.equal(describeRange(numberIn(0, 1, { minExclusive: true })), 'a number in (0, 1]');
    assert.throws(() => checkRange('x', 'f', 0, numberIn(0, 1, { minExclusive: true })), /--f must be a number in \(0, 1\], got 0/);
  });

  it('unknown flags that name Object.prototype members are unknown, and echoed input is escaped', () => {
    assert.throws(() => parse('--constructor', '1'), /unknown flag '--constructor'/);
    assert.throws(() => parse('--__proto__', '1'), /unknown flag '--__proto__'/);
    assert.throws(() => parse('--n', '\u001b]0;TITLE\u0007'), /got '\\x1b\]0;TITLE\\x07'/);
  });
});

describe('every size flag of every command is bounded', () => {
  // Each would allocate or loop without end; refused at parse time, before any data or checkpoint is read.
  const cases: [string[], RegExp][] = [
    [['plot', '--points', '1e9'], /plot: --points must be an integer in \[2, 10,000\], got 1000000000/],
    [['plot', '--bins', '1e9'], /plot: --bins must be a positive integer in \[1, 1000\]/],
    [['plot', '--images', '1e9'], /plot: --images must be a positive integer in \[1, 4096\]/],
    [['formula', '--top', '1e9'], /formula: --top must be a positive integer in \[1, 100\]/],
    [['formula', '--digits', '1e9'], /formula: --digits must be a positive integer in \[1, 21\]/],
    [['formula', '--images', '5000'], /formula: --images must be a positive integer in \[1, 4096\]/],
    [['prune', '--epochs', '1e9'], /prune: --epochs must be a non-negative integer in \[0, 100,000\]/],
    [['prune', '--batch-size', '1e9'], /prune: --batch-size must be a positive integer in \[1, 65,536\]/],
    [['prune', '--images', '1e9'], /prune: --images must be/],
    [['train', '--epochs', '1e9'], /train: --epochs must be a positive integer in \[1, 100,000\], got 1000000000/],
    [['train', '--batch-size', '1e9'], /train: --batch-size must be a positive integer in \[1, 65,536\]/],
    [['train', '--max-steps', '1e12'], /train: --max-steps must be a positive integer in \[1, 1,000,000,000\]/],
    [['train', '--grid-update', '1e9'], /train: --grid-update must be a non-negative integer in \[0, 100,000\]/],
    [['train', '--shift', '1e9'], /train: --shift must be a non-negative integer in \[0, 1024\]/],
    [['train', '--seed', '4294967296'], /train: --seed must be a non-negative integer in \[0, 4,294,967,295\]/],
    [['train', '--heads', '1e9'], /train: --heads must be a positive integer in \[1, 1024\]/],
    [['eval', '--batch-size', '1e9'], /eval: --batch-size must be a positive integer in \[1, 65,536\]/],
    [['predict', '--top', '1e9'], /predict: --top must be a positive integer in \[1, 100,000\]/],
    [['predict', '--batch-size', '1e9'], /predict: --batch-size must be a positive integer in \[1, 4096\]/],
    [['info', '--heads', '1e9'], /info: --heads must be a positive integer in \[1, 1024\]/],
    [['bench', '--batch', '1e9'], /bench: --batch must be a positive integer in \[1, 1024\]/],
    [['bench', '--runs', '1e9'], /bench: --runs must be a positive integer in \[1, 1000\]/],
    [['bench', '--train-steps', '1e9'], /bench: --train-steps must be a positive integer in \[1, 10,000\]/],
    [['profile', '--batch', '1e9'], /profile: --batch must be a positive integer in \[1, 1024\]/],
    [['profile', '--steps', '1e9'], /profile: --steps must be a positive integer in \[1, 100\]/],
    [['profile', '--image-size', '0'], /profile: --image-size must be a positive integer in \[1, 1024\]/],
    [['demo', '--steps', '1e9'], /demo: --steps must be a positive integer in \[1, 1,000,000\]/],
    [['demo', '--seed', '-1'], /demo: --seed must be a non-negative integer/],
    [['train', '--epochs', '0x10'], /train: flag '--epochs' expects a number, got '0x10'/],
    [['train', '--epochs', 'Infinity'], /train: flag '--epochs' expects a number, got 'Infinity'/],
    [['train', '--epochs='], /train: flag '--epochs' expects a number, got ''/],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' '), () => assertOneError(args, pattern));
  }
});

describe('training settings', () => {
  it('--epochs far beyond --max-steps records the epochs actually run', () => {
    const out = join(dir, 'steps.safetensors');
    const r = run('train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x4x4:2:64', '--epochs', '100000', '--max-steps', '2',
      '--batch-size', '16', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const info = jsonLines(run('info', '--checkpoint', out, '--json').stdout)[0]!.info as Record<string, string>;
    assert.equal(info.epochs, '1');
  });

  it('a weight decay that zeroes or flips weights every step is refused up front, naming --weight-decay', () => {
    assertOneError(['train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x4x4:2:64', '--weight-decay', '1e9', '--out', join(dir, 'wd.safetensors')],
      /train: --lr 0\.005 x --weight-decay 1000000000 = 5000000: .*lower --weight-decay/);
  });

  it('a diverging run names every setting that can cause it, not only --lr', () => {
    assertOneError(['train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x4x4:2:512', '--lr', '1e30', '--weight-decay', '1e-31', '--epochs', '1',
      '--out', join(dir, 'nan.safetensors')], /loss became .*--lr \(now 1e\+30\) or --weight-decay \(now 1e-31\), lower --clip \(now 1\)/);
  });
});

describe('special files are refused before they are opened', () => {
  it('--checkpoint /dev/zero, a FIFO or a directory: plot, formula and prune', () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub, { recursive: true });
    for (const command of ['plot', 'formula', 'prune']) {
      const extra = command === 'plot' ? ['--out', join(dir, 'x.svg')] : [];
      assertOneError([command, '--checkpoint', '/dev/zero', ...extra], /checkpoint '\/dev\/zero' is a character device, not a regular file/);
      assertOneError([command, '--checkpoint', sub, ...extra], /checkpoint '.*a-directory' is a directory, not a file/);
      if (fifo) assertOneError([command, '--checkpoint', fifo, ...extra], /checkpoint '.*pipe' is a FIFO \(named pipe\), not a regular file/);
    }
  });

  it('csv:/dev/zero, csv:FIFO and csv:DIR', () => {
    const train = (file: string) => ['train', '--dataset', `csv:${file}`, '--target', 'y', '--out', join(dir, 'csv.safetensors')];
    assertOneError(train('/dev/zero'), /csv file '\/dev\/zero' is a character device, not a regular file/);
    assertOneError(train(dir), /csv file '.*' is a directory, not a file/);
    if (fifo) assertOneError(train(fifo), /csv file '.*pipe' is a FIFO \(named pipe\), not a regular file/);
  });

  it('photos (predict, image folders): the decode workers refuse a FIFO or a device named like an image', async () => {
    const pool = new ImageDecodePool(1);
    const preprocess = defaultPreprocess({ imageSize: 32, channels: 3 } as VitConfig);
    try {
      const paths: [string, RegExp][] = [['/dev/zero', /image '\/dev\/zero' is a character device, not a regular file/]];
      if (fifo) paths.push([fifo, /image '.*pipe' is a FIFO \(named pipe\), not a regular file/]);
      for (const [path, pattern] of paths) {
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${path}: no answer in 10 s (a hang?)`)), 10_000); });
        await assert.rejects(Promise.race([pool.decode(path, preprocess), hang]), pattern);
        clearTimeout(timer);
      }
    } finally {
      await pool.close();
    }
  });

  it('cifar10: a batch file that is a FIFO or a directory', async () => {
    const root = join(dir, 'cifar');
    mkdirSync(root, { recursive: true });
    for (const f of ['data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
      writeFileSync(join(root, f), new Uint8Array(3073));
    }
    mkdirSync(join(root, 'data_batch_1.bin'));
    await assert.rejects(loadCifar10(root), /CIFAR-10: '.*data_batch_1\.bin' is not a regular file/);
    rmSync(join(root, 'data_batch_1.bin'), { recursive: true });
    if (fifo) {
      spawnSync('mkfifo', [join(root, 'data_batch_1.bin')]);
      await assert.rejects(loadCifar10(root), /CIFAR-10: '.*data_batch_1\.bin' is not a regular file/);
    }
  });
});
