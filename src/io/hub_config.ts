/**
 * timm's Hugging Face hub `config.json` (written by `push_to_hub`): the
 * architecture, class count, label names and the `pretrained_cfg`
 * preprocessing. Browser-safe: text in, plain objects out.
 */
import { IMAGENET_1K_LABELS } from '../data/imagenet_labels.js';
import { CROP_MODES, IMAGENET_DEFAULT_PREPROCESS, INTERPOLATIONS, type PreprocessConfig } from '../data/image_transforms.js';

/** What katjs reads from a timm / Hugging Face config.json: architecture, classes, labels, preprocessing. */
export interface HubModelConfig {
  architecture?: string;
  numClasses?: number;
  numFeatures?: number;
  globalPool?: string;
  labelNames?: string[];
  /** timm's optional label -> description map (e.g. WordNet glosses). */
  labelDescriptions?: Record<string, string>;
  /** From `pretrained_cfg`, with timm's defaults for missing fields. */
  preprocess: PreprocessConfig;
  modelArgs?: Record<string, unknown>;
  /** Attention heads when known: `model_args.num_heads`, else from the architecture name. */
  heads?: number;
}

/** A fresh, mutable copy of timm's default preprocessing (the frozen IMAGENET_DEFAULT_PREPROCESS). */
function defaultPreprocess(): PreprocessConfig {
  const d = IMAGENET_DEFAULT_PREPROCESS;
  return { ...d, inputSize: [...d.inputSize], mean: [...d.mean], std: [...d.std] };
}

// Heads of timm's size names; kat_* follow the ViT/DeiT widths (192/384/768).
const HEADS_BY_SIZE: Record<string, number> = { tiny: 3, small: 6, base: 12, large: 16, huge: 16 };
const ARCH_HEADS_RE = /^(?:kat|vit|deit|deit3)_(tiny|small|base|large|huge)(?:_|\.|$)/;

/** Attention heads implied by a timm architecture name such as `kat_small_patch16_224`. */
export function headsForArchitecture(architecture: string): number | undefined {
  const match = ARCH_HEADS_RE.exec(architecture);
  return match ? HEADS_BY_SIZE[match[1]!] : undefined;
}

