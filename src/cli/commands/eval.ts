// `kat eval --checkpoint F`: accuracy of a saved model on a dataset's test split.

import { loadDataset, parseDatasetSpec } from '../../data/index.js';
import type { VitConfig } from '../../models/vit.js';
import type { KanMlpConfig } from '../../models/kan_mlp.js';
import { evaluate } from '../../train/trainer.js';
import { selectBackend } from '../backend.js';
import { readCheckpointFile } from '../../models/checkpoint_files.js';
import { CliError, type FlagType, type FlagValues } from '../flags.js';

export const EVAL_FLAGS: Record<string, FlagType> = { checkpoint: 'string', dataset: 'string', 'batch-size': 'number', backend: 'string', json: 'boolean' };

export async function runEval(flags: FlagValues): Promise<void> {
  const path = flags.checkpoint as string | undefined;
  if (!path) throw new CliError('eval: --checkpoint FILE is required');
  const batchSize = (flags['batch-size'] as number | undefined) ?? 250;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new CliError(`eval: --batch-size must be a positive integer, got ${batchSize}`);
  const { backend, notes: backendNotes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if (!flags.json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  const { spec, model, info } = await readCheckpointFile(path);
  const datasetSpec = (flags.dataset as string | undefined) ?? info.dataset ?? 'mnist';
  try {
    parseDatasetSpec(datasetSpec);
  } catch (error) {
    throw new CliError(`eval: ${(error as Error).message}`);
  }
  const { test } = await loadDataset(datasetSpec);
  const config = spec.config as Partial<VitConfig & KanMlpConfig>;
  const inputs = config.inputs ?? config.channels! * config.imageSize! * config.imageSize!;
  const dataInputs = test.channels * test.height * test.width;
  if (inputs !== dataInputs || (config.imageSize !== undefined && (config.imageSize !== test.height || config.channels !== test.channels))
    || config.classes !== test.classes) {
    throw new CliError(`eval: checkpoint '${path}' holds ${spec.name} for ${config.classes} classes of ` +
      `${config.imageSize ? `${config.channels}x${config.imageSize}x${config.imageSize}` : `${inputs}-value`} inputs, but ${datasetSpec} has ` +
      `${test.classes} classes of ${test.channels}x${test.height}x${test.width} images`);
  }
  const started = performance.now();
  const result = await evaluate(model, test, batchSize);
  const seconds = (performance.now() - started) / 1000;
  const report = { event: 'eval', checkpoint: path, model: spec.name, backend: backend.name, dataset: datasetSpec, images: test.count,
    test_acc: result.accuracy, test_loss: result.loss, seconds };
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(`${spec.name} on ${datasetSpec} (${test.count} test images): accuracy ${(result.accuracy * 100).toFixed(2)}%, ` +
      `loss ${result.loss.toFixed(4)} (${seconds.toFixed(1)} s, backend ${backend.name})\n`);
  }
}
