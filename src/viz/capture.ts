// What each group-rational activation of a model sees on real data: its
// inputs and outputs over a batch of images, captured by wrapping the
// activation modules' forward for the duration of a few evaluation passes.
// Browser-safe.

import { batches, type ImageDataset } from '../data/dataset.js';
import { tensor } from '../ops/creation.js';
import type { GroupRational } from '../nn/kan.js';
import type { Module } from '../nn/module.js';
import { noGrad } from '../tensor/autograd.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { groupRationalModules } from './activations.js';

/** The values that went into and came out of one activation, as [rows, channels] row-major. */
export interface ActivationTraffic {
  name: string;
  channels: number;
  rows: number;
  inputs: Float32Array;
  outputs: Float32Array;
}

/** Options of captureActivationTraffic(): how many images to run, in what batches, drawn with which seed. */
export interface CaptureOptions {
  /** Images to run (default 256; fewer if the dataset is smaller). */
  images?: number;
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /** Seed of the image choice (default 0: a fixed shuffled order). */
  seed?: number;
}

interface ForwardModel extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * Runs `model` (in eval mode, without gradients) on `images` images of
 * `dataset` and returns, per activation name, every value it received and
 * produced.
 */
export async function captureActivationTraffic(model: ForwardModel, dataset: ImageDataset, options: CaptureOptions = {}):
  Promise<Map<string, ActivationTraffic>> {
  const wanted = Math.min(options.images ?? 256, dataset.count);
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(wanted) || wanted < 1) throw new Error(`captureActivationTraffic: images must be a positive integer, got ${options.images}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`captureActivationTraffic: batchSize must be a positive integer, got ${batchSize}`);
  const activations = groupRationalModules(model);
  const parts = new Map<string, { inputs: Float32Array[]; outputs: Float32Array[]; channels: number }>();
  for (const { name, module } of activations) parts.set(name, { inputs: [], outputs: [], channels: module.channels });

  let recorded: { name: string; x: Tensor; y: Tensor }[] = [];
  const restore = activations.map(({ name, module }) => wrapForward(module, (x, y) => recorded.push({ name, x, y })));
  const wasTraining = model.training;
  model.eval();
  try {
    let done = 0;
    for (const batch of batches(dataset, batchSize, { shuffle: true, seed: options.seed ?? 0 })) {
      const size = Math.min(batch.size, wanted - done);
      const images = batch.images.subarray(0, size * dataset.channels * dataset.height * dataset.width);
      recorded = [];
      const pairs = noGrad(() => tidy(() => {
        model.forward(tensor(images, [size, dataset.channels, dataset.height, dataset.width]));
        return recorded.map((r) => [r.x, r.y]);
      }));
      const names = recorded.map((r) => r.name);
      for (const [i, [x, y]] of pairs.entries()) {
        const entry = parts.get(names[i]!)!;
        entry.inputs.push(await x!.data());
        entry.outputs.push(await y!.data());
        x!.dispose();
        y!.dispose();
      }
      done += size;
      if (done >= wanted) break;
    }
  } finally {
    for (const undo of restore) undo();
    model.train(wasTraining);
  }
  const out = new Map<string, ActivationTraffic>();
  for (const [name, entry] of parts) {
    const inputs = joinArrays(entry.inputs);
    out.set(name, { name, channels: entry.channels, rows: inputs.length / entry.channels, inputs, outputs: joinArrays(entry.outputs) });
  }
  return out;
}

/** Makes `module.forward` also report (x, y); returns the function that undoes it. */
function wrapForward(module: GroupRational, report: (x: Tensor, y: Tensor) => void): () => void {
  const hadOwn = Object.prototype.hasOwnProperty.call(module, 'forward');
  const previous = module.forward;
  module.forward = (x: Tensor): Tensor => {
    const y = previous.call(module, x);
    // Kept: the enclosing modules' forward scopes would free them as their intermediates (disposed after reading).
    report(keep(x), keep(y));
    return y;
  };
  return () => {
    if (hadOwn) module.forward = previous;
    else delete (module as { forward?: unknown }).forward;
  };
}

function joinArrays(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** The values of one group's channels (channel block g of [rows, channels]), in row order. */
export function groupValues(values: Float32Array, channels: number, groups: number, group: number): Float32Array {
  const width = channels / groups;
  const rows = values.length / channels;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * channels + group * width, r * channels + (group + 1) * width), r * width);
  return out;
}
