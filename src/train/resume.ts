// Resumable checkpoints: one safetensors file that is a normal katjs
// checkpoint (the weights under their timm names and the model metadata, so
// `kat eval` reads it as any other) plus the training state, which loaders
// skip: the optimizer's tensors under `__train__.SLOT.PARAM` and everything
// else (step, epoch, RNG states, step counts, the run's settings) as JSON in
// one metadata key. One file, written atomically, cannot pair weights with
// the state of another epoch the way a sidecar could.
// Browser-safe: bytes in, bytes out.

import { decodeSafetensors, encodeSafetensors, type SafetensorsContents, type SafetensorsInput } from '../io/safetensors.js';
import { CHECKPOINT_FORMAT, TRAINING_STATE_PREFIX, type CheckpointInfo } from '../models/checkpoint.js';
import type { Model, ModelSpec } from '../models/registry.js';
import type { NamedValues } from '../nn/module.js';
import type { OptimizerSnapshot } from '../optim/optimizer.js';
import type { RandomState } from '../tensor/random.js';
import { formatShape } from '../tensor/tensor.js';
import { quote } from '../util/text.js';
import type { EpochEvent, TrainState } from './trainer.js';

/** The metadata key holding the training state (JSON). */
export const TRAIN_STATE_KEY = 'kat_train_state';
/** Bumped whenever a field changes meaning; other versions are refused, not guessed at. */
export const TRAIN_STATE_VERSION = 1;

/** What a resumable checkpoint holds besides the model. `run` is the caller's own record (the CLI's flags and settings). */
export interface ResumeCheckpoint {
  spec: ModelSpec;
  state: TrainState;
  run: Record<string, unknown>;
  /** The checkpoint's other metadata (dataset, epochs, preprocessing, ...). */
  info: CheckpointInfo;
  /** The weights and buffers, by name. */
  weights: Map<string, NamedValues>;
}

interface StoredState {
  version: number;
  epoch: number;
  globalStep: number;
  optimizer: { scalars: Record<string, number> };
  random: RandomState;
  augmentRandom: RandomState;
  epochs: EpochEvent[];
  trainSeconds: number;
  run: Record<string, unknown>;
}

/** The weights, the model metadata and the training state in one safetensors file. */
export async function encodeResumeCheckpoint(model: Model, spec: ModelSpec, info: CheckpointInfo, state: TrainState,
  run: Record<string, unknown>): Promise<Uint8Array> {
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, values] of await model.stateDict()) tensors[name] = { shape: [...values.shape], values: values.values };
  for (const [name, buffer] of model.namedBuffers?.() ?? []) tensors[name] = { shape: [...buffer.shape], values: await buffer.data() };
  for (const [key, { shape, values }] of state.optimizer.tensors) {
    const dot = key.lastIndexOf('.');
    tensors[`${TRAINING_STATE_PREFIX}${key.slice(dot + 1)}.${key.slice(0, dot)}`] = { shape: [...shape], values };
  }
  // Per-parameter step counts equal the optimizer's own but for parameters that once had no gradient: store only those.
  const scalars = Object.fromEntries(Object.entries(state.optimizer.scalars)
    .filter(([key, value]) => !key.endsWith('.step') || value !== state.optimizer.scalars.stepCount));
  const stored: StoredState = {
    version: TRAIN_STATE_VERSION, epoch: state.epoch, globalStep: state.globalStep, optimizer: { scalars },
    random: state.random, augmentRandom: state.augmentRandom, epochs: state.epochs, trainSeconds: state.trainSeconds, run,
  };
  return encodeSafetensors(tensors, {
    ...info, format: CHECKPOINT_FORMAT, model: spec.name, config: JSON.stringify(spec.config), [TRAIN_STATE_KEY]: JSON.stringify(stored),
  });
}

