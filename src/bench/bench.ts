// Benchmarks as data: each measures one thing on the current backend and
// returns a row; the CLI prints the rows as a table and as JSON. Timings are
// medians of repeated runs, each run many back-to-back calls between two
// syncs, so GPU timings measure the device, not the dispatch overhead of one call.

import type { Backend } from '../backends/backend.js';
import { syntheticSplit } from '../data/synthetic.js';
import { createModel, type ModelOptions } from '../models/registry.js';
import { randn, tensor } from '../ops/creation.js';
import { groupRational } from '../ops/group_rational.js';
import { matmul } from '../ops/matmul.js';
import { softmaxCrossEntropy } from '../ops/nn.js';
import { createKanLayer, KAN_BASES } from '../nn/kan_bases.js';
import { rationalCoefficients } from '../nn/rational_init.js';
import { AdamW } from '../optim/index.js';
import { noGrad } from '../tensor/autograd.js';
import { Random } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface BenchRow {
  op: string;
  shape: string;
  median_ms: number;
  /** Bytes that must move per call / time (GB/s), for memory-bound ops. */
  gbps?: number;
  /** Floating-point operations per call / time (TFLOP/s), for compute-bound ops. */
  tflops?: number;
  /** Images per second, for whole-model training. */
  images_per_s?: number;
  /** Elements per second, for elementwise ops measured as a rate (the group-rational comparison). */
  elements_per_s?: number;
  /** gbps / the measured copy bandwidth, or another stated ceiling (see `reference`). */
  ratio?: number;
  /** Thread-scaling rows: best one-thread time / best all-thread time over the rounds (load from others only ever adds time). */
  best_ratio?: number;
  /** Which implementation ran, in comparison rows: 'katjs', 'tfjs-wasm' or 'tfjs-cpu'. */
  impl?: string;
  /** What `ratio` divides by, where it is not the copy bandwidth (e.g. 'tfjs-wasm': this rate / tfjs-wasm's). */
  reference?: string;
  /** KAN layer rows: bytes the forward leaves live for the backward (output and saved intermediates), from memory(). */
  live_bytes?: number;
  /** KAN layer rows: the most bytes live at once during forward + backward (sampled after every kernel), from memory(). */
  peak_bytes?: number;
  /** KAN layer rows: the layer's parameter count. */
  parameters?: number;
}

export interface BenchOptions {
  /** Timed runs per measurement (the median is reported). */
  runs: number;
  /** Calls per timed run. */
  callsPerRun: number;
  /** Stop after the run that takes the timed total past this many ms (at least one run is always timed). */
  maxMs?: number;
}

/** The middle value (the upper one of an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/** Median milliseconds per call of `body`. Any object with sync() works (tfjs's backends are synchronous). */
export async function timeCalls(backend: Pick<Backend, 'sync'>, body: () => void, options: BenchOptions): Promise<number> {
  body(); // warm up: compile pipelines, fill pools
  await backend.sync();
  const perCall: number[] = [];
  const begun = performance.now();
  for (let r = 0; r < options.runs; r++) {
    if (r > 0 && options.maxMs !== undefined && performance.now() - begun > options.maxMs) break;
    const started = performance.now();
    for (let c = 0; c < options.callsPerRun; c++) body();
    await backend.sync();
    perCall.push((performance.now() - started) / options.callsPerRun);
  }
  return median(perCall);
}

/** Device copy of `elements` float32 values: the bandwidth ceiling (read + write counted). */
export async function benchCopy(backend: Backend, elements: number, options: BenchOptions): Promise<BenchRow> {
  const x = randn([elements], { seed: 1 });
  // The identity as a strided copy: the simplest full read + full write every backend has.
  const ms = await timeCalls(backend, () => backend.free(backend.kernels.copyStrided(x.buffer, [elements], [1], 0)), options);
  x.dispose();
  return { op: 'copy', shape: `[${elements}]`, median_ms: ms, gbps: (elements * 8) / (ms * 1e6) };
}

