// The data layer: image datasets, mini-batches and the dataset loaders,
// selected by a spec string (the `--data` of the CLI).

import { readRegularFile } from '../io/sources_node.js';
import { loadCifar10 } from './cifar10.js';
import { decodeCsvBytes, MAX_CSV_BYTES, parseCsv, tabularSplit, type TabularOptions, type TabularSplit } from './csv.js';
import type { DataSplit } from './dataset.js';
import { FASHION_MNIST, FASHION_MNIST_DEFAULT_DIR, loadIdxDataset, MNIST_IDX } from './idx.js';
import { FUNCTION_DEFAULT_COUNT, functionSplit, FITTING_FUNCTIONS } from './functions.js';
import { loadMnist } from './mnist.js';
import { syntheticSplit } from './synthetic.js';

export * from './dataset.js';
export * from './mnist.js';
export * from './cifar10.js';
export * from './synthetic.js';
export * from './csv.js';
export * from './idx.js';
export * from './functions.js';

export const DATASET_SPEC_HELP = 'mnist, mnist:DIR, fashion-mnist[:DIR], cifar10:DIR, folder:DIR, synthetic:CxHxW[:classes[:count]], csv:FILE or function:NAME[:count]';
export const SYNTHETIC_DEFAULT_CLASSES = 10;
export const SYNTHETIC_DEFAULT_COUNT = 512;

export type DatasetSpec =
  | { kind: 'mnist' }
  /** An IDX data set (MNIST's format): the full 70,000 MNIST digits or Fashion-MNIST, from a directory. */
  | { kind: 'idx'; dataset: 'mnist' | 'fashion-mnist'; dir: string }
  | { kind: 'cifar10'; dir: string }
  | { kind: 'synthetic'; channels: number; height: number; width: number; classes: number; count: number }
  | { kind: 'csv'; path: string }
  /** A function-fitting regression set (data/functions.ts): `count` points of a named function. */
  | { kind: 'function'; name: string; count: number }
  | { kind: 'folder'; dir: string };

export interface LoadDatasetOptions {
  /** Seed of synthetic data and of the csv train/test split (default 0); mnist and cifar10 are fixed. */
  seed?: number;
  /** Synthetic test images (default ceil(count / 4)). */
  testCount?: number;
  /** csv:FILE: the target column, task, test fraction or stored preprocessing (the split's seed is `seed`). */
  csv?: Omit<TabularOptions, 'seed' | 'source'>;
}

function unknown(spec: string): Error {
  return new Error(`unknown dataset '${spec}': expected ${DATASET_SPEC_HELP}`);
}

function positiveInt(text: string, what: string, spec: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new Error(`dataset '${spec}': ${what} '${text}' is not a positive integer (expected synthetic:CxHxW[:classes[:count]], e.g. synthetic:3x32x32:10:512)`);
  }
  return Number(text);
}

/**
 * Parses a dataset spec: `mnist` (the default: 10,000 embedded digits),
 * `mnist:DIR` (the full MNIST as IDX files in DIR), `fashion-mnist` (IDX files
 * where Debian's dataset-fashion-mnist puts them) or `fashion-mnist:DIR`, `cifar10:DIR` (the CIFAR-10
 * binary version in DIR) or `synthetic:CxHxW[:classes[:count]]` (classes
 * default 10, count = training images, default 512) or `csv:FILE` (a table
 * with a header row: see data/csv.ts and LoadDatasetOptions.csv).
 */
