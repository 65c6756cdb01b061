// IDX data sets (MNIST's format): the parser on hand-made files (gzipped by
// node:zlib, not the library's gunzip), every kind of broken file refused with
// one error naming it, the byte-backed dataset against a float64
// normalisation written here, and the real Fashion-MNIST files of Debian's
// dataset-fashion-mnist (checked against facts published with the data set).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  batches, classCounts, copyImages, FASHION_MNIST, FASHION_MNIST_CLASS_NAMES, FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_MEAN,
  FASHION_MNIST_STD, loadDataset, loadIdxDataset, parseDatasetSpec, parseIdx, validateDataset,
} from '../src/data/index.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { readCheckpointFile } from '../src/models/checkpoint_files.js';
import { tensor } from '../src/ops/creation.js';
import { noGrad } from '../src/tensor/autograd.js';
import { tidy } from '../src/tensor/scope.js';
import { encode as encodePng } from 'fast-png';
import { jsonLines, kat } from './support/cli.js';

/** An IDX file of unsigned bytes: magic 0x00 0x00 0x08 rank, big-endian dimensions, values. */
function idxBytes(shape: number[], values: Uint8Array | number[], magic?: number[]): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  header.set(magic ?? [0, 0, 0x08, shape.length]);
  const view = new DataView(header.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + values.length);
  out.set(header);
  out.set(values, header.length);
  return out;
}

function patternImages(count: number, rows: number, cols: number): Uint8Array {
  return Uint8Array.from({ length: count * rows * cols }, (_, i) => (i * 37 + 11) % 256);
}

/** Writes the four files of an IDX data set; `overrides` replaces a file's bytes. */
function writeIdxDir(options: { train?: number; test?: number; gzip?: boolean; overrides?: Record<string, Uint8Array> } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'kat-idx-'));
  const { train = 12, test = 5, gzip = true, overrides = {} } = options;
  const files: Record<string, Uint8Array> = {
    'train-images-idx3-ubyte': idxBytes([train, 4, 4], patternImages(train, 4, 4)),
    'train-labels-idx1-ubyte': idxBytes([train], Array.from({ length: train }, (_, i) => i % 10)),
    't10k-images-idx3-ubyte': idxBytes([test, 4, 4], patternImages(test, 4, 4).reverse()),
    't10k-labels-idx1-ubyte': idxBytes([test], Array.from({ length: test }, (_, i) => (3 * i) % 10)),
    ...overrides,
  };
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
  }
  return dir;
}

describe('IDX parser', () => {
  it('reads raw and gzipped files to the same shape and bytes', () => {
    const values = patternImages(3, 2, 5);
    const raw = idxBytes([3, 2, 5], values);
    for (const bytes of [raw, new Uint8Array(gzipSync(raw))]) {
      const parsed = parseIdx(bytes, 3, 'test file');
      assert.deepEqual(parsed.shape, [3, 2, 5]);
      assert.deepEqual([...parsed.data], [...values]);
    }
  });

  it('refuses each kind of broken file with one error naming the file and what was expected', () => {
    const good = idxBytes([2, 3, 3], patternImages(2, 3, 3));
    const gz = new Uint8Array(gzipSync(good));
    const corruptGzip = gz.slice();
    corruptGzip[20] = corruptGzip[20]! ^ 0xff;
    const cases: [string, Uint8Array, number, RegExp][] = [
      ['bad magic', idxBytes([2, 3, 3], patternImages(2, 3, 3), [0x50, 0x4b, 0x08, 3]), 3, /starts with bytes 0x50 0x4b, not an IDX magic number/],
      ['float elements', idxBytes([2, 3, 3], patternImages(2, 3, 3), [0, 0, 0x0d, 3]), 3, /holds float values, not unsigned bytes/],
      ['labels given for images', idxBytes([5], [1, 2, 3, 4, 5]), 3, /has 1 dimension \(magic 0x00000801\), not 3/],
      ['truncated', good.subarray(0, good.length - 4), 3, /is truncated: its header says 2 x 3 x 3 = 18 values, but 14 bytes follow/],
      ['trailing bytes', idxBytes([2, 3, 3], patternImages(2, 4, 3)), 3, /has trailing bytes: its header says 2 x 3 x 3 = 18 values, but 24 bytes/],
      ['header cut short', good.subarray(0, 9), 3, /shorter than its 16-byte header/],
      ['empty', new Uint8Array(0), 1, /is 0 bytes, shorter than the 4-byte IDX header/],
      ['truncated gzip', gz.subarray(0, gz.length - 9), 3, /not a valid gzip stream|truncated or corrupt/],
      ['corrupt gzip', corruptGzip, 3, /not a valid gzip stream|truncated or corrupt/],
      ['empty dimension', idxBytes([0, 28, 28], []), 3, /has an empty dimension \(0 x 28 x 28\)/],
    ];
    for (const [what, bytes, rank, pattern] of cases) {
      assert.throws(() => parseIdx(bytes, rank, "IDX file 'x.gz'"), (error: Error) => {
        assert.match(error.message, /^IDX file 'x\.gz': /, what);
        assert.match(error.message, pattern, what);
        assert.match(error.message, /expected an idx\d-ubyte/, what);
        return true;
      }, what);
    }
  });

  it('refuses a gzip stream that claims more than the size limit before inflating it', () => {
    const gz = new Uint8Array(gzipSync(idxBytes([1, 2, 2], [1, 2, 3, 4])));
    new DataView(gz.buffer).setUint32(gz.length - 4, 0xfffffff0, true);
    assert.throws(() => parseIdx(gz, 3, 'bomb'), /decompresses to 4294967280 bytes, over the/);
  });
});

