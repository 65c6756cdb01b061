// Hostile and broken CSV input (issue 13, items 2, 7, 8, 9 and 10): huge
// values, huge fields, UTF-16 and binary files, degenerate targets, repeated
// names, tables too big to hold; and plot / formula / prune on CSV-trained
// checkpoints.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  decodeCsvBytes, decodeTabularPreprocessing, encodeTabularPreprocessing, MAX_CSV_ROWS, parseCsv, splitRows, tabularSplit,
} from '../src/data/csv.js';
import { loadDataset } from '../src/data/index.js';
import { QUOTE_LIMIT } from '../src/util/text.js';
import { jsonLines, kat } from './support/cli.js';

const examples = new URL('../../examples/', import.meta.url).pathname;

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'kat-csv-hostile-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

/** A seeded table: x uniform in [-scale, scale], y = (x > 0). */
function table(rows: number, scale: number): string {
  let state = 12345;
  const lines = ['x,y'];
  for (let i = 0; i < rows; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const x = (state / 2 ** 30 - 1) * scale;
    lines.push(`${x},${x > 0 ? 1 : 0}`);
  }
  return lines.join('\n');
}

describe('values near the limits of a double', () => {
  it('standardise without overflow: finite statistics, unit-variance inputs, stored and read back', () => {
    for (const scale of [1e300, 1.7e308, 1e-300]) {
      const split = tabularSplit(parseCsv(table(200, scale)), { target: 'y' });
      const x = split.preprocessing.features[0]!;
      assert.ok(x.kind === 'numeric' && Number.isFinite(x.mean) && Number.isFinite(x.std) && x.std > 0, `${scale}: ${JSON.stringify(x)}`);
      const values = split.train.images;
      const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
      assert.ok(Math.abs(variance - 1) < 0.05, `${scale}: variance ${variance}`);
      // The checkpoint's copy holds numbers, not the null an Infinity becomes in JSON.
      assert.deepEqual(decodeTabularPreprocessing(encodeTabularPreprocessing(split.preprocessing)), split.preprocessing);
    }
  });

  it('ordinary values give the same statistics as before, bit for bit (the scaling is by powers of two)', () => {
    const split = tabularSplit(parseCsv('x,y\n1,0\n2,1\n4,0\n7,1\n10,0\n'), { target: 'y', testFraction: 0.2 });
    const rows = Array.from(split.train.rows, (r) => [1, 2, 4, 7, 10][r]!);
    const mean = rows.reduce((a, b) => a + b, 0) / rows.length;
    const std = Math.sqrt(rows.reduce((a, b) => a + (b - mean) ** 2, 0) / rows.length);
    assert.deepEqual(split.preprocessing.features[0], { name: 'x', kind: 'numeric', mean, std });
  });

  it('a huge regression target standardises; a value too far from the training data is an error naming line and column', () => {
    const text = 'x,y\n' + Array.from({ length: 40 }, (_, i) => `${i},${(i - 20) * 1e306}`).join('\n');
    const split = tabularSplit(parseCsv(text), { target: 'y', task: 'regression' });
    assert.ok(Number.isFinite(split.preprocessing.targetStd!) && split.train.labels.every(Number.isFinite));
    const stored = split.preprocessing;
    const far = parseCsv(`x,y\n1e300,0\n2,0\n`);
    assert.throws(() => tabularSplit(far, { preprocessing: stored, testFraction: 1, source: 'new.csv' }),
      /new\.csv: line 2 \(data row 1\), column 'x': 1e\+300 is .* standard deviations from the training mean, too far to encode/);
  });
});

describe('classification and regression targets that say nothing', () => {
  it('a target with one class is refused', () => {
    const text = 'x,y\n' + Array.from({ length: 50 }, (_, i) => `${i},1`).join('\n');
    assert.throws(() => tabularSplit(parseCsv(text), { target: 'y', source: 'one.csv' }),
      /one\.csv: the target 'y' has only one value \('1'\) in every row: a classification target needs at least 2 classes/);
  });

  it('a constant regression target is refused', () => {
    const text = 'x,y\n' + Array.from({ length: 50 }, (_, i) => `${i},2.5`).join('\n');
    assert.throws(() => tabularSplit(parseCsv(text), { target: 'y', task: 'regression', source: 'c.csv' }),
      /c\.csv: the regression target 'y' is 2\.5 in every training row: nothing to predict/);
  });
});

