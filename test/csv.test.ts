// Tabular data from CSV: the parser against hand-built tables, the train/test
// split, the encoding recomputed from the raw text, the mean-squared-error op
// against float64 finite differences, a short regression run, and the CLI.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  decodeTabularPreprocessing, detectCsvDelimiter, encodeTabularPreprocessing, inferTabularTask, MAX_INFERRED_CLASSES, parseCsv, splitRows,
  tabularSplit, type CsvTable, type TabularDataset,
} from '../src/data/csv.js';
import { loadDataset } from '../src/data/index.js';
import { modelSpec, buildModel } from '../src/models/registry.js';
import type { KanMlpConfig } from '../src/models/kan_mlp.js';
import { tensor } from '../src/ops/creation.js';
import { meanSquaredError } from '../src/ops/nn.js';
import { setBackend } from '../src/tensor/engine.js';
import { Random } from '../src/tensor/random.js';
import { noGrad } from '../src/tensor/autograd.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel } from '../src/train/trainer.js';
import { opCases } from './support/cases.js';
import { float64Backend, gradcheck, onBackendAsync } from './support/harness.js';
import { assertBadInputs, jsonLines, kat } from './support/cli.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kat-csv-'));

/** A table of n rows from a function of seeded uniform inputs, as CSV text. */
function functionCsv(n: number, seed: number, header: string[], row: (rng: Random) => (number | string)[]): string {
  const rng = new Random(seed);
  const lines = [header.join(',')];
  for (let i = 0; i < n; i++) lines.push(row(rng).map((v) => (typeof v === 'number' ? v.toFixed(5) : v)).join(','));
  return `${lines.join('\n')}\n`;
}

