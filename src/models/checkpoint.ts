// Model checkpoints as safetensors with timm's tensor names. katjs writes its
// model name and configuration into the metadata; a checkpoint without them
// (a real timm KAT checkpoint, as safetensors or as a PyTorch .pth) has its
// configuration inferred from shapes.
// Browser-safe: bytes in, bytes out (the CLI adds files).

import { headsForArchitecture } from '../io/hub_config.js';
import { decodePytorchCheckpoint, isPytorchCheckpoint } from '../io/pytorch/index.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsContents } from '../io/safetensors.js';
import { formatKaratVariant } from '../nn/karat.js';
import type { NamedValues } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { excerpt, quote } from '../util/text.js';
import { checkModelSpec, tensorLayout } from './config_check.js';
import type { KanMlpConfig } from './kan_mlp.js';
import { checkMemoryLimit, estimateLoadMemory } from './memory_estimate.js';
import { buildModel, type Model, type ModelSpec } from './registry.js';
import type { VitConfig } from './vit.js';

export const CHECKPOINT_FORMAT = 'katjs-1';

/** Names of the tensors `kat train --checkpoint-every` adds beside the weights (optimizer moments); loaders skip them. */
export const TRAINING_STATE_PREFIX = '__train__.';

/** Anything worth keeping beside the weights (accuracy, epochs, ...), as strings. */
export type CheckpointInfo = Record<string, string>;

/** A model as safetensors bytes with timm's tensor names and the spec in the metadata (what kat train writes). */
export async function encodeCheckpoint(model: Model, spec: ModelSpec, info: CheckpointInfo = {}): Promise<Uint8Array> {
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  for (const [name, values] of await model.stateDict()) tensors[name] = { shape: [...values.shape], values: values.values };
  for (const [name, buffer] of model.namedBuffers?.() ?? []) tensors[name] = { shape: [...buffer.shape], values: await buffer.data() };
  return encodeSafetensors(tensors, { ...info, format: CHECKPOINT_FORMAT, model: spec.name, config: JSON.stringify(spec.config) });
}

/** A decoded checkpoint: the rebuilt model with its weights, its spec and metadata. */
export interface LoadedCheckpoint {
  spec: ModelSpec;
  model: Model;
  info: CheckpointInfo;
  /** What reading it involved (a PyTorch file's chosen weights, stripped prefixes, skipped tensors). */
  notes: string[];
}

/** Options of decodeCheckpoint: which weights of a training checkpoint (ema), attention heads where the file does not say, a memory cap. */
export interface DecodeCheckpointOptions {
  /** A training checkpoint's weights: 'default' (state_dict / model) or 'ema' (state_dict_ema). */
  weights?: 'default' | 'ema';
  /** Attention heads of a checkpoint without katjs metadata (not stored in the weights; default dim / 64). */
  heads?: number;
  /** Refuse a model whose parameters and buffers would take more bytes than this (checked before building it). */
  maxMemory?: number;
  /** How the refusal describes the limit (default "the memory limit of N GiB"). */
  maxMemoryText?: string;
}

/** The shape of a tensor inference needs, with the rank it must have (a wrong rank would make NaN sizes). */
function tensorShape(contents: SafetensorsContents, name: string, source: string, rank: number): number[] {
  const t = contents.tensors.get(name);
  if (!t) throw new Error(`${source}: no tensor '${name}', so its model cannot be inferred (is it a KAT / ViT / kan-mlp checkpoint?)`);
  if (t.shape.length !== rank || t.shape.some((d) => d < 1)) {
    throw new Error(`${source}: tensor '${name}' has shape ${excerpt(formatShape(t.shape))}; a KAT / ViT checkpoint has ${rank} positive dimensions there, so its model cannot be inferred`);
  }
  return t.shape;
}