describe('names listed twice', () => {
  it('in the header: refused, naming the column', () => {
    assert.throws(() => parseCsv('x1,x2,x1,y\n1,2,3,0\n', { source: 'd.csv' }), /d\.csv: the header names column 'x1' twice \(columns 1 and 3\)/);
    assert.throws(() => parseCsv('x1, x1 ,y\n1,2,0\n', { source: 'd.csv' }), /names column 'x1' twice/);
  });

  it('in stored preprocessing: a feature, a category or a class twice, or the target as a feature, is refused', () => {
    const good = tabularSplit(parseCsv('x,c,y\n1,a,p\n2,b,q\n3,a,p\n4,b,q\n5,a,p\n'), { target: 'y' }).preprocessing;
    const x = good.features[0]!;
    const c = good.features[1]!;
    const cases: [object, RegExp][] = [
      [{ ...good, features: [x, c, x] }, /lists the feature 'x' twice/],
      [{ ...good, features: [x, { name: 'y', kind: 'numeric', mean: 0, std: 1 }] }, /lists the target 'y' as a feature/],
      [{ ...good, features: [x, { ...c, categories: ['a', 'b', 'a'] }] }, /lists category 'a' of feature 'c' twice/],
      [{ ...good, classes: ['p', 'q', 'p'] }, /lists class 'p' twice/],
      [{ ...good, features: [x, { ...c, categories: Array.from({ length: 300 }, (_, i) => `k${i}`) }] }, /gives feature 'c' 300 categories/],
    ];
    for (const [p, pattern] of cases) assert.throws(() => decodeTabularPreprocessing(JSON.stringify(p), 'checkpoint \'m\''), pattern);
  });
});

describe('unbounded echo', () => {
  it('an error about a 10 MB field quotes at most about 80 characters of it', () => {
    const field = 'a'.repeat(10_000_000);
    const bad = [
      `x,y\n1,0\n${field},1\n2,0\n3,1\n`, // not a number in a numeric column
      `x,y\n1,0\n${field}\n`, // a ragged row
      `x,y\n1,0\n"1"${field}\n`, // text after a closing quote
    ];
    for (const text of bad) {
      let message = '';
      try {
        tabularSplit(parseCsv(text, { source: 'big.csv' }), { target: 'y', source: 'big.csv' });
      } catch (error) {
        message = (error as Error).message;
      }
      assert.match(message, /^big\.csv/);
      assert.ok(message.length < 300 && !message.includes('a'.repeat(QUOTE_LIMIT + 1)), `${message.length} characters: ${message.slice(0, 400)}`);
    }
  });

  it('a column list of 60,000 names is cut short; more than 65,536 columns is an error', () => {
    const header = Array.from({ length: 60_000 }, (_, i) => `c${i}`).join(',');
    assert.throws(() => tabularSplit(parseCsv(`${header}\n${'1,'.repeat(59_999)}1\n`), { target: 'nope' }),
      (e: Error) => e.message.length < 600 && /has no column 'nope': its columns are 'c0', .*\.\.\. \(60000 in all\)/.test(e.message));
    assert.throws(() => parseCsv(`${'c,'.repeat(70_000)}y\n`, { source: 'wide.csv' }), /wide\.csv: line 1 has more than 65536 fields/);
  });
});

describe('encodings and binary files', () => {
  const bytes = (text: string, encoding: BufferEncoding, bom: number[] = []) => new Uint8Array([...bom, ...Buffer.from(text, encoding)]);

  it('UTF-16 with or without a BOM says so', () => {
    const text = 'x,y\n1,2\n3,4\n';
    assert.throws(() => decodeCsvBytes(bytes(text, 'utf16le', [0xff, 0xfe]), 'u.csv'), /u\.csv looks like UTF-16: save it as UTF-8 \(it starts with a UTF-16 byte-order mark\)/);
    assert.throws(() => decodeCsvBytes(bytes(text, 'utf16le'), 'u.csv'), /u\.csv looks like UTF-16: save it as UTF-8 \(NUL bytes in every other byte\)/);
    const be = Buffer.from(text, 'utf16le').swap16();
    assert.throws(() => decodeCsvBytes(new Uint8Array([0xfe, 0xff, ...be]), 'u.csv'), /looks like UTF-16/);
  });

  it('NUL bytes and invalid UTF-8 are named with their offset and line', () => {
    assert.throws(() => decodeCsvBytes(new Uint8Array(4096), 'z.csv'), (e: Error) =>
      /^z\.csv holds a NUL byte at byte offset 0 \(line 1\): it is a binary file, not CSV text$/.test(e.message));
    assert.throws(() => decodeCsvBytes(bytes('x,y\ncaf\u00e9,1\n', 'latin1'), 'l.csv'),
      /l\.csv is not UTF-8 text: byte 0xe9 at byte offset 7 \(line 2\) starts no valid UTF-8 character; save it as UTF-8/);
    // Overlong forms and surrogates are invalid too.
    for (const seq of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      assert.throws(() => decodeCsvBytes(new Uint8Array([0x61, ...seq]), 'b.csv'), /byte offset 1/, seq.join(' '));
    }
    assert.equal(decodeCsvBytes(bytes('\ufeffx,\u00e9\u20ac\u{1f600}\n', 'utf8')), 'x,\u00e9\u20ac\u{1f600}\n');
  });
});

