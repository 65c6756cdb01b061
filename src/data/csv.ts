// Tabular data from CSV: an RFC 4180 parser and a builder that turns a table
// into a seeded train/test split the image trainer and kan-mlp can use.
//
// A tabular dataset is an ImageDataset of 1 x 1 x F "images" (F features;
// kan-mlp flattens its input). Numeric feature columns are standardised with
// the training split's mean and standard deviation; non-numeric columns are
// one-hot encoded over the categories seen in the training split. The target
// is a class id (classification) or a standardised number (regression: one
// model output). Everything needed to encode new data the same way is kept in
// a TabularPreprocessing, stored in checkpoints as JSON.
//
// Browser-safe: text in, datasets out (data/index.ts reads files).

import { Random } from '../tensor/random.js';
import type { DataSplit, ImageDataset } from './dataset.js';

// ---------------------------------------------------------------- parsing

export interface CsvTable {
  /** Header names, trimmed (an empty name becomes `columnN`, N counted from 1). */
  columns: string[];
  /** Data rows, columns.length fields each: quoted fields exactly as quoted, unquoted ones trimmed. */
  rows: string[][];
  /** The 1-based file line on which each data row starts (for error messages). */
  lines: number[];
  /** The field delimiter used. */
  delimiter: string;
}

export interface CsvParseOptions {
  /** One character, or 'auto' (the default): the first of , ; TAB | that splits the first rows consistently. */
  delimiter?: string;
  /** Names the input in error messages (default 'csv'). */
  source?: string;
}

interface CsvRecord {
  fields: string[];
  line: number;
}

export const CSV_DELIMITER_CANDIDATES = [',', ';', '\t', '|'] as const;

/**
 * The records of CSV text, lazily. Fields are separated by `delimiter`,
 * records by CRLF, LF or CR. A field that starts with `"` (after optional
 * spaces) is quoted: it may hold delimiters and line breaks, and `""` stands
 * for one quote; only spaces may follow its closing quote. Records that are
 * empty or only white space are skipped.
 */