describe('parseCsv', () => {
  it('reads RFC 4180 quoting, CRLF, blank lines, a BOM and trims unquoted fields', () => {
    const text = '\uFEFFname, "size, cm" ,note\r\n' +
      '"Smith, J", 1.5 ,"said ""hi"""\r\n' +
      '\r\n' +
      '   \n' +
      'plain,2,"two\r\nlines"\r\n' +
      '"",3,  x y  \n' +
      'last,4,';
    const table = parseCsv(text, { delimiter: 'auto' });
    const expected: CsvTable = {
      columns: ['name', 'size, cm', 'note'],
      rows: [['Smith, J', '1.5', 'said "hi"'], ['plain', '2', 'two\r\nlines'], ['', '3', 'x y'], ['last', '4', '']],
      lines: [2, 5, 7, 8],
      delimiter: ',',
    };
    assert.deepEqual(table, expected);
  });

  it('detects ; TAB and | delimiters, prefers the one that splits rows consistently, and takes a forced one', () => {
    assert.equal(detectCsvDelimiter('a;b;c\n1;2;3\n'), ';');
    assert.equal(detectCsvDelimiter('a\tb\n1\t2\n'), '\t');
    assert.equal(detectCsvDelimiter('a|b\n1|2\n'), '|');
    assert.equal(detectCsvDelimiter('a,b;c\n1,2;3\n'), ','); // both split consistently into 2: comma comes first
    assert.equal(detectCsvDelimiter('"x,y";z\n"1,5";2\n'), ';'); // the commas are quoted
    assert.equal(detectCsvDelimiter('only\n1\n'), ',');
    assert.deepEqual(parseCsv('a;b\n"1;2";3\n').rows, [['1;2', '3']]);
    assert.deepEqual(parseCsv('a,b;c\n1,2;3\n', { delimiter: ';' }), {
      columns: ['a,b', 'c'], rows: [['1,2', '3']], lines: [2], delimiter: ';',
    });
    // Old Mac line ends (CR alone) and a missing final newline.
    assert.deepEqual(parseCsv('a,b\r1,2\r3,4').rows, [['1', '2'], ['3', '4']]);
  });

  it('names empty header cells columnN', () => {
    assert.deepEqual(parseCsv(',a,\n0,1,2\n').columns, ['column1', 'a', 'column3']);
  });

  it('rejects malformed input with the line', () => {
    const cases: [string, RegExp][] = [
      ['', /data\.csv is empty: expected a header row/],
      ['\n\n  \n', /data\.csv is empty/],
      ['a,b\n', /data\.csv has a header \(a, b\) but no data rows/],
      ['a,b\n1,2\n3\n', /line 3 \(data row 2\) has 1 fields, but the header has 2/],
      ['a,b\n1,2\n\n3,4,5\n', /line 4 \(data row 2\) has 3 fields, but the header has 2/],
      ['a,b\n1,"2\n3,4\n', /line 2: a quoted field is never closed/],
      ['a,b\n1,"2"x\n', /line 2: unexpected 'x' after the closing quote/],
      ['a,b,a\n1,2,3\n', /names column 'a' twice \(columns 1 and 3\)/],
    ];
    for (const [text, pattern] of cases) assert.throws(() => parseCsv(text, { source: 'data.csv' }), pattern, JSON.stringify(text));
    assert.throws(() => parseCsv('a\n1\n', { delimiter: '"' }), /delimiter "\\"" is not valid/);
  });
});

describe('tabularSplit', () => {
  const irisLike = functionCsv(203, 1, ['petal', 'colour', 'width', 'species'], (rng) => {
    const k = rng.int(3);
    return [k + rng.uniform(), ['red', 'blue'][rng.int(2)]!, 10 * rng.normal() + 50, ['setosa', 'versicolor', 'virginica'][k]!];
  });

  it('infers the task: text or few integers -> classification, otherwise regression', () => {
    const table = parseCsv('f,text,small,many,real\n' + [...Array(60).keys()].map((i) => `${i},c${i % 3},${i % 4},${i},${i / 7}`).join('\n'));
    assert.equal(inferTabularTask(table, 'text'), 'classification');
    assert.equal(inferTabularTask(table, 'small'), 'classification');
    assert.equal(inferTabularTask(table, 'many'), 'regression'); // 60 distinct integers > MAX_INFERRED_CLASSES
    assert.ok(60 > MAX_INFERRED_CLASSES);
    assert.equal(inferTabularTask(table, 'real'), 'regression');
    const forced = tabularSplit(table, { target: 'small', task: 'regression' });
    assert.equal(forced.train.task, 'regression');
    assert.equal(forced.train.classes, 1);
    assert.throws(() => tabularSplit(table, { target: 'text', task: 'regression' }), /regression needs a numeric target/);
    assert.equal(tabularSplit(table, { target: 'real', task: 'classification' }).train.classes, 60);
  });

  it('splits rows by the seed: test = round(n x fraction), disjoint, covering every row, stratified by class', () => {
    const table = parseCsv(irisLike);
    const split = tabularSplit(table, { target: 'species', testFraction: 0.3, seed: 5 });
    const n = table.rows.length;
    assert.equal(split.test.count, Math.round(n * 0.3));
    assert.equal(split.train.count + split.test.count, n);
    const all = [...split.train.rows, ...split.test.rows].sort((a, b) => a - b);
    assert.deepEqual(all, [...Array(n).keys()], 'every row exactly once');
    // Stratified: each class's share of the test split is within one row of its exact share.
    for (const name of ['setosa', 'versicolor', 'virginica']) {
      const members = table.rows.filter((r) => r[3] === name).length;
      const inTest = [...split.test.rows].filter((r) => table.rows[r]![3] === name).length;
      assert.ok(Math.abs(inTest - members * 0.3) < 1, `${name}: ${inTest} of ${members} in test`);
    }
    // Labels follow the rows: class ids index the sorted class names.
    assert.deepEqual(split.train.classNames, ['setosa', 'versicolor', 'virginica']);
    split.test.rows.forEach((r, k) => assert.equal(split.test.classNames![split.test.labels[k]!], table.rows[r]![3]));
    // Seeded: the same seed gives the same split, another seed another.
    assert.deepEqual(tabularSplit(table, { target: 'species', testFraction: 0.3, seed: 5 }).test.rows, split.test.rows);
    assert.notDeepEqual(tabularSplit(table, { target: 'species', testFraction: 0.3, seed: 6 }).test.rows, split.test.rows);
    // Regression: a plain random split of the same sizes.
    const random = splitRows(n, 0.25, 3);
    assert.equal(random.test.length, Math.round(n * 0.25));
    assert.equal(new Set([...random.train, ...random.test]).size, n);
  });

  it('standardises numeric columns with training statistics and one-hot encodes text columns (recomputed from the raw text)', () => {
    const table = parseCsv(irisLike);
    const { train, test } = tabularSplit(table, { target: 'species', seed: 2 });
    assert.deepEqual(train.featureNames, ['petal', 'colour=blue', 'colour=red', 'width']);
    assert.equal(train.width, 4);
    assert.deepEqual([train.channels, train.height], [1, 1]);
    const raw = (r: number, c: number) => Number(table.rows[r]![c]);
    for (const [column, slot] of [[0, 0], [2, 3]] as const) {
      const values = [...train.rows].map((r) => raw(r, column));
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
      for (const ds of [train, test]) {
        ds.rows.forEach((r, k) => {
          const expected = (raw(r, column) - mean) / std;
          assert.ok(Math.abs(ds.images[k * 4 + slot]! - expected) < 1e-5, `${ds.name} row ${r} column ${column}`);
        });
      }
    }
    for (const ds of [train, test]) {
      ds.rows.forEach((r, k) => {
        const colour = table.rows[r]![1];
        assert.deepEqual([ds.images[k * 4 + 1], ds.images[k * 4 + 2]], colour === 'blue' ? [1, 0] : [0, 1]);
      });
    }
  });

  it('standardises regression targets with training statistics', () => {
    const table = parseCsv(functionCsv(50, 3, ['x', 'y'], (rng) => {
      const x = rng.uniform();
      return [x, 100 + 30 * x * x];
    }));
    const { train, test, preprocessing } = tabularSplit(table, { target: 'y' });
    const ys = [...train.rows].map((r) => Number(table.rows[r]![1]));
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const std = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length);
    assert.ok(Math.abs(preprocessing.targetMean! - mean) < 1e-9 && Math.abs(preprocessing.targetStd! - std) < 1e-9);
    test.rows.forEach((r, k) => assert.ok(Math.abs(test.labels[k]! - (Number(table.rows[r]![1]) - mean) / std) < 1e-5));
  });

  it('stored preprocessing reproduces the split and encoding, follows columns by name, zeroes unseen categories', () => {
    const table = parseCsv(irisLike);
    const fitted = tabularSplit(table, { target: 'species', seed: 9 });
    const stored = decodeTabularPreprocessing(encodeTabularPreprocessing(fitted.preprocessing));
    const again = tabularSplit(table, { preprocessing: stored });
    assert.deepEqual(again.test.rows, fitted.test.rows);
    assert.deepEqual(again.test.images, fitted.test.images);
    assert.deepEqual(again.test.labels, fitted.test.labels);
    // The same rows with columns reordered and one colour never seen in training.
    const order = [3, 2, 0, 1];
    const rows = table.rows.map((r) => order.map((c) => r[c]!));
    rows[fitted.test.rows[0]!]![3] = 'green';
    const shuffled: CsvTable = { ...table, columns: order.map((c) => table.columns[c]!), rows };
    const moved = tabularSplit(shuffled, { preprocessing: stored, testFraction: 1 });
    assert.equal(moved.test.count, table.rows.length);
    const k = [...moved.test.rows].indexOf(fitted.test.rows[0]!);
    const original = [...fitted.test.rows].indexOf(fitted.test.rows[0]!);
    assert.deepEqual([...moved.test.images.subarray(k * 4, k * 4 + 4)],
      [fitted.test.images[original * 4], 0, 0, fitted.test.images[original * 4 + 3]]);
    assert.throws(() => tabularSplit(table, { preprocessing: stored, target: 'petal' }), /trained to predict 'species', not 'petal'/);
    assert.throws(() => decodeTabularPreprocessing('{"target":"y"'), /'tabular' metadata is not valid JSON/);
    assert.throws(() => decodeTabularPreprocessing(JSON.stringify({ ...stored, task: 'ranking' })), /task "ranking"/);
  });

  it('reports bad data with the line and column', () => {
    const source = 'data.csv';
    const split = (text: string, target = 'y') => tabularSplit(parseCsv(text, { source }), { target, source });
    const cases: [() => unknown, RegExp][] = [
      [() => split('x,y\n1,2\n', 'z'), /data\.csv has no column 'z': its columns are 'x', 'y'/],
      [() => tabularSplit(parseCsv('x,y\n1,2\n')), /no target column chosen: expected one of 'x', 'y'/],
      [() => split('x,y\n1,2\n2,3\nabc,4\n5,6\n'), /line 4 \(data row 3\), column 'x' holds "abc", which is not a number/],
      [() => split('x,y\n1,2\nNaN,3\n5,6\n'), /line 3 \(data row 2\), column 'x' is "NaN": expected a finite number/],
      [() => split('x,y\n1,2\n2,inf\n5,6.5\n'), /line 3 \(data row 2\), column 'y' is "inf": expected a finite number/],
      [() => split('x,y\n1,2\n,3\n5,6\n'), /line 3 \(data row 2\), column 'x' is empty: expected a number/],
      [() => split('x,y\n1,a\n2,\n'), /line 3 \(data row 2\): the target 'y' is empty/],
      [() => split('y\n1.5\n2.5\n'), /no feature columns: the table has only the target column 'y'/],
      [() => split('x,y\n1,2.5\n'), /too few data rows \(1\) for a test fraction of 0\.2/],
      [() => tabularSplit(parseCsv('x,y\n1,2\n3,4\n'), { target: 'y', testFraction: 1 }), /test fraction 1 is not valid: expected a number in \(0, 1\)/],
    ];
    for (const [run, pattern] of cases) assert.throws(run, pattern);
  });
});

