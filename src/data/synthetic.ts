// Synthetic image classification data of any size, for benchmarks and tests.
//
// Each class has a fixed random template (standard normal pixels, drawn from
// `seed`); an image of class k is (template_k + noise * z) / sqrt(1 + noise^2)
// with z approximately standard normal (the Irwin-Hall sum of four uniforms,
// rescaled to unit variance: several times faster than Box-Muller, which
// matters at 3x224x224), so pixels have unit variance and the classes are
// learnable (even by a linear model). Labels are balanced (i mod classes)
// and then shuffled.

import { Random } from '../tensor/random.js';
import { epochSeed, type DataSplit, type ImageDataset } from './dataset.js';

export interface SyntheticOptions {
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
  /** Seeds the class templates (and, unless sampleSeed is given, the samples). Default 0. */
  seed?: number;
  /** Seeds the labels and noise; images from different sampleSeeds share the templates. */
  sampleSeed?: number;
  /** Noise standard deviation relative to the templates (default 1). */
  noise?: number;
  name?: string;
}

/** Most float32 values one synthetic array may hold (4 GiB); a larger request is an error, not an 'Invalid typed array length'. */
export const MAX_SYNTHETIC_VALUES = 2 ** 30;

function checkPositive(what: string, v: number, allowZero = false): void {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new Error(`syntheticImages: ${what} ${v} is not valid: expected a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
}

function templates(classes: number, size: number, seed: number): Float32Array {
  const rng = new Random(epochSeed(seed, 0x7e3a));
  const out = new Float32Array(classes * size);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** A dataset of `count` synthetic [channels, height, width] images in `classes` classes. */
export function syntheticImages(options: SyntheticOptions): ImageDataset {
  const { count, channels, height, width, classes, seed = 0, noise = 1 } = options;
  checkPositive('count', count, true);
  checkPositive('channels', channels);
  checkPositive('height', height);
  checkPositive('width', width);
  checkPositive('classes', classes);
  if (!Number.isFinite(noise) || noise < 0) throw new Error(`syntheticImages: noise ${noise} is not valid: expected a finite number >= 0`);
  const size = channels * height * width;
  for (const [what, n] of [['images', count], ['class templates', classes]] as const) {
    if (n * size > MAX_SYNTHETIC_VALUES) {
      throw new Error(`syntheticImages: ${n} ${what} of ${channels}x${height}x${width} are ${n * size} values, more than the ` +
        `${MAX_SYNTHETIC_VALUES} (4 GiB of float32) one dataset may hold`);
    }
  }
  const tpl = templates(classes, size, seed);
  const rng = new Random(epochSeed(options.sampleSeed ?? seed, 0x5a3e));
  const labels = new Float32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = labels[i]!;
    labels[i] = labels[j]!;
    labels[j] = t;
  }
  const images = new Float32Array(count * size);
  const scale = 1 / Math.sqrt(1 + noise * noise);
  // Four 16-bit uniforms u_i in [0, 1) from two 32-bit draws: sum(u_i) - 2 has
  // mean 0 and variance 4/12, so multiply by sqrt(3).
  const unit = Math.sqrt(3) / 65536;
  for (let n = 0; n < count; n++) {
    const t = labels[n]! * size;
    const base = n * size;
    for (let p = 0; p < size; p++) {
      const a = rng.nextUint32();
      const b = rng.nextUint32();
      const z = ((a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff) - 131070) * unit;
      images[base + p] = (tpl[t + p]! + noise * z) * scale;
    }
  }
  return {
    name: options.name ?? `synthetic-${channels}x${height}x${width}`,
    images,
    labels,
    count,
    channels,
    height,
    width,
    classes,
    classNames: Array.from({ length: classes }, (_, k) => `class ${k}`),
  };
}

/** A train/test split sharing one set of class templates (independent noise and labels). */
export function syntheticSplit(
  options: Omit<SyntheticOptions, 'count' | 'sampleSeed' | 'name'> & { trainCount: number; testCount: number },
): DataSplit {
  const { trainCount, testCount, ...shape } = options;
  const seed = shape.seed ?? 0;
  const tag = `synthetic-${shape.channels}x${shape.height}x${shape.width}`;
  return {
    train: syntheticImages({ ...shape, count: trainCount, sampleSeed: epochSeed(seed, 1), name: `${tag}/train` }),
    test: syntheticImages({ ...shape, count: testCount, sampleSeed: epochSeed(seed, 2), name: `${tag}/test` }),
  };
}