/** GR-KAN forward and backward at [rows, channels], G groups, shared numerator (KAT's layout). */
export async function benchGroupRational(backend: Backend, rows: number, channels: number, groups: number, copyGbps: number,
  options: BenchOptions): Promise<BenchRow[]> {
  const x = randn([rows, channels], { seed: 2 });
  const gy = randn([rows, channels], { seed: 3 });
  const a = tensor([0.03, 0.62, 2.4, 3.1, 1.5, 0.25], [1, 6]);
  const b = randn([groups, 4], { seed: 4, std: 0.5 });
  const shape = `[${rows}, ${channels}] G=${groups}`;
  const k = backend.kernels;
  const elements = rows * channels;
  const forwardMs = await timeCalls(backend, () => {
    backend.free(k.groupRational(x.buffer, a.buffer, b.buffer, rows, channels, groups, true));
  }, options);
  const backwardMs = await timeCalls(backend, () => {
    for (const out of k.groupRationalBackward(x.buffer, a.buffer, b.buffer, gy.buffer, rows, channels, groups, true)) backend.free(out);
  }, options);
  for (const t of [x, gy, a, b]) t.dispose();
  // Floors: forward reads x and writes y (8 B/element); backward reads x and gy and writes dx (12 B/element).
  const forwardGbps = (elements * 8) / (forwardMs * 1e6);
  const backwardGbps = (elements * 12) / (backwardMs * 1e6);
  return [
    { op: 'groupRational forward', shape, median_ms: forwardMs, gbps: forwardGbps, ratio: forwardGbps / copyGbps },
    { op: 'groupRational backward', shape, median_ms: backwardMs, gbps: backwardGbps, ratio: backwardGbps / copyGbps },
  ];
}

/** KAT's act2 init (swish): numerator [1, 6] shared by the groups, denominator [G, 4]. */
function swishCoefficientTensors(groups: number, requiresGrad: boolean): [Tensor, Tensor] {
  const init = rationalCoefficients('swish');
  return [
    tensor([...init.numerator], [1, 6], { requiresGrad }),
    tensor(Array.from({ length: groups }, () => [...init.denominator]).flat(), [groups, 4], { requiresGrad }),
  ];
}

/**
 * Group-rational throughput through the public op and autograd, in elements
 * (rows x channels) per second: forward (no graph recorded), and forward plus
 * backward (y.backward(gy), gradients for x, numerator and denominator, cleared
 * after each call so nothing accumulates). The comparison rows of `kat bench`.
 */
export async function benchGroupRationalRate(backend: Backend, rows: number, channels: number, groups: number,
  options: BenchOptions): Promise<BenchRow[]> {
  const x = randn([rows, channels], { seed: 2, requiresGrad: true });
  const gy = randn([rows, channels], { seed: 3 });
  const [a, b] = swishCoefficientTensors(groups, true);
  const leaves = [x, a, b];
  const forwardMs = await timeCalls(backend, () => noGrad(() => tidy(() => { groupRational(x, a, b); })), options);
  const backwardMs = await timeCalls(backend, () => {
    tidy(() => groupRational(x, a, b).backward(gy));
    for (const leaf of leaves) {
      leaf.grad?.dispose();
      leaf.grad = null;
    }
  }, options);
  for (const t of [x, gy, a, b]) t.dispose();
  const elements = rows * channels;
  const shape = `[${rows}, ${channels}] G=${groups}`;
  return [
    { op: 'groupRational fwd (katjs)', impl: 'katjs', shape, median_ms: forwardMs, elements_per_s: elements / (forwardMs / 1000) },
    { op: 'groupRational fwd+bwd (katjs)', impl: 'katjs', shape, median_ms: backwardMs, elements_per_s: elements / (backwardMs / 1000) },
  ];
}

