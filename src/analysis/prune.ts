// Structured pruning of GR-KAN hidden channels. A hidden layer is the width
// between two linear maps with a group rational in between: KAT's
// fc1 -> act2 -> fc2 in each block, KAN-MLP's layers[i].fc -> layers[i+1].act ->
// layers[i+1].fc (rational basis only). A channel's score is what it contributes on real data:
// mean |act(h)_c| over the data times the L2 norm of the weights that read it
// (column c of the next linear map). Every group keeps the same number of
// channels (its highest-scoring ones, in their original order), so the
// rational's groups stay contiguous and equal and the pruned model is an
// ordinary, smaller model of the same kind (it saves and loads as a checkpoint).
// Browser-safe.

import type { ImageDataset } from '../data/dataset.js';
import { KatMlp, type GroupRational } from '../nn/kan.js';
import { divisorGroups, RationalKanLayer } from '../nn/kan_bases.js';
import type { Linear } from '../nn/layers.js';
import type { NamedValues } from '../nn/module.js';
import { KanMlp, type KanMlpConfig } from '../models/kan_mlp.js';
import { buildModel, type Model, type ModelSpec } from '../models/registry.js';
import { VisionTransformer, type VitConfig } from '../models/vit.js';
import type { Tensor } from '../tensor/tensor.js';
import { captureActivationTraffic, type CaptureOptions } from '../viz/capture.js';

/** One prunable hidden width: `into` writes its channels, `activation` acts on them, `out` reads them. */
export interface PrunableLayer {
  /** e.g. 'blocks.0.mlp' or 'layers.0-1'. */
  name: string;
  /** Module path of the activation, as in rationalActivations / captured traffic. */
  activationName: string;
  into: Linear;
  activation: GroupRational;
  out: Linear;
  width: number;
  groups: number;
}

/** The hidden widths of a KAT (its GR-KAN MLPs) or a KAN-MLP; empty for models without them (ViT). */
export function prunableLayers(model: Model): PrunableLayer[] {
  const layers: PrunableLayer[] = [];
  if (model instanceof VisionTransformer) {
    model.blocks.forEach((block, i) => {
      if (!(block.mlp instanceof KatMlp)) return;
      const mlp = block.mlp;
      layers.push({ name: `blocks.${i}.mlp`, activationName: `blocks.${i}.mlp.act2`, into: mlp.fc1, activation: mlp.act2, out: mlp.fc2,
        width: mlp.act2.channels, groups: mlp.act2.groups });
    });
  } else if (model instanceof KanMlp) {
    for (let i = 0; i + 1 < model.layers.length; i++) {
      const [layer, next] = [model.layers[i], model.layers[i + 1]];
      if (!(layer instanceof RationalKanLayer && next instanceof RationalKanLayer)) continue;
      layers.push({ name: `layers.${i}-${i + 1}`, activationName: `layers.${i + 1}.act`, into: layer.fc, activation: next.act,
        out: next.fc, width: next.act.channels, groups: next.act.groups });
    }
  }
  return layers;
}

/** One prunable layer's channel and group scores. */
export interface LayerScores {
  layer: string;
  /** One score per hidden channel. */
  channels: Float64Array;
  /** Per group: the sum of its channels' scores. */
  groups: Float64Array;
  /** Per channel: mean |activation output| over the data. */
  meanAbsActivation: Float64Array;
  /** Per channel: L2 norm of the column of the next linear map. */
  outgoingNorm: Float64Array;
}

/** Scores every hidden channel and group of `model` on images of `dataset` (see the file comment). */
export async function scoreChannels(model: Model, dataset: ImageDataset, options: CaptureOptions = {}): Promise<LayerScores[]> {
  const layers = prunableLayers(model);
  if (layers.length === 0) throw new Error('scoreChannels: the model has no GR-KAN hidden layer to score (a KAT, or a kan-mlp with the rational basis, is needed)');
  const traffic = await captureActivationTraffic(model, dataset, options);
  const scores: LayerScores[] = [];
  for (const layer of layers) {
    const seen = traffic.get(layer.activationName);
    if (!seen || seen.rows === 0) throw new Error(`scoreChannels: activation '${layer.activationName}' saw no data`);
    const width = layer.width;
    const meanAbsActivation = new Float64Array(width);
    for (let r = 0; r < seen.rows; r++) {
      for (let c = 0; c < width; c++) meanAbsActivation[c] += Math.abs(seen.outputs[r * width + c]!);
    }
    for (let c = 0; c < width; c++) meanAbsActivation[c] /= seen.rows;
    const weight = await layer.out.weight.dataFloat64(); // [out, width]
    const outgoingNorm = new Float64Array(width);
    for (let o = 0; o < layer.out.outFeatures; o++) {
      for (let c = 0; c < width; c++) outgoingNorm[c] += weight[o * width + c]! ** 2;
    }
    const channels = new Float64Array(width);
    for (let c = 0; c < width; c++) {
      outgoingNorm[c] = Math.sqrt(outgoingNorm[c]!);
      channels[c] = meanAbsActivation[c]! * outgoingNorm[c]!;
    }
    const groups = new Float64Array(layer.groups);
    const perGroup = width / layer.groups;
    for (let c = 0; c < width; c++) groups[Math.floor(c / perGroup)] += channels[c]!;
    scores.push({ layer: layer.name, channels, groups, meanAbsActivation, outgoingNorm });
  }
  return scores;
}