/** The configuration of a timm-layout ViT/KAT checkpoint, from its tensor shapes. */
function inferSpec(contents: SafetensorsContents, source: string, heads?: number): ModelSpec {
  const names = [...contents.tensors.keys()];
  if (names.some((n) => n.startsWith('layers.0.act.'))) {
    throw new Error(`${source}: a kan-mlp checkpoint without katjs metadata cannot be rebuilt (its hidden widths are not stored)`);
  }
  const [dim, channels, patchSize, patchWidth] = tensorShape(contents, 'patch_embed.proj.weight', source, 4) as [number, number, number, number];
  if (patchWidth !== patchSize) throw new Error(`${source}: patch_embed.proj.weight has ${patchSize}x${patchWidth} patches; katjs models take square patches`);
  const tokens = tensorShape(contents, 'pos_embed', source, 3)[1]!;
  const grid = Math.round(Math.sqrt(tokens - 1));
  if (grid * grid !== tokens - 1) throw new Error(`${source}: pos_embed has ${tokens} tokens, expected 1 + a square number of patches`);
  const depth = new Set(names.filter((n) => n.startsWith('blocks.')).map((n) => n.split('.')[1])).size;
  const kan = contents.tensors.has('blocks.0.mlp.act1.weight_denominator');
  const hidden = tensorShape(contents, 'blocks.0.mlp.fc1.weight', source, 2)[0]!;
  // Heads are not stored in the weights; timm's sizes use 64-wide heads.
  const headCount = heads ?? Math.max(1, Math.round(dim / 64));
  if (!Number.isInteger(headCount) || headCount < 1 || dim % headCount !== 0) {
    throw new Error(`${source}: ${headCount} attention heads do not divide the width ${dim}`);
  }
  const config: VitConfig = {
    imageSize: grid * patchSize,
    patchSize,
    channels,
    classes: tensorShape(contents, 'head.weight', source, 2)[0]!,
    dim,
    depth,
    heads: headCount,
    mlpRatio: hidden / dim,
    mlp: kan ? 'kan' : 'gelu',
    groups: kan ? tensorShape(contents, 'blocks.0.mlp.act1.weight_denominator', source, 2)[0]! : 8,
    dropout: 0,
    dropPath: 0,
  };
  // timm's global_pool 'avg' normalises after pooling, under fc_norm (its final norm is then an identity).
  if (contents.tensors.has('fc_norm.weight') && !contents.tensors.has('norm.weight')) config.pool = 'avg';
  const size = new Map([[192, 'tiny'], [384, 'small'], [768, 'base']]).get(dim) ?? `d${dim}`;
  return checkModelSpec(`${kan ? 'kat' : 'vit'}-${size}`, config, `${source}: the model inferred from its tensors`, `${source}: the model inferred from its tensors`);
}

/** The spec in katjs's metadata, checked completely (it is untrusted input); null when there is none. */
function specFromMetadata(contents: SafetensorsContents, source: string): ModelSpec | null {
  const { metadata } = contents;
  const model = Object.hasOwn(metadata, 'model') ? metadata.model : undefined;
  const text = Object.hasOwn(metadata, 'config') ? metadata.config : undefined;
  if (model === undefined || text === undefined) return null;
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new Error(`${source}: its metadata 'config' is not valid JSON: ${quote(text)}`);
  }
  return checkModelSpec(model, config, `${source}: metadata`);
}

/**
 * Every tensor the spec's model holds is in the file with its shape, and the
 * file holds no others: checked before building, so the file's own size
 * bounds what the metadata can make us allocate.
 */
function checkTensorsFit(spec: ModelSpec, contents: SafetensorsContents, source: string): void {
  const layout = tensorLayout(spec);
  const expected = new Map([...layout.parameters, ...layout.buffers]);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = contents.tensors.get(name);
    if (!t) problems.push(`missing '${name}' ${formatShape(shape)}`);
    else if (t.shape.join() !== shape.join()) problems.push(`'${name}' has shape ${excerpt(formatShape(t.shape))}, the model expects ${formatShape(shape)}`);
  }
  const unexpected = [...contents.tensors.keys()].filter((n) => !expected.has(n));
  if (unexpected.length > 0) {
    problems.push(`unexpected ${unexpected.slice(0, 5).map((n) => quote(n)).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''}`);
  }
  if (problems.length > 0) {
    throw new Error(`${source} does not fit this model: ${problems.slice(0, 6).join('; ')}` +
      `${problems.length > 6 ? `; and ${problems.length - 6} more problems` : ''}`);
  }
}

