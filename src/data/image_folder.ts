// Image folders as data (Node): torchvision's ImageFolder layout,
// DIR/<class>/**/*.jpg, with DIR/train and DIR/val used when present and a
// seeded stratified split otherwise. Images are decoded and transformed in
// worker threads as batches are needed, a few batches ahead, so memory stays
// flat however many files the folder holds.

import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { mix32 } from '../util/hash.js';
import { epochSeed, shuffledIndices, type Batch, type BatchOptions, type StreamingImageDataset } from './dataset.js';
import { ImageDecodePool } from './image_pool.js';
import type { PreprocessConfig } from './image_transforms.js';

/** File names read as images (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

export interface ImageFolderEntry {
  path: string;
  label: number;
}

export interface ImageFolderScan {
  classNames: string[];
  train: ImageFolderEntry[];
  test: ImageFolderEntry[];
  /** How the split was made, for logs: 'DIR/train + DIR/val' or 'a seeded 80/20 split'. */
  split: string;
}

/** Options of loadImageFolder(): the seeded split (when the folder has no train/ and val/) and a fixed class order. */
export interface ImageFolderOptions {
  /** Seed of the stratified split (default 0). */
  seed?: number;
  /** Share of each class held out when the folder has no train/val subfolders (default 0.2). */
  testFraction?: number;
  /**
   * The class names of a trained model: labels follow this order instead of
   * the folder's, and a class folder not among them is an error.
   */
  classNames?: readonly string[];
}

function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Image files under `dir`, recursively, in sorted order (hidden entries skipped). */
export async function listImages(dir: string, depth = 0): Promise<string[]> {
  if (depth > 32) throw new Error(`image folder: '${dir}' is nested more than 32 levels deep`);
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...await listImages(path, depth + 1));
    else if ((entry.isFile() || entry.isSymbolicLink()) && isImageFile(entry.name)) files.push(path);
  }
  return files;
}

/** Class folders of `dir` (sorted, as torchvision's ImageFolder) and their images. */
async function scanClasses(dir: string): Promise<Map<string, string[]>> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const classes = new Map<string, string[]>();
  for (const name of entries) classes.set(name, await listImages(join(dir, name)));
  return classes;
}

/** Splits each class's files with a seeded shuffle: about `fraction` of each class (at least one, when it has two) to test. */
function stratifiedSplit(classes: Map<string, string[]>, fraction: number, seed: number): { train: ImageFolderEntry[]; test: ImageFolderEntry[] } {
  const train: ImageFolderEntry[] = [];
  const test: ImageFolderEntry[] = [];
  let label = 0;
  for (const files of classes.values()) {
    const order = shuffledIndices(files.length, seed, label);
    const held = files.length < 2 ? 0 : Math.min(files.length - 1, Math.max(1, Math.round(files.length * fraction)));
    for (let k = 0; k < files.length; k++) (k < held ? test : train).push({ path: files[order[k]!]!, label });
    label++;
  }
  // Dataset order: by class, then by file name (the shuffle happens per epoch).
  const byPath = (a: ImageFolderEntry, b: ImageFolderEntry) => a.label - b.label || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { train: train.sort(byPath), test: test.sort(byPath) };
}

/** Reads the layout of an image folder: class names and the train / test files. */
export async function scanImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderScan> {
  const scan = await scanFolderClasses(dir, options);
  const known = options.classNames;
  if (known === undefined) return scan;
  const index = new Map(known.map((name, i) => [name, i]));
  const missing = scan.classNames.filter((name) => !index.has(name));
  if (missing.length > 0) {
    throw new Error(`image folder '${dir}': class${missing.length > 1 ? 'es' : ''} ${missing.slice(0, 5).map((n) => `'${n}'`).join(', ')} ` +
      `${missing.length > 1 ? 'are' : 'is'} not among the model's ${known.length} classes (${known.slice(0, 5).join(', ')}${known.length > 5 ? ', ...' : ''})`);
  }
  const relabel = (entries: ImageFolderEntry[]) => entries.map((e) => ({ path: e.path, label: index.get(scan.classNames[e.label]!)! }));
  return { ...scan, classNames: [...known], train: relabel(scan.train), test: relabel(scan.test) };
}

async function scanFolderClasses(dir: string, options: ImageFolderOptions): Promise<ImageFolderScan> {
  const source = `image folder '${dir}'`;
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new Error(`${source} does not exist`);
  }
  if (!info.isDirectory()) throw new Error(`${source} is not a directory: expected DIR/<class>/<image files> (ImageFolder layout)`);
  const trainDir = join(dir, 'train');
  const valDir = (await isDirectory(join(dir, 'val'))) ? join(dir, 'val') : (await isDirectory(join(dir, 'validation'))) ? join(dir, 'validation') : null;
  if ((await isDirectory(trainDir)) && valDir !== null) {
    const trainClasses = await scanClasses(trainDir);
    const valClasses = await scanClasses(valDir);
    const classNames = [...trainClasses.keys()];
    const index = new Map(classNames.map((name, i) => [name, i]));
    for (const name of valClasses.keys()) {
      if (!index.has(name)) throw new Error(`${source}: class '${name}' is in ${relative(dir, valDir)}/ but not in train/`);
    }
    const entries = (classes: Map<string, string[]>) =>
      [...classes].flatMap(([name, files]) => files.map((path) => ({ path, label: index.get(name)! })));
    const scan = { classNames, train: entries(trainClasses), test: entries(valClasses), split: `${relative(dir, trainDir)}/ + ${relative(dir, valDir)}/` };
    return checkScan(scan, source);
  }
  const fraction = options.testFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new Error(`${source}: the test fraction must be > 0 and < 1, got ${fraction}`);
  const classes = await scanClasses(dir);
  const { train, test } = stratifiedSplit(classes, fraction, options.seed ?? 0);
  const percent = Math.round(fraction * 100);
  return checkScan({ classNames: [...classes.keys()], train, test, split: `a seeded, stratified ${100 - percent}/${percent} split` }, source);
}