describe('meanSquaredError', () => {
  it('matches float64 finite differences (the gradcheck case) and a float64 forward value', async () => {
    const rng = new Random(42);
    const mse = opCases(rng).find((c) => c.name.startsWith('meanSquaredError'));
    assert.ok(mse, 'meanSquaredError is in test/support/cases.ts');
    for (let draw = 0; draw < 3; draw++) {
      const c = opCases(new Random(100 + draw)).find((o) => o.name === mse.name)!;
      await gradcheck(c.name, c.fn, c.specs, new Random(draw));
    }
    await onBackendAsync(float64Backend, async () => {
      const p = [0.5, -1.25, 3, 2];
      const t = [1, -1, 0.5, 2.5];
      const expected = p.reduce((a, v, i) => a + (v - t[i]!) ** 2, 0);
      const [mean, total] = await noGrad(() => [meanSquaredError(tensor(p, [2, 2]), tensor(t, [2, 2])),
        meanSquaredError(tensor(p, [2, 2]), tensor(t, [2, 2]), { reduction: 'sum' })]);
      assert.ok(Math.abs((await mean!.item()) - expected / 4) < 1e-12);
      assert.ok(Math.abs((await total!.item()) - expected) < 1e-12);
      assert.throws(() => meanSquaredError(tensor(p, [4, 1]), tensor(t, [4])), /prediction \[4, 1\] and target \[4\] must have the same shape/);
    });
  });
});