/** The channels kept per layer: in each group the `perGroup` highest scores (ties: lower index), in ascending order. */
export function selectChannels(scores: Float64Array, groups: number, perGroup: number): number[] {
  const width = scores.length / groups;
  if (!Number.isInteger(width)) throw new Error(`selectChannels: ${scores.length} channels do not split into ${groups} groups`);
  if (!Number.isInteger(perGroup) || perGroup < 1 || perGroup > width) {
    throw new Error(`selectChannels: keep ${perGroup} channels per group must be in 1..${width}`);
  }
  const kept: number[] = [];
  for (let g = 0; g < groups; g++) {
    const members = Array.from({ length: width }, (_, i) => g * width + i);
    members.sort((a, b) => scores[b]! - scores[a]! || a - b);
    kept.push(...members.slice(0, perGroup).sort((a, b) => a - b));
  }
  return kept;
}

/** What pruneChannels() returns: the smaller model, its spec, and the channels each layer kept. */
export interface PruneResult {
  model: Model;
  spec: ModelSpec;
  /** Per layer, the original indices of the channels kept. */
  kept: { layer: string; width: number; channels: number[] }[];
}

/** Channels per group to keep: round(fraction * per group), at least 1, adjusted where a width's group count would change. */
function keptPerGroup(layer: PrunableLayer, fraction: number, configGroups: number | null): number {
  const perGroup = layer.width / layer.groups;
  const target = Math.min(perGroup, Math.max(1, Math.round(perGroup * fraction)));
  if (configGroups === null) return target;
  // KAN-MLP derives each activation's groups from its width: keep a width that gives the same groups.
  for (let delta = 0; delta < perGroup; delta++) {
    for (const k of [target - delta, target + delta]) {
      if (k >= 1 && k <= perGroup && divisorGroups(layer.groups * k, configGroups) === layer.groups) return k;
    }
  }
  return perGroup;
}

/**
 * A new model with only the kept channels of every hidden layer: `keep` is
 * the fraction of each group's channels to keep, chosen by `scores` (from
 * scoreChannels on the same model). keep = 1 gives the same model.
 */
export async function pruneChannels(model: Model, spec: ModelSpec, scores: readonly LayerScores[], keep: number): Promise<PruneResult> {
  if (!(keep > 0 && keep <= 1)) throw new Error(`pruneChannels: keep must be a fraction in (0, 1], got ${keep}`);
  const layers = prunableLayers(model);
  if (layers.length === 0) throw new Error('pruneChannels: the model has no GR-KAN hidden layer to prune (a KAT, or a kan-mlp with the rational basis, is needed)');
  const names = new Map<Tensor, string>(model.namedParameters().map(([name, t]) => [t, name]));
  const state = await model.stateDict();
  const kept: PruneResult['kept'] = [];
  let newSpec: ModelSpec;
  const isKanMlp = model instanceof KanMlp;
  const configGroups = isKanMlp ? (spec.config as KanMlpConfig).groups : null;
  for (const layer of layers) {
    const layerScores = scores.find((s) => s.layer === layer.name);
    if (!layerScores || layerScores.channels.length !== layer.width) {
      throw new Error(`pruneChannels: no scores of ${layer.width} channels for layer '${layer.name}' (score the same model first)`);
    }
    const channels = selectChannels(layerScores.channels, layer.groups, keptPerGroup(layer, keep, configGroups));
    kept.push({ layer: layer.name, width: layer.width, channels });
    // A linear map between two hidden layers loses rows here and columns for the next layer: slice what is in `state`.
    sliceRows(state, names.get(layer.into.weight)!, channels);
    if (layer.into.bias) sliceRows(state, names.get(layer.into.bias)!, channels);
    sliceColumns(state, names.get(layer.out.weight)!, channels);
  }
  if (isKanMlp) {
    const config = spec.config as KanMlpConfig;
    newSpec = { name: spec.name, config: { ...config, hidden: kept.map((k) => k.channels.length) } };
  } else {
    const config = spec.config as VitConfig;
    const widths = new Set(kept.map((k) => k.channels.length));
    if (widths.size !== 1) throw new Error(`pruneChannels: blocks would get different hidden widths (${[...widths].join(', ')}); KAT needs one`);
    newSpec = { name: spec.name, config: { ...config, mlpRatio: [...widths][0]! / config.dim } };
  }
  const pruned = buildModel(newSpec);
  try {
    pruned.loadStateDict(state, { source: 'pruned weights' });
  } catch (error) {
    pruned.dispose();
    throw error;
  }
  return { model: pruned, spec: newSpec, kept };
}

/** Keeps rows `keep` of a [rows, columns] tensor or elements of a vector. */
function sliceRows(state: Map<string, NamedValues>, name: string, keep: readonly number[]): void {
  const entry = state.get(name)!;
  const rowLength = entry.shape.length === 1 ? 1 : entry.shape[1]!;
  const values = new Float32Array(keep.length * rowLength);
  keep.forEach((row, i) => values.set(entry.values.subarray(row * rowLength, (row + 1) * rowLength), i * rowLength));
  state.set(name, { shape: entry.shape.length === 1 ? [keep.length] : [keep.length, ...entry.shape.slice(1)], values });
}

/** Keeps columns `keep` of a [rows, columns] tensor. */
function sliceColumns(state: Map<string, NamedValues>, name: string, keep: readonly number[]): void {
  const entry = state.get(name)!;
  const [rows, columns] = entry.shape as [number, number];
  const values = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) keep.forEach((c, i) => { values[r * keep.length + i] = entry.values[r * columns + c]!; });
  state.set(name, { shape: [rows, keep.length], values });
}
