// `kat plot --checkpoint F --out G.svg|G.png`: every learned activation of a
// checkpoint, per layer and group, over its initial shape and the histogram of
// the inputs it saw on a batch of training images.

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  decodeTabularPreprocessing, loadDataset, parseDatasetSpec, TABULAR_METADATA_KEY, type DataSplit, type LoadDatasetOptions,
} from '../../data/index.js';
import type { LoadedCheckpoint } from '../../models/checkpoint.js';
import { readCheckpointFile } from '../../models/checkpoint_files.js';
import type { KanMlpConfig } from '../../models/kan_mlp.js';
import type { VitConfig } from '../../models/vit.js';
import { writeFileAtomic } from '../../io/files.js';
import { rationalActivations } from '../../viz/activations.js';
import { captureActivationTraffic } from '../../viz/capture.js';
import { svgToPng } from '../../viz/png.js';
import { activationPanels, renderActivationSvg } from '../../viz/svg_plot.js';
import { selectBackend } from '../backend.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, DATASET_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC } from '../common_flags.js';
import { CliError, flagTable, IMAGES_RANGE, integerIn, type FlagValues } from '../flags.js';
import { checkOutput } from '../output.js';
import { maxMemoryFlag } from '../memory.js';

/** Images run through the model by plot, formula and prune unless --images says otherwise. */
export const ANALYSIS_IMAGES = 256;

/** --dataset and --images of the commands that run a checkpoint on data to see its activations. */
export const ANALYSIS_DATA_FLAGS = flagTable({
  dataset: { ...DATASET_FLAG, help: `${DATASET_FLAG.help} (default: the one the checkpoint was trained on, else mnist)` },
  images: { type: IMAGES_RANGE, value: 'N', default: ANALYSIS_IMAGES, help: 'training images run through the model' },
});

export const PLOT_FLAGS = flagTable({
  checkpoint: { ...CHECKPOINT_FLAG, value: 'FILE' },
  out: { type: 'string', value: 'FILE', help: 'the figure to write: FILE.svg or FILE.png' },
  ...ANALYSIS_DATA_FLAGS,
  points: { type: integerIn(2, 10_000), value: 'N', default: 121, help: 'points per curve' },
  bins: { type: integerIn(1, 1000), value: 'N', default: 30, help: 'histogram bins' },
  scale: { type: 'number', value: 'X', default: 2, help: 'FILE.png: pixels per SVG unit, in (0, 16]' },
  backend: BACKEND_FLAG,
  json: { ...JSON_FLAG, help: 'print a summary as one JSON object' },
  heads: HEADS_FLAG,
  'max-memory': MAX_MEMORY_SPEC,
});

export interface AnalysisInputs extends LoadedCheckpoint {
  path: string;
  datasetSpec: string;
  data: DataSplit;
  /** Images to run for captured activations. */
  images: number;
  backendName: string;
}