/**
 * Rebuilds the model a checkpoint holds and loads its weights. Every weight
 * must be present with the right shape and finite values.
 */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint', options: DecodeCheckpointOptions = {}): LoadedCheckpoint {
  const { contents, notes } = readCheckpointTensors(bytes, source, options);
  const spec = specFromMetadata(contents, source) ?? inferSpec(contents, source, options.heads ?? architectureHeads(contents.metadata));
  checkTensorsFit(spec, contents, source);
  if (options.maxMemory !== undefined) {
    checkMemoryLimit(estimateLoadMemory(spec), options.maxMemory, `${source}: its model ${excerpt(spec.name)}`, options.maxMemoryText);
  }
  const model = buildModel(spec);
  const values = new Map<string, NamedValues>();
  for (const [name, t] of contents.tensors) values.set(name, { shape: t.shape, values: t.values });
  // Buffers (B-spline grids) are state beside the parameters: split them off, check and load them the same way.
  const buffers = model.namedBuffers?.() ?? [];
  const bufferValues = new Map<string, NamedValues>();
  for (const [name] of buffers) {
    const entry = values.get(name);
    if (entry) bufferValues.set(name, entry);
    values.delete(name);
  }
  try {
    model.loadStateDict(values, { source });
    loadBuffers(buffers, bufferValues, source);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const { format: _format, model: _model, config: _config, ...info } = contents.metadata;
  return { spec, model, info, notes };
}

/** Heads of a timm architecture named in a training checkpoint's args (e.g. kat_tiny_patch16_224: 3). */
function architectureHeads(metadata: Record<string, string>): number | undefined {
  return metadata.arch === undefined ? undefined : headsForArchitecture(metadata.arch);
}

/** Safetensors or a PyTorch file (zip or legacy `torch.save`), told apart by their first bytes. */
export function readCheckpointTensors(bytes: Uint8Array, source: string, options: DecodeCheckpointOptions = {}):
  { contents: SafetensorsContents; notes: string[]; format: 'safetensors' | 'pytorch' } {
  if (isPytorchCheckpoint(bytes)) {
    // The PyTorch reader words its own messages as "checkpoint 'NAME'": hand it the bare name.
    const name = /^checkpoint '(.*)'$/s.exec(source)?.[1] ?? source;
    const checkpoint = decodePytorchCheckpoint(bytes, { source: name, weights: options.weights ?? 'default' });
    // Only katjs's own metadata keys would change how the model is built; a .pth has none of them.
    const { model: _model, config: _config, ...metadata } = checkpoint.metadata;
    return { contents: { tensors: checkpoint.tensors, metadata }, notes: checkpoint.notes, format: 'pytorch' };
  }
  if (options.weights === 'ema') throw new Error(`${source}: --weights ema needs a PyTorch training checkpoint with EMA weights; this is a safetensors file`);
  const contents = decodeSafetensors(bytes, source);
  // A resumable checkpoint's optimizer state is not part of the model.
  for (const name of [...contents.tensors.keys()]) if (name.startsWith(TRAINING_STATE_PREFIX)) contents.tensors.delete(name);
  return { contents, notes: [], format: 'safetensors' };
}

function loadBuffers(buffers: [string, Tensor][], values: ReadonlyMap<string, NamedValues>, source: string): void {
  const problems: string[] = [];
  for (const [name, buffer] of buffers) {
    const entry = values.get(name);
    if (!entry) problems.push(`missing '${name}' ${formatShape(buffer.shape)}`);
    else if (entry.shape.join() !== buffer.shape.join()) {
      problems.push(`'${name}' has shape ${formatShape(entry.shape)}, the model expects ${formatShape(buffer.shape)}`);
    } else if (!entry.values.every(Number.isFinite)) problems.push(`'${name}' holds a non-finite value`);
  }
  if (problems.length > 0) throw new Error(`${source} does not fit this model: ${problems.slice(0, 6).join('; ')}`);
  for (const [name, buffer] of buffers) buffer.assignValues(values.get(name)!.values);
}

/** One line naming the model and its sizes (for `kat info` and messages). */
export function describeSpec(spec: ModelSpec): string {
  const c = spec.config as Partial<VitConfig & KanMlpConfig>;
  return c.dim !== undefined
    ? `${spec.name} (dim ${c.dim}, depth ${c.depth}, heads ${c.heads}, patch ${c.patchSize}, image ${formatShape([c.channels!, c.imageSize!, c.imageSize!])}, ${c.classes} classes${c.karat ? `, KArAt ${formatKaratVariant(c.karat)}` : ''})`
    : `${spec.name} (${c.basis && c.basis !== 'rational' ? `${c.basis} basis, ` : ''}${c.inputs} inputs, hidden ${formatShape(c.hidden ?? [])}, ${c.classes === 1 ? '1 output' : `${c.classes} classes`})`;
}