export function parseDatasetSpec(spec: string): DatasetSpec {
  const text = spec.trim();
  if (text === 'mnist') return { kind: 'mnist' };
  if (text === 'fashion-mnist') return { kind: 'idx', dataset: 'fashion-mnist', dir: FASHION_MNIST_DEFAULT_DIR };
  const colon = text.indexOf(':');
  const head = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (head === 'mnist' || head === 'fashion-mnist') {
    if (rest === '') throw new Error(`dataset '${spec}': ${head}:DIR needs a directory (the four IDX files: train-images-idx3-ubyte[.gz], ...)`);
    return { kind: 'idx', dataset: head, dir: rest };
  }
  if (head === 'cifar10') {
    // Everything after the first colon is the directory (it may contain colons).
    if (rest === '') throw new Error(`dataset '${spec}': cifar10 needs a directory: cifar10:DIR (the extracted CIFAR-10 binary version)`);
    return { kind: 'cifar10', dir: rest };
  }
  if (head === 'folder') {
    if (rest === '') throw new Error(`dataset '${spec}': folder needs a directory: folder:DIR (DIR/<class>/<images>, or DIR/train and DIR/val)`);
    return { kind: 'folder', dir: rest };
  }
  if (head === 'function') {
    const [name = '', countText] = rest.split(':');
    if (!Object.hasOwn(FITTING_FUNCTIONS, name)) {
      throw new Error(`dataset '${spec}': unknown function '${name}': expected function:NAME[:count] with NAME one of ${Object.keys(FITTING_FUNCTIONS).join(', ')}`);
    }
    const count = countText === undefined ? FUNCTION_DEFAULT_COUNT : Number(countText);
    if (!/^\d+$/.test(countText ?? '0') || !Number.isSafeInteger(count)) throw new Error(`dataset '${spec}': count '${countText}' is not a positive integer`);
    return { kind: 'function', name, count };
  }
  if (head === 'csv') {
    if (rest === '') throw new Error(`dataset '${spec}': csv needs a file: csv:FILE (a CSV file with a header row)`);
    return { kind: 'csv', path: rest };
  }
  if (head === 'synthetic') {
    const parts = rest.split(':');
    if (rest === '' || parts.length > 3) {
      throw new Error(`dataset '${spec}': expected synthetic:CxHxW[:classes[:count]], e.g. synthetic:3x32x32:10:512`);
    }
    const dims = parts[0]!.split('x');
    if (dims.length !== 3) {
      throw new Error(`dataset '${spec}': image shape '${parts[0]}' is not CxHxW (expected synthetic:CxHxW[:classes[:count]], e.g. synthetic:3x32x32)`);
    }
    const [channels, height, width] = dims.map((d, i) => positiveInt(d, ['channels', 'height', 'width'][i]!, spec)) as [number, number, number];
    const classes = parts[1] === undefined ? SYNTHETIC_DEFAULT_CLASSES : positiveInt(parts[1], 'classes', spec);
    const count = parts[2] === undefined ? SYNTHETIC_DEFAULT_COUNT : positiveInt(parts[2], 'count', spec);
    return { kind: 'synthetic', channels, height, width, classes, count };
  }
  throw unknown(spec);
}

/** A CSV file's train/test split (see data/csv.ts); errors name the file. */
export async function loadCsvDataset(path: string, options: TabularOptions = {}): Promise<TabularSplit> {
  const source = options.source ?? `csv file '${path}'`;
  // Regular files only, size-capped: /dev/zero or a FIFO must not grow or hang.
  const text = decodeCsvBytes(await readRegularFile(path, MAX_CSV_BYTES, 'csv file'), source);
  return tabularSplit(parseCsv(text, { source }), { ...options, source });
}

/** Loads the train/test split named by `spec` (see parseDatasetSpec). */
export async function loadDataset(spec = 'mnist', options: LoadDatasetOptions = {}): Promise<DataSplit> {
  const parsed = parseDatasetSpec(spec);
  switch (parsed.kind) {
    case 'mnist':
      return loadMnist();
    case 'idx':
      return loadIdxDataset(parsed.dir, parsed.dataset === 'mnist' ? MNIST_IDX : FASHION_MNIST);
    case 'cifar10':
      return loadCifar10(parsed.dir);
    case 'function':
      return functionSplit(parsed.name, parsed.count);
    case 'csv':
      return loadCsvDataset(parsed.path, { ...options.csv, seed: options.seed });
    case 'folder':
      throw new Error(`dataset '${spec}': image folders are streamed from disk; kat train, eval and predict read them, this command needs ` +
        'a dataset held in memory (mnist, cifar10, synthetic or csv)');
    case 'synthetic': {
      const testCount = options.testCount ?? Math.ceil(parsed.count / 4);
      return syntheticSplit({
        channels: parsed.channels,
        height: parsed.height,
        width: parsed.width,
        classes: parsed.classes,
        seed: options.seed ?? 0,
        trainCount: parsed.count,
        testCount,
      });
    }
  }
}
