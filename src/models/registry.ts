// Named model configurations: the KAT and ViT sizes of the papers, small
// 28 x 28 variants for the embedded digits, and KAN-MLP.

import { isKanBasis, KAN_BASES, MLP_ACTIVATIONS, type KanBasis, type MlpActivation } from '../nn/kan_bases.js';
import { SELECT_SPACES, type SelectSpace } from '../nn/select_kan.js';
import { KARAT_DEFAULT_RANK, parseKaratVariant, type KaratConfig } from '../nn/karat.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkModelSpec, countLayout, tensorLayout } from './config_check.js';
import { KanMlp, type KanMlpConfig } from './kan_mlp.js';
import { VisionTransformer, type VitConfig } from './vit.js';

/** What every model is: a Module with forward(images) -> logits. */
export interface Model extends Module {
  forward(images: Tensor): Tensor;
  /** State that is not a parameter (B-spline grids), saved in checkpoints beside the parameters. */
  namedBuffers?(): [string, Tensor][];
}

/** Options of createModel and modelSpec: data shape, regularisation, seed, and kan-mlp's basis and widths. */
export interface ModelOptions {
  classes?: number;
  imageSize?: number;
  channels?: number;
  dropout?: number;
  dropPath?: number;
  seed?: number;
  /**
   * kan-mlp's KAN basis: 'rational' (GR-KAN, default), 'bspline' (efficient-kan), 'rbf' (FastKAN), 'af' (AF-KAN), 'relu' (ReLU-KAN), 'cheby' (ChebyKAN)
   * or 'mlp' (no KAN: the plain MLP baseline of the same widths).
   */
  basis?: KanBasis | 'select';
  /** S-KAN (basis 'select'): the spaces each node chooses among (default all) and the selection temperature (default 1). */
  select?: { spaces?: SelectSpace[]; temperature?: number };
  /** kan-mlp's hidden layer widths (default [256, 128]). */
  hidden?: number[];
  /** The MLP baseline's activation (basis 'mlp'; default relu). */
  activation?: MlpActivation;
  /**
   * Fourier-KArAt attention: a variant 'G<n><B|U>' (e.g. 'G3B': order 3, one operator per block; 'G1U': one shared by
   * all blocks) or a full config. karat-* models default to G3B; kat-* models take it as an option; vit-* never.
   */
  karat?: string | KaratConfig;
}

type VitSize = Pick<VitConfig, 'dim' | 'depth' | 'heads' | 'patchSize' | 'imageSize' | 'channels' | 'classes' | 'pool'>;

const IMAGENET = { patchSize: 16, imageSize: 224, channels: 3, classes: 1000 };
const DIGITS = { patchSize: 7, imageSize: 28, channels: 1, classes: 10 };

const VIT_SIZES: Record<string, VitSize> = {
  tiny: { dim: 192, depth: 12, heads: 3, ...IMAGENET },
  small: { dim: 384, depth: 12, heads: 6, ...IMAGENET },
  base: { dim: 768, depth: 12, heads: 12, ...IMAGENET },
  // The patch tokens' mean: on 8,000 digits it learns in 5 epochs what the class token needs 10 for.
  micro: { dim: 64, depth: 3, heads: 4, ...DIGITS, pool: 'avg' },
};

/** Every model name createModel accepts. */
export const MODEL_NAMES: readonly string[] = [
  ...Object.keys(VIT_SIZES).map((s) => `kat-${s}`),
  ...Object.keys(VIT_SIZES).map((s) => `vit-${s}`),
  ...Object.keys(VIT_SIZES).map((s) => `karat-${s}`),
  'kan-mlp',
];

/** A model's name and full configuration: enough to rebuild it (what checkpoints store). */
export interface ModelSpec {
  name: string;
  /** The full configuration: enough to rebuild the model (stored in checkpoints). */
  config: VitConfig | KanMlpConfig;
}

