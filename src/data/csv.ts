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
import { excerpt, quote } from '../util/text.js';
import type { DataSplit, ImageDataset } from './dataset.js';

// ---------------------------------------------------------------- parsing

/** A parsed CSV file: header and rows of strings. */
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

/** Options of parseCsv(). */
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

// Bounds on what a table may ask for: every cell is a JS string (tens of bytes
// each), so the cell count, not the file size, decides the memory a table takes.
/** Largest CSV file read (bytes). */
export const MAX_CSV_BYTES = 256 * 1024 ** 2;
/** Most columns in a table. */
export const MAX_CSV_COLUMNS = 65_536;
/** Most cells (rows x columns, header included) in a table. */
export const MAX_CSV_CELLS = 2 ** 22;
/** Most data rows in a table (each row costs about 200 bytes besides its cells). */
export const MAX_CSV_ROWS = 2 ** 20;
/** Most encoded input values (rows x inputs, one-hot entries included): 512 MiB of float32. */
export const MAX_TABULAR_VALUES = 2 ** 27;

/** A list of names for a message: each quoted, at most `limit` of them. */
function nameList(names: readonly string[], limit = 20): string {
  const shown = names.slice(0, limit).map((n) => quote(n)).join(', ');
  return names.length > limit ? `${shown}, ... (${names.length} in all)` : shown;
}

function isSpace(c: string): boolean {
  return c.trim() === '';
}

/** Line breaks in text[from, to): LF, CRLF or a lone CR count once each. */
function lineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === 10 || (c === 13 && text.charCodeAt(k + 1) !== 10)) count++;
  }
  return count;
}

/**
 * The records of CSV text, lazily. Fields are separated by `delimiter`,
 * records by CRLF, LF or CR. A field that starts with `"` (after optional
 * spaces) is quoted: it may hold delimiters and line breaks, and `""` stands
 * for one quote; only spaces may follow its closing quote. Records that are
 * empty or only white space are skipped. Fields are slices of `text` (not
 * built a character at a time), so a huge field costs its own size only.
 */
function* csvRecords(text: string, delimiter: string, source: string): Generator<CsvRecord, void, undefined> {
  const n = text.length;
  const delim = delimiter.charCodeAt(0);
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let anyQuoted = false;
    for (;;) {
      // One field: white space, then either a quoted field or text up to the delimiter or line end.
      let j = i;
      while (j < n && text[j] !== delimiter && text[j] !== '\n' && text[j] !== '\r' && text[j] !== '"' && isSpace(text[j]!)) j++;
      if (j < n && text[j] === '"') {
        const quoteLine = line;
        let value = '';
        i = j + 1;
        for (;;) {
          const close = text.indexOf('"', i);
          if (close < 0) throw new Error(`${source}: line ${quoteLine}: a quoted field is never closed (missing '"')`);
          line += lineBreaks(text, i, close);
          value += text.slice(i, close);
          if (text[close + 1] === '"') {
            value += '"';
            i = close + 2;
            continue;
          }
          i = close + 1;
          break;
        }
        // Only white space may sit between a closing quote and the delimiter.
        while (i < n && (text[i] === ' ' || text[i] === '\t') && text[i] !== delimiter) i++;
        if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          throw new Error(`${source}: line ${line}: unexpected ${quote(text.slice(i, i + 1))} after the closing quote of a field ` +
            '(a quoted field must end at a delimiter or the end of the line; write "" for a quote inside it)');
        }
        fields.push(value);
        anyQuoted = true;
      } else {
        let k = j;
        while (k < n) {
          const c = text.charCodeAt(k);
          if (c === delim || c === 10 || c === 13) break;
          k++;
        }
        fields.push(text.slice(j, k).trim());
        i = k;
      }
      if (fields.length > MAX_CSV_COLUMNS) {
        throw new Error(`${source}: line ${startLine} has more than ${MAX_CSV_COLUMNS} fields (the most columns a table may have)`);
      }
      if (i >= n) break;
      if (text[i] === delimiter) {
        i++;
        continue;
      }
      i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      break;
    }
    if (!anyQuoted && fields.length === 1 && fields[0] === '') continue; // a blank line
    yield { fields, line: startLine };
  }
}