describe('training on a table', () => {
  it('kan-mlp fits y = 10 + 3 exp(-x1^2) x2 beside a distractor x3 (R^2 > 0.95); RMSE / R^2 match a recomputation in target units', async () => {
    await setBackend('cpu');
    const text = functionCsv(600, 11, ['x1', 'x2', 'x3', 'y'], (rng) => {
      const [x1, x2, x3] = [rng.uniform() * 4 - 2, rng.uniform() * 2 - 1, rng.uniform() - 0.5];
      return [x1, x2, x3, 10 + 3 * Math.exp(-x1 * x1) * x2];
    });
    const table = parseCsv(text);
    const { train, test } = tabularSplit(table, { target: 'y', seed: 1 });
    const spec = modelSpec('kan-mlp', { classes: 1 });
    Object.assign(spec.config as KanMlpConfig, { inputs: train.width, hidden: [32] });
    const model = buildModel(spec, 0);
    const result = await trainModel(model, train, test, { ...DEFAULT_TRAIN_CONFIG, epochs: 20, batchSize: 32, lr: 1e-2, weightDecay: 0 });
    assert.ok(result.testR2! > 0.95, `R^2 ${result.testR2}`);
    assert.ok(Number.isNaN(result.testAccuracy));
    // Recompute from the raw CSV targets and the model's standardised outputs.
    const scale = train.preprocessing;
    const out = await noGrad(() => model.forward(tensor(test.images, [test.count, 1, 1, test.width]))).data();
    const targets = [...test.rows].map((r) => Number(table.rows[r]![3]));
    const mean = targets.reduce((a, b) => a + b, 0) / targets.length;
    let sse = 0;
    let sst = 0;
    targets.forEach((y, k) => {
      sse += (out[k]! * scale.targetStd! + scale.targetMean! - y) ** 2;
      sst += (y - mean) ** 2;
    });
    const evaluation = await evaluate(model, test as TabularDataset);
    assert.ok(Math.abs(evaluation.r2! - (1 - sse / sst)) < 1e-5, `R^2 ${evaluation.r2} vs ${1 - sse / sst}`);
    assert.ok(Math.abs(evaluation.rmse! - Math.sqrt(sse / targets.length)) < 1e-5 * Math.sqrt(sst / targets.length));
    assert.equal(evaluation.r2, result.testR2);
    model.dispose();
  });
});

