// Image datasets held in host memory, and seeded mini-batch iteration.
//
// An ImageDataset is one flat float32 array of normalised images in NCHW
// (row-major [count, channels, height, width]) plus one float32 label per
// image (an integer class id). Loaders (mnist.ts, cifar10.ts, synthetic.ts)
// produce a DataSplit of a train and a test dataset.

import { Random } from '../tensor/random.js';
import { mix32 } from '../util/hash.js';

/** What every image dataset knows up front: its name, sizes and labels. */
export interface LabelledImages {
  /** Shown in error messages and logs, e.g. 'mnist/train'. */
  name: string;
  /** One integer class id in [0, classes) per image. */
  labels: Float32Array;
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
  /** Optional human-readable class names, `classes` of them. */
  classNames?: string[];
}

/** Images held in memory, normalised, with their labels. */
export interface ImageDataset extends LabelledImages {
  /**
   * [count, channels, height, width], row-major, normalised. A byte dataset
   * (`pixels`) makes this array on first use only: read images through
   * `batches` or `copyImages` to keep them as bytes.
   */
  images: Float32Array;
  /** The normalised value of an empty pixel (what augmentation shifts in); default 0. */
  background?: number;
  /** The raw uint8 pixels, [count, channels, height, width], when the images are held as bytes (IDX data sets). */
  pixels?: Uint8Array;
  /** The normalised value of each byte 0..255 (with `pixels`). */
  pixelValues?: Float32Array;
  /** How pixels in [0, 1] were normalised, (p - mean) / std, where a loader knows it (IDX data sets). */
  normalisation?: { mean: number; std: number };
}

/** What byteImageDataset needs: the labelled images' facts, their uint8 pixels and the normalisation. */
export interface ByteImageOptions extends LabelledImages {
  pixels: Uint8Array;
  /** Normalisation: (byte / 255 - mean) / std. */
  mean: number;
  std: number;
}

/**
 * A dataset whose images stay uint8 in memory (a quarter of float32's size)
 * and are normalised batch by batch. `images` is made on first access and
 * kept, for the few callers that want the whole float array.
 */
export function byteImageDataset(options: ByteImageOptions): ImageDataset {
  const { mean, std, ...rest } = options;
  const pixelValues = new Float32Array(256);
  for (let b = 0; b < 256; b++) pixelValues[b] = (b / 255 - mean) / std;
  const dataset = { ...rest, background: pixelValues[0]!, pixelValues, normalisation: { mean, std } } as Omit<ImageDataset, 'images'>;
  let images: Float32Array | undefined;
  // Not enumerable: code that sums a dataset's typed arrays (memory checks) must not make it.
  Object.defineProperty(dataset, 'images', {
    enumerable: false,
    get: () => {
      images ??= copyImages(dataset as ImageDataset, 0, options.count);
      return images;
    },
  });
  return dataset as ImageDataset;
}

/**
 * Normalised float images of `count` consecutive dataset images from `start`
 * (or of the dataset indices `indices`), written into `out` (made when absent).
 */
export function copyImages(dataset: ImageDataset, start: number, count: number, indices?: ArrayLike<number>, out?: Float32Array): Float32Array {
  const per = imageSize(dataset);
  const target = out ?? new Float32Array(count * per);
  const { pixels, pixelValues } = dataset;
  for (let k = 0; k < count; k++) {
    const index = indices ? indices[k]! : start + k;
    const from = index * per;
    if (pixels && pixelValues) {
      const at = k * per;
      for (let i = 0; i < per; i++) target[at + i] = pixelValues[pixels[from + i]!]!;
    } else {
      target.set(dataset.images.subarray(from, from + per), k * per);
    }
  }
  return target;
}

/** A data set's training and test parts. */
export interface DataSplit {
  train: ImageDataset;
  test: ImageDataset;
}