/** Strips a UTF-8 byte-order mark. */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The byte offset of the first invalid UTF-8 sequence, or -1. */
function invalidUtf8At(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too (as TextDecoder's fatal mode says).
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** The 1-based line of a byte offset. */
function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset; k++) if (bytes[k] === 10 || (bytes[k] === 13 && bytes[k + 1] !== 10)) line++;
  return line;
}

/**
 * The text of a CSV file's bytes: UTF-8 (a BOM is dropped). UTF-16 (a
 * UTF-16 byte-order mark, or NUL bytes in every other position), other NUL
 * bytes and invalid UTF-8 are errors that say so: decoded anyway they would
 * read as ragged rows or merge distinct categories into U+FFFD.
 */
export function decodeCsvBytes(bytes: Uint8Array, source = 'csv'): string {
  const utf16 = `${source} looks like UTF-16: save it as UTF-8`;
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    throw new Error(`${utf16} (it starts with a UTF-16 byte-order mark)`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    // ASCII text in UTF-16 has a NUL in every other byte; count them in the first 4 KiB by parity.
    const head = bytes.subarray(0, 4096);
    const nuls = [0, 0];
    head.forEach((b, k) => { if (b === 0) nuls[k % 2]!++; });
    const half = Math.floor(head.length / 2);
    if (half > 0 && (nuls[0]! >= half * 0.4 || nuls[1]! >= half * 0.4) && Math.min(nuls[0]!, nuls[1]!) < half * 0.1) {
      throw new Error(`${utf16} (NUL bytes in every other byte)`);
    }
    throw new Error(`${source} holds a NUL byte at byte offset ${nul} (line ${lineOfByte(bytes, nul)}): it is a binary file, not CSV text`);
  }
  const bad = invalidUtf8At(bytes);
  if (bad >= 0) {
    throw new Error(`${source} is not UTF-8 text: byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at byte offset ${bad} ` +
      `(line ${lineOfByte(bytes, bad)}) starts no valid UTF-8 character; save it as UTF-8`);
  }
  return new TextDecoder('utf-8').decode(bytes);
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
  return d === '\t' ? 'TAB' : quote(d);
}

/**
 * Parses CSV text with a header row. Throws one error naming the source and
 * line for: empty input, a header without data rows, a duplicate column
 * name, a row with a different number of fields than the header, an
 * unclosed quote or text after a closing quote, more than MAX_CSV_COLUMNS
 * columns or MAX_CSV_CELLS cells.
 */
export function parseCsv(text: string, options: CsvParseOptions = {}): CsvTable {
  const source = options.source ?? 'csv';
  const body = withoutBom(text);
  const requested = options.delimiter ?? 'auto';
  if (requested !== 'auto' && (requested.length !== 1 || requested === '"' || requested === '\n' || requested === '\r')) {
    throw new Error(`${source}: delimiter ${excerpt(JSON.stringify(requested))} is not valid: expected one character other than a quote or line break, or 'auto'`);
  }
  const delimiter = requested === 'auto' ? detectCsvDelimiter(body) : requested;
  const records = csvRecords(body, delimiter, source);
  const header = records.next();
  if (header.done) throw new Error(`${source} is empty: expected a header row of column names, then data rows`);
  const columns = header.value.fields.map((name, i) => (name === '' ? `column${i + 1}` : name));
  const seen = new Map<string, number>();
  columns.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) throw new Error(`${source}: the header names column ${quote(name)} twice (columns ${first + 1} and ${i + 1})`);
    seen.set(name, i);
  });
  const rows: string[][] = [];
  const lines: number[] = [];
  const maxRows = Math.min(MAX_CSV_ROWS, Math.floor(MAX_CSV_CELLS / columns.length) - 1);
  for (const record of records) {
    if (record.fields.length !== columns.length) {
      throw new Error(`${source}: line ${record.line} (data row ${rows.length + 1}) has ${record.fields.length} fields, but the header has ` +
        `${columns.length} (delimiter ${describeDelimiter(delimiter)}): ${quote(record.fields.join(delimiter))}`);
    }
    if (rows.length >= maxRows) {
      throw new Error(`${source}: more than ${maxRows} data rows of ${columns.length} columns (line ${record.line}): a table may hold at most ` +
        `${MAX_CSV_ROWS} rows and ${MAX_CSV_CELLS} cells; use a sample of the rows`);
    }
    rows.push(record.fields);
    lines.push(record.line);
  }
  if (rows.length === 0) throw new Error(`${source} has a header (${excerpt(columns.join(', '))}) but no data rows`);
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
    const where = `${source}: line ${table.lines[r]} (data row ${r + 1}), column ${quote(name)}`;
    if (cell.kind === 'number') values[r] = cell.value;
    else if (cell.kind === 'empty') throw new Error(`${where} is empty: expected a number (missing values are not supported: fill or drop the row)`);
    else if (cell.kind === 'not-finite') throw new Error(`${where} is "${excerpt(raw.trim())}": expected a finite number (NaN and infinities are not supported)`);
    else throw new Error(`${where} holds "${excerpt(raw)}", which is not a number, in a numeric column`);
  });
  return values;
}

