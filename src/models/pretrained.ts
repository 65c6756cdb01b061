// A checkpoint ready to classify images: the model, its class names and the
// preprocessing it was trained with. Sources: katjs checkpoints (metadata),
// timm hub folders (config.json: labels and pretrained_cfg) and bare weights
// (timm's ImageNet defaults). Browser-safe: bytes and parsed config in.

import { CROP_MODES, IMAGENET_DEFAULT_PREPROCESS, INTERPOLATIONS, type PreprocessConfig } from '../data/image_transforms.js';
import { labelsFor, type HubModelConfig } from '../io/hub_config.js';
import { decodeCheckpoint, type DecodeCheckpointOptions, type LoadedCheckpoint } from './checkpoint.js';
import type { KanMlpConfig } from './kan_mlp.js';
import type { VitConfig } from './vit.js';

/** Checkpoint metadata keys written by `kat train` on image folders. */
export const CLASS_NAMES_KEY = 'class_names';
/** The checkpoint metadata key that holds the preprocessing (JSON). */
export const PREPROCESS_KEY = 'preprocess';

/** A pretrained model with its class labels and preprocessing. */
export interface PretrainedModel extends LoadedCheckpoint {
  /** One name per class. */
  labels: string[];
  /** Whether `labels` are real class names (config.json, the checkpoint, ImageNet-1k) rather than 'class i' placeholders. */
  namedLabels: boolean;
  /** The eval transform that turns a photo into this model's input. */
  preprocess: PreprocessConfig;
}

/** Options of loadPretrained(): the hub config.json that came with the weights, and decodeCheckpoint's options. */
export interface LoadPretrainedOptions extends DecodeCheckpointOptions {
  /** The hub's config.json, when the weights came from a hub repo or folder. */
  config?: HubModelConfig;
}

function parseJsonKey<T>(info: Record<string, string>, key: string, source: string, check: (value: unknown) => value is T): T | undefined {
  const text = info[key];
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${source}: metadata '${key}' is not valid JSON`);
  }
  if (!check(value)) throw new Error(`${source}: metadata '${key}' has the wrong form`);
  return value;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function isPreprocess(v: unknown): v is PreprocessConfig {
  const p = v as PreprocessConfig;
  const triple = (a: unknown) => Array.isArray(a) && a.length === 3 && a.every((x) => typeof x === 'number' && Number.isFinite(x));
  return typeof p === 'object' && p !== null && triple(p.inputSize) && triple(p.mean) && triple(p.std) &&
    typeof p.cropPct === 'number' && p.cropPct > 0 && p.cropPct <= 1 && (INTERPOLATIONS as readonly string[]).includes(p.interpolation) &&
    (CROP_MODES as readonly string[]).includes(p.cropMode);
}

/** timm's ImageNet eval defaults at a model's input size. */
export function defaultPreprocess(config: VitConfig | KanMlpConfig): PreprocessConfig {
  const c = config as Partial<VitConfig>;
  const size = c.imageSize ?? IMAGENET_DEFAULT_PREPROCESS.inputSize[1];
  return { ...IMAGENET_DEFAULT_PREPROCESS, inputSize: [c.channels ?? 3, size, size] };
}

/**
 * Decodes a checkpoint (safetensors or PyTorch) and pairs it with labels and
 * preprocessing. A hub config's heads, class count and input size must agree
 * with the weights.
 */
export function loadPretrained(bytes: Uint8Array, source: string, options: LoadPretrainedOptions = {}): PretrainedModel {
  const { config } = options;
  const heads = options.heads ?? config?.heads;
  const loaded = decodeCheckpoint(bytes, source, { ...options, ...(heads === undefined ? {} : { heads }) });
  try {
    const model = loaded.spec.config as Partial<VitConfig & KanMlpConfig>;
    const classes = model.classes!;
    if (config?.numClasses !== undefined && config.numClasses !== classes) {
      throw new Error(`${source}: config.json says num_classes ${config.numClasses}, but the weights have ${classes} classes`);
    }
    let preprocess = parseJsonKey(loaded.info, PREPROCESS_KEY, source, isPreprocess) ?? defaultPreprocess(loaded.spec.config);
    if (config) preprocess = config.preprocess;
    if (model.imageSize !== undefined && (preprocess.inputSize[1] !== model.imageSize || preprocess.inputSize[2] !== model.imageSize ||
      preprocess.inputSize[0] !== model.channels)) {
      throw new Error(`${source}: the preprocessing makes ${preprocess.inputSize.join('x')} inputs, but the model takes ` +
        `${model.channels}x${model.imageSize}x${model.imageSize}`);
    }
    const stored = parseJsonKey(loaded.info, CLASS_NAMES_KEY, source, isStringArray);
    const own = config?.labelNames ?? (stored?.length === classes ? stored : undefined);
    const labels = own ?? labelsFor(config, classes);
    const namedLabels = own !== undefined || classes === 1000;
    if (labels.length !== classes) throw new Error(`${source}: ${labels.length} class names for ${classes} classes`);
    return { ...loaded, labels, namedLabels, preprocess };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}