export interface BatchOptions {
  /** Visit the images in a seeded random order (default true); false keeps dataset order. */
  shuffle?: boolean;
  /** Base seed of the shuffle (default 0). */
  seed?: number;
  /**
   * The epoch number (default 0): mixed into the seed, so every epoch has its
   * own order and the same (seed, epoch) always gives the same order.
   */
  epoch?: number;
  /** Skip a final batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/** One batch of images and labels as batches() yields it. */
export interface Batch {
  /** [size, channels, height, width]: a copy when shuffling, else a subarray of the dataset (do not modify). */
  images: Float32Array;
  /** [size] class ids (copy or subarray, as images). */
  labels: Float32Array;
  /** Images in this batch (batchSize, or fewer for the last one). */
  size: number;
  /** The dataset index of each image in the batch. */
  indices: Int32Array;
}

/** [count, channels, height, width]. */
export function datasetShape(ds: ImageDataset): [number, number, number, number] {
  return [ds.count, ds.channels, ds.height, ds.width];
}

/** Values per image: channels * height * width. */
export function imageSize(ds: ImageDataset): number {
  return ds.channels * ds.height * ds.width;
}

/** How many images of each class (length `classes`). */
export function classCounts(ds: ImageDataset): number[] {
  const counts = new Array<number>(ds.classes).fill(0);
  for (let i = 0; i < ds.count; i++) {
    const label = ds.labels[i]!;
    if (label >= 0 && label < ds.classes) counts[label]!++;
  }
  return counts;
}

/**
 * Checks that a dataset is consistent and throws one error naming the
 * dataset and the first problem found: non-integer dimensions, array lengths
 * that do not match them, a label that is not an integer in [0, classes), a
 * NaN or infinite pixel, or classNames of the wrong length.
 */
export function validateDataset(ds: ImageDataset): void {
  const name = typeof ds?.name === 'string' && ds.name !== '' ? ds.name : '(unnamed)';
  const fail = (what: string): never => {
    throw new Error(`dataset '${name}': ${what}`);
  };
  if (typeof ds !== 'object' || ds === null) fail('is not an object');
  for (const key of ['channels', 'height', 'width', 'classes'] as const) {
    const v = ds[key];
    if (!Number.isInteger(v) || v < 1) fail(`${key} is ${String(v)}: expected a positive integer`);
  }
  if (!Number.isInteger(ds.count) || ds.count < 0) fail(`count is ${String(ds.count)}: expected a non-negative integer`);
  if (!(ds.labels instanceof Float32Array)) fail('labels is not a Float32Array');
  const expected = ds.count * imageSize(ds);
  if (ds.pixels !== undefined) {
    if (!(ds.pixels instanceof Uint8Array)) fail('pixels is not a Uint8Array');
    if (!(ds.pixelValues instanceof Float32Array) || ds.pixelValues.length !== 256) fail('pixelValues is not 256 float32 values (one per byte)');
    if (ds.pixels!.length !== expected) {
      fail(`pixels has ${ds.pixels!.length} bytes but count x channels x height x width = ${ds.count} x ${ds.channels} x ${ds.height} x ${ds.width} = ${expected}`);
    }
  } else if (!(ds.images instanceof Float32Array)) fail('images is not a Float32Array');
  else if (ds.images.length !== expected) {
    fail(
      `images has ${ds.images.length} values but count x channels x height x width = ` +
        `${ds.count} x ${ds.channels} x ${ds.height} x ${ds.width} = ${expected}`,
    );
  }
  if (ds.labels.length !== ds.count) fail(`labels has ${ds.labels.length} values but count is ${ds.count}`);
  for (let i = 0; i < ds.count; i++) {
    const label = ds.labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= ds.classes) {
      fail(`label ${label} of image ${i} is not an integer class id in [0, ${ds.classes - 1}]`);
    }
  }
  // Bytes are finite; their lookup table is what could hold a NaN.
  const images = ds.pixels !== undefined ? ds.pixelValues! : ds.images;
  for (let i = 0; i < images.length; i++) {
    const v = images[i]!;
    // v - v is NaN exactly for NaN and +-Infinity.
    if (v - v !== 0) {
      if (ds.pixels !== undefined) fail(`pixelValues[${i}] (the normalised value of byte ${i}) is ${v}: expected a finite number`);
      const per = imageSize(ds);
      fail(`image ${Math.floor(i / per)} has a non-finite value (${v}) at offset ${i % per}`);
    }
  }
  if (ds.classNames !== undefined && (!Array.isArray(ds.classNames) || ds.classNames.length !== ds.classes)) {
    fail(`classNames has ${Array.isArray(ds.classNames) ? ds.classNames.length : 'no'} entries: expected ${ds.classes}`);
  }
}

