// `kat train`: trains a model on a dataset, shows progress, evaluates every
// epoch and writes a checkpoint (atomically, and only when training succeeded).

import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import {
  copyImages, encodeTabularPreprocessing, imageSize, isTabularDataset, loadDataset, parseDatasetSpec, TABULAR_METADATA_KEY, type AnyImageDataset,
  type DatasetSpec, type ImageDataset, type TabularDataset, type TabularTask,
} from '../../data/index.js';
import { loadImageFolder, type ImageFolderSplit } from '../../data/image_folder.js';
import type { PreprocessConfig } from '../../data/image_transforms.js';
import { initFromPretrained } from '../../models/finetune.js';
import { CLASS_NAMES_KEY, defaultPreprocess, PREPROCESS_KEY, type PretrainedModel } from '../../models/pretrained.js';
import type { VitConfig } from '../../models/vit.js';
import { checkpointOptions, loadCheckpointSource } from '../checkpoint_source.js';
import { KanMlp, type KanMlpConfig } from '../../models/kan_mlp.js';
import { describeSpec } from '../../models/checkpoint.js';
import { buildModel, modelSpec, type ModelSpec } from '../../models/registry.js';
import { isKanBasis, KAN_BASES, MLP_ACTIVATIONS, type KanBasis, type MlpActivation } from '../../nn/kan_bases.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel, type TrainConfig } from '../../train/trainer.js';
import { isSelectSpace, SELECT_SPACES, type SelectSpace } from '../../nn/select_kan.js';
import { choiceCounts, describeChoices, hasChosen, parseSelectBasis, pruneSelectModel, selectionHook } from '../../train/select_phases.js';
import { tensor } from '../../ops/creation.js';
import { Random } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { selectBackend } from '../backend.js';
import { writeCheckpointFile } from '../../models/checkpoint_files.js';
import { CliError, type FlagTable, type FlagValues } from '../flags.js';
import { bar, ProgressLine } from '../progress.js';
import { writeFileAtomic } from '../../io/files.js';
import { decodeResumeCheckpoint, encodeResumeCheckpoint, loadResumeWeights } from '../../train/resume.js';
import type { TrainState } from '../../train/trainer.js';
import {
  checkResumeModel, checkResumeSettings, checkResumeTarget, dataSummary, readResumeFile, recordedFlags, resumeFlags, resumePathFor,
  trainingSettings,
} from '../resume.js';
import { checkOutput } from '../output.js';
import { checkTrainingMemory, datasetBytes, datasetShape, datasetShapeBytes, maxMemoryFlag } from '../memory.js';
import { excerpt } from '../../util/text.js';
import { DEFAULT_DATASET, DEFAULT_MODEL, TRAIN_FLAGS } from './train_flags.js';
import { EVAL_BATCH_SIZE } from '../../models/memory_estimate.js';
import { parseKaratVariant } from '../../nn/karat.js';

export { DEFAULT_MODEL, TRAIN_FLAGS } from './train_flags.js';

/**
 * A number flag's value, else its default from TRAIN_FLAGS. Its range was checked where the value came from: the
 * parser (the command line) or checkFlagValue (a resumed run's file).
 */
function numberFlag(flags: FlagValues, name: keyof typeof TRAIN_FLAGS): number {
  const value = flags[name] ?? (TRAIN_FLAGS as FlagTable)[name]?.default;
  if (typeof value !== 'number') throw new Error(`train: --${name} has neither a value nor a default`);
  return value;
}

/** Most hidden layers --hidden takes (the model's own limit is checked when it is built). */
const MAX_HIDDEN_LAYERS = 16;

/** --hidden W1,W2,...: kan-mlp's hidden widths, positive integers. */
export function parseHidden(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > MAX_HIDDEN_LAYERS || !parts.every((p) => /^\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 1_000_000)) {
    throw new CliError(`train: --hidden '${text}' is not a list of layer widths: expected up to ${MAX_HIDDEN_LAYERS} positive integers ` +
      'separated by commas, e.g. --hidden 64 (784-64-10) or --hidden 256,128');
  }
  return parts.map(Number);
}

