// `kat eval --checkpoint F`: accuracy of a saved model on a dataset's test split
// (RMSE and R^2 for a tabular regression model).

import {
  decodeTabularPreprocessing, loadDataset, parseDatasetSpec, TABULAR_METADATA_KEY, type LoadDatasetOptions,
} from '../../data/index.js';
import type { VitConfig } from '../../models/vit.js';
import type { KanMlpConfig } from '../../models/kan_mlp.js';
import { loadImageFolder } from '../../data/image_folder.js';
import { evaluate } from '../../train/trainer.js';
import { selectBackend } from '../backend.js';
import { checkpointOptions, CHECKPOINT_SOURCE_HELP, loadCheckpointSource } from '../checkpoint_source.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, DATASET_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC, WEIGHTS_FLAG } from '../common_flags.js';
import { BATCH_SIZE_RANGE, CliError, flagTable, SEED_RANGE, type FlagValues } from '../flags.js';
import { EVAL_BATCH_SIZE } from '../../models/memory_estimate.js';
import { formatMetric } from './train.js';

export const EVAL_FLAGS = flagTable({
  checkpoint: CHECKPOINT_FLAG,
  dataset: { ...DATASET_FLAG, help: `${DATASET_FLAG.help} (default: the one the checkpoint was trained on, else mnist)` },
  'batch-size': { type: BATCH_SIZE_RANGE, value: 'N', default: EVAL_BATCH_SIZE, help: 'images per forward pass' },
  backend: BACKEND_FLAG,
  json: { ...JSON_FLAG, help: 'print the result as one JSON object' },
  target: { type: 'string', value: 'COLUMN', help: 'csv: the column to predict (default the checkpoint\'s)' },
  'test-fraction': {
    type: 'number', value: 'X', help: 'csv: the share of rows to evaluate on (default the checkpoint\'s split; 1: all rows); ' +
      'folder:DIR: the split training made',
  },
  weights: WEIGHTS_FLAG,
  heads: HEADS_FLAG,
  seed: { type: SEED_RANGE, value: 'N', help: 'csv and folder:DIR: the seed of the test split (default the checkpoint\'s)' },
  'max-memory': MAX_MEMORY_SPEC,
});

