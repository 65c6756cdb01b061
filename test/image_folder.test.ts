// Image folders as data (streamed, decoded in worker threads), kat predict on
// photos, and fine-tuning from pretrained weights (head re-initialised,
// position embeddings resampled).

import assert from 'node:assert/strict';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { shuffledIndices } from '../src/data/dataset.js';
import { decodeImageExact } from '../src/data/image_decode.js';
import { augmentSeed, loadImageFolder, scanImageFolder } from '../src/data/image_folder.js';
import { evalTransform, IMAGENET_DEFAULT_PREPROCESS, type PreprocessConfig } from '../src/data/image_transforms.js';
import { resamplePosEmbed } from '../src/models/finetune.js';
import { buildModel, modelSpec } from '../src/models/registry.js';
import { setBackend } from '../src/tensor/engine.js';
import { trainModel, DEFAULT_TRAIN_CONFIG } from '../src/train/trainer.js';
import { assertBadInputs, jsonLines, kat } from './support/cli.js';
import { writeSyntheticFolder } from './support/image_folder.js';

const root = mkdtempSync(join(tmpdir(), 'kat-folder-'));
const preprocess28: PreprocessConfig = { ...IMAGENET_DEFAULT_PREPROCESS, inputSize: [3, 28, 28] };

describe('image folders', () => {
  const flat = join(root, 'flat');
  const names = writeSyntheticFolder(flat, { count: 60, classes: 3, seed: 4 });

  it('scan: sorted classes, a seeded stratified split with no overlap, train/val folders when present', async () => {
    const scan = await scanImageFolder(flat, { seed: 0, testFraction: 0.2 });
    assert.deepEqual(scan.classNames, names);
    assert.equal(scan.train.length + scan.test.length, 60);
    const perClass = (entries: { label: number }[]) => [0, 1, 2].map((c) => entries.filter((e) => e.label === c).length);
    assert.deepEqual(perClass(scan.test), [4, 4, 4]);
    const trainPaths = new Set(scan.train.map((e) => e.path));
    assert.ok(scan.test.every((e) => !trainPaths.has(e.path)), 'a test image is also in train');
    for (const e of [...scan.train, ...scan.test]) assert.ok(e.path.includes(`/${names[e.label]}/`), `${e.path} labelled ${names[e.label]}`);
    assert.deepEqual(await scanImageFolder(flat, { seed: 0, testFraction: 0.2 }), scan, 'same seed, same split');
    assert.notDeepEqual((await scanImageFolder(flat, { seed: 1, testFraction: 0.2 })).test, scan.test);

    const split = join(root, 'split');
    writeSyntheticFolder(split, { count: 24, classes: 3, trainVal: true });
    const both = await scanImageFolder(split);
    assert.equal(both.train.length, 18);
    assert.equal(both.test.length, 6);
    assert.ok(both.test.every((e) => e.path.includes('/val/')));
    // A model's class order wins over the folder's, and an unknown class is an error.
    const relabelled = await scanImageFolder(flat, { classNames: [names[2]!, names[0]!, names[1]!, 'other'] });
    assert.ok(relabelled.train.every((e) => e.path.includes(`/${[names[2], names[0], names[1]][e.label]}/`)));
    await assert.rejects(scanImageFolder(flat, { classNames: [names[0]!, names[1]!] }), /class 'class_c' is not among the model's 2 classes/);
  });

  it('bad folders get one clear error', async () => {
    await assert.rejects(scanImageFolder(join(root, 'missing')), /image folder '.*missing' does not exist/);
    const file = join(root, 'file.txt');
    writeFileSync(file, 'x');
    await assert.rejects(scanImageFolder(file), /is not a directory: expected DIR\/<class>/);
    const one = join(root, 'one');
    writeSyntheticFolder(one, { count: 4, classes: 1 });
    await assert.rejects(scanImageFolder(one), /has 1 class folder: expected at least 2/);
    const empty = join(root, 'empty');
    writeSyntheticFolder(empty, { count: 4, classes: 2 });
    mkdirSync(join(empty, 'class_z'));
    await assert.rejects(scanImageFolder(empty), /no training images .* for class 'class_z'/);
  });

  it('streamed batches follow the seeded order; eval pixels equal decoding on the main thread; augmentation repeats per (seed, epoch)', async () => {
    const split = await loadImageFolder(flat, preprocess28, { seed: 0, threads: 2 });
    try {
      const order = shuffledIndices(split.train.count, 7, 2);
      const seen: number[] = [];
      for await (const batch of split.train.streamBatches(10, { seed: 7, epoch: 2, shuffle: true })) seen.push(...batch.indices);
      assert.deepEqual(seen, Array.from(order));

      const per = 3 * 28 * 28;
      for await (const batch of split.test.streamBatches(5, { shuffle: false })) {
        for (let k = 0; k < batch.size; k++) {
          const path = split.test.path(batch.indices[k]!);
          const expected = evalTransform(await decodeImageExact(readFileSync(path), path), preprocess28);
          assert.deepEqual(batch.images.subarray(k * per, (k + 1) * per), expected, path);
          assert.equal(batch.labels[k], split.test.labels[batch.indices[k]!]);
        }
        break;
      }
      const first = async (epoch: number) => {
        for await (const batch of split.train.streamBatches(8, { seed: 3, epoch, augment: true })) return batch;
        throw new Error('no batch');
      };
      const [a, b, c] = [await first(1), await first(1), await first(2)];
      assert.deepEqual(a.images, b.images, 'augmentation is not reproducible');
      assert.notDeepEqual(a.images, c.images);
      assert.notEqual(augmentSeed(3, 1, 0), augmentSeed(3, 2, 0));
    } finally {
      await split.close();
    }
  });

  // No wall-time or CPU-share assertion (a busy machine fails those, a broken one can pass): the decode pool's own
  // bookkeeping shows that every worker receives images and that the stream keeps all of them fed at once.
  it('a 1,000-image folder (PNG and JPEG) trains for an epoch; decoding spreads over every worker, all in flight at once', async () => {
    const big = join(root, 'big');
    writeSyntheticFolder(big, { count: 1000, classes: 3, seed: 9 });
    await setBackend('cpu');
    const split = await loadImageFolder(big, { ...preprocess28, inputSize: [3, 56, 56] }, { seed: 0 });
    try {
      // Decoding alone: every worker gets images, and requests to all of them are in flight together.
      const pool = split.train.pool as unknown as { size: number; workers: { postMessage(message: unknown): void }[]; pending: Map<number, unknown> };
      const perWorker = pool.workers.map(() => 0);
      let inFlight = 0;
      pool.workers.forEach((worker, i) => {
        const post = worker.postMessage.bind(worker);
        worker.postMessage = (message: unknown) => { perWorker[i]!++; inFlight = Math.max(inFlight, pool.pending.size); post(message); };
      });
      let started = performance.now();
      let images = 0;
      for await (const batch of split.train.streamBatches(32, { seed: 0, epoch: 1, augment: true })) images += batch.size;
      const decodeMs = performance.now() - started;
      assert.equal(images, split.train.count);
      assert.equal(pool.size, availableParallelism(), 'one decode worker per core');
      assert.equal(perWorker.reduce((a, b) => a + b, 0), images, 'every image decoded once, in a worker');
      assert.ok(perWorker.every((n) => n >= images / pool.size / 4), `images per worker: ${perWorker.join(', ')}`);
      assert.ok(inFlight >= pool.size, `at most ${inFlight} requests in flight for ${pool.size} workers`);
      const decoded = perWorker.join(' / ');

      const model = buildModel(modelSpec('kat-micro', { channels: 3, imageSize: 56, classes: 3 }));
      started = performance.now();
      const result = await trainModel(model, split.train, split.test, { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 32, warmupEpochs: 0 });
      const trainMs = performance.now() - started;
      // Printed for the reader, never asserted.
      process.stderr.write(`folder: ${images} images decoded in ${(decodeMs / 1000).toFixed(2)} s by ${pool.size} workers ` +
        `(${decoded}); 1 epoch of training in ${(trainMs / 1000).toFixed(1)} s, test accuracy ${(result.testAccuracy * 100).toFixed(1)}%\n`);
      assert.equal(result.epochs.length, 1);
      assert.ok(result.testAccuracy > 0.5, `the coloured discs are easy: accuracy ${result.testAccuracy}`);
      model.dispose();
    } finally {
      await split.close();
    }
  });
});

describe('position embeddings for another image size', () => {
  // torch.nn.functional.interpolate(mode='bicubic', antialias=True, align_corners=False), written out point by point.
  function reference(values: Float32Array, dim: number, from: number, to: number): Float64Array {
    const cubic = (x: number) => {
      const t = Math.abs(x);
      return t < 1 ? 1.5 * t ** 3 - 2.5 * t ** 2 + 1 : t < 2 ? -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 : 0;
    };
    const taps = (i: number): [number, number][] => {
      const scale = from / to;
      const support = 2 * Math.max(scale, 1);
      const center = scale * (i + 0.5);
      const lo = Math.max(Math.trunc(center - support + 0.5), 0);
      const hi = Math.min(Math.trunc(center + support + 0.5), from);
      const raw: [number, number][] = [];
      for (let j = lo; j < hi; j++) raw.push([j, cubic((j - center + 0.5) / Math.max(scale, 1))]);
      const total = raw.reduce((s, [, w]) => s + w, 0);
      return raw.map(([j, w]) => [j, w / total]);
    };
    const out = new Float64Array((1 + to * to) * dim);
    for (let c = 0; c < dim; c++) out[c] = values[c]!;
    for (let y = 0; y < to; y++) {
      for (let x = 0; x < to; x++) {
        for (let c = 0; c < dim; c++) {
          let sum = 0;
          for (const [yy, wy] of taps(y)) for (const [xx, wx] of taps(x)) sum += wy * wx * values[(1 + yy * from + xx) * dim + c]!;
          out[(1 + y * to + x) * dim + c] = sum;
        }
      }
    }
    return out;
  }

  it('matches torch\'s antialiased bicubic resampling, up and down, and keeps the class token', () => {
    const dim = 3;
    for (const [from, to] of [[4, 6], [7, 3], [14, 14], [2, 5]] as const) {
      const values = Float32Array.from({ length: (1 + from * from) * dim }, (_, i) => Math.sin(i * 0.37) + (i % 5) * 0.1);
      const got = resamplePosEmbed(values, dim, from, to);
      const want = reference(values, dim, from, to);
      assert.equal(got.length, want.length);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `${from}->${to} at ${i}: ${got[i]} vs ${want[i]}`);
      if (from === to) assert.deepEqual(got, values, 'the same grid must be the identity');
    }
  });
});