describe('IDX data sets from a directory', () => {
  it('loads train and test splits as uint8 pixels, normalised per batch as (byte / 255 - mean) / std', async () => {
    const dir = writeIdxDir();
    const { train, test } = await loadIdxDataset(dir, FASHION_MNIST);
    assert.equal(train.name, 'fashion-mnist/train');
    assert.equal(test.name, 'fashion-mnist/test');
    assert.deepEqual([train.count, train.channels, train.height, train.width, train.classes], [12, 1, 4, 4, 10]);
    assert.equal(test.count, 5);
    assert.deepEqual(train.classNames, FASHION_MNIST_CLASS_NAMES);
    assert.ok(train.pixels instanceof Uint8Array && train.pixels.length === 12 * 16);
    validateDataset(train);
    validateDataset(test);
    const raw = patternImages(12, 4, 4);
    // Unshuffled batches in dataset order, then a shuffled one: every value against the float64 formula.
    const expect = (index: number, offset: number) => Math.fround((raw[index * 16 + offset]! / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD);
    for (const batch of [...batches(train, 5, { shuffle: false }), ...batches(train, 4, { seed: 3 })]) {
      for (let k = 0; k < batch.size; k++) {
        for (let o = 0; o < 16; o++) assert.equal(batch.images[k * 16 + o], expect(batch.indices[k]!, o));
        assert.equal(batch.labels[k], batch.indices[k]! % 10);
      }
    }
    // The whole float array, made on demand, holds the same values.
    assert.equal(train.images[7 * 16 + 3], expect(7, 3));
    assert.equal(copyImages(train, 2, 1)[5], expect(2, 5));
  });

  it('reads uncompressed files and the spec fashion-mnist:DIR / mnist:DIR', async () => {
    const dir = writeIdxDir({ gzip: false });
    assert.deepEqual(parseDatasetSpec(`fashion-mnist:${dir}`), { kind: 'idx', dataset: 'fashion-mnist', dir });
    assert.deepEqual(parseDatasetSpec(`mnist:${dir}`), { kind: 'idx', dataset: 'mnist', dir });
    assert.deepEqual(parseDatasetSpec('fashion-mnist'), { kind: 'idx', dataset: 'fashion-mnist', dir: FASHION_MNIST_DEFAULT_DIR });
    assert.deepEqual(parseDatasetSpec('mnist'), { kind: 'mnist' });
    const digits = await loadDataset(`mnist:${dir}`);
    assert.equal(digits.train.name, 'mnist/train');
    assert.deepEqual(digits.train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(digits.test.count, 5);
  });

  it('refuses a missing directory (naming the Debian package), a missing file, mislabelled and mismatched files', async () => {
    await assert.rejects(loadDataset('fashion-mnist:/nonexistent/fashion'),
      /fashion-mnist: directory '\/nonexistent\/fashion' does not exist: install Debian's package dataset-fashion-mnist/);
    const noLabels = writeIdxDir();
    const { rmSync } = await import('node:fs');
    rmSync(join(noLabels, 't10k-labels-idx1-ubyte.gz'));
    await assert.rejects(loadDataset(`fashion-mnist:${noLabels}`), /has no t10k labels file \(expected t10k-labels-idx1-ubyte\[\.gz\] or t10k-labels\.idx1-ubyte\[\.gz\]\)/);
    const mislabelled = writeIdxDir({ overrides: { 'train-labels-idx1-ubyte': idxBytes([12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1]) } });
    await assert.rejects(loadDataset(`fashion-mnist:${mislabelled}`),
      /IDX file '.*train-labels-idx1-ubyte\.gz': label 10 of image 10 is not a class of fashion-mnist \(expected 0\.\.9\)/);
    const mismatched = writeIdxDir({ overrides: { 'train-labels-idx1-ubyte': idxBytes([11], Array.from({ length: 11 }, () => 1)) } });
    await assert.rejects(loadDataset(`fashion-mnist:${mismatched}`), /holds 11 labels but IDX file '.*train-images-idx3-ubyte\.gz' holds 12 images/);
    const truncated = writeIdxDir({ overrides: { 't10k-images-idx3-ubyte': idxBytes([5, 4, 4], patternImages(5, 4, 4)).subarray(0, 60) } });
    await assert.rejects(loadDataset(`fashion-mnist:${truncated}`), /IDX file '.*t10k-images-idx3-ubyte\.gz': is truncated/);
  });
});

// The real files: skipped where the package is missing, except under CI (which installs it), where a missing file fails.
const REAL_MISSING = !existsSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz'));
const realSkip = REAL_MISSING && !process.env.CI ? `Fashion-MNIST is not installed at ${FASHION_MNIST_DEFAULT_DIR} (apt-get install dataset-fashion-mnist)` : false;

describe('Fashion-MNIST, the real files (Debian dataset-fashion-mnist)', { skip: realSkip }, () => {
  it('has 60,000 / 10,000 images of 28 x 28 in ten balanced classes, with the published first labels', async () => {
    const { train, test } = await loadDataset('fashion-mnist');
    assert.deepEqual([train.count, test.count, train.height, train.width, train.channels], [60_000, 10_000, 28, 28, 1]);
    assert.deepEqual(classCounts(train), new Array(10).fill(6000));
    assert.deepEqual(classCounts(test), new Array(10).fill(1000));
    // The first training image is an ankle boot (9), then T-shirts (0, 0), a dress (3), ... (the data set's README sample).
    assert.deepEqual([...train.labels.subarray(0, 10)], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert.deepEqual([...test.labels.subarray(0, 10)], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert.equal(train.classNames![9], 'Ankle boot');
    // Pixels: the bytes node:zlib inflates from the file, after the 16-byte header.
    const reference = gunzipSync(readFileSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz'))).subarray(16);
    assert.ok(Buffer.from(train.pixels!).equals(reference));
    // The normalisation constants are the training set's own statistics (to the 4 digits quoted).
    let sum = 0;
    let squares = 0;
    for (const b of reference) {
      sum += b / 255;
      squares += (b / 255) ** 2;
    }
    const mean = sum / reference.length;
    assert.ok(Math.abs(mean - FASHION_MNIST_MEAN) < 5e-4, `mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(squares / reference.length - mean * mean) - FASHION_MNIST_STD) < 5e-4);
  });

  it('trains a 784-64-10 MLP far above chance in 300 steps; the checkpoint carries the class names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kat-fashion-'));
    const out = join(dir, 'mlp.safetensors');
    const run = kat('train', '--model', 'kan-mlp', '--basis', 'mlp', '--hidden', '64', '--dataset', 'fashion-mnist', '--epochs', '1',
      '--max-steps', '300', '--lr', '0.002', '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const done = jsonLines(run.stdout).find((e) => e.event === 'done')!;
    // Chance is 10%; 300 steps of 64 images reach about 80%.
    assert.ok((done.test_acc as number) > 0.7, `test accuracy ${done.test_acc}`);
    const info = decodeSafetensors(new Uint8Array(readFileSync(out)), 'mlp').metadata;
    assert.deepEqual(JSON.parse(info.class_names!), FASHION_MNIST_CLASS_NAMES);
    const preprocess = JSON.parse(info.preprocess!) as { mean: number[]; std: number[]; inputSize: number[] };
    assert.deepEqual(preprocess.inputSize, [1, 28, 28]);
    assert.equal(preprocess.mean[0], FASHION_MNIST_MEAN);
    assert.equal(preprocess.std[0], FASHION_MNIST_STD);
  });

  it('kat predict names the classes of grayscale photos and gives the logits of the training pipeline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kat-fashion-predict-'));
    const out = join(dir, 'kat.safetensors');
    const run = kat('train', '--dataset', 'fashion-mnist', '--epochs', '1', '--max-steps', '30', '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const { test } = await loadDataset('fashion-mnist');
    // Test images 0-2 as 8-bit grey PNGs (as a user would save them).
    const files = [0, 1, 2].map((i) => {
      const file = join(dir, `test${i}.png`);
      writeFileSync(file, encodePng({ width: 28, height: 28, channels: 1, depth: 8, data: test.pixels!.subarray(784 * i, 784 * (i + 1)) }));
      return file;
    });
    const predicted = kat('predict', '--checkpoint', out, ...files, '--json', '--logits', '--top', '10');
    assert.equal(predicted.code, 0, predicted.stderr);
    const records = jsonLines(predicted.stdout) as { top: { label: string }[]; logits: number[] }[];
    const loaded = await readCheckpointFile(out);
    const logits = noGrad(() => tidy(() => loaded.model.forward(tensor(copyImages(test, 0, 3), [3, 1, 28, 28]))));
    const expected = await logits.data();
    logits.dispose();
    loaded.model.dispose();
    for (const [i, record] of records.entries()) {
      assert.deepEqual(record.top.map((t) => t.label).sort(), [...FASHION_MNIST_CLASS_NAMES].sort());
      for (let c = 0; c < 10; c++) assert.ok(Math.abs(record.logits[c]! - expected[10 * i + c]!) < 1e-5, `image ${i} class ${c}`);
    }
  });
});