/** One 32-bit seed from a base seed and an epoch number (a hash: nearby inputs give unrelated seeds). */
export function epochSeed(seed: number, epoch: number): number {
  return mix32((Math.floor(seed) >>> 0) ^ mix32((Math.floor(epoch) + 0x9e3779b9) >>> 0));
}

/** 0..count-1 in the seeded random order used by `batches` for (seed, epoch). */
export function shuffledIndices(count: number, seed = 0, epoch = 0): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rng = new Random(epochSeed(seed, epoch));
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Batches per epoch for `count` images. */
export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/**
 * Mini-batches over one epoch of `dataset`. With `shuffle` (the default) the
 * images come in a seeded random order that depends on (seed, epoch): pass
 * the epoch number so epochs differ but are reproducible. Every index is
 * visited exactly once per epoch (the last, smaller batch is skipped with
 * `dropLast`).
 */
export function* batches(dataset: ImageDataset, batchSize: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batches('${dataset.name}'): batchSize ${batchSize} is not valid: expected a positive integer`);
  }
  const { shuffle = true, seed = 0, epoch = 0, dropLast = false } = options;
  if (!Number.isFinite(seed)) throw new Error(`batches('${dataset.name}'): seed ${seed} is not a finite number`);
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new Error(`batches('${dataset.name}'): epoch ${epoch} is not valid: expected a non-negative integer`);
  }
  const n = dataset.count;
  const per = imageSize(dataset);
  const order = shuffle ? shuffledIndices(n, seed, epoch) : null;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const size = end - start;
    if (dropLast && size < batchSize) return;
    if (order === null) {
      const indices = new Int32Array(size);
      for (let k = 0; k < size; k++) indices[k] = start + k;
      yield {
        images: dataset.pixels ? copyImages(dataset, start, size) : dataset.images.subarray(start * per, end * per),
        labels: dataset.labels.subarray(start, end),
        size,
        indices,
      };
    } else {
      const indices = order.slice(start, end);
      const images = copyImages(dataset, 0, size, indices);
      const labels = new Float32Array(size);
      for (let k = 0; k < size; k++) labels[k] = dataset.labels[indices[k]!]!;
      yield { images, labels, size, indices };
    }
  }
}

/**
 * A dataset whose images are made batch by batch (decoded from files and
 * transformed on demand), so that a folder of 100,000 photos never sits in
 * memory at once. Labels are known up front; pixels are not.
 */
export interface StreamingImageDataset extends LabelledImages {
  /**
   * Batches in the order `batches` would give for the same options. With
   * `augment`, images get the training transform (random crops, flips),
   * seeded by (seed, epoch, index) so runs repeat; otherwise the eval transform.
   */
  streamBatches(batchSize: number, options: BatchOptions & { augment?: boolean }): AsyncIterable<Batch>;
}

/** A data set held in memory or streamed: what trainModel and evaluate take. */
export type AnyImageDataset = ImageDataset | StreamingImageDataset;

/** Whether a data set streams its images (an image folder) rather than holding them. */
export function isStreamingDataset(dataset: AnyImageDataset): dataset is StreamingImageDataset {
  return typeof (dataset as StreamingImageDataset).streamBatches === 'function';
}

/** Batches of either kind of dataset, as one async stream. */
export async function* datasetBatches(dataset: AnyImageDataset, batchSize: number, options: BatchOptions & { augment?: boolean } = {}):
  AsyncGenerator<Batch, void, undefined> {
  if (isStreamingDataset(dataset)) yield* dataset.streamBatches(batchSize, options);
  else yield* batches(dataset, batchSize, options);
}