/**
 * [m, k] x [k, n]; by default the weight is stored [n, k] and read transposed, as
 * Linear does. `transposeB: false` times the plain product of an [m, k] and a [k, n] matrix.
 */
export async function benchMatmul(backend: Backend, m: number, k: number, n: number, options: BenchOptions,
  layout: { transposeB?: boolean } = {}): Promise<BenchRow> {
  const transposeB = layout.transposeB ?? true;
  const a = randn([m, k], { seed: 5 });
  const w = randn(transposeB ? [n, k] : [k, n], { seed: 6 });
  const ms = await timeCalls(backend, () => tidy(() => { matmul(a, w, { transposeB }); }), options);
  a.dispose();
  w.dispose();
  return { op: 'matmul', shape: `[${m}, ${k}] x [${k}, ${n}]`, median_ms: ms, tflops: (2 * m * k * n) / (ms * 1e9) };
}

export interface TrainingBenchOptions {
  /** Image channels (default 3, ImageNet's). */
  channels?: number;
  /** Classes (default 1000, ImageNet's). */
  classes?: number;
}

/** One full training step of a model on a fixed synthetic batch, and what frees it afterwards. */
export interface SyntheticTrainingStep {
  step(): void;
  dispose(): void;
}

/**
 * A model on one synthetic batch of `imageSize` images with AdamW (lr 1e-4,
 * wd 0.05) and label smoothing 0.1: `step()` runs forward, backward and the update.
 */
export function syntheticTrainingStep(modelName: string, batch: number, imageSize: number,
  options: TrainingBenchOptions & { model?: ModelOptions } = {}): SyntheticTrainingStep {
  const channels = options.channels ?? 3;
  const classes = options.classes ?? 1000;
  const data = syntheticSplit({ trainCount: batch, testCount: 1, channels, height: imageSize, width: imageSize, classes, seed: 7 });
  const model = createModel(modelName, { imageSize, channels, classes, ...options.model });
  const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 0.05 });
  const images = tensor(data.train.images, [batch, channels, imageSize, imageSize]);
  const labels = tensor(data.train.labels, [batch]);
  return {
    step: () => {
      tidy(() => softmaxCrossEntropy(model.forward(images), labels, { labelSmoothing: 0.1 }).backward());
      optimizer.step();
      optimizer.zeroGrad();
    },
    dispose: () => {
      optimizer.dispose();
      model.dispose();
      images.dispose();
      labels.dispose();
    },
  };
}

/**
 * Training images per second of a model at `batch` on synthetic `imageSize`
 * images (AdamW lr 1e-4 wd 0.05, label smoothing 0.1, full step): one warm-up
 * step, then the mean of `steps` steps.
 */
export async function benchTraining(backend: Backend, modelName: string, batch: number, imageSize: number, steps: number,
  trainingOptions: TrainingBenchOptions = {}): Promise<BenchRow> {
  const training = syntheticTrainingStep(modelName, batch, imageSize, trainingOptions);
  const ms = await timeCalls(backend, training.step, { runs: 1, callsPerRun: steps });
  training.dispose();
  return { op: `train ${modelName}`, shape: `batch ${batch}, ${imageSize}x${imageSize}`, median_ms: ms, images_per_s: (batch * 1000) / ms };
}

/**
 * Peak memory of one training step (forward, backward, AdamW): a first step
 * creates the optimizer's moments, then the second is measured. peak_bytes is
 * the most bytes live on the backend during it above what was live before it
 * (parameters, moments, the batch): activations kept for the backward plus
 * gradients. `options` picks the variant (e.g. { karat: 'G3B' }).
 */