/** An integer flag >= min, or its default. */
export function integerFlag(command: string, flags: FlagValues, name: string, fallback: number, min = 1): number {
  const value = (flags[name] as number | undefined) ?? fallback;
  if (!Number.isInteger(value) || value < min) throw new CliError(`${command}: --${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/**
 * The shared start of plot / formula / prune: backend, checkpoint, and the
 * dataset (--dataset, else the one the checkpoint was trained on), checked to
 * fit the model.
 */
export async function loadAnalysisInputs(command: string, flags: FlagValues): Promise<AnalysisInputs> {
  const path = flags.checkpoint as string | undefined;
  if (!path) throw new CliError(`${command}: --checkpoint FILE is required`);
  const images = integerFlag(command, flags, 'images', ANALYSIS_IMAGES);
  const memory = maxMemoryFlag(command, flags);
  const { backend, notes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if (!flags.json) for (const note of notes) process.stderr.write(`backend: ${note}\n`);
  // --heads: timm checkpoints do not store the attention heads (plot and formula read the weights of `train.py` runs too).
  const loaded = await readCheckpointFile(path, {
    ...(flags.heads === undefined ? {} : { heads: flags.heads as number }), maxMemory: memory.bytes, maxMemoryText: memory.text,
  });
  const datasetSpec = (flags.dataset as string | undefined) ?? loaded.info.dataset ?? 'mnist';
  let tabular: boolean;
  try {
    const kind = parseDatasetSpec(datasetSpec).kind;
    tabular = kind === 'csv' || kind === 'function';
  } catch (error) {
    throw new CliError(`${command}: ${(error as Error).message}`);
  }
  // A table is read with the encoding and split the model was trained with (its target, scaling, categories), as eval does.
  const stored = loaded.info[TABULAR_METADATA_KEY];
  if (tabular !== (stored !== undefined)) {
    throw new CliError(tabular
      ? `${command}: checkpoint '${path}' was not trained on tabular data (it has no '${TABULAR_METADATA_KEY}' metadata), so it cannot read ${datasetSpec}`
      : `${command}: checkpoint '${path}' holds a model for tabular data: pass --dataset csv:FILE`);
  }
  const options: LoadDatasetOptions = stored === undefined ? {} : { csv: { preprocessing: decodeTabularPreprocessing(stored, `checkpoint '${path}'`) } };
  const data = await loadDataset(datasetSpec, options);
  const { test } = data;
  const config = loaded.spec.config as Partial<VitConfig & KanMlpConfig>;
  const inputs = config.inputs ?? config.channels! * config.imageSize! * config.imageSize!;
  if (inputs !== test.channels * test.height * test.width || config.classes !== test.classes
    || (config.imageSize !== undefined && (config.imageSize !== test.height || config.channels !== test.channels))) {
    throw new CliError(`${command}: checkpoint '${path}' holds ${loaded.spec.name} for ${config.classes} classes of ` +
      `${config.imageSize ? `${config.channels}x${config.imageSize}x${config.imageSize}` : `${inputs}-value`} inputs, but ${datasetSpec} has ` +
      `${test.classes} classes of ${test.channels}x${test.height}x${test.width} images`);
  }
  return { ...loaded, path, datasetSpec, data, images: Math.min(images, data.train.count), backendName: backend.name };
}

import { KanMlp } from '../../models/kan_mlp.js';
import { tensor } from '../../ops/creation.js';
import { copyImages, type ImageDataset } from '../../data/dataset.js';
import { layerInputRanges, renderSelectSvg, selectNodeCurves } from '../../viz/select_plot.js';

export async function runPlot(flags: FlagValues): Promise<void> {
  const out = flags.out as string | undefined;
  if (!out) throw new CliError('plot: --out FILE.svg or FILE.png is required');
  const format = /\.svg$/i.test(out) ? 'svg' : /\.png$/i.test(out) ? 'png' : null;
  if (!format) throw new CliError(`plot: --out '${out}' must end in .svg or .png`);
  const points = integerFlag('plot', flags, 'points', PLOT_FLAGS.points.default, 2);
  const bins = integerFlag('plot', flags, 'bins', PLOT_FLAGS.bins.default);
  const scale = (flags.scale as number | undefined) ?? PLOT_FLAGS.scale.default;
  if (!(scale > 0 && scale <= 16)) throw new CliError(`plot: --scale must be in (0, 16], got ${scale}`);
  await checkOutput('plot', out, flags.checkpoint ? [flags.checkpoint as string] : []); // before the model runs
  const inputs = await loadAnalysisInputs('plot', flags);
  const { model, spec, data } = inputs;
  let svg: string;
  let counts: { activations: number; panels: number };
  if (model instanceof KanMlp && model.basis === 'select') {
    // S-KAN: per layer and space, the nodes that chose it, drawn as their strongest edge's function.
    model.eval();
    const sample = tensor(copyImages(data.train as ImageDataset, 0, inputs.images), [inputs.images, data.train.channels, data.train.height, data.train.width]);
    const ranges = await layerInputRanges(model, sample);
    sample.dispose();
    const curves = await selectNodeCurves(model, ranges, { points });
    svg = renderSelectSvg(curves, {
      title: `${spec.name} (${inputs.path}): each space's strongest nodes, phi(x) - phi(0) over the inputs of ${inputs.images} images of ${data.train.name}`,
    });
    counts = { activations: model.layers.length, panels: curves.length };
  } else {
    const activations = await rationalActivations(model);
    if (activations.length === 0) throw new CliError(`plot: ${spec.name} in '${inputs.path}' has no group-rational activation to plot`);
    const traffic = await captureActivationTraffic(model, data.train, { images: inputs.images });
    const panels = activationPanels(activations, traffic, { points, bins });
    svg = renderActivationSvg(panels, {
      title: `${spec.name} (${inputs.path}): learned activations over their initial shapes; inputs from ${inputs.images} images of ${data.train.name}`,
    });
    counts = { activations: activations.length, panels: panels.length };
  }
  let bytes: Uint8Array;
  let size: { width: number; height: number } | null = null;
  if (format === 'svg') bytes = new TextEncoder().encode(svg);
  else {
    const rendered = await svgToPng(svg, { scale });
    bytes = rendered.png;
    size = { width: rendered.width, height: rendered.height };
  }
  await mkdir(dirname(out), { recursive: true });
  await writeFileAtomic(out, bytes);
  const report = {
    event: 'plot', checkpoint: inputs.path, model: spec.name, out, format, ...counts,
    images: inputs.images, dataset: inputs.datasetSpec, ...(size ?? {}),
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(`wrote ${out}: ${counts.panels} panels (${counts.activations} ${model instanceof KanMlp && model.basis === 'select' ? 'S-KAN layers' : 'activations x their groups'}), inputs from ` +
      `${inputs.images} images of ${data.train.name}${size ? `, ${size.width}x${size.height} px` : ''}\n`);
  }
}