function* csvRecords(text: string, delimiter: string, source: string): Generator<CsvRecord, void, undefined> {
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false; // the current field was quoted
    let anyQuoted = false;
    let ended = false;
    while (i < n && !ended) {
      const c = text[i]!;
      if (c === delimiter) {
        fields.push(quoted ? field : field.trim());
        field = '';
        quoted = false;
        i++;
      } else if (c === '\n' || c === '\r') {
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        ended = true;
      } else if (quoted) {
        // Only white space may sit between a closing quote and the delimiter.
        if (c !== ' ' && c !== '\t') {
          throw new Error(`${source}: line ${line}: unexpected '${c}' after the closing quote of a field ` +
            '(a quoted field must end at a delimiter or the end of the line; write "" for a quote inside it)');
        }
        i++;
      } else if (c === '"' && field.trim() === '') {
        // A quoted field: read to the closing quote.
        const quoteLine = line;
        field = '';
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${source}: line ${quoteLine}: a quoted field is never closed (missing '"')`);
          const q = text[i]!;
          if (q === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (q === '\n' || (q === '\r' && text[i + 1] !== '\n')) line++;
          field += q;
          i++;
        }
        quoted = true;
        anyQuoted = true;
      } else {
        field += c;
        i++;
      }
    }
    fields.push(quoted ? field : field.trim());
    if (!anyQuoted && fields.length === 1 && fields[0] === '') continue; // a blank line
    yield { fields, line: startLine };
  }
}

/** Strips a UTF-8 byte-order mark. */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * The delimiter of CSV text: the first of , ; TAB | that gives the header
 * more than one field and every one of the first 20 records the header's
 * field count (the one with most fields wins); ',' when none does.
 */
export function detectCsvDelimiter(text: string): string {
  const body = withoutBom(text);
  let best = ',';
  let bestFields = 1;
  for (const candidate of CSV_DELIMITER_CANDIDATES) {
    let fields = 0;
    let consistent = true;
    try {
      let count = 0;
      for (const record of csvRecords(body, candidate, 'csv')) {
        if (count === 0) fields = record.fields.length;
        else if (record.fields.length !== fields) consistent = false;
        if (++count >= 20 || !consistent) break;
      }
    } catch {
      consistent = false;
    }
    if (consistent && fields > bestFields) {
      best = candidate;
      bestFields = fields;
    }
  }
  return best;
}

function describeDelimiter(d: string): string {
  return d === '\t' ? 'TAB' : `'${d}'`;
}

/**
 * Parses CSV text with a header row. Throws one error naming the source and
 * line for: empty input, a header without data rows, a duplicate column
 * name, a row with a different number of fields than the header, an
 * unclosed quote or text after a closing quote.
 */
export function parseCsv(text: string, options: CsvParseOptions = {}): CsvTable {
  const source = options.source ?? 'csv';
  const body = withoutBom(text);
  const requested = options.delimiter ?? 'auto';
  if (requested !== 'auto' && (requested.length !== 1 || requested === '"' || requested === '\n' || requested === '\r')) {
    throw new Error(`${source}: delimiter ${JSON.stringify(requested)} is not valid: expected one character other than a quote or line break, or 'auto'`);
  }
  const delimiter = requested === 'auto' ? detectCsvDelimiter(body) : requested;
  const records = csvRecords(body, delimiter, source);
  const header = records.next();
  if (header.done) throw new Error(`${source} is empty: expected a header row of column names, then data rows`);
  const columns = header.value.fields.map((name, i) => (name === '' ? `column${i + 1}` : name));
  const seen = new Map<string, number>();
  columns.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) throw new Error(`${source}: the header names column '${name}' twice (columns ${first + 1} and ${i + 1})`);
    seen.set(name, i);
  });
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const record of records) {
    if (record.fields.length !== columns.length) {
      throw new Error(`${source}: line ${record.line} (data row ${rows.length + 1}) has ${record.fields.length} fields, but the header has ` +
        `${columns.length} (delimiter ${describeDelimiter(delimiter)})`);
    }
    rows.push(record.fields);
    lines.push(record.line);
  }
  if (rows.length === 0) throw new Error(`${source} has a header (${columns.join(', ')}) but no data rows`);
  return { columns, rows, lines, delimiter };
}

// ---------------------------------------------------------------- cells

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

type Cell = { kind: 'number'; value: number } | { kind: 'not-finite' } | { kind: 'empty' } | { kind: 'text' };

function readCell(raw: string): Cell {
  const text = raw.trim();
  if (text === '') return { kind: 'empty' };
  if (NUMBER.test(text)) {
    const value = Number(text);
    return Number.isFinite(value) ? { kind: 'number', value } : { kind: 'not-finite' };
  }
  return NOT_FINITE.test(text) ? { kind: 'not-finite' } : { kind: 'text' };
}

/** Numeric when more of its non-empty values look like numbers (NaN and Infinity included) than not. */
function isNumericColumn(table: CsvTable, column: number): boolean {
  let numbers = 0;
  let texts = 0;
  for (const row of table.rows) {
    const kind = readCell(row[column]!).kind;
    if (kind === 'number' || kind === 'not-finite') numbers++;
    else if (kind === 'text') texts++;
  }
  return numbers > texts;
}

/** Every value of a numeric column, or an error naming the first bad row (in file order). */
function numericColumn(table: CsvTable, column: number, source: string): Float64Array {
  const name = table.columns[column]!;
  const values = new Float64Array(table.rows.length);
  table.rows.forEach((row, r) => {
    const raw = row[column]!;
    const cell = readCell(raw);
    const where = `${source}: line ${table.lines[r]} (data row ${r + 1}), column '${name}'`;
    if (cell.kind === 'number') values[r] = cell.value;
    else if (cell.kind === 'empty') throw new Error(`${where} is empty: expected a number (missing values are not supported: fill or drop the row)`);
    else if (cell.kind === 'not-finite') throw new Error(`${where} is ${JSON.stringify(raw.trim())}: expected a finite number (NaN and infinities are not supported)`);
    else throw new Error(`${where} holds ${JSON.stringify(raw)}, which is not a number, in a numeric column`);
  });
  return values;
}

// ---------------------------------------------------------------- datasets

export type TabularTask = 'classification' | 'regression';

export type TabularFeature =
  | { name: string; kind: 'numeric'; mean: number; std: number }
  | { name: string; kind: 'categorical'; categories: string[] };

/** How a table becomes model inputs and targets; fitted on the training split and stored in checkpoints. */
export interface TabularPreprocessing {
  target: string;
  task: TabularTask;
  /** Feature columns in table order (every column but the target). */
  features: TabularFeature[];
  /** Classification: the class names, in class-id order. */
  classes?: string[];
  /** Regression: the training targets' mean and standard deviation (the model predicts (y - mean) / std). */
  targetMean?: number;
  targetStd?: number;
  /** The split the model was trained with. */
  testFraction: number;
  seed: number;
}

/** A split of a table: 1 x 1 x features inputs; labels are class ids or standardised targets. */
export interface TabularDataset extends ImageDataset {
  task: TabularTask;
  preprocessing: TabularPreprocessing;
  /** The name of each input value: a numeric column's name, or `column=category` for one-hot entries. */
  featureNames: string[];
  /** The 0-based data row of the table behind each example. */
  rows: Int32Array;
}

export interface TabularSplit extends DataSplit {
  train: TabularDataset;
  test: TabularDataset;
  preprocessing: TabularPreprocessing;
}

export interface TabularOptions {
  /** The target column's name (required unless `preprocessing` is given). */
  target?: string;
  /** Force the task; by default see `inferTabularTask`. */
  task?: TabularTask;
  /** Share of rows in the test split, in (0, 1) (default 0.2; 1 is allowed with `preprocessing`: evaluate every row). */
  testFraction?: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Names the data in errors and dataset names (default 'csv'). */
  source?: string;
  /** Encode with this (from a checkpoint) instead of fitting: same columns, scaling, categories, classes and split. */
  preprocessing?: TabularPreprocessing;
}

export const DEFAULT_TEST_FRACTION = 0.2;
/** An integer target with at most this many distinct values is a class label (unless forced). */
export const MAX_INFERRED_CLASSES = 20;
export const MAX_CLASSES = 1000;
export const MAX_CATEGORIES = 256;

/** Numbers sort numerically, other text by code point: a stable, locale-free order. */
function compareValues(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (NUMBER.test(a) && NUMBER.test(b) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The task for a target column: classification when its values are not
 * numbers, or are all integers with at most MAX_INFERRED_CLASSES distinct
 * values; regression otherwise.
 */
export function inferTabularTask(table: CsvTable, target: string, source = 'csv'): TabularTask {
  const column = columnIndex(table, target, source);
  if (!isNumericColumn(table, column)) return 'classification';
  const values = numericColumn(table, column, source);
  const distinct = new Set(values);
  return values.every(Number.isInteger) && distinct.size <= MAX_INFERRED_CLASSES ? 'classification' : 'regression';
}

function columnIndex(table: CsvTable, name: string, source: string): number {
  const index = table.columns.indexOf(name);
  if (index < 0) throw new Error(`${source} has no column '${name}': its columns are ${table.columns.map((c) => `'${c}'`).join(', ')}`);
  return index;
}

/** The class key of a label: numbers by value (so 1 and 1.0 are one class), text as written. */
function classKey(raw: string): string {
  const cell = readCell(raw);
  return cell.kind === 'number' ? String(cell.value) : raw.trim();
}

function classLabels(table: CsvTable, column: number, source: string, known: string[] | undefined): { ids: Int32Array; classes: string[] } {
  const name = table.columns[column]!;
  const keys = table.rows.map((row, r) => {
    const raw = row[column]!;
    const cell = readCell(raw);
    const where = `${source}: line ${table.lines[r]} (data row ${r + 1})`;
    if (cell.kind === 'empty') throw new Error(`${where}: the target '${name}' is empty (every row needs a label)`);
    if (cell.kind === 'not-finite') throw new Error(`${where}: the target '${name}' is ${JSON.stringify(raw.trim())}: expected a class label`);
    return classKey(raw);
  });
  const classes = known ?? [...new Set(keys)].sort(compareValues);
  if (classes.length > MAX_CLASSES) {
    throw new Error(`${source}: the target '${name}' has ${classes.length} distinct values, too many classes (at most ${MAX_CLASSES}): ` +
      'is it a regression target?');
  }
  const idOf = new Map(classes.map((c, i) => [c, i]));
  const ids = new Int32Array(keys.length);
  keys.forEach((key, r) => {
    const id = idOf.get(key);
    if (id === undefined) {
      throw new Error(`${source}: line ${table.lines[r]} (data row ${r + 1}): the target '${name}' is '${key}', ` +
        `not one of the ${classes.length} classes the model was trained on (${classes.slice(0, 20).join(', ')}${classes.length > 20 ? ', ...' : ''})`);
    }
    ids[r] = id;
  });
  return { ids, classes };
}

/** Splits `total` into integer parts proportional to `sizes`, summing exactly to `total` (largest remainder, ties to the lower index). */
function proportionalParts(sizes: number[], total: number): number[] {
  const sum = sizes.reduce((a, b) => a + b, 0);
  const exact = sizes.map((s) => (sum === 0 ? 0 : (s * total) / sum));
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    parts[i]!++;
    left--;
  }
  return parts;
}

/**
 * Seeded train/test row indices (each sorted ascending). With class ids
 * (stratified) every class gives the test split its share, rounded by largest
 * remainder so the test split has exactly round(rows x fraction) rows;
 * without, the rows are shuffled and the first round(rows x fraction) are
 * the test split.
 */
export function splitRows(rows: number, testFraction: number, seed: number, classIds?: Int32Array): { train: Int32Array; test: Int32Array } {
  const testCount = Math.round(rows * testFraction);
  const rng = new Random(seed);
  const test: number[] = [];
  if (classIds) {
    const members = new Map<number, number[]>();
    for (let r = 0; r < rows; r++) {
      const id = classIds[r]!;
      let list = members.get(id);
      if (!list) members.set(id, (list = []));
      list.push(r);
    }
    const groups = [...members.entries()].sort((a, b) => a[0] - b[0]).map(([, list]) => list);
    const shares = proportionalParts(groups.map((g) => g.length), testCount);
    groups.forEach((group, g) => test.push(...rng.shuffle(group).slice(0, shares[g])));
  } else {
    test.push(...rng.shuffle([...Array(rows).keys()]).slice(0, testCount));
  }
  const inTest = new Uint8Array(rows);
  for (const r of test) inTest[r] = 1;
  const train: number[] = [];
  for (let r = 0; r < rows; r++) if (!inTest[r]) train.push(r);
  return { train: Int32Array.from(train), test: Int32Array.from(test.sort((a, b) => a - b)) };
}

function meanAndStd(values: Float64Array, rows: Int32Array): { mean: number; std: number } {
  let mean = 0;
  for (const r of rows) mean += values[r]!;
  mean /= rows.length;
  let variance = 0;
  for (const r of rows) variance += (values[r]! - mean) ** 2;
  const std = Math.sqrt(variance / rows.length);
  // A constant column carries nothing: centre it and leave it unscaled.
  return { mean, std: std > 1e-12 * Math.max(1, Math.abs(mean)) ? std : 1 };
}

function checkFraction(fraction: number, allowAll: boolean, source: string): void {
  if (!(fraction > 0 && (fraction < 1 || (allowAll && fraction === 1)))) {
    throw new Error(`${source}: test fraction ${fraction} is not valid: expected a number in (0, 1${allowAll ? ']' : ')'}`);
  }
}

/** Fits the feature encoding on the training rows. */
function fitFeatures(table: CsvTable, target: number, trainRows: Int32Array, source: string): TabularFeature[] {
  const features: TabularFeature[] = [];
  table.columns.forEach((name, c) => {
    if (c === target) return;
    if (isNumericColumn(table, c)) {
      features.push({ name, kind: 'numeric', ...meanAndStd(numericColumn(table, c, source), trainRows) });
      return;
    }
    const categories = [...new Set(Array.from(trainRows, (r) => table.rows[r]![c]!))].sort(compareValues);
    if (categories.length > MAX_CATEGORIES) {
      throw new Error(`${source}: column '${name}' has ${categories.length} distinct non-numeric values in the training rows; ` +
        `one-hot encoding allows at most ${MAX_CATEGORIES} (is it an identifier? remove the column)`);
    }
    features.push({ name, kind: 'categorical', categories });
  });
  return features;
}

/** Input width of an encoding: 1 per numeric column, one per category of a categorical one. */
export function tabularWidth(features: readonly TabularFeature[]): number {
  return features.reduce((n, f) => n + (f.kind === 'numeric' ? 1 : f.categories.length), 0);
}

/** The name of every input value. */
export function tabularFeatureNames(features: readonly TabularFeature[]): string[] {
  return features.flatMap((f) => (f.kind === 'numeric' ? [f.name] : f.categories.map((c) => `${f.name}=${c}`)));
}

/**
 * Encodes every row: numeric columns as (x - mean) / std, categorical ones
 * one-hot (a category the encoding has not seen gives all zeros).
 */
function encodeFeatures(table: CsvTable, features: readonly TabularFeature[], source: string): Float32Array {
  const width = tabularWidth(features);
  const out = new Float32Array(table.rows.length * width);
  let offset = 0;
  for (const feature of features) {
    const c = columnIndex(table, feature.name, source);
    if (feature.kind === 'numeric') {
      const values = numericColumn(table, c, source);
      for (let r = 0; r < values.length; r++) out[r * width + offset] = (values[r]! - feature.mean) / feature.std;
      offset += 1;
    } else {
      const slot = new Map(feature.categories.map((name, k) => [name, k]));
      table.rows.forEach((row, r) => {
        const k = slot.get(row[c]!);
        if (k !== undefined) out[r * width + offset + k] = 1;
      });
      offset += feature.categories.length;
    }
  }
  return out;
}

function gatherRows(values: Float32Array, per: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, k) => out.set(values.subarray(r * per, (r + 1) * per), k * per));
  return out;
}

/**
 * A train/test split of a table for `target`: see the file comment for the
 * encoding. Without `preprocessing` it is fitted on the training rows; with
 * it (from a checkpoint) the same encoding and split are applied. Errors
 * name the source, line and column: a missing target column (listing the
 * columns), a non-numeric, empty or NaN value in a numeric column, too few
 * rows for the split, an unknown class.
 */
export function tabularSplit(table: CsvTable, options: TabularOptions = {}): TabularSplit {
  const source = options.source ?? 'csv';
  const stored = options.preprocessing;
  const targetName = options.target ?? stored?.target;
  if (targetName === undefined) {
    throw new Error(`${source}: no target column chosen: expected one of ${table.columns.map((c) => `'${c}'`).join(', ')}`);
  }
  if (stored && targetName !== stored.target) {
    throw new Error(`${source}: the model was trained to predict '${stored.target}', not '${targetName}'`);
  }
  const target = columnIndex(table, targetName, source);
  if (table.columns.length < 2) throw new Error(`${source}: no feature columns: the table has only the target column '${targetName}'`);
  const task = stored?.task ?? options.task ?? inferTabularTask(table, targetName, source);
  if (options.task !== undefined && options.task !== task) {
    throw new Error(`${source}: the model was trained for ${task}, not ${options.task}`);
  }
  const testFraction = options.testFraction ?? stored?.testFraction ?? DEFAULT_TEST_FRACTION;
  checkFraction(testFraction, stored !== undefined, source);
  const seed = options.seed ?? stored?.seed ?? 0;
  const rowCount = table.rows.length;

  let labels: Float64Array | Int32Array;
  let classes: string[] | undefined;
  if (task === 'classification') {
    ({ ids: labels, classes } = classLabels(table, target, source, stored?.classes));
  } else {
    if (!isNumericColumn(table, target)) {
      throw new Error(`${source}: regression needs a numeric target, but most values of '${targetName}' are not numbers (use classification)`);
    }
    labels = numericColumn(table, target, source);
  }
  const split = splitRows(rowCount, testFraction, seed, task === 'classification' ? (labels as Int32Array) : undefined);
  if (split.test.length === 0 || (testFraction < 1 && split.train.length === 0)) {
    throw new Error(`${source}: too few data rows (${rowCount}) for a test fraction of ${testFraction} ` +
      '(both the training and the test split need rows)');
  }

  const features = stored?.features ?? fitFeatures(table, target, split.train, source);
  const preprocessing: TabularPreprocessing = { target: targetName, task, features, testFraction, seed };
  if (classes) preprocessing.classes = classes;
  if (task === 'regression') {
    const scale = stored ? { mean: stored.targetMean!, std: stored.targetStd! } : meanAndStd(labels as Float64Array, split.train);
    preprocessing.targetMean = scale.mean;
    preprocessing.targetStd = scale.std;
  }
  const inputs = encodeFeatures(table, features, source);
  const width = tabularWidth(features);
  const featureNames = tabularFeatureNames(features);

  const build = (rows: Int32Array, part: string): TabularDataset => {
    const y = new Float32Array(rows.length);
    rows.forEach((r, k) => {
      y[k] = task === 'classification' ? labels[r]! : (labels[r]! - preprocessing.targetMean!) / preprocessing.targetStd!;
    });
    const dataset: TabularDataset = {
      name: `${source}/${part}`, images: gatherRows(inputs, width, rows), labels: y, count: rows.length, channels: 1, height: 1, width,
      classes: classes?.length ?? 1, task, preprocessing, featureNames, rows,
    };
    if (classes) dataset.classNames = classes;
    return dataset;
  };
  return { train: build(split.train, 'train'), test: build(split.test, 'test'), preprocessing };
}

/** True for datasets made by tabularSplit. */
export function isTabularDataset(dataset: ImageDataset): dataset is TabularDataset {
  const d = dataset as Partial<TabularDataset>;
  return (d.task === 'classification' || d.task === 'regression') && typeof d.preprocessing === 'object' && d.preprocessing !== null;
}

// ---------------------------------------------------------------- checkpoint metadata

/** The checkpoint metadata key that holds a TabularPreprocessing as JSON. */
export const TABULAR_METADATA_KEY = 'tabular';

export function encodeTabularPreprocessing(p: TabularPreprocessing): string {
  return JSON.stringify(p);
}

/** Parses and checks stored preprocessing; throws one error naming `source` and what is wrong. */
export function decodeTabularPreprocessing(text: string, source = 'checkpoint'): TabularPreprocessing {
  const fail = (what: string): never => {
    throw new Error(`${source}: its '${TABULAR_METADATA_KEY}' metadata ${what}`);
  };
  let p: TabularPreprocessing;
  try {
    p = JSON.parse(text) as TabularPreprocessing;
  } catch {
    return fail('is not valid JSON');
  }
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (typeof p !== 'object' || p === null) fail('is not an object');
  if (typeof p.target !== 'string') fail('has no target column name');
  if (p.task !== 'classification' && p.task !== 'regression') fail(`has task ${JSON.stringify(p.task)}: expected classification or regression`);
  if (!Array.isArray(p.features) || p.features.length === 0) fail('has no feature list');
  for (const f of p.features) {
    const ok = typeof f?.name === 'string' && (f.kind === 'numeric'
      ? finite(f.mean) && finite(f.std) && f.std > 0
      : f.kind === 'categorical' && Array.isArray(f.categories) && f.categories.every((c) => typeof c === 'string'));
    if (!ok) fail(`has a malformed feature entry ${JSON.stringify(f)}`);
  }
  if (p.task === 'classification' && (!Array.isArray(p.classes) || p.classes.length === 0 || !p.classes.every((c) => typeof c === 'string'))) {
    fail('has no class names');
  }
  if (p.task === 'regression' && !(finite(p.targetMean) && finite(p.targetStd) && p.targetStd! > 0)) fail('has no valid target mean and std');
  if (!(finite(p.testFraction) && p.testFraction > 0 && p.testFraction <= 1) || !finite(p.seed)) fail('has no valid split (testFraction, seed)');
  return p;
}