/** Resolves a model name and options to a full configuration, or a clear error. */
export function modelSpec(name: string, options: ModelOptions = {}): ModelSpec {
  if (options.basis !== undefined && !isKanBasis(options.basis) && options.basis !== 'select') {
    throw new Error(`unknown basis '${String(options.basis)}': expected one of ${KAN_BASES.join(', ')} or select`);
  }
  if (name !== 'kan-mlp' && options.basis !== undefined && options.basis !== 'rational') {
    throw new Error(`model '${name}' has GR-KAN (rational) layers; basis '${options.basis}' applies to kan-mlp only`);
  }
  if (options.activation !== undefined && (name !== 'kan-mlp' || options.basis !== 'mlp' || !(MLP_ACTIVATIONS as readonly string[]).includes(options.activation))) {
    throw new Error(`activation '${String(options.activation)}' needs model kan-mlp with basis mlp and one of ${MLP_ACTIVATIONS.join(', ')}`);
  }
  if (options.hidden !== undefined && name !== 'kan-mlp') throw new Error(`model '${name}' has no hidden widths to set; hidden applies to kan-mlp`);
  if (name === 'kan-mlp') {
    const channels = options.channels ?? DIGITS.channels;
    const imageSize = options.imageSize ?? DIGITS.imageSize;
    const config: KanMlpConfig = {
      inputs: channels * imageSize * imageSize,
      hidden: options.hidden ? [...options.hidden] : [256, 128],
      classes: options.classes ?? DIGITS.classes,
      groups: 8,
      dropout: options.dropout ?? 0,
      basis: options.basis ?? 'rational',
      // The defaults of efficient-kan, FastKAN, AF-KAN, ReLU-KAN and ChebyKAN, written out so checkpoints keep them.
      ...(options.basis === 'bspline' ? { bspline: { gridSize: 5, order: 3, gridRange: [-1, 1] as [number, number] } } : {}),
      ...(options.basis === 'rbf' ? { rbf: { low: -2, high: 2, centers: 8 } } : {}),
      ...(options.basis === 'af' ? { af: { gridSize: 3, order: 3, activation: 'silu' as const, combination: 'quad1' as const } } : {}),
      ...(options.basis === 'relu' ? { relu: { gridSize: 3, order: 3 } } : {}),
      ...(options.basis === 'cheby' ? { cheby: { degree: 4 } } : {}),
      ...(options.basis === 'mlp' ? { activation: options.activation ?? 'relu' } : {}),
      ...(options.basis === 'select' ? {
        select: { spaces: [...(options.select?.spaces ?? SELECT_SPACES)], temperature: options.select?.temperature ?? 1 },
      } : {}),
    };
    return { name, config };
  }
  const match = /^(kat|vit|karat)-(\w+)$/.exec(name);
  const size = match ? VIT_SIZES[match[2]!] : undefined;
  if (!match || !size) throw new Error(`unknown model '${name}': expected one of ${MODEL_NAMES.join(', ')}`);
  if (options.karat !== undefined && match[1] === 'vit') {
    throw new Error(`model '${name}' has softmax attention; for Fourier-KArAt attention use karat-${match[2]} (or kat-${match[2]} with KArAt)`);
  }
  const karat = typeof options.karat === 'string' ? parseKaratVariant(options.karat)
    : options.karat ?? (match[1] === 'karat' ? { order: 3, rank: KARAT_DEFAULT_RANK, universal: false } : undefined);
  const config: VitConfig = {
    ...size,
    imageSize: options.imageSize ?? size.imageSize,
    channels: options.channels ?? size.channels,
    classes: options.classes ?? size.classes,
    mlpRatio: 4,
    mlp: match[1] === 'kat' ? 'kan' : 'gelu',
    groups: 8,
    dropout: options.dropout ?? 0,
    dropPath: options.dropPath ?? (match[2] === 'base' ? 0.4 : match[2] === 'micro' ? 0 : 0.1),
    ...(karat ? { karat: { ...karat } } : {}),
  };
  return { name, config };
}

/**
 * A spec checked completely (name, every field's type and range, divisibility,
 * size) without building anything; throws `where: ...` naming what is wrong.
 */
export function validateModelSpec(spec: unknown, where = 'model'): ModelSpec {
  if (spec === null || typeof spec !== 'object') throw new Error(`${where}: the spec is not an object`);
  const { name, config } = spec as Partial<ModelSpec>;
  return checkModelSpec(name, config, where);
}

/** Parameters of the model a spec describes, computed from the config alone (nothing is allocated). */
export function countParameters(spec: ModelSpec): number {
  return countLayout(tensorLayout(validateModelSpec(spec)).parameters);
}

/** Builds a model from a spec (as returned by modelSpec or read from a checkpoint); the spec is validated first. */
export function buildModel(spec: ModelSpec, seed = 0): Model {
  const checked = validateModelSpec(spec);
  if (checked.name === 'kan-mlp') return new KanMlp(spec.config as KanMlpConfig, seed);
  return new VisionTransformer(spec.config as VitConfig, seed);
}

/** A model by name (kat-micro, vit-tiny, kan-mlp, karat-micro, ...), sized by options, initialised from options.seed. */
export function createModel(name: string, options: ModelOptions = {}): Model {
  return buildModel(modelSpec(name, options), options.seed ?? 0);
}