function checkScan(scan: ImageFolderScan, source: string): ImageFolderScan {
  if (scan.classNames.length < 2) {
    throw new Error(`${source} has ${scan.classNames.length} class folder${scan.classNames.length === 1 ? '' : 's'}: ` +
      'expected at least 2 (DIR/<class>/<image files>)');
  }
  const counts = new Array<number>(scan.classNames.length).fill(0);
  for (const e of scan.train) counts[e.label]!++;
  const empty = scan.classNames.filter((_, i) => counts[i] === 0);
  if (empty.length > 0) {
    throw new Error(`${source}: no training images (${IMAGE_EXTENSIONS.join(', ')}) for class${empty.length > 1 ? 'es' : ''} ` +
      `${empty.slice(0, 5).map((n) => `'${n}'`).join(', ')}`);
  }
  if (scan.test.length === 0) throw new Error(`${source}: no images left to evaluate on`);
  return scan;
}

/** The seed of one image's training transform: a function of (seed, epoch, index) only, so runs repeat. */
export function augmentSeed(seed: number, epoch: number, index: number): number {
  return mix32(epochSeed(seed, epoch) ^ mix32((index + 0x51ed27) >>> 0));
}

/** A streaming dataset over some files of an image folder. */
export class ImageFolderDataset implements StreamingImageDataset {
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly classes: number;
  readonly labels: Float32Array;

  constructor(
    readonly name: string,
    private readonly entries: readonly ImageFolderEntry[],
    readonly classNames: string[],
    readonly preprocess: PreprocessConfig,
    readonly pool: ImageDecodePool,
  ) {
    this.count = entries.length;
    [this.channels, this.height, this.width] = preprocess.inputSize;
    this.classes = classNames.length;
    this.labels = Float32Array.from(entries, (e) => e.label);
  }

  /** The file behind each index. */
  path(index: number): string {
    return this.entries[index]!.path;
  }

  async *streamBatches(batchSize: number, options: BatchOptions & { augment?: boolean } = {}): AsyncGenerator<Batch, void, undefined> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${this.name}: batch size ${batchSize} is not a positive integer`);
    const { shuffle = true, seed = 0, epoch = 0, dropLast = false, augment = false } = options;
    const order = shuffle ? shuffledIndices(this.count, seed, epoch) : Int32Array.from({ length: this.count }, (_, i) => i);
    const starts: number[] = [];
    for (let start = 0; start < this.count; start += batchSize) {
      if (dropLast && start + batchSize > this.count) break;
      starts.push(start);
    }
    const per = this.channels * this.height * this.width;
    const load = async (start: number): Promise<Batch> => {
      const indices = order.slice(start, Math.min(this.count, start + batchSize));
      const images = new Float32Array(indices.length * per);
      const labels = new Float32Array(indices.length);
      await Promise.all(Array.from(indices, async (index, k) => {
        const pixels = await this.pool.decode(this.entries[index]!.path, this.preprocess, augment ? augmentSeed(seed, epoch, index) : undefined);
        images.set(pixels, k * per);
        labels[k] = this.entries[index]!.label;
      }));
      return { images, labels, size: indices.length, indices };
    };
    // Keep every worker busy: enough batches in flight for two images per worker, at least two batches.
    const ahead = Math.max(2, Math.ceil((2 * this.pool.size) / batchSize));
    const inFlight: Promise<Batch>[] = [];
    let next = 0;
    const refill = () => {
      while (inFlight.length < ahead && next < starts.length) {
        const promise = load(starts[next++]!);
        promise.catch(() => undefined); // awaited below; this only silences a batch abandoned by an early exit
        inFlight.push(promise);
      }
    };
    refill();
    while (inFlight.length > 0) {
      const batch = await inFlight.shift()!;
      refill();
      yield batch;
    }
  }
}

/** An image folder's streamed training and test sets, with the scan they came from. */
export interface ImageFolderSplit {
  train: ImageFolderDataset;
  test: ImageFolderDataset;
  scan: ImageFolderScan;
  /** Stops the decode workers. */
  close(): Promise<void>;
}

/**
 * An image folder as train / test streaming datasets with `preprocess`'s
 * input size: training images get timm's RandomResizedCrop (scale 0.08-1,
 * ratio 3/4-4/3) and horizontal flips, test images its eval transform.
 */
export async function loadImageFolder(dir: string, preprocess: PreprocessConfig, options: ImageFolderOptions & { threads?: number } = {}):
  Promise<ImageFolderSplit> {
  const scan = await scanImageFolder(dir, options);
  const pool = new ImageDecodePool(options.threads);
  return {
    train: new ImageFolderDataset(`folder:${dir}/train`, scan.train, scan.classNames, preprocess, pool),
    test: new ImageFolderDataset(`folder:${dir}/test`, scan.test, scan.classNames, preprocess, pool),
    scan,
    close: () => pool.close(),
  };
}