describe('kat train / eval / predict on image folders, fine-tuning', () => {
  const data = join(root, 'cli');
  writeSyntheticFolder(data, { count: 120, classes: 3, seed: 11 });
  const out = join(root, 'folder.safetensors');
  let trainAcc = Number.NaN;

  it('train --dataset folder:DIR saves class names and preprocessing; eval reproduces its accuracy', () => {
    const run = kat('train', '--dataset', `folder:${data}`, '--image-size', '28', '--epochs', '2', '--batch-size', '16', '--out', out, '--json');
    assert.equal(run.code, 0, run.stderr);
    const done = jsonLines(run.stdout).at(-1)!;
    trainAcc = done.test_acc as number;
    const info = jsonLines(kat('info', '--checkpoint', out, '--json').stdout)[0]!;
    assert.deepEqual(info.labels, ['class_a', 'class_b', 'class_c']);
    assert.deepEqual((info.preprocess as PreprocessConfig).inputSize, [3, 28, 28]);
    const evaluated = kat('eval', '--checkpoint', out, '--dataset', `folder:${data}`, '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal(jsonLines(evaluated.stdout)[0]!.test_acc, trainAcc);
  });

  it('predict: top-k per image with the saved labels; probabilities sum to at most 1 and are sorted', () => {
    const run = kat('predict', '--checkpoint', out, '--top', '2', '--json', join(data, 'class_a'));
    assert.equal(run.code, 0, run.stderr);
    const predictions = jsonLines(run.stdout);
    assert.equal(predictions.length, 40);
    for (const p of predictions) {
      const top = p.top as { label: string; probability: number }[];
      assert.equal(top.length, 2);
      assert.ok(top[0]!.probability >= top[1]!.probability);
      assert.ok(['class_a', 'class_b', 'class_c'].includes(top[0]!.label));
    }
    const text = kat('predict', '--checkpoint', out, join(data, 'class_b', 'img_1.jpg'));
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /img_1\.jpg\n {2}1\. class_[abc] +\d+\.\d\d%\n {2}2\. /);
  });

  it('predict: an unreadable image names the file; --skip-bad goes on past it', () => {
    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'broken.jpg'), readFileSync(join(data, 'class_a', 'img_3.jpg')).subarray(0, 200));
    writeFileSync(join(bad, 'good.png'), readFileSync(join(data, 'class_a', 'img_0.png')));
    assertBadInputs([
      [['predict', '--checkpoint', out, bad], /broken\.jpg/],
      [['predict', '--checkpoint', out, join(root, 'nope.jpg')], /image '.*nope\.jpg' does not exist/],
      [['predict', '--checkpoint', out], /name at least one image/],
      [['predict', bad], /--checkpoint SRC is required/],
    ]);
    const run = kat('predict', '--checkpoint', out, '--skip-bad', '--json', bad);
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    assert.deepEqual(events.map((e) => e.event), ['skipped', 'prediction']);
    assert.match(events[0]!.error as string, /broken\.jpg/);
  });

  it('train --init: a pretrained KAT from a hub folder, head re-initialised for 3 classes, position embeddings resampled', () => {
    const hub = fileURLToPath(new URL('../../test/fixtures/torch/hub_kat_small32', import.meta.url));
    const tuned = join(root, 'tuned.safetensors');
    const same = kat('train', '--init', hub, '--dataset', `folder:${data}`, '--epochs', '1', '--batch-size', '16', '--out', tuned);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /classifier head was re-initialised: 10 classes in the checkpoint, 3 in the data/);
    assert.doesNotMatch(same.stderr, /position embeddings resampled/);
    const bigger = kat('train', '--init', hub, '--dataset', `folder:${data}`, '--image-size', '48', '--epochs', '1', '--batch-size', '16', '--out', tuned);
    assert.equal(bigger.code, 0, bigger.stderr);
    assert.match(bigger.stderr, /position embeddings resampled from a 4x4 to a 6x6 patch grid/);
    const info = jsonLines(kat('info', '--checkpoint', tuned, '--json').stdout)[0]!;
    assert.equal((info.config as { imageSize: number }).imageSize, 48);
    assert.equal((info.config as { heads: number }).heads, 3);
    assertBadInputs([
      [['train', '--init', hub, '--model', 'kat-micro', '--dataset', `folder:${data}`], /--model kat-micro differs from the --init checkpoint's/],
      [['train', '--init', hub, '--dataset', `folder:${data}`, '--image-size', '50'], /do not split into 8-pixel patches/],
      [['train', '--dataset', `folder:${data}`, '--shift', '2'], /--shift does not apply to image folders/],
    ]);
  });
});