/** True when a checkpoint's metadata carries training state. */
export function hasTrainingState(metadata: Record<string, string>): boolean {
  return Object.hasOwn(metadata, TRAIN_STATE_KEY);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/**
 * Reads a resumable checkpoint. Throws one clear error, naming `source`, for
 * a file without training state, of another state version, or with a state
 * that does not hang together; whether it fits the model and the data is
 * checked where those are known (loadResumeWeights, trainModel).
 */
export function decodeResumeCheckpoint(bytes: Uint8Array, source: string, contents?: SafetensorsContents): ResumeCheckpoint {
  const { tensors, metadata } = contents ?? decodeSafetensors(bytes, source);
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  if (!hasTrainingState(metadata)) {
    fail('it holds no training state to resume (only checkpoints written by kat train --checkpoint-every do; to start from its weights, use --init)');
  }
  let stored: StoredState;
  try {
    stored = JSON.parse(metadata[TRAIN_STATE_KEY]!) as StoredState;
  } catch {
    return fail(`its '${TRAIN_STATE_KEY}' metadata is not valid JSON`);
  }
  if (!isObject(stored)) fail(`its '${TRAIN_STATE_KEY}' metadata is not a JSON object`);
  if (stored.version !== TRAIN_STATE_VERSION) {
    fail(`its training state has format version ${quote(String(stored.version))}; this katjs reads version ${TRAIN_STATE_VERSION}`);
  }
  if (!isCount(stored.epoch) || stored.epoch < 1 || !isCount(stored.globalStep)) fail('its training state has no valid epoch and step');
  if (!isObject(stored.optimizer) || !isObject(stored.optimizer.scalars) ||
    !Object.values(stored.optimizer.scalars).every((v) => typeof v === 'number' && Number.isFinite(v))) {
    fail('its training state has no valid optimizer scalars');
  }
  if (!isObject(stored.random) || !isObject(stored.augmentRandom)) fail('its training state has no RNG states');
  if (!Array.isArray(stored.epochs) || !stored.epochs.every(isObject) || typeof stored.trainSeconds !== 'number') {
    fail('its training state has no valid epoch history');
  }
  if (!isObject(stored.run)) fail('its training state has no run settings');
  const { model, config } = metadata;
  if (model === undefined || config === undefined) fail('it has no model metadata');
  let spec: ModelSpec;
  try {
    spec = { name: model!, config: JSON.parse(config!) as ModelSpec['config'] };
  } catch {
    return fail(`its metadata 'config' is not valid JSON`);
  }
  const optimizerTensors: OptimizerSnapshot['tensors'] = new Map();
  const weights = new Map<string, NamedValues>();
  for (const [name, t] of tensors) {
    if (!name.startsWith(TRAINING_STATE_PREFIX)) {
      weights.set(name, { shape: t.shape, values: t.values });
      continue;
    }
    // __train__.SLOT.PARAM, stored as float32: anything else would not resume bit for bit.
    const rest = name.slice(TRAINING_STATE_PREFIX.length);
    const dot = rest.indexOf('.');
    if (dot <= 0 || dot === rest.length - 1) fail(`tensor ${quote(name)} is not named ${TRAINING_STATE_PREFIX}SLOT.PARAMETER`);
    if (t.dtype !== 'F32') fail(`tensor ${quote(name)} is ${quote(t.dtype)}; optimizer state is stored as F32`);
    optimizerTensors.set(`${rest.slice(dot + 1)}.${rest.slice(0, dot)}`, { shape: t.shape, values: t.values });
  }
  const scalars = { ...stored.optimizer.scalars };
  if (optimizerTensors.size > 0 && scalars.stepCount === undefined) fail('its optimizer state has no step count');
  for (const key of optimizerTensors.keys()) {
    const step = `${key.slice(0, key.lastIndexOf('.'))}.step`;
    if (!Object.hasOwn(scalars, step)) scalars[step] = scalars.stepCount!;
  }
  // NaN / Infinity went into JSON as null.
  const epochs = stored.epochs.map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? Number.NaN : v])) as unknown as EpochEvent);
  const { format: _format, model: _model, config: _config, [TRAIN_STATE_KEY]: _state, ...info } = metadata;
  return {
    spec, info, weights, run: stored.run,
    state: {
      epoch: stored.epoch, globalStep: stored.globalStep, optimizer: { tensors: optimizerTensors, scalars },
      random: stored.random, augmentRandom: stored.augmentRandom, epochs, trainSeconds: stored.trainSeconds,
    },
  };
}

/** Loads a resumable checkpoint's weights and buffers into `model` (built from the same spec); nothing changes unless all fit. */
export function loadResumeWeights(model: Model, weights: ReadonlyMap<string, NamedValues>, source: string): void {
  const params = new Map(weights);
  const buffers = model.namedBuffers?.() ?? [];
  const problems: string[] = [];
  for (const [name, buffer] of buffers) {
    const entry = params.get(name);
    params.delete(name);
    if (!entry) problems.push(`missing buffer ${quote(name)}`);
    else if (entry.shape.join() !== buffer.shape.join()) problems.push(`buffer ${quote(name)} has shape ${formatShape(entry.shape)}, not ${formatShape(buffer.shape)}`);
    else if (!entry.values.every(Number.isFinite)) problems.push(`buffer ${quote(name)} holds a non-finite value`);
  }
  if (problems.length > 0) throw new Error(`${source} does not fit this model: ${problems.slice(0, 6).join('; ')}`);
  model.loadStateDict(params, { source });
  for (const [name, buffer] of buffers) buffer.assignValues(weights.get(name)!.values);
}
