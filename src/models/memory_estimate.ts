// How much memory a model will need, from its spec alone (before anything is
// allocated), so that a run that cannot fit fails at once with the estimate
// instead of growing for minutes and dying. Browser-safe.
//
// Loading: parameters + buffers, at the backend's bytes per value.
// Training adds gradients (one per parameter), the optimizer's state (AdamW:
// two moments; SGD: one momentum buffer), the activations one batch keeps for
// the backward pass, and the dataset when its size is known. Activations are
// counted per sample from the layer widths (each op's output that backward
// needs: see activationValuesPerSample), doubled for the gradients that
// backward holds at its peak; evaluation's forward pass (250 samples, no
// gradients) is counted instead when it is larger. It is an estimate: it
// leaves out the allocator's slack, the runtime and the data pipeline.

import { tensorLayout, countLayout } from './config_check.js';
import { spaceFeatures } from '../nn/select_kan.js';
import type { KanMlpConfig } from './kan_mlp.js';
import { validateModelSpec, type ModelSpec } from './registry.js';
import type { VitConfig } from './vit.js';

export interface MemoryPart {
  what: string;
  bytes: number;
}

export interface MemoryEstimate {
  /** Sum of the parts, in bytes. */
  bytes: number;
  parts: MemoryPart[];
}

/** The batch evaluation runs (trainer.evaluate's default). */
export const EVAL_BATCH_SIZE = 250;

/** 1536 bytes, 12.0 MiB, 3.50 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit + 1 < units.length) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

function estimate(parts: MemoryPart[]): MemoryEstimate {
  const kept = parts.filter((p) => p.bytes > 0);
  return { bytes: kept.reduce((n, p) => n + p.bytes, 0), parts: kept };
}

/**
 * Values each sample keeps alive through a training step's forward pass:
 * the input, and per layer the outputs that backward reads (norms, q/k/v and
 * their copies, the h x T x T attention scores three times (twice with KArAt), the MLP's
 * pre- and post-activation widths).
 */
export function activationValuesPerSample(spec: ModelSpec): number {
  if (spec.name === 'kan-mlp') {
    const c = spec.config as KanMlpConfig;
    const widths = [c.inputs, ...c.hidden, c.classes];
    let values = c.inputs;
    for (let i = 0; i + 1 < widths.length; i++) {
      const [input, output] = [widths[i]!, widths[i + 1]!];
      const basis = c.basis ?? 'rational';
      if (basis === 'rational') values += input + 2 * output;
      else if (basis === 'bspline') values += 2 * input + 2 * input * ((c.bspline?.gridSize ?? 5) + (c.bspline?.order ?? 3)) + 3 * output;
      // AF-KAN and ReLU-KAN are composed of element-wise ops, each keeping an [in, g + k] tensor (measured: 9 and 7 of them).
      else if (basis === 'af') values += 9 * input * ((c.af?.gridSize ?? 3) + (c.af?.order ?? 3)) + 4 * input + 2 * output;
      else if (basis === 'relu') values += 7 * input * ((c.relu?.gridSize ?? 3) + (c.relu?.order ?? 3)) + 4 * input + 2 * output;
      else if (basis === 'mlp') values += input + 2 * output;
      // S-KAN: every space's expansion [in, K_s] and the few tensors its features are made of, scaled weights, outputs.
      else if (basis === 'select') values += (c.select?.spaces ?? []).reduce((n, s) => n + 4 * input * spaceFeatures(s) + 2 * output, 0);
      // ChebyKAN: x (for the basis backward), its [in, degree + 1] expansion (for the matmul's), the output and its gradient.
      else if (basis === 'cheby') values += input + input * ((c.cheby?.degree ?? 4) + 1) + 2 * output;
      else values += 3 * input + input * (c.rbf?.centers ?? 8) + 4 * output;
    }
    return values;
  }
  const c = spec.config as VitConfig;
  const patches = (c.imageSize / c.patchSize) ** 2;
  const tokens = patches + 1;
  const hidden = Math.round(c.dim * c.mlpRatio);
  const input = c.channels * c.imageSize * c.imageSize;
  // Softmax attention keeps the h x T x T scores three times (q k^T, scaled, softmax); Fourier-KArAt twice (q k^T,
  // scaled) plus its h x T x r hidden values: its [T, T, 2(G + 1)] features are never stored, so G does not appear.
  const attention = c.karat ? 2 * c.heads * tokens * tokens + c.heads * tokens * c.karat.rank : 3 * c.heads * tokens * tokens;
  const block = 16 * tokens * c.dim + 3 * tokens * hidden + attention;
  return 2 * input + 2 * patches * c.dim + 3 * tokens * c.dim + c.depth * block + 2 * c.classes;
}

