// `kat train`: trains a model on a dataset, shows progress, evaluates every
// epoch and writes a checkpoint (atomically, and only when training succeeded).

import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { loadDataset, parseDatasetSpec, type ImageDataset } from '../../data/index.js';
import { describeSpec } from '../../models/checkpoint.js';
import { buildModel, modelSpec, type ModelSpec } from '../../models/registry.js';
import { DEFAULT_TRAIN_CONFIG, trainModel, type TrainConfig } from '../../train/trainer.js';
import { selectBackend } from '../backend.js';
import { writeCheckpointFile } from '../../models/checkpoint_files.js';
import { CliError, type FlagType, type FlagValues } from '../flags.js';
import { bar, ProgressLine } from '../progress.js';

export const TRAIN_FLAGS: Record<string, FlagType> = {
  model: 'string', dataset: 'string', epochs: 'number', 'batch-size': 'number', lr: 'number', 'weight-decay': 'number',
  optimizer: 'string', warmup: 'number', 'label-smoothing': 'number', clip: 'number', shift: 'number', flip: 'boolean',
  seed: 'number', backend: 'string',
  out: 'string', json: 'boolean',
};

export const DEFAULT_MODEL = 'kat-micro';

function positiveInteger(flags: FlagValues, name: string, fallback: number): number {
  const value = (flags[name] as number | undefined) ?? fallback;
  if (!Number.isInteger(value) || value < 1) throw new CliError(`train: --${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(flags: FlagValues, name: string, fallback: number): number {
  const value = (flags[name] as number | undefined) ?? fallback;
  if (!Number.isInteger(value) || value < 0) throw new CliError(`train: --${name} must be a non-negative integer, got ${value}`);
  return value;
}

function nonNegative(flags: FlagValues, name: string, fallback: number, below = Infinity): number {
  const value = (flags[name] as number | undefined) ?? fallback;
  if (!(value >= 0 && value < below)) throw new CliError(`train: --${name} must be >= 0${below < Infinity ? ` and < ${below}` : ''}, got ${value}`);
  return value;
}

/** Model inputs follow the data: channels, image size and class count. */
function specFor(model: string, data: ImageDataset): ModelSpec {
  if (data.height !== data.width) throw new CliError(`train: images are ${data.height}x${data.width}; models need square images`);
  try {
    return modelSpec(model, { channels: data.channels, imageSize: data.height, classes: data.classes });
  } catch (error) {
    throw new CliError(`train: ${(error as Error).message}`);
  }
}

export async function runTrain(flags: FlagValues): Promise<void> {
  const json = Boolean(flags.json);
  const modelName = (flags.model as string | undefined) ?? DEFAULT_MODEL;
  const datasetSpec = (flags.dataset as string | undefined) ?? 'mnist';
  const optimizer = (flags.optimizer as string | undefined) ?? DEFAULT_TRAIN_CONFIG.optimizer;
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new CliError(`train: unknown optimizer '${optimizer}': expected adamw or sgd`);
  const config: TrainConfig = {
    epochs: positiveInteger(flags, 'epochs', DEFAULT_TRAIN_CONFIG.epochs),
    batchSize: positiveInteger(flags, 'batch-size', DEFAULT_TRAIN_CONFIG.batchSize),
    lr: nonNegative(flags, 'lr', DEFAULT_TRAIN_CONFIG.lr),
    weightDecay: nonNegative(flags, 'weight-decay', DEFAULT_TRAIN_CONFIG.weightDecay),
    optimizer,
    warmupEpochs: nonNegative(flags, 'warmup', DEFAULT_TRAIN_CONFIG.warmupEpochs),
    labelSmoothing: nonNegative(flags, 'label-smoothing', DEFAULT_TRAIN_CONFIG.labelSmoothing, 1),
    clipNorm: nonNegative(flags, 'clip', DEFAULT_TRAIN_CONFIG.clipNorm),
    shift: nonNegativeInteger(flags, 'shift', DEFAULT_TRAIN_CONFIG.shift),
    flip: (flags.flip as boolean | undefined) ?? DEFAULT_TRAIN_CONFIG.flip,
    seed: (flags.seed as number | undefined) ?? DEFAULT_TRAIN_CONFIG.seed,
  };
  if (!Number.isInteger(config.seed)) throw new CliError(`train: --seed must be an integer, got ${config.seed}`);
  const out = (flags.out as string | undefined) ?? `checkpoints/${modelName}.safetensors`;
  modelSpec(modelName); // an unknown model fails before any data is loaded
  try {
    parseDatasetSpec(datasetSpec);
  } catch (error) {
    throw new CliError(`train: ${(error as Error).message}`);
  }

  const { backend, notes: backendNotes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if (!flags.json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  const { train, test } = await loadDataset(datasetSpec);
  const spec = specFor(modelName, train);
  const model = buildModel(spec, config.seed);
  const params = model.parameterCount();
  const log = (text: string) => { if (!json) process.stderr.write(`${text}\n`); };
  log(`model ${describeSpec(spec)}: ${params.toLocaleString('en-US')} parameters`);
  log(`data ${datasetSpec}: ${train.count} train / ${test.count} test images ${train.channels}x${train.height}x${train.width}`);
  log(`backend ${backend.name}: ${backend.description}`);

  const progress = new ProgressLine(process.stderr);
  const result = await trainModel(model, train, test, config, {
    onStep: (e) => {
      if (json) return;
      progress.update(`epoch ${e.epoch}/${config.epochs} ${bar(e.step, e.steps)} ${e.step}/${e.steps}  loss ${e.loss.toFixed(4)}  ` +
        `acc ${(e.accuracy * 100).toFixed(1)}%  ${e.imagesPerSecond.toFixed(0)} img/s`);
    },
    onEpoch: (e) => {
      if (json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else {
        progress.finish(`epoch ${e.epoch}/${e.epochs}  train loss ${e.train_loss.toFixed(4)} acc ${(e.train_acc * 100).toFixed(2)}%  ` +
          `test loss ${e.test_loss.toFixed(4)} acc ${(e.test_acc * 100).toFixed(2)}%  ${e.seconds.toFixed(1)} s  ${e.images_per_s.toFixed(0)} img/s`);
      }
    },
  });

  await mkdir(dirname(out), { recursive: true });
  await writeCheckpointFile(out, model, spec, {
    dataset: datasetSpec, epochs: String(config.epochs), test_acc: String(result.testAccuracy), seed: String(config.seed),
    trained_at: new Date().toISOString(),
  });
  const done = {
    event: 'done', model: modelName, backend: backend.name, params, test_acc: result.testAccuracy,
    train_seconds: result.trainSeconds, images_per_s: result.imagesPerSecond, checkpoint: out,
  };
  if (json) process.stdout.write(`${JSON.stringify(done)}\n`);
  else {
    process.stdout.write(`${modelName}: test accuracy ${(result.testAccuracy * 100).toFixed(2)}% after ${config.epochs} epochs, ` +
      `${result.trainSeconds.toFixed(1)} s training (${result.imagesPerSecond.toFixed(0)} img/s); checkpoint ${out}\n`);
  }
}