describe('kat CLI on CSV files', () => {
  const regression = join(examples, 'regression.csv');
  const classification = join(examples, 'classification.csv');
  const checkpoint = join(dir, 'regression.safetensors');

  it('loadDataset reads csv:FILE with the target and seed', async () => {
    const { train, test } = await loadDataset(`csv:${classification}`, { seed: 3, csv: { target: 'ring' } });
    assert.equal(train.count + test.count, 1500);
    assert.equal(test.count, 300);
    assert.deepEqual(train.classNames, ['inner', 'middle', 'outer']);
  });

  it('train --json on the regression example reports RMSE and R^2; eval reproduces them', () => {
    const run = kat('train', '--dataset', `csv:${regression}`, '--target', 'y', '--epochs', '4', '--out', checkpoint, '--json');
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    const epoch = events[0]!;
    assert.equal(epoch.event, 'epoch');
    assert.ok(!('test_acc' in epoch) && typeof epoch.test_rmse === 'number' && typeof epoch.train_rmse === 'number');
    const done = events[events.length - 1]!;
    assert.equal(done.event, 'done');
    assert.ok((done.test_r2 as number) > 0.85, `R^2 ${done.test_r2}`);
    assert.equal(done.test_r2, events[events.length - 2]!.test_r2);
    const evaluated = kat('eval', '--checkpoint', checkpoint, '--dataset', `csv:${regression}`, '--target', 'y', '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const result = jsonLines(evaluated.stdout)[0]!;
    assert.equal(result.rows, 400);
    assert.ok(Math.abs((result.test_r2 as number) - (done.test_r2 as number)) < 1e-9, `${result.test_r2} vs ${done.test_r2}`);
    assert.ok(Math.abs((result.test_rmse as number) - (done.test_rmse as number)) < 1e-9);
    // Without --dataset the checkpoint's own data and split are used.
    const again = jsonLines(kat('eval', '--checkpoint', checkpoint, '--json').stdout)[0]!;
    assert.equal(again.test_r2, result.test_r2);
  });

  it('train on the classification example reports accuracy (a non-numeric target and a categorical column)', () => {
    const out = join(dir, 'rings.safetensors');
    const run = kat('train', '--dataset', `csv:${classification}`, '--target', 'ring', '--epochs', '3', '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const done = jsonLines(run.stdout).pop()!;
    assert.ok((done.test_acc as number) > 0.85, `accuracy ${done.test_acc}`);
    const evaluated = jsonLines(kat('eval', '--checkpoint', out, '--json').stdout)[0]!;
    assert.equal(evaluated.test_acc, done.test_acc);
  });

  it('bad input: one kat: line, non-zero exit, nothing overwritten', () => {
    const before = readFileSync(checkpoint);
    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return `csv:${path}`;
    };
    const ragged = write('ragged.csv', 'a,b,y\n1,2,3\n4,5\n');
    const text = write('text.csv', 'a,y\n1,2\n2,3\nabc,4\n4,5\n5,6\n');
    const nan = write('nan.csv', 'a,y\n1,2\nNaN,3\n4,5\n5,6\n');
    const empty = write('empty.csv', '');
    const cases: [string[], RegExp][] = [
      [['train', '--dataset', `csv:${join(dir, 'missing.csv')}`, '--target', 'y'], /csv file '.*missing\.csv' does not exist/],
      [['train', '--dataset', `csv:${regression}`, '--target', 'z', '--out', checkpoint], /has no column 'z': its columns are 'x1', 'x2', 'x3', 'distractor', 'y'/],
      [['train', '--dataset', `csv:${regression}`, '--out', checkpoint], /no target column chosen: expected one of 'x1'/],
      [['train', '--dataset', ragged, '--target', 'y'], /line 3 \(data row 2\) has 2 fields, but the header has 3/],
      [['train', '--dataset', text, '--target', 'y'], /line 4 \(data row 3\), column 'a' holds "abc", which is not a number/],
      [['train', '--dataset', nan, '--target', 'y'], /line 3 \(data row 2\), column 'a' is "NaN"/],
      [['train', '--dataset', empty, '--target', 'y'], /empty\.csv' is empty/],
      [['train', '--dataset', 'csv:', '--target', 'y'], /csv needs a file/],
      [['train', '--model', 'kat-micro', '--dataset', `csv:${regression}`, '--target', 'y'], /kat-micro is a transformer for images; tabular data .* --model kan-mlp/],
      [['train', '--target', 'y'], /--target applies to tabular data \(--dataset csv:FILE\) only/],
      [['train', '--dataset', `csv:${regression}`, '--target', 'y', '--task', 'ranking'], /unknown task 'ranking'/],
      [['train', '--dataset', `csv:${regression}`, '--target', 'y', '--test-fraction', '1.5'], /--test-fraction must be > 0 and < 1/],
      [['train', '--dataset', `csv:${regression}`, '--target', 'y', '--shift', '2'], /--shift augments images/],
      [['eval', '--checkpoint', checkpoint, '--target', 'x1'], /trained to predict 'y', not 'x1'/],
      [['eval', '--checkpoint', checkpoint, '--dataset', 'mnist'], /holds a model for tabular data/],
    ];
    assertBadInputs(cases);
    assert.deepEqual(readFileSync(checkpoint), before, 'a failed run changed the checkpoint');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    assert.ok(existsSync(checkpoint));
  });
});
