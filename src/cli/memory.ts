// --max-memory BYTES|NNKiB|NNMiB|NNGiB: the most memory a model may be
// estimated to need (models/memory_estimate.ts) before it is allocated.
// Default: half of this machine's RAM.

import { totalmem } from 'node:os';
import type { DatasetSpec } from '../data/index.js';
import { MNIST_TEST_COUNT, MNIST_TRAIN_COUNT } from '../data/mnist_split.js';
import {
  checkMemoryLimit, estimateTrainingMemory, formatBytes, MemoryLimitError, type TrainingEstimateOptions,
} from '../models/memory_estimate.js';
import { validateModelSpec, type ModelSpec } from '../models/registry.js';
import { excerpt, quote } from '../util/text.js';
import { CliError, type FlagValues } from './flags.js';

export const MAX_MEMORY_FLAG = 'max-memory';

/** The default limit: this fraction of os.totalmem(). */
export const DEFAULT_MEMORY_FRACTION = 0.5;

const UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1], ['b', 1],
  ['k', 2 ** 10], ['kib', 2 ** 10], ['kb', 1e3],
  ['m', 2 ** 20], ['mib', 2 ** 20], ['mb', 1e6],
  ['g', 2 ** 30], ['gib', 2 ** 30], ['gb', 1e9],
  ['t', 2 ** 40], ['tib', 2 ** 40], ['tb', 1e12],
]);

/** 4096, 512MiB, 1.5 GiB, 2G (binary), 2GB (decimal); undefined when it is none of these or not positive. */
export function parseMemorySize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = UNITS.get(match[2]!.toLowerCase());
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

export interface MemoryLimit {
  bytes: number;
  /** How a refusal names it: "the --max-memory limit of 4.00 GiB (...)". */
  text: string;
}

/** --max-memory, or the default; a malformed value is a CliError. */
export function maxMemoryFlag(command: string, flags: FlagValues): MemoryLimit {
  const raw = flags[MAX_MEMORY_FLAG];
  if (raw === undefined) {
    const total = totalmem();
    const bytes = Math.floor(total * DEFAULT_MEMORY_FRACTION);
    return { bytes, text: `the default --max-memory limit of ${formatBytes(bytes)} (half of this machine's ${formatBytes(total)} of RAM)` };
  }
  const bytes = parseMemorySize(String(raw));
  if (bytes === undefined) {
    throw new CliError(`${command}: --max-memory must be a size such as 512MiB, 4GiB or 1073741824 (bytes), got ${quote(String(raw))}`);
  }
  return { bytes, text: `the --max-memory limit of ${formatBytes(bytes)}` };
}

/**
 * The images (and labels) a dataset spec will make, when the spec alone says
 * and nothing can fail first: synthetic (generated: its size is the risk) and
 * the embedded mnist. Files and folders are sized once read.
 */
export interface DatasetShape {
  channels: number;
  height: number;
  width: number;
  classes: number;
  /** Train and test samples together. */
  count: number;
  trainCount: number;
  testCount: number;
}

export function datasetShape(spec: DatasetSpec): DatasetShape | undefined {
  switch (spec.kind) {
    case 'synthetic': {
      // As loadDataset makes it: count training images and a quarter as many test images.
      const testCount = Math.ceil(spec.count / 4);
      return { ...spec, count: spec.count + testCount, trainCount: spec.count, testCount };
    }
    case 'mnist':
      return { channels: 1, height: 28, width: 28, classes: 10, count: MNIST_TRAIN_COUNT + MNIST_TEST_COUNT, trainCount: MNIST_TRAIN_COUNT, testCount: MNIST_TEST_COUNT };
    case 'idx':
      // Both official IDX sets: 60,000 training and 10,000 test images of 28 x 28.
      return { channels: 1, height: 28, width: 28, classes: 10, count: 70_000, trainCount: 60_000, testCount: 10_000 };
    default:
      return undefined;
  }
}

/** Float32 images and labels of a dataset of this shape. */
export function datasetShapeBytes(shape: DatasetShape): number {
  return shape.count * (shape.channels * shape.height * shape.width + 1) * 4;
}

/** Bytes of the typed arrays a loaded dataset holds (streamed image folders hold none up front). */
export function datasetBytes(...datasets: object[]): number {
  let bytes = 0;
  for (const data of datasets) {
    for (const value of Object.values(data)) if (ArrayBuffer.isView(value)) bytes += value.byteLength;
  }
  return bytes;
}

/**
 * Refuses, before anything is allocated, a training run whose estimate
 * (parameters, gradients, optimizer state, one batch's activations, data) is
 * over the limit; the message gives the estimate and its parts.
 */
export function checkTrainingMemory(command: string, spec: ModelSpec, options: TrainingEstimateOptions, limit: MemoryLimit): void {
  try {
    validateModelSpec(spec, excerpt(spec.name)); // "kat-micro config: image size 32 is not a multiple of patch size 7"
    checkMemoryLimit(estimateTrainingMemory(spec, options), limit.bytes, `${command}: training ${excerpt(spec.name)}`, limit.text);
  } catch (error) {
    if (error instanceof MemoryLimitError) {
      throw new CliError(`${error.message}; use a smaller --batch-size, model or dataset, or raise --max-memory`);
    }
    throw new CliError(`${command}: ${(error as Error).message}`);
  }
}
