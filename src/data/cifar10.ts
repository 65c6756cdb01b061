// CIFAR-10 from the official binary version (cifar-10-binary.tar.gz,
// extracted): data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin
// (test). Each record is 1 label byte (0-9) followed by 3072 pixel bytes:
// the 1024 red, then 1024 green, then 1024 blue values of a 32 x 32 image,
// row-major, i.e. already [C, H, W]. The official files hold 10,000 records
// (30,730,000 bytes) each; any whole number of records is accepted.
//
// Nothing is downloaded: fetch and extract the archive yourself, then pass
// the cifar-10-batches-bin directory (or its parent).

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularFile } from '../io/sources_node.js';
import type { DataSplit, ImageDataset } from './dataset.js';

export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR10_STD = [0.247, 0.2435, 0.2616] as const;
export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILES = ['test_batch.bin'];
/** Bytes per record: 1 label byte + 3 x 32 x 32 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 3073;
/** Records per batch file at most (twice the official 10,000): each becomes 12 KiB of floats, so the six files stay under 1.5 GiB. */
export const CIFAR10_MAX_RECORDS = 20_000;
/** batches.meta.txt: ten class names. */
const MAX_META_BYTES = 64 * 1024;

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXELS = 3 * PLANE;
const EXPECTED = `${[...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES].join(', ')} (the CIFAR-10 binary version, cifar-10-binary.tar.gz)`;

async function kind(path: string): Promise<'file' | 'dir' | 'other' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return null;
  }
}

/** The directory that holds the batch files: `dir` itself or `dir/cifar-10-batches-bin`. */
async function resolveDir(dir: string): Promise<string> {
  const k = await kind(dir);
  if (k === null) throw new Error(`CIFAR-10: directory '${dir}' does not exist: expected a directory with ${EXPECTED}`);
  if (k !== 'dir') throw new Error(`CIFAR-10: '${dir}' is not a directory: expected a directory with ${EXPECTED}`);
  if ((await kind(join(dir, CIFAR10_TRAIN_FILES[0]!))) === null) {
    const nested = join(dir, 'cifar-10-batches-bin');
    if ((await kind(nested)) === 'dir') return nested;
  }
  return dir;
}

/** Per-channel lookup tables: byte -> normalised float. */
function normalisationTables(): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let b = 0; b < 256; b++) table[b] = (b / 255 - CIFAR10_MEAN[c]!) / CIFAR10_STD[c]!;
    return table;
  });
}

async function readBatch(path: string): Promise<Uint8Array> {
  // Regular files only, size-capped: a FIFO or a device named like a batch must not hang or fill memory.
  const bytes = await readRegularFile(path, CIFAR10_MAX_RECORDS * CIFAR10_RECORD_BYTES, 'CIFAR-10 batch');
  if (bytes.length === 0 || bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    throw new Error(
      `CIFAR-10: '${path}' is ${bytes.length} bytes: expected a non-zero multiple of ${CIFAR10_RECORD_BYTES} bytes ` +
        `(1 label byte + 3072 pixel bytes per record; the official batches are 10,000 records = 30,730,000 bytes)`,
    );
  }
  return bytes;
}

async function loadSplit(dir: string, files: string[], name: string, classNames: string[]): Promise<ImageDataset> {
  const contents = await Promise.all(files.map((f) => readBatch(join(dir, f))));
  const count = contents.reduce((n, b) => n + b.length / CIFAR10_RECORD_BYTES, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Float32Array(count);
  const tables = normalisationTables();
  let n = 0;
  contents.forEach((bytes, f) => {
    const records = bytes.length / CIFAR10_RECORD_BYTES;
    for (let r = 0; r < records; r++, n++) {
      const at = r * CIFAR10_RECORD_BYTES;
      const label = bytes[at]!;
      if (label > 9) {
        throw new Error(`CIFAR-10: '${join(dir, files[f]!)}' record ${r} (byte offset ${at}) has label byte ${label}: expected 0-9`);
      }
      labels[n] = label;
      const out = n * PIXELS;
      for (let c = 0; c < 3; c++) {
        const table = tables[c]!;
        const src = at + 1 + c * PLANE;
        const dst = out + c * PLANE;
        for (let p = 0; p < PLANE; p++) images[dst + p] = table[bytes[src + p]!]!;
      }
    }
  });
  return { name, images, labels, count, channels: 3, height: SIDE, width: SIDE, classes: 10, classNames: [...classNames] };
}

async function readClassNames(dir: string): Promise<string[]> {
  const path = join(dir, 'batches.meta.txt');
  if ((await kind(path)) !== 'file') return [...CIFAR10_CLASS_NAMES];
  const names = new TextDecoder().decode(await readRegularFile(path, MAX_META_BYTES, 'CIFAR-10 class list'))
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length !== 10) {
    throw new Error(`CIFAR-10: '${path}' lists ${names.length} class names: expected 10, one per line`);
  }
  return names;
}

/**
 * Loads CIFAR-10 (binary version) from `dir`: the cifar-10-batches-bin
 * directory or its parent. Images are [N, 3, 32, 32] float32 normalised per
 * channel with mean (0.4914, 0.4822, 0.4465) / std (0.2470, 0.2435, 0.2616);
 * class names come from batches.meta.txt when present.
 */
export async function loadCifar10(dir: string): Promise<DataSplit> {
  const root = await resolveDir(dir);
  const all = [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES];
  const missing: string[] = [];
  for (const f of all) {
    const k = await kind(join(root, f));
    if (k === 'dir' || k === 'other') throw new Error(`CIFAR-10: '${join(root, f)}' is not a regular file: expected ${EXPECTED}`);
    if (k === null) missing.push(f);
  }
  if (missing.length > 0) {
    throw new Error(`CIFAR-10: missing ${missing.join(', ')} in '${root}': expected ${EXPECTED}`);
  }
  const classNames = await readClassNames(root);
  const train = await loadSplit(root, CIFAR10_TRAIN_FILES, 'cifar10/train', classNames);
  const test = await loadSplit(root, CIFAR10_TEST_FILES, 'cifar10/test', classNames);
  return { train, test };
}