export async function runEval(flags: FlagValues): Promise<void> {
  const path = flags.checkpoint as string | undefined;
  if (!path) throw new CliError(`eval: --checkpoint SRC is required (${CHECKPOINT_SOURCE_HELP})`);
  const batchSize = (flags['batch-size'] as number | undefined) ?? EVAL_FLAGS['batch-size'].default;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new CliError(`eval: --batch-size must be a positive integer, got ${batchSize}`);
  const { backend, notes: backendNotes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if (!flags.json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  const loaded = await loadCheckpointSource(path, { ...checkpointOptions('eval', flags), quiet: Boolean(flags.json) });
  const { spec, model, info } = loaded;
  const datasetSpec = (flags.dataset as string | undefined) ?? info.dataset ?? 'mnist';
  let tabular = false;
  let folder = false;
  try {
    const kind = parseDatasetSpec(datasetSpec).kind;
    // function:NAME data sets are regression tables too, read with the checkpoint's encoding.
    tabular = kind === 'csv' || kind === 'function';
    folder = kind === 'folder';
  } catch (error) {
    throw new CliError(`eval: ${(error as Error).message}`);
  }
  if (folder) return evalFolder(flags, loaded, datasetSpec, batchSize, backend.name);
  const stored = info[TABULAR_METADATA_KEY];
  if (tabular !== (stored !== undefined)) {
    throw new CliError(tabular
      ? `eval: checkpoint '${path}' was not trained on tabular data (it has no '${TABULAR_METADATA_KEY}' metadata), so it cannot read ${datasetSpec}`
      : `eval: checkpoint '${path}' holds a model for tabular data (${info.dataset ?? 'csv'}): pass --dataset csv:FILE`);
  }
  for (const flag of ['target', 'test-fraction']) {
    if (!tabular && flags[flag] !== undefined) throw new CliError(`eval: --${flag} applies to tabular data (--dataset csv:FILE) only`);
  }
  const testFraction = flags['test-fraction'] as number | undefined;
  if (testFraction !== undefined && !(testFraction > 0 && testFraction <= 1)) {
    throw new CliError(`eval: --test-fraction must be > 0 and <= 1 (1: every row), got ${testFraction}`);
  }
  const options: LoadDatasetOptions = {};
  if (stored !== undefined) {
    // The encoding and split the model was trained with, from the checkpoint.
    options.csv = { preprocessing: decodeTabularPreprocessing(stored, `checkpoint '${path}'`) };
    if (flags.target !== undefined) options.csv.target = flags.target as string;
    if (testFraction !== undefined) options.csv.testFraction = testFraction;
  }
  const { test } = await loadDataset(datasetSpec, options);
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
  const regression = result.rmse !== undefined;
  const metrics = regression ? { test_rmse: result.rmse, test_r2: result.r2 } : { test_acc: result.accuracy };
  const report = { event: 'eval', checkpoint: path, model: spec.name, backend: backend.name, dataset: datasetSpec,
    [tabular ? 'rows' : 'images']: test.count, ...metrics, test_loss: result.loss, seconds };
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if (regression) {
    process.stdout.write(`${spec.name} on ${datasetSpec} (${test.count} test rows): RMSE ${formatMetric(result.rmse!)}, R^2 ${result.r2!.toFixed(4)}, ` +
      `loss ${result.loss.toFixed(4)} (${seconds.toFixed(1)} s, backend ${backend.name})\n`);
  } else if (tabular) {
    process.stdout.write(`${spec.name} on ${datasetSpec} (${test.count} test rows): accuracy ${(result.accuracy * 100).toFixed(2)}%, ` +
      `loss ${result.loss.toFixed(4)} (${seconds.toFixed(1)} s, backend ${backend.name})\n`);
  } else {
    process.stdout.write(`${spec.name} on ${datasetSpec} (${test.count} test images): accuracy ${(result.accuracy * 100).toFixed(2)}%, ` +
      `loss ${result.loss.toFixed(4)} (${seconds.toFixed(1)} s, backend ${backend.name})\n`);
  }
}

/** Accuracy on an image folder's held-out images (DIR/val, or the split training made with the same seed). */
async function evalFolder(flags: FlagValues, loaded: Awaited<ReturnType<typeof loadCheckpointSource>>, datasetSpec: string, batchSize: number,
  backendName: string): Promise<void> {
  const { spec, model, info, preprocess, labels } = loaded;
  const { dir } = parseDatasetSpec(datasetSpec) as { dir: string };
  const seed = (flags.seed as number | undefined) ?? (info.seed !== undefined ? Number(info.seed) : 0);
  const testFraction = flags['test-fraction'] as number | undefined;
  if (testFraction !== undefined && !(testFraction > 0 && testFraction < 1)) {
    throw new CliError(`eval: --test-fraction must be > 0 and < 1 for an image folder (the split training made), got ${testFraction}`);
  }
  // Labels follow the model's class names when it has them; otherwise the folder's sorted class folders.
  const split = await loadImageFolder(dir, preprocess, {
    seed, ...(testFraction === undefined ? {} : { testFraction }), ...(loaded.namedLabels ? { classNames: labels } : {}),
  });
  try {
    const config = spec.config as Partial<VitConfig>;
    if (split.test.classes !== config.classes) {
      throw new CliError(`eval: ${datasetSpec} has ${split.test.classes} classes, the model ${config.classes}`);
    }
    const test = split.test;
    const started = performance.now();
    const result = await evaluate(model, test, batchSize);
    const seconds = (performance.now() - started) / 1000;
    const report = { event: 'eval', checkpoint: loaded.name, model: spec.name, backend: backendName, dataset: datasetSpec,
      images: test.count, test_acc: result.accuracy, test_loss: result.loss, seconds };
    if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      process.stdout.write(`${spec.name} on ${datasetSpec} (${test.count} test images, ${split.scan.split}): accuracy ` +
        `${(result.accuracy * 100).toFixed(2)}%, loss ${result.loss.toFixed(4)} (${seconds.toFixed(1)} s, backend ${backendName})\n`);
    }
  } finally {
    model.dispose();
    await split.close();
  }
}
