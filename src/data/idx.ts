// The IDX format of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist):
// a 4-byte magic number (two zero bytes, a type code, the number of
// dimensions), each dimension as a big-endian uint32, then the values in
// row-major order. Images are `idx3-ubyte` ([count, rows, cols] bytes),
// labels `idx1-ubyte` ([count] bytes). Files may be gzipped (as the official
// downloads and Debian's dataset-fashion-mnist ship them).
//
// Parsing is browser-safe (bytes in, typed arrays out); reading the four
// files of a data set from a directory is the Node edge at the end.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import { readRegularFile } from '../io/sources_node.js';
import { byteImageDataset, type DataSplit, type ImageDataset } from './dataset.js';
import { MNIST_MEAN, MNIST_STD } from './mnist_split.js';

/** Type code of unsigned bytes, the only element type image data sets use. */
const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = { 0x08: 'ubyte', 0x09: 'byte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double' };
/** Decompressed size at most (the 60,000 Fashion-MNIST training images are 47 MB). */
export const IDX_MAX_BYTES = 512 * 1024 * 1024;

/** One parsed IDX file: its dimensions and its bytes (a view into the file, after the header). */
export interface IdxArray {
  /** Dimensions, outermost first ([count, rows, cols] for images). */
  shape: number[];
  data: Uint8Array;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses one IDX file of unsigned bytes with `rank` dimensions (3 for
 * images, 1 for labels); gzip is recognised by its magic bytes. Any problem
 * (bad magic, other element type or rank, size that does not match the
 * header, corrupt gzip) is one error naming `source`.
 */
export function parseIdx(raw: Uint8Array, rank: number, source: string): IdxArray {
  const expected = rank === 1 ? 'idx1-ubyte (labels)' : `idx${rank}-ubyte`;
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}; expected an ${expected} file (MNIST's IDX format, raw or gzipped)`);
  };
  let bytes = raw;
  if (isGzip(raw)) {
    // gzip's trailer holds the decompressed size mod 2^32: refuse a bomb before inflating it.
    if (raw.length < 18) fail(`is a truncated gzip stream of ${raw.length} bytes`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const inflated = view.getUint32(raw.length - 4, true);
    if (inflated > IDX_MAX_BYTES) fail(`decompresses to ${inflated} bytes, over the ${IDX_MAX_BYTES}-byte limit`);
    try {
      bytes = gunzipSync(raw);
    } catch (error) {
      fail(`is not a valid gzip stream (${(error as Error).message})`);
    }
    if (bytes.length !== inflated) fail(`decompresses to ${bytes.length} bytes but its gzip trailer says ${inflated} (truncated or corrupt)`);
  }
  if (bytes.length < 4) fail(`is ${bytes.length} bytes, shorter than the 4-byte IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`starts with bytes 0x${hex(bytes[0]!)} 0x${hex(bytes[1]!)}, not an IDX magic number (0x00 0x00 type rank)`);
  }
  const type = bytes[2]!;
  const dims = bytes[3]!;
  if (type !== UBYTE) fail(`holds ${TYPE_NAMES[type] ?? `type 0x${hex(type)}`} values, not unsigned bytes (type 0x08)`);
  if (dims !== rank) fail(`has ${dims} dimension${dims === 1 ? '' : 's'} (magic 0x0000${hex(type)}${hex(dims)}), not ${rank}`);
  const header = 4 + 4 * rank;
  if (bytes.length < header) fail(`is ${bytes.length} bytes, shorter than its ${header}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const values = shape.reduce((n, d) => n * d, 1);
  if (shape.some((d) => d === 0)) fail(`has an empty dimension (${shape.join(' x ')})`);
  if (bytes.length - header !== values) {
    const what = bytes.length - header < values ? 'truncated' : 'has trailing bytes';
    fail(`is ${what}: its header says ${shape.join(' x ')} = ${values} values, but ${bytes.length - header} bytes follow the header`);
  }
  return { shape, data: bytes.subarray(header) };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** What an IDX data set is: its name, class names and normalisation. */
export interface IdxDatasetInfo {
  /** 'fashion-mnist' or 'mnist': names the datasets ('fashion-mnist/train'). */
  name: string;
  classNames: string[];
  mean: number;
  std: number;
  /** Said when the directory or a file is missing (e.g. the Debian package that installs it). */
  installHint?: string;
}

/** Fashion-MNIST's ten classes, in label order (the data set's README). */
export const FASHION_MNIST_CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Pixel mean and std of the 60,000 Fashion-MNIST training images (bytes / 255). */
export const FASHION_MNIST_MEAN = 0.2860;
/** Pixel std of the 60,000 Fashion-MNIST training images (bytes / 255). */
export const FASHION_MNIST_STD = 0.3530;
/** Where Debian's package dataset-fashion-mnist installs the files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST as an IDX data set: names, class names, normalisation, where to get it. */
export const FASHION_MNIST: IdxDatasetInfo = {
  name: 'fashion-mnist', classNames: FASHION_MNIST_CLASS_NAMES, mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD,
  installHint: "install Debian's package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or pass fashion-mnist:DIR",
};
/** The full MNIST (70,000 digits) as an IDX data set, normalised as the embedded digits. */
export const MNIST_IDX: IdxDatasetInfo = {
  name: 'mnist', classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], mean: MNIST_MEAN, std: MNIST_STD,
};

/**
 * Images [count, rows, cols] and labels [count] as one dataset of uint8
 * pixels, normalised per batch as (byte / 255 - mean) / std. Counts must
 * match and every label must name a class.
 */
export function idxDataset(images: IdxArray, labels: IdxArray, info: IdxDatasetInfo, split: string, sources: [string, string]): ImageDataset {
  const [count, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new Error(`${sources[1]} holds ${labels.shape[0]} labels but ${sources[0]} holds ${count} images: expected one label per image`);
  }
  const classes = info.classNames.length;
  const labelValues = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i]!;
    if (label >= classes) {
      throw new Error(`${sources[1]}: label ${label} of image ${i} is not a class of ${info.name} (expected 0..${classes - 1})`);
    }
    labelValues[i] = label;
  }
  return byteImageDataset({
    name: `${info.name}/${split}`, pixels: images.data, labels: labelValues, count, channels: 1, height, width, classes,
    classNames: [...info.classNames], mean: info.mean, std: info.std,
  });
}

