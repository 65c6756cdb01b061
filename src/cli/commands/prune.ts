// `kat prune --checkpoint F --keep 0.5`: scores the hidden channels of every
// GR-KAN layer on training images, keeps the best fraction of each group,
// fine-tunes, and writes the smaller model; reports accuracy and parameter
// count before pruning, after it and after fine-tuning.

import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { pruneChannels, scoreChannels } from '../../analysis/prune.js';
import { describeSpec } from '../../models/checkpoint.js';
import { writeCheckpointFile } from '../../models/checkpoint_files.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel, type EvaluateResult } from '../../train/trainer.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, JSON_FLAG, MAX_MEMORY_SPEC } from '../common_flags.js';
import { BATCH_SIZE_RANGE, CliError, EPOCHS_RANGE, flagTable, integerIn, SEED_RANGE, type FlagValues } from '../flags.js';
import { checkOutput } from '../output.js';
import { ANALYSIS_DATA_FLAGS, integerFlag, loadAnalysisInputs } from './plot.js';

export const PRUNE_FLAGS = flagTable({
  checkpoint: { ...CHECKPOINT_FLAG, value: 'FILE' },
  keep: { type: 'number', value: 'X', default: 0.5, help: 'the fraction of hidden channels kept in each group, in (0, 1]' },
  ...ANALYSIS_DATA_FLAGS,
  epochs: { type: integerIn(0, EPOCHS_RANGE.max), value: 'N', default: 1, help: 'fine-tuning epochs after pruning (0: none)' },
  lr: { type: 'number', value: 'X', default: 1e-3, help: 'the fine-tuning learning rate' },
  'batch-size': { type: BATCH_SIZE_RANGE, value: 'N', default: DEFAULT_TRAIN_CONFIG.batchSize, help: 'fine-tuning examples per step' },
  seed: { type: SEED_RANGE, value: 'N', default: 0, help: 'the fine-tuning\'s data order' },
  out: { type: 'string', value: 'FILE', help: 'the pruned checkpoint (default: the checkpoint\'s name with .pruned.safetensors)' },
  backend: BACKEND_FLAG,
  json: { ...JSON_FLAG, help: 'print the result as one JSON object' },
  'max-memory': MAX_MEMORY_SPEC,
});

/** Accuracy for classification; RMSE and R^2 for regression data. */
function metricText(r: EvaluateResult): string {
  if (r.accuracy !== undefined) return `test accuracy ${(r.accuracy * 100).toFixed(2)}%`;
  return `test RMSE ${r.rmse?.toPrecision(4)}, R^2 ${r.r2?.toFixed(4)}`;
}

function metricJson(params: number, r: EvaluateResult): Record<string, number | undefined> {
  return { params, test_acc: r.accuracy, test_loss: r.loss, test_rmse: r.rmse, test_r2: r.r2 };
}

/** checkpoints/x.safetensors -> checkpoints/x.pruned.safetensors */
function defaultOut(path: string): string {
  return /\.safetensors$/i.test(path) ? path.replace(/\.safetensors$/i, '.pruned.safetensors') : `${path}.pruned.safetensors`;
}

export async function runPrune(flags: FlagValues): Promise<void> {
  const keep = (flags.keep as number | undefined) ?? PRUNE_FLAGS.keep.default;
  if (!(keep > 0 && keep <= 1)) throw new CliError(`prune: --keep must be a fraction in (0, 1], got ${keep}`);
  const epochs = integerFlag('prune', flags, 'epochs', PRUNE_FLAGS.epochs.default, 0);
  const batchSize = integerFlag('prune', flags, 'batch-size', PRUNE_FLAGS['batch-size'].default);
  const seed = integerFlag('prune', flags, 'seed', PRUNE_FLAGS.seed.default, 0);
  const lr = (flags.lr as number | undefined) ?? PRUNE_FLAGS.lr.default;
  if (!(lr >= 0)) throw new CliError(`prune: --lr must be >= 0, got ${lr}`);
  const json = Boolean(flags.json);
  const log = (text: string) => { if (!json) process.stderr.write(`${text}\n`); };

  const source = flags.checkpoint as string | undefined;
  // Before scoring and fine-tuning; and never the checkpoint being pruned.
  if (source) await checkOutput('prune', (flags.out as string | undefined) ?? defaultOut(source), [source]);
  const inputs = await loadAnalysisInputs('prune', flags);
  const out = (flags.out as string | undefined) ?? defaultOut(inputs.path);
  const { model, spec, data, info } = inputs;
  const params = { before: model.parameterCount(), after: 0 };
  const before = await evaluate(model, data.test);
  log(`${describeSpec(spec)}: ${params.before.toLocaleString('en-US')} parameters, ${metricText(before)}`);
  let scores;
  try {
    scores = await scoreChannels(model, data.train, { images: inputs.images, seed });
  } catch (error) {
    throw new CliError(`prune: ${(error as Error).message}`);
  }
  const pruned = await pruneChannels(model, spec, scores, keep);
  model.dispose();
  params.after = pruned.model.parameterCount();
  const afterPruning = await evaluate(pruned.model, data.test);
  log(`pruned to ${describeSpec(pruned.spec)}: ${params.after.toLocaleString('en-US')} parameters ` +
    `(${pruned.kept.map((k) => `${k.layer} ${k.width} -> ${k.channels.length}`).join(', ')}), ${metricText(afterPruning)}`);

  let afterTuning = afterPruning;
  if (epochs > 0) {
    const result = await trainModel(pruned.model, data.train, data.test, {
      ...DEFAULT_TRAIN_CONFIG, epochs, lr, batchSize, seed, warmupEpochs: 0,
    }, {
      onEpoch: (e) => log(`fine-tune epoch ${e.epoch}/${e.epochs}: train loss ${e.train_loss.toFixed(4)}, ` +
        metricText({ accuracy: e.test_acc, loss: e.test_loss, rmse: e.test_rmse, r2: e.test_r2 })),
    });
    afterTuning = { accuracy: result.testAccuracy, loss: result.testLoss, rmse: result.testRmse, r2: result.testR2 };
  }

  await mkdir(dirname(out), { recursive: true });
  await writeCheckpointFile(out, pruned.model, pruned.spec, {
    ...info, ...(afterTuning.accuracy !== undefined ? { test_acc: String(afterTuning.accuracy) } : {}),
    pruned_from: inputs.path, pruned_keep: String(keep), pruned_params_before: String(params.before), fine_tune_epochs: String(epochs),
  });
  const report = {
    event: 'prune', checkpoint: inputs.path, out, model: spec.name, keep, dataset: inputs.datasetSpec, epochs,
    layers: pruned.kept.map((k, i) => ({ layer: k.layer, width: k.width, kept: k.channels.length, group_scores: Array.from(scores[i]!.groups) })),
    before: metricJson(params.before, before),
    pruned: metricJson(params.after, afterPruning),
    fine_tuned: metricJson(params.after, afterTuning),
  };
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const row = (label: string, count: number, r: EvaluateResult) =>
      `${label.padEnd(18)} ${count.toLocaleString('en-US').padStart(10)} params   ${metricText(r)}`;
    process.stdout.write([
      row('before', params.before, before),
      row('pruned', params.after, afterPruning),
      row(epochs > 0 ? `fine-tuned (${epochs} ep)` : 'not fine-tuned', params.after, afterTuning),
      `wrote ${out}`,
    ].join('\n') + '\n');
  }
}