export async function benchTrainingMemory(backend: Backend, modelName: string, batch: number, imageSize: number,
  options: ModelOptions = {}): Promise<BenchRow> {
  const training = syntheticTrainingStep(modelName, batch, imageSize, { model: options });
  const step = training.step;
  step();
  await backend.sync();
  const before = backend.memory().bytes;
  const start = performance.now();
  const peak = peakBytesDuring(backend, step);
  await backend.sync();
  const ms = performance.now() - start;
  training.dispose();
  const variant = options.karat ? ` ${typeof options.karat === 'string' ? options.karat : 'KArAt'}` : '';
  return { op: `train step memory ${modelName}${variant}`, shape: `batch ${batch}, ${imageSize}x${imageSize}`, median_ms: ms,
    images_per_s: (batch * 1000) / ms, peak_bytes: peak - before };
}

/**
 * The most bytes live on `backend` while `body` runs, sampled after every
 * kernel call (each kernel's outputs exist then; frees happen between calls).
 */
function peakBytesDuring(backend: Backend, body: () => void): number {
  const kernels = backend.kernels as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { ...kernels };
  let peak = backend.memory().bytes;
  for (const [name, kernel] of Object.entries(originals)) {
    kernels[name] = (...args: unknown[]) => {
      const out = kernel(...args);
      peak = Math.max(peak, backend.memory().bytes);
      return out;
    };
  }
  try {
    body();
  } finally {
    Object.assign(kernels, originals);
  }
  return peak;
}

/**
 * KAN layers of each basis at equal widths, [rows, inFeatures] -> outFeatures:
 * GR-KAN (group rational + linear, KAT's), B-spline (efficient-kan: grid 5,
 * order 3, so 8 bases per input), Gaussian RBF (FastKAN: 8 centres, with
 * its layernorm), AF-KAN (g = k = 3, quad1), ReLU-KAN (g = k = 3), ChebyKAN (degree 4: 5 bases per input) and the MLP. Per basis: forward (no graph) and forward + backward
 * (gradients for x and every parameter) times, input elements per second with
 * the ratio to GR-KAN's, the bytes the forward keeps for the backward and the
 * peak bytes of a step (both above what the layer, x and gy hold).
 */
export async function benchKanLayers(backend: Backend, rows: number, inFeatures: number, outFeatures: number,
  options: BenchOptions): Promise<BenchRow[]> {
  const shape = `[${rows}, ${inFeatures}] -> ${outFeatures}`;
  const elements = rows * inFeatures;
  const out: BenchRow[] = [];
  const reference: { forward?: number; step?: number } = {};
  for (const basis of KAN_BASES) {
    const layer = createKanLayer(basis, inFeatures, outFeatures, new Random(1));
    const x = randn([rows, inFeatures], { seed: 2, requiresGrad: true });
    const gy = randn([rows, outFeatures], { seed: 3 });
    const leaves = [x, ...layer.parameters()];
    const clearGrads = () => {
      for (const leaf of leaves) {
        leaf.grad?.dispose();
        leaf.grad = null;
      }
    };
    const forwardMs = await timeCalls(backend, () => noGrad(() => tidy(() => { layer.forward(x); })), options);
    const stepMs = await timeCalls(backend, () => {
      tidy(() => layer.forward(x).backward(gy));
      clearGrads();
    }, options);
    await backend.sync();
    const baseline = backend.memory().bytes;
    let live = 0;
    const peak = peakBytesDuring(backend, () => tidy(() => {
      const y = layer.forward(x);
      live = backend.memory().bytes - baseline;
      y.backward(gy);
    }));
    clearGrads();
    reference.forward ??= forwardMs;
    reference.step ??= stepMs;
    const parameters = layer.parameterCount();
    out.push(
      { op: `kan layer ${basis} fwd`, shape, median_ms: forwardMs, elements_per_s: elements / (forwardMs / 1000),
        ratio: reference.forward / forwardMs, reference: 'rational', live_bytes: live, parameters },
      { op: `kan layer ${basis} fwd+bwd`, shape, median_ms: stepMs, elements_per_s: elements / (stepMs / 1000),
        ratio: reference.step / stepMs, reference: 'rational', peak_bytes: peak - baseline, parameters },
    );
    layer.dispose();
    x.dispose();
    gy.dispose();
  }
  return out;
}
