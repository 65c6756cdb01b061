// Loops written the PyTorch way (no tidy()), for the memory tests: each
// reports the live tensors and backend bytes at 10% of its iterations and at
// the end, both after the collector had its chance (what is really held),
// and the most tensors seen alive at any iteration without forcing it.

import assert from 'node:assert/strict';
import { createModel } from '../../src/models/registry.js';
import { tensor } from '../../src/ops/creation.js';
import { softmaxCrossEntropy } from '../../src/ops/nn.js';
import { AdamW } from '../../src/optim/index.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { memory } from '../../src/tensor/scope.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { collectGarbage } from './harness.js';

export interface Held {
  tensors: number;
  bytes: number;
}

export interface LoopReport {
  atTenth: Held;
  atEnd: Held;
  /** The most live tensors seen after any iteration, the collector left to itself. */
  peakTensors: number;
}

async function held(): Promise<Held> {
  await collectGarbage();
  const { tensors, bytes } = memory();
  return { tensors, bytes };
}

async function measure(iterations: number, step: (i: number) => Promise<void>): Promise<LoopReport> {
  let atTenth: Held | null = null;
  let peakTensors = 0;
  for (let i = 1; i <= iterations; i++) {
    await step(i);
    peakTensors = Math.max(peakTensors, memory().tensors);
    if (i === Math.round(iterations / 10)) atTenth = await held();
  }
  return { atTenth: atTenth!, atEnd: await held(), peakTensors };
}

function input(batch: number, channels: number, size: number): Tensor {
  const values = new Float32Array(batch * channels * size * size);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.37);
  return tensor(values, [batch, channels, size, size]);
}

/** The loop: out = noGrad(() => model.forward(x)); await out.data(); out.dispose(). */
export async function inferenceLoop(name: string, iterations: number, options: { batch?: number; dispose?: boolean } = {}): Promise<LoopReport> {
  const model = createModel(name).eval();
  const size = name.endsWith('-micro') ? 28 : 224;
  const x = input(options.batch ?? 1, name.endsWith('-micro') ? 1 : 3, size);
  const report = await measure(iterations, async () => {
    const out = noGrad(() => model.forward(x));
    await out.data();
    if (options.dispose ?? true) out.dispose();
  });
  model.dispose();
  x.dispose();
  return report;
}

/** A training step as a PyTorch user writes it: no tidy(), nothing disposed. */
export async function trainingLoop(name: string, iterations: number, batch = 8): Promise<LoopReport> {
  const model = createModel(name);
  const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
  const x = input(batch, 1, 28);
  const y = tensor(Array.from({ length: batch }, (_, i) => i % 10), [batch]);
  let first = NaN;
  let last = NaN;
  const report = await measure(iterations, async (i) => {
    const loss = softmaxCrossEntropy(model.forward(x), y);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    last = await loss.item();
    if (i === 1) first = last;
  });
  assert.ok(last < first, `the loop trains: loss ${first} -> ${last}`);
  optimizer.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return report;
}

/** Live tensors and bytes at the end within 5% of the 10% mark; the peak bounded too. */
export function assertFlat(report: LoopReport, what: string): void {
  const { atTenth, atEnd } = report;
  const line = `${what}: at 10% ${atTenth.tensors} tensors / ${atTenth.bytes} bytes, at the end ${atEnd.tensors} / ${atEnd.bytes}, ` +
    `peak ${report.peakTensors} tensors`;
  console.log(line);
  assert.ok(Math.abs(atEnd.tensors - atTenth.tensors) <= 0.05 * atTenth.tensors, `${line}: live tensors drifted`);
  assert.ok(Math.abs(atEnd.bytes - atTenth.bytes) <= 0.05 * atTenth.bytes, `${line}: live bytes drifted`);
  // Without tidy() a leak is hundreds of tensors per iteration; garbage waiting for the collector is bounded.
  assert.ok(report.peakTensors <= atTenth.tensors + 8192, `${line}: the collector left too much garbage alive`);
}