/** Training samples a grid update fits the knots to (all of them when fewer). */
export const GRID_UPDATE_SAMPLES = 1024;

/**
 * Up to GRID_UPDATE_SAMPLES rows of the training inputs [n, features], drawn
 * without replacement (a partial Fisher-Yates shuffle): knots at quantiles of
 * one 64-sample batch repeat on sparse inputs (most MNIST pixels are 0 there)
 * and the refit over so few distinct values can blow up.
 */
function gridUpdateSample(data: ImageDataset, seed: number): Tensor {
  const features = imageSize(data);
  const count = Math.min(data.count, GRID_UPDATE_SAMPLES);
  const order = Array.from({ length: data.count }, (_, i) => i);
  const rng = new Random(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng.uniform() * (data.count - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return tensor(copyImages(data, 0, count, order), [count, features]);
}

/** Model inputs follow the data: channels, image size and class count (tabular: features and classes, or 1 regression output). */
/** What the flags say of the model beyond its name: --basis, --karat, --hidden, --activation. */
interface ModelFlags {
  basis?: KanBasis | 'select';
  /** --basis select:...: the spaces, and --select-temperature. */
  select?: { spaces: SelectSpace[]; temperature: number };
  karat?: string;
  hidden?: number[];
  activation?: MlpActivation;
}

function specFor(model: string, data: AnyImageDataset, modelFlags: ModelFlags, init?: ModelSpec): ModelSpec {
  const { basis, karat, hidden, activation, select } = modelFlags;
  const kanMlp = { ...(hidden ? { hidden } : {}), ...(activation ? { activation } : {}), ...(select ? { select } : {}) };
  if (init) {
    // Fine-tuning keeps the pretrained architecture; only the classes and the input size follow the data.
    if (data.height !== data.width) throw new CliError(`train: images are ${data.height}x${data.width}; models need square images`);
    const config = init.config as VitConfig;
    if (config.imageSize === undefined) throw new CliError(`train: --init takes a transformer checkpoint (KAT or ViT), not ${init.name}`);
    if (data.height % config.patchSize !== 0) {
      throw new CliError(`train: ${data.height}-pixel images do not split into ${config.patchSize}-pixel patches (pass an --image-size divisible by ${config.patchSize})`);
    }
    return { name: init.name, config: { ...config, classes: data.classes, imageSize: data.height, channels: data.channels } };
  }
  if (!('images' in data)) {
    try {
      return modelSpec(model, { channels: data.channels, imageSize: data.height, classes: data.classes, basis, karat, ...kanMlp });
    } catch (error) {
      throw new CliError(`train: ${(error as Error).message}`);
    }
  }
  if (isTabularDataset(data)) {
    const spec = modelSpec(model, { classes: data.classes, channels: 1, imageSize: 1, basis, ...kanMlp });
    (spec.config as KanMlpConfig).inputs = data.width;
    return spec;
  }
  if (data.height !== data.width) throw new CliError(`train: images are ${data.height}x${data.width}; models need square images`);
  try {
    return modelSpec(model, { channels: data.channels, imageSize: data.height, classes: data.classes, basis, karat, ...kanMlp });
  } catch (error) {
    throw new CliError(`train: ${(error as Error).message}`);
  }
}

export async function runTrain(givenFlags: FlagValues): Promise<void> {
  // A resumed run takes the flags it is not given from the file.
  const resumed = givenFlags.resume === undefined ? undefined : await readResumeFile(givenFlags.resume as string);
  const flags = resumed ? resumeFlags(givenFlags, resumed) : givenFlags;
  const json = Boolean(flags.json);
  const datasetSpec = (flags.dataset as string | undefined) ?? DEFAULT_DATASET;
  let parsedDataset: DatasetSpec;
  try {
    parsedDataset = parseDatasetSpec(datasetSpec);
  } catch (error) {
    throw new CliError(`train: ${(error as Error).message}`);
  }
  // CSV tables and function-fitting sets are rows of features; only the KAN-MLP takes them.
  const tabular = parsedDataset.kind === 'csv' || parsedDataset.kind === 'function';
  // Only the KAN-MLP takes a row of features; the transformers need images.
  const modelName = (flags.model as string | undefined) ?? (tabular ? 'kan-mlp' : DEFAULT_MODEL);
  if (tabular && modelName !== 'kan-mlp') {
    modelSpec(modelName); // an unknown name is reported as such
    throw new CliError(`train: ${modelName} is a transformer for images; tabular data (${datasetSpec}) trains with --model kan-mlp`);
  }
  const basisFlag = flags.basis as string | undefined;
  const selecting = basisFlag === 'select' || basisFlag?.startsWith('select:') === true;
  if (basisFlag !== undefined && !isKanBasis(basisFlag) && !selecting) {
    throw new CliError(`train: unknown basis '${basisFlag}': expected one of ${KAN_BASES.join(', ')}, or select:SPACE,SPACE,... (S-KAN)`);
  }
  let select: ModelFlags['select'];
  if (selecting) {
    try {
      select = { spaces: parseSelectBasis(basisFlag!, SELECT_SPACES, isSelectSpace), temperature: numberFlag(flags, 'select-temperature') };
    } catch (error) {
      throw new CliError(`train: ${(error as Error).message}`);
    }
  } else {
    for (const flag of ['select-after', 'select-keep', 'select-threshold', 'select-temperature']) {
      if (flags[flag] !== undefined) throw new CliError(`train: --${flag} is for S-KAN layers: it needs --model kan-mlp --basis select:SPACE,...`);
    }
  }
  const basis: KanBasis | 'select' | undefined = selecting ? 'select' : basisFlag as KanBasis | undefined;
  if (basis !== undefined && modelName !== 'kan-mlp') {
    throw new CliError(`train: --basis applies to --model kan-mlp only (${modelName} has GR-KAN rational layers)`);
  }
  const karat = flags.karat as string | undefined;
  if (karat !== undefined) {
    try {
      parseKaratVariant(karat);
    } catch (error) {
      throw new CliError(`train: --karat: ${(error as Error).message}`);
    }
    if (!/^(kat|karat)-/.test(modelName)) {
      throw new CliError(`train: --karat (Fourier-KArAt attention) applies to --model karat-* or kat-* (got --model ${modelName})`);
    }
    if (flags.init !== undefined) throw new CliError('train: --karat cannot change the attention of a pretrained model (--init)');
  }
  const hidden = parseHidden(flags.hidden as string | undefined);
  if (hidden && modelName !== 'kan-mlp') throw new CliError(`train: --hidden sets kan-mlp's layer widths (got --model ${modelName})`);
  const activation = flags.activation as string | undefined;
  if (activation !== undefined) {
    if (!(MLP_ACTIVATIONS as readonly string[]).includes(activation)) {
      throw new CliError(`train: unknown activation '${activation}': expected one of ${MLP_ACTIVATIONS.join(', ')}`);
    }
    if (basis !== 'mlp') throw new CliError('train: --activation is the MLP baseline\'s activation: it needs --model kan-mlp --basis mlp');
  }
  const modelFlags: ModelFlags = { basis, karat, hidden, activation: activation as MlpActivation | undefined, select };
  // efficient-kan's grid update: refit every B-spline grid to the first batch of each of the first N epochs.
  const gridUpdates = numberFlag(flags, 'grid-update');
  if (gridUpdates > 0 && (modelName !== 'kan-mlp' || basis !== 'bspline')) {
    throw new CliError(`train: --grid-update refits B-spline grids: it needs --model kan-mlp --basis bspline (got --model ${modelName}` +
      `${basis === undefined ? ', no --basis' : ` --basis ${basis}`})`);
  }
  for (const flag of ['target', 'task', 'test-fraction']) {
    if (parsedDataset.kind !== 'csv' && flags[flag] !== undefined) throw new CliError(`train: --${flag} applies to tabular data (--dataset csv:FILE) only`);
  }
  for (const flag of ['shift', 'flip', 'rotate', 'scale']) {
    if (tabular && flags[flag] !== undefined) throw new CliError(`train: --${flag} augments images; it does not apply to tabular data (${datasetSpec})`);
  }
  const task = flags.task as string | undefined;
  if (task !== undefined && task !== 'classification' && task !== 'regression') {
    throw new CliError(`train: unknown task '${task}': expected classification or regression`);
  }
  const testFraction = flags['test-fraction'] as number | undefined;
  if (testFraction !== undefined && !(testFraction > 0 && testFraction < 1)) {
    throw new CliError(`train: --test-fraction must be > 0 and < 1, got ${testFraction}`);
  }
  const optimizer = (flags.optimizer as string | undefined) ?? DEFAULT_TRAIN_CONFIG.optimizer;
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new CliError(`train: unknown optimizer '${optimizer}': expected adamw or sgd`);
  // Averaging weights across a grid refit would mix coefficients of different grids: a grid update turns the average off.
  if (gridUpdates > 0 && flags.ema !== undefined && flags.ema !== 0) {
    throw new CliError('train: --ema averages the weights of successive steps, and --grid-update refits the B-spline grids in between, ' +
      'so the average would mix coefficients of different grids: drop one of them');
  }
  const ema = gridUpdates > 0 ? 0 : numberFlag(flags, 'ema');
  const config: TrainConfig = {
    epochs: numberFlag(flags, 'epochs'),
    batchSize: numberFlag(flags, 'batch-size'),
    lr: numberFlag(flags, 'lr'),
    weightDecay: numberFlag(flags, 'weight-decay'),
    optimizer,
    warmupEpochs: numberFlag(flags, 'warmup'),
    labelSmoothing: numberFlag(flags, 'label-smoothing'),
    clipNorm: numberFlag(flags, 'clip'),
    shift: tabular ? 0 : numberFlag(flags, 'shift'),
    flip: (flags.flip as boolean | undefined) ?? DEFAULT_TRAIN_CONFIG.flip,
    rotate: tabular ? 0 : numberFlag(flags, 'rotate'),
    scale: tabular ? 0 : numberFlag(flags, 'scale'),
    ema,
    seed: numberFlag(flags, 'seed'),
  };
  if (!Number.isInteger(config.seed)) throw new CliError(`train: --seed must be an integer, got ${config.seed}`);
  // Each step multiplies a decayed weight by 1 - lr x wd: at >= 1 weights are zeroed or flip sign, and training diverges.
  if (config.lr * config.weightDecay >= 1) {
    throw new CliError(`train: --lr ${config.lr} x --weight-decay ${config.weightDecay} = ${config.lr * config.weightDecay}: ` +
      'weight decay would zero or flip the weights every step; the product must be below 1 (lower --weight-decay)');
  }
  const out = (flags.out as string | undefined) ?? `checkpoints/${modelName}.safetensors`;
  await checkOutput('train', out); // before the run, not after it
  modelSpec(modelName); // an unknown model fails before any data is loaded
  const memoryLimit = maxMemoryFlag('train', flags);
  const settings = trainingSettings(flags, { model: modelName, dataset: datasetSpec, gridUpdates, config });
  if (resumed) checkResumeSettings(resumed, settings);
  const checkpointEvery = flags['checkpoint-every'] as number | undefined;
  const resumePath = resumePathFor(out);
  if (checkpointEvery !== undefined) await checkResumeTarget(resumePath, out);
  const folder = parsedDataset.kind === 'folder';
  const imageSizeFlag = flags['image-size'] as number | undefined;
  if (imageSizeFlag !== undefined && !folder) throw new CliError('train: --image-size applies to image folders (--dataset folder:DIR); other datasets have fixed sizes');
  if (folder) {
    for (const flag of ['shift', 'rotate', 'scale', 'flip']) {
      if (flags[flag] !== undefined) {
        throw new CliError(`train: --${flag} does not apply to image folders, which train with timm's RandomResizedCrop and horizontal flips`);
      }
    }
  }

  const { backend, notes: backendNotes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if ((checkpointEvery !== undefined || resumed) && backend.name === 'cpu-float64') {
    throw new CliError(`train: --${resumed ? 'resume' : 'checkpoint-every'} needs a float32 backend: checkpoints hold float32, ` +
      'so a float64 run could not continue bit for bit');
  }
  if (!flags.json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  // The model's memory, estimated from its spec, is checked before the data is made or the model built.
  const memoryOptions = { batchSize: config.batchSize, optimizer: config.optimizer, bytesPerValue: backend.bytesPerElement };
  const knownShape = flags.init === undefined && !tabular && !folder ? datasetShape(parsedDataset) : undefined;
  if (knownShape && knownShape.height === knownShape.width) {
    const early = specFor(modelName, { ...knownShape, name: datasetSpec } as unknown as AnyImageDataset, modelFlags);
    checkTrainingMemory('train', early, {
      ...memoryOptions, batchSize: Math.min(config.batchSize, knownShape.trainCount), evalBatchSize: Math.min(EVAL_BATCH_SIZE, knownShape.testCount),
      dataBytes: datasetShapeBytes(knownShape),
    }, memoryLimit);
  }
  const log = (text: string) => { if (!json) process.stderr.write(`${text}\n`); };
  const initSource = flags.init as string | undefined;
  let init: (PretrainedModel & { name: string }) | undefined;
  if (initSource !== undefined) {
    if (tabular) throw new CliError('train: --init fine-tunes a pretrained image model; tabular data trains from scratch');
    init = await loadCheckpointSource(initSource, { ...checkpointOptions('train', flags), quiet: json });
    if (flags.model !== undefined && flags.model !== init.spec.name) {
      init.model.dispose();
      throw new CliError(`train: --model ${flags.model} differs from the --init checkpoint's ${init.spec.name}; leave --model out when fine-tuning`);
    }
    // Notes quote tensor names from the file: escaped and cut short.
    for (const note of init.notes) log(`init: ${excerpt(note, 400)}`);
  } else if (flags.weights !== undefined || flags.heads !== undefined) {
    throw new CliError('train: --weights and --heads describe the --init checkpoint: pass --init SRC');
  }
  const csv: { target?: string; task?: TabularTask; testFraction?: number } = {};
  if (flags.target !== undefined) csv.target = flags.target as string;
  if (task !== undefined) csv.task = task;
  if (testFraction !== undefined) csv.testFraction = testFraction;
  let folderSplit: ImageFolderSplit | undefined;
  let preprocess: PreprocessConfig | undefined;
  let train: AnyImageDataset;
  let test: AnyImageDataset;
  if (folder) {
    // Photos: timm's preprocessing at the model's input size (the pretrained one's unless --image-size says otherwise).
    const base = init?.preprocess ?? defaultPreprocess(modelSpec(modelName, { channels: 3 }).config);
    const size = imageSizeFlag ?? base.inputSize[1];
    preprocess = { ...base, inputSize: [3, size, size] };
    const { dir } = parsedDataset as { dir: string };
    folderSplit = await loadImageFolder(dir, preprocess, { seed: config.seed, ...(testFraction === undefined ? {} : { testFraction }) });
    ({ train, test } = folderSplit);
  } else {
    ({ train, test } = await loadDataset(datasetSpec, { seed: config.seed, csv }));
    if (init) preprocess = init.preprocess;
  }
  try {
    const table = !folderSplit && isTabularDataset(train as ImageDataset) ? train as TabularDataset : undefined;
    const regression = table?.task === 'regression';
    const spec = specFor(modelName, train, modelFlags, init?.spec);
    checkTrainingMemory('train', spec, {
      ...memoryOptions, batchSize: Math.min(config.batchSize, train.count), evalBatchSize: Math.min(EVAL_BATCH_SIZE, test.count),
      dataBytes: datasetBytes(train, test),
    }, memoryLimit);
    const model = buildModel(spec, config.seed);
    const data = dataSummary(train, test);
    if (init) for (const note of await initFromPretrained(model, init.model, `--init checkpoint '${init.name}'`)) log(`init: ${note}`);
    const params = model.parameterCount();
    // Images need their class names and preprocessing to be classified again (kat predict).
    const imageInfo: Record<string, string> = {};
    const classNames = folderSplit?.scan.classNames ?? (table ? undefined : train.classNames);
    if (classNames) imageInfo[CLASS_NAMES_KEY] = JSON.stringify(classNames);
    const normalisation = table || folderSplit ? undefined : (train as ImageDataset).normalisation;
    if (!preprocess && normalisation && train.channels === 1) {
      const { mean, std } = normalisation;
      // 28 x 28 images as they are: no crop; a larger photo is resized to them.
      preprocess = { inputSize: [1, train.height, train.width], interpolation: 'bilinear', cropPct: 1, cropMode: 'center', mean: [mean, mean, mean], std: [std, std, std] };
    }
    if (preprocess) imageInfo[PREPROCESS_KEY] = JSON.stringify(preprocess);
    log(`model ${describeSpec(spec)}: ${params.toLocaleString('en-US')} parameters${init ? `, from ${init.name}` : ''}`);
    if (folderSplit) {
      log(`data ${datasetSpec}: ${train.count} train / ${test.count} test images in ${train.classes} classes (${folderSplit.scan.split}), ` +
        `decoded in ${folderSplit.train.pool.size} worker threads; eval ${preprocess!.interpolation} resize, crop ${preprocess!.cropPct}, ` +
        `train RandomResizedCrop + flip at ${train.height}x${train.width}`);
    } else if (table) {
      const p = table.preprocessing;
      log(`data ${datasetSpec}: ${train.count} train / ${test.count} test rows, ${train.width} inputs from ${p.features.length} columns; ` +
        `${p.task} of '${p.target}'${p.classes ? ` (${p.classes.length} classes)` : ''}`);
    } else {
      log(`data ${datasetSpec}: ${train.count} train / ${test.count} test images ${train.channels}x${train.height}x${train.width}`);
    }
    log(`backend ${backend.name}: ${backend.description}`);

    const maxSteps = flags['max-steps'] === undefined ? Infinity : numberFlag(flags, 'max-steps');
    if (flags['log-steps'] && !json) throw new CliError('train: --log-steps adds step events to the --json output: pass --json too');
    if (resumed) {
      checkResumeModel(resumed, spec, data);
      loadResumeWeights(model, resumed.weights, `checkpoint '${resumed.path}'`);
      log(`resuming ${resumed.path} after epoch ${resumed.state.epoch} of ${config.epochs} (step ${resumed.state.globalStep})`);
    }
    // Weights, optimizer and RNG state at an epoch's end in one file, written atomically.
    const onCheckpoint = async (state: TrainState) => {
      const last = state.epochs[state.epochs.length - 1]!;
      const info: Record<string, string> = {
        dataset: datasetSpec, epochs: String(state.epoch), seed: String(config.seed), trained_at: new Date().toISOString(),
        ...(regression ? { test_rmse: String(last.test_rmse), test_r2: String(last.test_r2) } : { test_acc: String(last.test_acc) }),
      };
      if (table) info[TABULAR_METADATA_KEY] = encodeTabularPreprocessing(table.preprocessing);
      Object.assign(info, imageInfo);
      const bytes = await encodeResumeCheckpoint(model, spec, info, state, { flags: recordedFlags(flags), settings, data });
      decodeResumeCheckpoint(bytes, 'the new resumable checkpoint'); // it must read back before it replaces the last one
      await mkdir(dirname(resumePath), { recursive: true });
      await writeFileAtomic(resumePath, bytes);
      if (json) process.stdout.write(`${JSON.stringify({ event: 'checkpoint', epoch: state.epoch, step: state.globalStep, path: resumePath })}\n`);
      else log(`epoch ${state.epoch}: resumable checkpoint ${resumePath}`);
    };
    let stepsDone = resumed?.state.globalStep ?? 0;
    const progress = new ProgressLine(process.stderr);
    // S-KAN: phase 1 for --select-after epochs, then each node keeps its best spaces (phase 2); pruned before saving (phase 3).
    const selectPhases = select && model instanceof KanMlp ? {
      chooseAfter: (flags['select-after'] as number | undefined) ?? Math.ceil(config.epochs / 2),
      keep: numberFlag(flags, 'select-keep'), threshold: flags['select-threshold'] as number | undefined, temperature: select.temperature,
    } : undefined;
    if (selectPhases && selectPhases.chooseAfter >= config.epochs) {
      throw new CliError(`train: --select-after ${selectPhases.chooseAfter} leaves no epoch of the ${config.epochs} for phase 2 ` +
        '(training on with the chosen spaces); lower it or raise --epochs');
    }
    const gridHook = gridUpdates > 0 && model instanceof KanMlp ? async (epoch: number) => {
      if (epoch > gridUpdates) return;
      const sample = gridUpdateSample(train as ImageDataset, config.seed + epoch);
      const updated = await model.updateGrids(sample);
      if (!json) log(`epoch ${epoch}: grid update of ${updated} B-spline layer${updated === 1 ? '' : 's'} from ${sample.shape[0]} training samples`);
      sample.dispose();
    } : undefined;
    const selectHook = selectPhases ? selectionHook(model as KanMlp, selectPhases, (choices) => {
      if (json) process.stdout.write(`${JSON.stringify({ event: 'select', epoch: selectPhases.chooseAfter + 1, layers: choiceCounts(choices) })}\n`);
      else for (const line of describeChoices(choices)) log(`epoch ${selectPhases.chooseAfter + 1}: spaces kept, ${line}`);
    }, () => gridUpdateSample(train as ImageDataset, config.seed + selectPhases.chooseAfter + 1)) : undefined;
    const result = await trainModel(model, train, test, config, {
      shouldStop: () => stepsDone >= maxSteps,
      onEpochStart: gridHook ?? selectHook,
      onStep: (e) => {
        stepsDone++;
        if (json) {
          if (flags['log-steps']) {
            process.stdout.write(`${JSON.stringify({ event: 'step', epoch: e.epoch, step: e.step, loss: e.loss, ...(Number.isNaN(e.accuracy) ? {} : { accuracy: e.accuracy }), lr: e.lr })}\n`);
          }
          return;
        }
        progress.update(`epoch ${e.epoch}/${config.epochs} ${bar(e.step, e.steps)} ${e.step}/${e.steps}  loss ${e.loss.toFixed(4)}  ` +
          `${Number.isNaN(e.accuracy) ? '' : `acc ${(e.accuracy * 100).toFixed(1)}%  `}${e.imagesPerSecond.toFixed(0)} ${tabular ? 'rows' : 'img'}/s`);
      },
      onEpoch: (e) => {
        if (json) {
          // Accuracy is NaN for regression: leave it out rather than print null.
          const { train_acc: _trainAcc, test_acc: _testAcc, ...regressionEvent } = e;
          process.stdout.write(`${JSON.stringify(regression ? regressionEvent : e)}\n`);
        } else if (regression) {
          progress.finish(`epoch ${e.epoch}/${e.epochs}  train loss ${e.train_loss.toFixed(4)} rmse ${formatMetric(e.train_rmse!)}  ` +
            `test loss ${e.test_loss.toFixed(4)} rmse ${formatMetric(e.test_rmse!)} R^2 ${e.test_r2!.toFixed(4)}  ${e.seconds.toFixed(1)} s  ` +
            `${e.images_per_s.toFixed(0)} rows/s`);
        } else {
          progress.finish(`epoch ${e.epoch}/${e.epochs}  train loss ${e.train_loss.toFixed(4)} acc ${(e.train_acc * 100).toFixed(2)}%  ` +
            `test loss ${e.test_loss.toFixed(4)} acc ${(e.test_acc * 100).toFixed(2)}%  ${e.seconds.toFixed(1)} s  ` +
            `${e.images_per_s.toFixed(0)} ${tabular ? 'rows' : 'img'}/s`);
        }
      },
    }, { resume: resumed?.state, checkpointEvery, onCheckpoint: checkpointEvery === undefined ? undefined : onCheckpoint });

    await mkdir(dirname(out), { recursive: true });
    const metrics: Record<string, number> = regression
      ? { test_rmse: result.testRmse!, test_r2: result.testR2! }
      : { test_acc: result.testAccuracy };
    const info: Record<string, string> = {
      // The epochs actually run: --max-steps may stop long before --epochs.
      dataset: datasetSpec, epochs: String(result.epochs.length), ...Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, String(v)])),
      seed: String(config.seed), trained_at: new Date().toISOString(),
    };
    // Tabular models need the column encoding (scaling, categories, classes, split) to read data again.
    if (table) info[TABULAR_METADATA_KEY] = encodeTabularPreprocessing(table.preprocessing);
    Object.assign(info, imageInfo);
    // S-KAN phase 3: what the nodes did not keep is pruned away; the saved model is the smaller one, checked on the test set.
    let pruned: { params: number; test_acc?: number; test_rmse?: number } | undefined;
    if (selectPhases && await hasChosen(model as KanMlp)) {
      const smaller = await pruneSelectModel(model as KanMlp, spec);
      try {
        smaller.model.eval();
        const check = await evaluate(smaller.model, test);
        pruned = { params: smaller.model.parameterCount(), ...(regression ? { test_rmse: check.rmse } : { test_acc: check.accuracy }) };
        info.pruned_from = String(params);
        await writeCheckpointFile(out, smaller.model, smaller.spec, info);
        log(`pruned: ${params.toLocaleString('en-US')} -> ${pruned.params.toLocaleString('en-US')} parameters` +
          `${pruned.test_acc === undefined ? '' : `, test accuracy ${(pruned.test_acc * 100).toFixed(2)}%`}` +
          `${pruned.test_rmse === undefined ? '' : `, test RMSE ${formatMetric(pruned.test_rmse)}`}`);
      } finally {
        smaller.model.dispose();
      }
    } else await writeCheckpointFile(out, model, spec, info);
    const done = {
      event: 'done', model: modelName, backend: backend.name, params, ...(pruned ? { pruned_params: pruned.params, pruned_test_acc: pruned.test_acc, pruned_test_rmse: pruned.test_rmse } : {}), ...metrics,
      train_seconds: result.trainSeconds, images_per_s: result.imagesPerSecond, checkpoint: out,
      peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    if (json) process.stdout.write(`${JSON.stringify(done)}\n`);
    else if (regression) {
      process.stdout.write(`${modelName}: test RMSE ${formatMetric(result.testRmse!)}, R^2 ${result.testR2!.toFixed(4)} after ${result.epochs.length} epochs, ` +
        `${result.trainSeconds.toFixed(1)} s training (${result.imagesPerSecond.toFixed(0)} rows/s); checkpoint ${out}\n`);
    } else {
      process.stdout.write(`${modelName}: test accuracy ${(result.testAccuracy * 100).toFixed(2)}% after ${result.epochs.length} epochs, ` +
        `${result.trainSeconds.toFixed(1)} s training (${result.imagesPerSecond.toFixed(0)} ${tabular ? 'rows' : 'img'}/s); checkpoint ${out}\n`);
    }
  } finally {
    init?.model.dispose();
    await folderSplit?.close();
  }
}

/** Four significant digits: RMSE is in the target's own units, whatever their size. */
export function formatMetric(value: number): string {
  return Number(value.toPrecision(4)).toString();
}
