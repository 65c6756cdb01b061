// `kat profile --backend webgpu`: a few training steps of a model with every
// GPU dispatch timed by timestamp queries, summed per kernel name: calls,
// total milliseconds, mean microseconds per call and share of the GPU time,
// as a table or as one JSON object. One untimed step first compiles the
// pipelines and creates the optimizer's moments.

import type { DispatchTiming } from '../../backends/webgpu/context.js';
import { WebGpuBackend } from '../../backends/webgpu/index.js';
import { modelSpec } from '../../models/registry.js';
import { syntheticTrainingStep } from '../../bench/bench.js';
import { selectBackend } from '../backend.js';
import { JSON_FLAG } from '../common_flags.js';
import { CliError, flagTable, integerIn, type FlagValues } from '../flags.js';

export const PROFILE_FLAGS = flagTable({
  backend: { type: 'string', value: 'NAME', default: 'webgpu', help: 'webgpu (an adapter without \'timestamp-query\' is an error)' },
  model: { type: 'string', value: 'NAME', default: 'kat-micro', help: 'the model trained (names as for kat train)' },
  batch: { type: integerIn(1, 1024), value: 'N', default: 32, help: 'images per step' },
  'image-size': { type: integerIn(1, 1024), value: 'N', help: 'the input size (default the model\'s)' },
  steps: { type: integerIn(1, 100), value: 'N', default: 2, help: 'timed steps, after one untimed' },
  json: { ...JSON_FLAG, help: 'print the table as one JSON object' },
});

export interface KernelProfileRow {
  kernel: string;
  calls: number;
  total_ms: number;
  mean_us: number;
  /** Fraction of all timed GPU time. */
  share: number;
}

/** Sums dispatch timings per kernel name, largest total first. */
export function aggregateTimings(timings: readonly DispatchTiming[]): KernelProfileRow[] {
  const byName = new Map<string, { calls: number; ns: number }>();
  let totalNs = 0;
  for (const { name, ns } of timings) {
    const entry = byName.get(name) ?? { calls: 0, ns: 0 };
    entry.calls++;
    entry.ns += ns;
    totalNs += ns;
    byName.set(name, entry);
  }
  return [...byName.entries()]
    .map(([kernel, { calls, ns }]) => ({ kernel, calls, total_ms: ns / 1e6, mean_us: ns / 1e3 / calls, share: totalNs > 0 ? ns / totalNs : 0 }))
    .sort((a, b) => b.total_ms - a.total_ms || a.kernel.localeCompare(b.kernel));
}

export async function runProfile(flags: FlagValues): Promise<void> {
  const name = (flags.backend as string | undefined) ?? PROFILE_FLAGS.backend.default;
  if (name !== 'webgpu') {
    throw new CliError(`profile: per-kernel GPU timing needs --backend webgpu (got '${name}'); for CPU timings use kat bench`);
  }
  const modelName = (flags.model as string | undefined) ?? PROFILE_FLAGS.model.default;
  let spec;
  try {
    spec = modelSpec(modelName);
  } catch (error) {
    throw new CliError(`profile: ${(error as Error).message}`);
  }
  const config = spec.config as { imageSize?: number; channels?: number; classes: number; patchSize?: number };
  const imageSize = (flags['image-size'] as number | undefined) ?? config.imageSize ?? 28;
  if (config.patchSize !== undefined && imageSize % config.patchSize !== 0) {
    throw new CliError(`profile: --image-size ${imageSize} is not a multiple of ${modelName}'s patch size ${config.patchSize}`);
  }
  const channels = config.channels ?? 1;
  const classes = config.classes;
  const batch = (flags.batch as number | undefined) ?? PROFILE_FLAGS.batch.default;
  const steps = (flags.steps as number | undefined) ?? PROFILE_FLAGS.steps.default;

  const { backend } = await selectBackend('webgpu');
  if (!(backend instanceof WebGpuBackend)) throw new CliError(`profile: backend '${backend.name}' is not WebGPU`);
  const ctx = backend.ctx;
  if (!ctx.timestamps) {
    throw new CliError(`profile: the WebGPU adapter (${ctx.adapterName}) has no 'timestamp-query' feature, so per-kernel GPU times ` +
      'cannot be measured on it');
  }

  const training = syntheticTrainingStep(modelName, batch, imageSize, { channels, classes });
  const step = training.step;
  step();
  await backend.sync();
  const start = performance.now();
  ctx.startProfiling();
  let timings: DispatchTiming[];
  try {
    for (let i = 0; i < steps; i++) step();
  } finally {
    timings = await ctx.stopProfiling();
  }
  const wallMs = performance.now() - start;
  training.dispose();

  const rows = aggregateTimings(timings);
  const gpuMs = rows.reduce((sum, row) => sum + row.total_ms, 0);
  const report = {
    device: backend.description, model: modelName, batch, image_size: imageSize, steps, dispatches: timings.length,
    gpu_ms: gpuMs, wall_ms: wallMs, kernels: rows,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const width = Math.max(24, ...rows.map((row) => row.kernel.length));
  const lines = [
    `${backend.description}: ${modelName}, batch ${batch}, ${imageSize}x${imageSize}, ${steps} training step${steps === 1 ? '' : 's'} ` +
      `(after one untimed), ${timings.length} dispatches`,
    `${'kernel'.padEnd(width)} ${'calls'.padStart(7)} ${'total ms'.padStart(11)} ${'mean us'.padStart(11)} ${'share'.padStart(7)}`,
    ...rows.map((row) => `${row.kernel.padEnd(width)} ${String(row.calls).padStart(7)} ${row.total_ms.toFixed(3).padStart(11)} ` +
      `${row.mean_us.toFixed(1).padStart(11)} ${`${(row.share * 100).toFixed(1)}%`.padStart(7)}`),
    `${'total'.padEnd(width)} ${String(timings.length).padStart(7)} ${gpuMs.toFixed(3).padStart(11)} ${''.padStart(11)} ${'100.0%'.padStart(7)}`,
    `GPU time is the sum of the dispatches' timestamped passes; wall time of the timed steps ${wallMs.toFixed(1)} ms.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