// ---------------------------------------------------------------- datasets

/** Classification or regression. */
export type TabularTask = 'classification' | 'regression';

/** How one column becomes inputs: standardised number, or one-hot categories. */
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

/** A table split into training and test sets, with the preprocessing fitted on the training rows. */
export interface TabularSplit extends DataSplit {
  train: TabularDataset;
  test: TabularDataset;
  preprocessing: TabularPreprocessing;
}

/** Options of tabularSplit(): target, task, the seeded split, and a stored preprocessing to reuse. */
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
  if (index < 0) throw new Error(`${source} has no column ${quote(name)}: its columns are ${nameList(table.columns)}`);
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
    if (cell.kind === 'empty') throw new Error(`${where}: the target ${quote(name)} is empty (every row needs a label)`);
    if (cell.kind === 'not-finite') throw new Error(`${where}: the target ${quote(name)} is "${excerpt(raw.trim())}": expected a class label`);
    return classKey(raw);
  });
  const classes = known ?? [...new Set(keys)].sort(compareValues);
  if (classes.length > MAX_CLASSES) {
    throw new Error(`${source}: the target ${quote(name)} has ${classes.length} distinct values, too many classes (at most ${MAX_CLASSES}): ` +
      'is it a regression target?');
  }
  // One class would train to a meaningless "100%": there is nothing to tell apart.
  if (!known && classes.length < 2) {
    throw new Error(`${source}: the target ${quote(name)} has only one value (${quote(classes[0] ?? '')}) in every row: ` +
      'a classification target needs at least 2 classes');
  }
  const idOf = new Map(classes.map((c, i) => [c, i]));
  const ids = new Int32Array(keys.length);
  keys.forEach((key, r) => {
    const id = idOf.get(key);
    if (id === undefined) {
      throw new Error(`${source}: line ${table.lines[r]} (data row ${r + 1}): the target ${quote(name)} is ${quote(key)}, ` +
        `not one of the ${classes.length} classes the model was trained on (${nameList(classes)})`);
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
    // Loops, not push(...list): spreading a list of a million rows overflows the stack.
    groups.forEach((group, g) => {
      for (const r of rng.shuffle(group).slice(0, shares[g])) test.push(r);
    });
  } else {
    for (const r of rng.shuffle(Array.from({ length: rows }, (_, i) => i)).slice(0, testCount)) test.push(r);
  }
  const inTest = new Uint8Array(rows);
  for (const r of test) inTest[r] = 1;
  const train: number[] = [];
  for (let r = 0; r < rows; r++) if (!inTest[r]) train.push(r);
  return { train: Int32Array.from(train), test: Int32Array.from(test.sort((a, b) => a - b)) };
}

/**
 * Powers of two whose product brings `max` near 1. Multiplying by a power of
 * two is exact, so statistics of scaled values, scaled back, equal the plain
 * ones bit for bit, except that near 1e308 they do not overflow (and near
 * 1e-308 they do not underflow). Two factors: 2^1074 alone is not a double.
 */
function unitScale(max: number): [number, number] {
  if (!(max > 0 && Number.isFinite(max))) return [1, 1];
  const e = Math.floor(Math.log2(max));
  const half = Math.trunc(-e / 2);
  return [2 ** half, 2 ** (-e - half)];
}

function meanAndStd(values: Float64Array, rows: Int32Array): { mean: number; std: number } {
  let max = 0;
  for (const r of rows) max = Math.max(max, Math.abs(values[r]!));
  const [f1, f2] = unitScale(max);
  let mean = 0;
  for (const r of rows) mean += values[r]! * f1 * f2;
  mean /= rows.length;
  let variance = 0;
  for (const r of rows) variance += (values[r]! * f1 * f2 - mean) ** 2;
  const scaledStd = Math.sqrt(variance / rows.length);
  // A constant column carries nothing: centre it and leave it unscaled.
  const constant = !(scaledStd > 1e-12 * Math.max(1, Math.abs(mean)));
  return { mean: mean / f1 / f2, std: constant ? 1 : scaledStd / f1 / f2 };
}

/** (x - mean) / std without overflow in x - mean (both may be near 1e308); not finite when the quotient is not. */
function standardise(x: number, mean: number, std: number): number {
  const z = (x - mean) / std;
  return Number.isFinite(z) ? z : x / std - mean / std;
}

/** True when a standardised value survives float32 (the model's precision). */
function fitsFloat32(z: number): boolean {
  return Number.isFinite(Math.fround(z));
}

/** Fitted statistics that overflowed would be stored as null and zero the column: an error instead. */
function checkScale(scale: { mean: number; std: number }, what: string, source: string): void {
  if (!(Number.isFinite(scale.mean) && Number.isFinite(scale.std) && scale.std > 0)) {
    throw new Error(`${source}: ${what} cannot be standardised: its mean is ${scale.mean} and its standard deviation ${scale.std} ` +
      '(are its values too large or too small?)');
  }
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
      const scale = meanAndStd(numericColumn(table, c, source), trainRows);
      checkScale(scale, `column ${quote(name)}`, source);
      features.push({ name, kind: 'numeric', ...scale });
      return;
    }
    const categories = [...new Set(Array.from(trainRows, (r) => table.rows[r]![c]!))].sort(compareValues);
    if (categories.length > MAX_CATEGORIES) {
      throw new Error(`${source}: column ${quote(name)} has ${categories.length} distinct non-numeric values in the training rows; ` +
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
  if (table.rows.length * width > MAX_TABULAR_VALUES) {
    throw new Error(`${source}: ${table.rows.length} rows x ${width} inputs (one-hot entries included) is more than the ` +
      `${MAX_TABULAR_VALUES} values a table may encode to; use fewer rows or categories`);
  }
  const out = new Float32Array(table.rows.length * width);
  let offset = 0;
  for (const feature of features) {
    const c = columnIndex(table, feature.name, source);
    if (feature.kind === 'numeric') {
      const values = numericColumn(table, c, source);
      for (let r = 0; r < values.length; r++) {
        const z = standardise(values[r]!, feature.mean, feature.std);
        if (!fitsFloat32(z)) {
          throw new Error(`${source}: line ${table.lines[r]} (data row ${r + 1}), column ${quote(feature.name)}: ${values[r]} is ` +
            `${Math.abs(z).toExponential(2)} standard deviations from the training mean, too far to encode (float32)`);
        }
        out[r * width + offset] = z;
      }
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
    throw new Error(`${source}: no target column chosen: expected one of ${nameList(table.columns)}`);
  }
  if (stored && targetName !== stored.target) {
    throw new Error(`${source}: the model was trained to predict ${quote(stored.target)}, not ${quote(targetName)}`);
  }
  const target = columnIndex(table, targetName, source);
  if (table.columns.length < 2) throw new Error(`${source}: no feature columns: the table has only the target column ${quote(targetName)}`);
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
      throw new Error(`${source}: regression needs a numeric target, but most values of ${quote(targetName)} are not numbers (use classification)`);
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
    const values = labels as Float64Array;
    if (!stored && split.train.every((r) => values[r] === values[split.train[0]!])) {
      throw new Error(`${source}: the regression target ${quote(targetName)} is ${values[split.train[0]!]} in every training row: nothing to predict`);
    }
    const scale = stored ? { mean: stored.targetMean!, std: stored.targetStd! } : meanAndStd(values, split.train);
    checkScale(scale, `the target ${quote(targetName)}`, source);
    preprocessing.targetMean = scale.mean;
    preprocessing.targetStd = scale.std;
  }
  const inputs = encodeFeatures(table, features, source);
  const width = tabularWidth(features);
  const featureNames = tabularFeatureNames(features);

  const build = (rows: Int32Array, part: string): TabularDataset => {
    const y = new Float32Array(rows.length);
    rows.forEach((r, k) => {
      if (task === 'classification') {
        y[k] = labels[r]!;
        return;
      }
      const z = standardise(labels[r]!, preprocessing.targetMean!, preprocessing.targetStd!);
      if (!fitsFloat32(z)) {
        throw new Error(`${source}: line ${table.lines[r]} (data row ${r + 1}), the target ${quote(targetName)}: ${labels[r]} is ` +
          `${Math.abs(z).toExponential(2)} standard deviations from the training mean, too far to encode (float32)`);
      }
      y[k] = z;
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

/** The preprocessing of a table as JSON, for a checkpoint's metadata (decodeTabularPreprocessing reads it back). */
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
  if (p.task !== 'classification' && p.task !== 'regression') fail(`has task ${excerpt(JSON.stringify(p.task) ?? 'none')}: expected classification or regression`);
  if (!Array.isArray(p.features) || p.features.length === 0) fail('has no feature list');
  for (const f of p.features) {
    const ok = typeof f?.name === 'string' && (f.kind === 'numeric'
      ? finite(f.mean) && finite(f.std) && f.std > 0
      : f.kind === 'categorical' && Array.isArray(f.categories) && f.categories.every((c) => typeof c === 'string'));
    if (!ok) fail(`has a malformed feature entry ${excerpt(JSON.stringify(f) ?? String(f))}`);
  }
  // A name or category listed twice would read one column into two inputs, or leave a one-hot entry always 0: a wrong encoding.
  if (p.features.length > MAX_CSV_COLUMNS) fail(`lists ${p.features.length} features, more than a table's ${MAX_CSV_COLUMNS} columns`);
  const names = new Set<string>([p.target]);
  for (const f of p.features) {
    if (names.has(f.name)) fail(f.name === p.target ? `lists the target ${quote(f.name)} as a feature` : `lists the feature ${quote(f.name)} twice`);
    names.add(f.name);
    if (f.kind === 'categorical') {
      if (f.categories.length > MAX_CATEGORIES) fail(`gives feature ${quote(f.name)} ${f.categories.length} categories (at most ${MAX_CATEGORIES})`);
      const dup = f.categories.find((c, i) => f.categories.indexOf(c) !== i);
      if (dup !== undefined) fail(`lists category ${quote(dup)} of feature ${quote(f.name)} twice`);
    }
  }
  if (p.task === 'classification' && (!Array.isArray(p.classes) || p.classes.length === 0 || !p.classes.every((c) => typeof c === 'string'))) {
    fail('has no class names');
  }
  if (p.task === 'classification') {
    if (p.classes!.length > MAX_CLASSES) fail(`lists ${p.classes!.length} classes (at most ${MAX_CLASSES})`);
    const dup = p.classes!.find((c, i) => p.classes!.indexOf(c) !== i);
    if (dup !== undefined) fail(`lists class ${quote(dup)} twice`);
  }
  if (p.task === 'regression' && !(finite(p.targetMean) && finite(p.targetStd) && p.targetStd! > 0)) fail('has no valid target mean and std');
  if (!(finite(p.testFraction) && p.testFraction > 0 && p.testFraction <= 1) || !finite(p.seed)) fail('has no valid split (testFraction, seed)');
  return p;
}