describe('tables too big to hold', () => {
  it('more rows than MAX_CSV_ROWS is an error, not an out-of-memory crash', () => {
    assert.throws(() => parseCsv('x,y\n' + '1,2\n'.repeat(MAX_CSV_ROWS + 1), { source: 'many.csv' }),
      /many\.csv: more than 1048576 data rows of 2 columns .*use a sample of the rows/);
  });

  it('a split of a million rows does not overflow the stack', () => {
    const n = 1_000_000;
    const { train, test } = splitRows(n, 0.2, 1);
    assert.equal(test.length, 200_000);
    assert.equal(train.length + test.length, n);
    assert.equal(splitRows(n, 0.2, 1, new Int32Array(n).map((_, i) => i % 3)).test.length, 200_000);
  });
});

describe('plot, formula and prune on CSV-trained checkpoints (the README examples)', () => {
  const classification = join(examples, 'classification.csv');
  const regression = join(examples, 'regression.csv');

  for (const [name, file, target] of [['rings', classification, 'ring'], ['regression', regression, 'y']] as const) {
    it(`${name}: the stored target, encoding and split are used`, async () => {
      const checkpoint = join(dir, `${name}.safetensors`);
      const trained = kat('train', '--dataset', `csv:${file}`, '--target', target, '--epochs', '1', '--out', checkpoint);
      assert.equal(trained.code, 0, trained.stderr);
      const plot = kat('plot', '--checkpoint', checkpoint, '--out', join(dir, `${name}.svg`), '--images', '64', '--json');
      assert.equal(plot.code, 0, plot.stderr);
      assert.equal(jsonLines(plot.stdout)[0]!.dataset, `csv:${file}`);
      const formula = kat('formula', '--checkpoint', checkpoint, '--images', '64', '--top', '1', '--json');
      assert.equal(formula.code, 0, formula.stderr);
      assert.ok(jsonLines(formula.stdout).length > 0);
      const pruned = join(dir, `${name}.pruned.safetensors`);
      const prune = kat('prune', '--checkpoint', checkpoint, '--epochs', '0', '--images', '64', '--out', pruned, '--json');
      assert.equal(prune.code, 0, prune.stderr);
      const report = jsonLines(prune.stdout)[0]!;
      // The unpruned model's metric equals what eval reports: the same rows, encoded the same way.
      const evaluated = jsonLines(kat('eval', '--checkpoint', checkpoint, '--json').stdout)[0]!;
      const before = report.before as Record<string, number>;
      if (name === 'rings') assert.equal(before.test_acc, evaluated.test_acc);
      else assert.ok(Math.abs(before.test_rmse! - (evaluated.test_rmse as number)) < 1e-9);
      assert.equal(kat('eval', '--checkpoint', pruned).code, 0);
      // The dataset the checkpoint names, read as it was in training.
      const split = await loadDataset(`csv:${file}`, { csv: { target } });
      assert.equal(split.test.count, evaluated.rows);
    });
  }

  it('a tabular checkpoint with an image dataset, or an image checkpoint with a table, is one clear error', () => {
    const checkpoint = join(dir, 'rings.safetensors');
    const r = kat('plot', '--checkpoint', checkpoint, '--dataset', 'mnist', '--out', join(dir, 'x.svg'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /plot: checkpoint '.*rings\.safetensors' holds a model for tabular data: pass --dataset csv:FILE/);
    const image = join(dir, 'image.safetensors');
    assert.equal(kat('train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x4x4:2:64', '--epochs', '1', '--out', image).code, 0);
    const csv = join(dir, 't.csv');
    writeFileSync(csv, 'a,b\n1,2\n3,4\n');
    const f = kat('formula', '--checkpoint', image, '--dataset', `csv:${csv}`);
    assert.match(f.stderr, /formula: checkpoint '.*image\.safetensors' was not trained on tabular data/);
  });
});