/** Holding a model: its parameters and buffers. */
export function estimateLoadMemory(spec: ModelSpec, bytesPerValue = 4): MemoryEstimate {
  const layout = tensorLayout(validateModelSpec(spec));
  return estimate([
    { what: 'parameters', bytes: countLayout(layout.parameters) * bytesPerValue },
    { what: 'buffers', bytes: countLayout(layout.buffers) * bytesPerValue },
  ]);
}

export interface TrainingEstimateOptions {
  batchSize: number;
  /** 4 for float32 backends, 8 for cpu-float64. */
  bytesPerValue?: number;
  optimizer?: 'adamw' | 'sgd';
  evalBatchSize?: number;
  /** The dataset's own bytes, when known. */
  dataBytes?: number;
}

/** Training a model: parameters, gradients, optimizer state, one batch's activations, the data. */
export function estimateTrainingMemory(spec: ModelSpec, options: TrainingEstimateOptions): MemoryEstimate {
  const bytesPerValue = options.bytesPerValue ?? 4;
  const layout = tensorLayout(validateModelSpec(spec));
  const parameters = countLayout(layout.parameters);
  const perSample = activationValuesPerSample(spec);
  const training = 2 * options.batchSize * perSample;
  const evaluation = (options.evalBatchSize ?? EVAL_BATCH_SIZE) * perSample;
  const optimizer = options.optimizer ?? 'adamw';
  return estimate([
    { what: 'parameters', bytes: (parameters + countLayout(layout.buffers)) * bytesPerValue },
    { what: 'gradients', bytes: parameters * bytesPerValue },
    { what: optimizer === 'adamw' ? 'AdamW moments' : 'SGD momentum', bytes: (optimizer === 'adamw' ? 2 : 1) * parameters * bytesPerValue },
    {
      what: training >= evaluation ? `activations of a ${options.batchSize}-sample batch` : `activations of a ${options.evalBatchSize ?? EVAL_BATCH_SIZE}-sample evaluation batch`,
      bytes: Math.max(training, evaluation) * bytesPerValue,
    },
    { what: 'data', bytes: options.dataBytes ?? 0 },
  ]);
}

/** Raised when an estimate is over the limit (before anything was allocated). */
export class MemoryLimitError extends Error {
  constructor(message: string, readonly estimate: MemoryEstimate, readonly limit: number) {
    super(message);
    this.name = 'MemoryLimitError';
  }
}

/** "about 18.6 GiB (parameters 4.00 GiB, gradients 4.00 GiB, ...)". */
export function describeEstimate(e: MemoryEstimate): string {
  return `about ${formatBytes(e.bytes)} (${e.parts.map((p) => `${p.what} ${formatBytes(p.bytes)}`).join(', ')})`;
}

/**
 * Throws `what needs about X (...), over the memory limit of Y` when the
 * estimate is over `limit` bytes; `limitText` replaces "the memory limit of Y".
 */
export function checkMemoryLimit(e: MemoryEstimate, limit: number, what: string, limitText = `the memory limit of ${formatBytes(limit)}`): void {
  if (e.bytes > limit) throw new MemoryLimitError(`${what} needs ${describeEstimate(e)}, over ${limitText}`, e, limit);
}