type Json = unknown;

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and validates a timm hub `config.json`; errors name the field and `source`. */
export function parseHubConfig(text: string, source = 'config.json'): HubModelConfig {
  const fail = (field: string, expected: string, got: Json): never => {
    throw new Error(`${source}: '${field}' must be ${expected}, got ${describe(got)}`);
  };
  let root: Json;
  try {
    // A UTF-8 byte-order mark is legal in the file but not in JSON.parse.
    root = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  if (!isObject(root)) fail('(top level)', 'a JSON object', root);
  const top = root as Record<string, Json>;

  // timm writes null for unset fields; treat null as absent.
  const get = (obj: Record<string, Json>, key: string): Json => (obj[key] === null ? undefined : obj[key]);
  const str = (obj: Record<string, Json>, key: string, field: string): string | undefined => {
    const v = get(obj, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) fail(field, 'a non-empty string', v);
    return v as string;
  };
  const posInt = (obj: Record<string, Json>, key: string, field: string, min = 1): number | undefined => {
    const v = get(obj, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      fail(field, min === 0 ? 'a non-negative integer' : 'a positive integer', v);
    }
    return v as number;
  };
  const triple = (
    obj: Record<string, Json>,
    key: string,
    field: string,
    check: (x: number) => boolean,
    what: string,
  ): [number, number, number] | undefined => {
    const v = get(obj, key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && check(x))) {
      fail(field, `an array of 3 ${what}`, v);
    }
    const a = v as number[];
    return [a[0]!, a[1]!, a[2]!];
  };
  const oneOf = <T extends string>(
    obj: Record<string, Json>,
    key: string,
    field: string,
    allowed: readonly T[],
  ): T | undefined => {
    const v = get(obj, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      fail(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
    }
    return v as T;
  };

  const config: HubModelConfig = { preprocess: defaultPreprocess() };
  const architecture = str(top, 'architecture', 'architecture');
  if (architecture !== undefined) config.architecture = architecture;
  // num_classes 0 is a headless feature extractor in timm.
  const numClasses = posInt(top, 'num_classes', 'num_classes', 0);
  const numFeatures = posInt(top, 'num_features', 'num_features');
  if (numFeatures !== undefined) config.numFeatures = numFeatures;
  const globalPool = get(top, 'global_pool');
  if (globalPool !== undefined) {
    if (typeof globalPool !== 'string') fail('global_pool', 'a string', globalPool);
    config.globalPool = globalPool as string;
  }

  const pretrained = get(top, 'pretrained_cfg');
  let cfgClasses: number | undefined;
  if (pretrained !== undefined) {
    if (!isObject(pretrained)) fail('pretrained_cfg', 'an object', pretrained);
    const p = pretrained as Record<string, Json>;
    const pre = config.preprocess;
    const inputSize = triple(p, 'input_size', 'pretrained_cfg.input_size', (x) => Number.isInteger(x) && x > 0, 'positive integers');
    if (inputSize) pre.inputSize = inputSize;
    const interpolation = oneOf(p, 'interpolation', 'pretrained_cfg.interpolation', INTERPOLATIONS);
    if (interpolation) pre.interpolation = interpolation;
    const cropPct = get(p, 'crop_pct');
    if (cropPct !== undefined) {
      if (typeof cropPct !== 'number' || !Number.isFinite(cropPct) || cropPct <= 0 || cropPct > 1) {
        fail('pretrained_cfg.crop_pct', 'a number in (0, 1]', cropPct);
      }
      pre.cropPct = cropPct as number;
    }
    const cropMode = oneOf(p, 'crop_mode', 'pretrained_cfg.crop_mode', CROP_MODES);
    if (cropMode) pre.cropMode = cropMode;
    const mean = triple(p, 'mean', 'pretrained_cfg.mean', Number.isFinite, 'finite numbers');
    if (mean) pre.mean = mean;
    const std = triple(p, 'std', 'pretrained_cfg.std', (x) => Number.isFinite(x) && x > 0, 'positive numbers');
    if (std) pre.std = std;
    cfgClasses = posInt(p, 'num_classes', 'pretrained_cfg.num_classes', 0);
  }
  // The top-level count describes the saved head; pretrained_cfg's may be the original's.
  const classes = numClasses ?? cfgClasses;
  if (classes !== undefined) config.numClasses = classes;

  const labels = get(top, 'label_names');
  if (labels !== undefined) {
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
      fail('label_names', 'an array of strings', labels);
    }
    const names = labels as string[];
    if (classes !== undefined && names.length !== classes) {
      fail('label_names', `an array of num_classes (${classes}) strings`, labels);
    }
    config.labelNames = [...names];
  }
  const descriptions = get(top, 'label_descriptions');
  if (descriptions !== undefined) {
    if (!isObject(descriptions) || !Object.values(descriptions).every((d) => typeof d === 'string')) {
      fail('label_descriptions', 'an object of strings', descriptions);
    }
    config.labelDescriptions = { ...(descriptions as Record<string, string>) };
  }

  const modelArgs = get(top, 'model_args');
  if (modelArgs !== undefined) {
    if (!isObject(modelArgs)) fail('model_args', 'an object', modelArgs);
    config.modelArgs = { ...(modelArgs as Record<string, unknown>) };
    const heads = posInt(modelArgs as Record<string, Json>, 'num_heads', 'model_args.num_heads');
    if (heads !== undefined) config.heads = heads;
  }
  if (config.heads === undefined && architecture !== undefined) {
    const heads = headsForArchitecture(architecture);
    if (heads !== undefined) config.heads = heads;
  }
  return config;
}

/**
 * Display names for `classes` outputs: the config's label_names when they
 * match the head, else ImageNet-1k's for 1000 classes, else 'class i'.
 */
export function labelsFor(config: HubModelConfig | undefined, classes: number): string[] {
  const names = config?.labelNames;
  if (names && names.length === classes) return [...names];
  if (classes === IMAGENET_1K_LABELS.length) return [...IMAGENET_1K_LABELS];
  return Array.from({ length: classes }, (_, i) => `class ${i}`);
}