/** The file names a directory may use for one part: the official ones, gzipped or not, with '-' or '.' before idxN. */
function candidates(prefix: string, kind: 'images' | 'labels'): string[] {
  const rank = kind === 'images' ? 3 : 1;
  const names = [`${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`];
  return names.flatMap((n) => [`${n}.gz`, n]);
}

async function findFile(dir: string, prefix: string, kind: 'images' | 'labels', info: IdxDatasetInfo): Promise<string> {
  const names = candidates(prefix, kind);
  for (const name of names) {
    try {
      if ((await stat(join(dir, name))).isFile()) return join(dir, name);
    } catch {
      // try the next spelling
    }
  }
  throw new Error(`${info.name}: '${dir}' has no ${prefix} ${kind} file (expected ${names[1]}[.gz] or ${names[3]}[.gz])` +
    `${info.installHint ? `: ${info.installHint}` : ''}`);
}

async function readIdxFile(path: string, rank: number): Promise<IdxArray> {
  const bytes = await readRegularFile(path, IDX_MAX_BYTES, `IDX file`);
  return parseIdx(bytes, rank, `IDX file '${path}'`);
}

/**
 * Reads an IDX data set from `dir`: train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
 * each optionally gzipped (.gz). Images stay uint8 in memory.
 */
export async function loadIdxDataset(dir: string, info: IdxDatasetInfo): Promise<DataSplit> {
  let kind: 'dir' | 'other' | null = null;
  try {
    kind = (await stat(dir)).isDirectory() ? 'dir' : 'other';
  } catch {
    kind = null;
  }
  if (kind === null) throw new Error(`${info.name}: directory '${dir}' does not exist${info.installHint ? `: ${info.installHint}` : ''}`);
  if (kind !== 'dir') throw new Error(`${info.name}: '${dir}' is not a directory: expected the directory of the four IDX files`);
  const load = async (prefix: string, split: string): Promise<ImageDataset> => {
    const imagesPath = await findFile(dir, prefix, 'images', info);
    const labelsPath = await findFile(dir, prefix, 'labels', info);
    const [images, labels] = await Promise.all([readIdxFile(imagesPath, 3), readIdxFile(labelsPath, 1)]);
    return idxDataset(images, labels, info, split, [`IDX file '${imagesPath}'`, `IDX file '${labelsPath}'`]);
  };
  const train = await load('train', 'train');
  const test = await load('t10k', 'test');
  if (train.height !== test.height || train.width !== test.width) {
    throw new Error(`${info.name}: training images are ${train.height}x${train.width} but test images ${test.height}x${test.width} in '${dir}'`);
  }
  return { train, test };
}
