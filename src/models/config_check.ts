// Model configurations as they arrive from checkpoint metadata (untrusted
// JSON): checked completely before anything is built, and the tensors they
// imply (names, shapes, parameter count) computed without allocating, so a
// checkpoint of a few hundred KB cannot ask for gigabytes or a billion blocks.
// Browser-safe.

import { checkSelectOptions, selectLayerLayout, SELECT_SPACES, type SelectSpace } from '../nn/select_kan.js';
import { AF_ACTIVATIONS, AF_COMBINATIONS, AF_MAX_GRID, divisorGroups, isKanBasis, KAN_BASES, MLP_ACTIVATIONS } from '../nn/kan_bases.js';
import { KARAT_MAX_ORDER, karatTensorShapes, type KaratConfig } from '../nn/karat.js';
import { MAX_CHEBYSHEV_DEGREE, MAX_SPLINE_ORDER } from '../ops/kan_bases.js';
import { excerpt } from '../util/text.js';
import type { KanMlpConfig } from './kan_mlp.js';
import type { ModelSpec } from './registry.js';
import type { VitConfig } from './vit.js';

/**
 * Bounds on a configuration: far above any KAT / ViT / KAN-MLP (timm's largest
 * ViT has depth 48 and width 1664), far below what would exhaust memory.
 */
export const MODEL_LIMITS = Object.freeze({
  depth: 1024,
  /** dim, hidden widths, classes, heads. */
  width: 1 << 20,
  /** Rational groups (KAT uses 8). */
  groups: 1 << 16,
  /** kan-mlp inputs (C * H * W). */
  inputs: 1 << 26,
  imageSize: 16384,
  channels: 1024,
  kanLayers: 64,
  gridSize: 1024,
  centers: 1024,
  /** 8 GiB of float32 values. */
  parameters: 2 ** 31,
});

/**
 * Names of transformers: kat-* (GR-KAN MLPs, softmax or KArAt attention), vit-* (GELU MLPs, softmax) or karat-* (GELU
 * MLPs, Fourier-KArAt attention); katjs's sizes, inferred kat-d48, fine-tuned copies.
 */
const TRANSFORMER_NAME = /^(kat|vit|karat)-[a-z0-9][a-z0-9._-]{0,62}$/i;

const VIT_KEYS = ['imageSize', 'patchSize', 'channels', 'classes', 'dim', 'depth', 'heads', 'mlpRatio', 'mlp', 'groups', 'dropout', 'dropPath',
  'karat', 'pool'];
const KARAT_KEYS = ['order', 'rank', 'universal'];
/** Largest KArAt rank accepted (the paper uses 12). */
const KARAT_MAX_RANK = 4096;
const KAN_MLP_KEYS = ['inputs', 'hidden', 'classes', 'groups', 'dropout', 'basis', 'bspline', 'rbf', 'af', 'relu', 'cheby', 'activation', 'select'];
const AF_KEYS = ['gridSize', 'order', 'activation', 'combination'];
const RELU_KEYS = ['gridSize', 'order'];
const CHEBY_KEYS = ['degree'];
const BSPLINE_KEYS = ['gridSize', 'order', 'gridRange', 'gridEps', 'noiseScale'];
const RBF_KEYS = ['low', 'high', 'centers', 'width', 'layerNorm', 'baseUpdate', 'splineInitScale'];

type Fields = Record<string, unknown>;

/** A value from the file, for a message: short and escaped. */
function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  return excerpt(text ?? typeof value, 40);
}

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}

function isObject(value: unknown): value is Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `value` as an object with only `keys`; `what` names a nested object (null: the config itself, named by `where`). */
function fieldsOf(value: unknown, what: string | null, keys: readonly string[], where: string): Fields {
  if (!isObject(value)) {
    if (what === null) throw new Error(`${where} is ${show(value)}, not an object`);
    fail(where, `${what} is ${show(value)}, not an object`);
  }
  const unknown = Object.keys(value).filter((k) => !keys.includes(k));
  if (unknown.length > 0) fail(where, `${what ?? 'it'} has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 3).map((k) => `'${excerpt(k, 40)}'`).join(', ')}; expected ${keys.join(', ')}`);
  return value;
}

function has(fields: Fields, key: string): boolean {
  return Object.hasOwn(fields, key) && fields[key] !== undefined;
}

function integer(fields: Fields, key: string, min: number, max: number, where: string): number {
  const value = Object.hasOwn(fields, key) ? fields[key] : undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(where, `${key} ${value === undefined ? 'is missing' : `is ${show(value)}`}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

function finite(fields: Fields, key: string, where: string, check: (v: number) => boolean = () => true, expected = 'a finite number'): number {
  const value = Object.hasOwn(fields, key) ? fields[key] : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    fail(where, `${key} ${value === undefined ? 'is missing' : `is ${show(value)}`}: expected ${expected}`);
  }
  return value;
}

function probability(fields: Fields, key: string, where: string): number {
  return finite(fields, key, where, (v) => v >= 0 && v < 1, 'a probability in [0, 1)');
}

function boolean(fields: Fields, key: string, where: string): boolean {
  const value = fields[key];
  if (typeof value !== 'boolean') fail(where, `${key} is ${show(value)}: expected true or false`);
  return value;
}

function oneOf<T extends string>(fields: Fields, key: string, choices: readonly T[], where: string): T {
  const value = fields[key];
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    fail(where, `${key} is ${show(value)}: expected one of ${choices.join(', ')}`);
  }
  return value as T;
}

/** A checked ViT / KAT configuration (a fresh object holding only the known fields). */
export function checkVitConfig(raw: unknown, where = 'model config'): VitConfig {
  const c = fieldsOf(raw, null, VIT_KEYS, where);
  const dim = integer(c, 'dim', 1, MODEL_LIMITS.width, where);
  const depth = integer(c, 'depth', 1, MODEL_LIMITS.depth, where);
  const heads = integer(c, 'heads', 1, dim, where);
  if (dim % heads !== 0) fail(where, `${heads} heads do not divide the width dim ${dim}`);
  const imageSize = integer(c, 'imageSize', 1, MODEL_LIMITS.imageSize, where);
  const patchSize = integer(c, 'patchSize', 1, imageSize, where);
  if (imageSize % patchSize !== 0) fail(where, `image size ${imageSize} is not a multiple of patch size ${patchSize}`);
  const channels = integer(c, 'channels', 1, MODEL_LIMITS.channels, where);
  const classes = integer(c, 'classes', 1, MODEL_LIMITS.width, where);
  const mlpRatio = finite(c, 'mlpRatio', where, (v) => v > 0, 'a finite number > 0');
  const hidden = Math.round(dim * mlpRatio);
  if (!(hidden >= 1 && hidden <= MODEL_LIMITS.width)) {
    fail(where, `mlpRatio ${mlpRatio} makes an MLP ${hidden} wide: expected 1 to ${MODEL_LIMITS.width}`);
  }
  const mlp = c.mlp;
  if (mlp !== 'kan' && mlp !== 'gelu') fail(where, `mlp is ${show(mlp)}: expected "kan" (KAT) or "gelu" (ViT)`);
  const groups = integer(c, 'groups', 1, MODEL_LIMITS.groups, where);
  if (mlp === 'kan' && (dim % groups !== 0 || hidden % groups !== 0)) {
    fail(where, `${groups} rational groups do not divide the widths ${dim} and ${hidden} of the KAT MLP`);
  }
  const dropout = probability(c, 'dropout', where);
  const dropPath = probability(c, 'dropPath', where);
  const config: VitConfig = { imageSize, patchSize, channels, classes, dim, depth, heads, mlpRatio, mlp, groups, dropout, dropPath };
  if (has(c, 'karat')) {
    const k = fieldsOf(c.karat, 'karat', KARAT_KEYS, where);
    const at = `${where}: karat`;
    const karat: KaratConfig = {
      order: integer(k, 'order', 1, KARAT_MAX_ORDER, at),
      rank: integer(k, 'rank', 1, KARAT_MAX_RANK, at),
      universal: boolean(k, 'universal', at),
    };
    config.karat = karat;
  }
  if (has(c, 'pool')) {
    if (c.pool !== 'token' && c.pool !== 'avg') fail(where, `pool is ${show(c.pool)}: expected "token" (the class token) or "avg" (the patch tokens' mean)`);
    config.pool = c.pool;
  }
  return config;
}

/** A checked KAN-MLP configuration (a fresh object holding only the known fields). */
export function checkKanMlpConfig(raw: unknown, where = 'model config'): KanMlpConfig {
  const c = fieldsOf(raw, null, KAN_MLP_KEYS, where);
  const inputs = integer(c, 'inputs', 1, MODEL_LIMITS.inputs, where);
  const rawHidden = c.hidden;
  if (!Array.isArray(rawHidden) || rawHidden.length > MODEL_LIMITS.kanLayers) {
    fail(where, `hidden is ${show(rawHidden)}: expected a list of at most ${MODEL_LIMITS.kanLayers} layer widths`);
  }
  const hidden = rawHidden.map((width: unknown, i) => integer({ [`hidden[${i}]`]: width }, `hidden[${i}]`, 1, MODEL_LIMITS.width, where));
  const classes = integer(c, 'classes', 1, MODEL_LIMITS.width, where);
  const groups = integer(c, 'groups', 1, MODEL_LIMITS.groups, where);
  const dropout = probability(c, 'dropout', where);
  const config: KanMlpConfig = { inputs, hidden, classes, groups, dropout };
  if (has(c, 'basis')) {
    if (!isKanBasis(c.basis) && c.basis !== 'select') fail(where, `basis is ${show(c.basis)}: expected one of ${KAN_BASES.join(', ')} or select`);
    config.basis = c.basis as KanMlpConfig['basis'];
  }
  if (has(c, 'bspline')) {
    const b = fieldsOf(c.bspline, 'bspline', BSPLINE_KEYS, where);
    const at = `${where}: bspline`;
    const bspline: NonNullable<KanMlpConfig['bspline']> = {};
    if (has(b, 'gridSize')) bspline.gridSize = integer(b, 'gridSize', 1, MODEL_LIMITS.gridSize, at);
    if (has(b, 'order')) bspline.order = integer(b, 'order', 1, MAX_SPLINE_ORDER, at);
    if (has(b, 'gridRange')) {
      const range = b.gridRange;
      if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(range[1] > range[0])) {
        fail(at, `gridRange is ${show(range)}: expected [low, high], finite with high > low`);
      }
      bspline.gridRange = [range[0] as number, range[1] as number];
    }
    if (has(b, 'gridEps')) bspline.gridEps = finite(b, 'gridEps', at, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
    if (has(b, 'noiseScale')) bspline.noiseScale = finite(b, 'noiseScale', at, (v) => v >= 0, 'a finite number >= 0');
    config.bspline = bspline;
  }
  if (has(c, 'rbf')) {
    const r = fieldsOf(c.rbf, 'rbf', RBF_KEYS, where);
    const at = `${where}: rbf`;
    const rbf: NonNullable<KanMlpConfig['rbf']> = {};
    if (has(r, 'low')) rbf.low = finite(r, 'low', at);
    if (has(r, 'high')) rbf.high = finite(r, 'high', at);
    if (has(r, 'centers')) rbf.centers = integer(r, 'centers', 1, MODEL_LIMITS.centers, at);
    if (has(r, 'width')) rbf.width = finite(r, 'width', at, (v) => v > 0, 'a finite number > 0');
    if (has(r, 'layerNorm')) rbf.layerNorm = boolean(r, 'layerNorm', at);
    if (has(r, 'baseUpdate')) rbf.baseUpdate = boolean(r, 'baseUpdate', at);
    if (has(r, 'splineInitScale')) rbf.splineInitScale = finite(r, 'splineInitScale', at, (v) => v >= 0, 'a finite number >= 0');
    const low = rbf.low ?? -2;
    const high = rbf.high ?? 2;
    const centers = rbf.centers ?? 8;
    if (!(high > low || (centers === 1 && high === low))) fail(at, `the centre range [${low}, ${high}] needs high > low`);
    if (centers === 1 && rbf.width === undefined) fail(at, 'a single centre needs a width (it has no spacing)');
    config.rbf = rbf;
  }
  if (has(c, 'af')) {
    const a = fieldsOf(c.af, 'af', AF_KEYS, where);
    const at = `${where}: af`;
    const af: NonNullable<KanMlpConfig['af']> = {};
    if (has(a, 'gridSize')) af.gridSize = integer(a, 'gridSize', 1, AF_MAX_GRID, at);
    if (has(a, 'order')) af.order = integer(a, 'order', 0, AF_MAX_GRID, at);
    if (has(a, 'activation')) af.activation = oneOf(a, 'activation', AF_ACTIVATIONS, at);
    if (has(a, 'combination')) af.combination = oneOf(a, 'combination', AF_COMBINATIONS, at);
    config.af = af;
  }
  if (has(c, 'relu')) {
    const r = fieldsOf(c.relu, 'relu', RELU_KEYS, where);
    const at = `${where}: relu`;
    const relu: NonNullable<KanMlpConfig['relu']> = {};
    if (has(r, 'gridSize')) relu.gridSize = integer(r, 'gridSize', 1, AF_MAX_GRID, at);
    if (has(r, 'order')) relu.order = integer(r, 'order', 0, AF_MAX_GRID, at);
    config.relu = relu;
  }
  if (has(c, 'cheby')) {
    const r = fieldsOf(c.cheby, 'cheby', CHEBY_KEYS, where);
    const at = `${where}: cheby`;
    const cheby: NonNullable<KanMlpConfig['cheby']> = {};
    if (has(r, 'degree')) cheby.degree = integer(r, 'degree', 0, MAX_CHEBYSHEV_DEGREE, at);
    config.cheby = cheby;
  }
  if (has(c, 'activation')) {
    config.activation = oneOf(c, 'activation', MLP_ACTIVATIONS, where);
    if ((config.basis ?? 'rational') !== 'mlp') fail(where, `an activation is given, but the basis is '${config.basis ?? 'rational'}' (it is the mlp basis's)`);
  }
  if (has(c, 'select') || config.basis === 'select') {
    if (config.basis !== 'select') fail(where, `select settings are given, but the basis is '${config.basis ?? 'rational'}'`);
    const sel = fieldsOf(c.select, 'select', ['spaces', 'temperature', 'inputs'], where);
    const at = `${where}: select`;
    const spaces = sel.spaces;
    if (!Array.isArray(spaces) || spaces.length > SELECT_SPACES.length) fail(at, `spaces is ${show(spaces)}: expected a list of ${SELECT_SPACES.join(', ')}`);
    const select: NonNullable<KanMlpConfig['select']> = { spaces: [...(spaces as SelectSpace[])] };
    if (has(sel, 'temperature')) select.temperature = finite(sel, 'temperature', at, (v) => v > 0, 'a finite number > 0');
    const widths = [config.inputs, ...config.hidden, config.classes];
    if (has(sel, 'inputs')) {
      const inputs = sel.inputs;
      if (!Array.isArray(inputs) || inputs.length !== widths.length - 1) fail(at, `inputs must list each of the ${widths.length - 1} layers' kept inputs per space`);
      select.inputs = (inputs as unknown[]).map((layer, i) => {
        if (!Array.isArray(layer) || layer.length !== select.spaces.length) fail(at, `inputs[${i}] must hold one list per space (${select.spaces.length})`);
        return (layer as unknown[]).map((list) => (Array.isArray(list) ? [...list] as number[] : fail(at, `inputs[${i}] holds a non-list`)));
      });
    }
    for (let i = 0; i + 1 < widths.length; i++) {
      try {
        checkSelectOptions(`layer ${i}`, widths[i]!, { spaces: select.spaces, temperature: select.temperature, inputs: select.inputs?.[i] });
      } catch (error) {
        fail(at, (error as Error).message);
      }
    }
    config.select = select;
  }
  // Only the new bases' settings: older checkpoints may carry others unused.
  for (const key of ['af', 'relu', 'cheby'] as const) {
    if (config[key] !== undefined && key !== (config.basis ?? 'rational')) {
      fail(where, `${key} settings are given, but the basis is '${config.basis ?? 'rational'}'`);
    }
  }
  return config;
}

/**
 * A checked model spec: the name is kan-mlp, or kat-* / vit-* with the matching
 * MLP; the config is complete, in range and consistent; the model it describes
 * has at most MODEL_LIMITS.parameters parameters. Throws `where: ...` otherwise.
 */
export function checkModelSpec(name: unknown, config: unknown, where = 'model', configWhere = `${where} config`): ModelSpec {
  if (typeof name !== 'string') fail(where, `the model name is ${show(name)}, not a string`);
  let spec: ModelSpec;
  if (name === 'kan-mlp') {
    spec = { name, config: checkKanMlpConfig(config, configWhere) };
  } else {
    const match = TRANSFORMER_NAME.exec(name);
    if (!match) fail(where, `unknown model '${excerpt(name, 40)}': expected kat-*, vit-* or kan-mlp`);
    const vit = checkVitConfig(config, configWhere);
    const family = match[1]!.toLowerCase();
    if ((family === 'kat') !== (vit.mlp === 'kan')) {
      fail(where, `'${name}' is a ${family === 'kat' ? 'KAT (mlp "kan")' : family === 'vit' ? 'ViT (mlp "gelu")' : 'KArAt ViT (mlp "gelu")'}, ` +
        `but its config says mlp "${vit.mlp}"`);
    }
    if (family === 'karat' && !vit.karat) fail(where, `'${name}' is a KArAt ViT, but its config has no karat settings`);
    if (family === 'vit' && vit.karat) fail(where, `'${name}' is a ViT with softmax attention, but its config has karat settings (name it karat-*)`);
    spec = { name, config: vit };
  }
  const parameters = countLayout(tensorLayout(spec).parameters);
  if (parameters > MODEL_LIMITS.parameters) {
    fail(where, `${describeCount(parameters)} parameters is over the limit of ${describeCount(MODEL_LIMITS.parameters)}`);
  }
  return spec;
}

function describeCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} billion` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} million` : n.toLocaleString('en-US');
}

/** The tensors a model holds, by name in registration order: trained parameters and buffers (B-spline grids). */
export interface TensorLayout {
  parameters: [string, number[]][];
  buffers: [string, number[]][];
}

/** Names and shapes of a checked spec's tensors, as buildModel(spec) would make them, without allocating any. */
export function tensorLayout(spec: ModelSpec): TensorLayout {
  const parameters: [string, number[]][] = [];
  const buffers: [string, number[]][] = [];
  const add = (name: string, shape: number[]) => parameters.push([name, shape]);
  if (spec.name === 'kan-mlp') {
    const c = spec.config as KanMlpConfig;
    const widths = [c.inputs, ...c.hidden, c.classes];
    for (let i = 0; i + 1 < widths.length; i++) {
      const [input, output] = [widths[i]!, widths[i + 1]!];
      const at = `layers.${i}.`;
      const basis = c.basis ?? 'rational';
      if (basis === 'select') {
        const layout = selectLayerLayout(input, output, { spaces: c.select!.spaces, inputs: c.select!.inputs?.[i] });
        for (const [name, shape] of layout.parameters) add(`${at}${name}`, shape);
        for (const [name, shape] of layout.buffers) buffers.push([`${at}${name}`, shape]);
      } else if (basis === 'rational') {
        add(`${at}act.weight_numerator`, [1, 6]);
        add(`${at}act.weight_denominator`, [divisorGroups(input, c.groups), 4]);
        add(`${at}fc.weight`, [output, input]);
        add(`${at}fc.bias`, [output]);
      } else if (basis === 'bspline') {
        const gridSize = c.bspline?.gridSize ?? 5;
        const order = c.bspline?.order ?? 3;
        add(`${at}base_weight`, [output, input]);
        add(`${at}spline_weight`, [output, input, gridSize + order]);
        buffers.push([`${at}grid`, [input, gridSize + 2 * order + 1]]);
      } else if (basis === 'af') {
        const bases = (c.af?.gridSize ?? 3) + (c.af?.order ?? 3);
        // Own parameters first, then submodules' (Module.namedParameters' order).
        add(`${at}grid_start`, [bases]);
        add(`${at}grid_end`, [bases]);
        add(`${at}temperature`, [1]);
        add(`${at}weight`, [output, input]);
        add(`${at}attention.weight`, [1, bases]);
        add(`${at}attention.bias`, [1]);
        add(`${at}layernorm.weight`, [input]);
        add(`${at}layernorm.bias`, [input]);
      } else if (basis === 'mlp') {
        add(`${at}fc.weight`, [output, input]);
        add(`${at}fc.bias`, [output]);
      } else if (basis === 'cheby') {
        add(`${at}cheby_linear.weight`, [output, input * ((c.cheby?.degree ?? 4) + 1)]);
      } else if (basis === 'relu') {
        const bases = (c.relu?.gridSize ?? 3) + (c.relu?.order ?? 3);
        add(`${at}grid_start`, [input, bases]);
        add(`${at}grid_end`, [input, bases]);
        add(`${at}layernorm.weight`, [input]);
        add(`${at}layernorm.bias`, [input]);
        add(`${at}fc.weight`, [output, input * bases]);
        add(`${at}fc.bias`, [output]);
      } else {
        if (c.rbf?.layerNorm ?? true) {
          add(`${at}layernorm.weight`, [input]);
          add(`${at}layernorm.bias`, [input]);
        }
        add(`${at}spline_linear.weight`, [output, input * (c.rbf?.centers ?? 8)]);
        if (c.rbf?.baseUpdate ?? true) {
          add(`${at}base_linear.weight`, [output, input]);
          add(`${at}base_linear.bias`, [output]);
        }
      }
    }
    return { parameters, buffers };
  }
  const c = spec.config as VitConfig;
  const { dim } = c;
  const hidden = Math.round(dim * c.mlpRatio);
  const grid = c.imageSize / c.patchSize;
  add('cls_token', [1, 1, dim]);
  add('pos_embed', [1, grid * grid + 1, dim]);
  add('patch_embed.proj.weight', [dim, c.channels, c.patchSize, c.patchSize]);
  add('patch_embed.proj.bias', [dim]);
  const tokens = grid * grid + 1;
  if (c.karat?.universal) for (const [name, shape] of karatTensorShapes(c.heads, tokens, c.karat)) add(`karat.${name}`, shape);
  for (let i = 0; i < c.depth; i++) {
    const at = `blocks.${i}.`;
    add(`${at}norm1.weight`, [dim]);
    add(`${at}norm1.bias`, [dim]);
    add(`${at}attn.qkv.weight`, [3 * dim, dim]);
    add(`${at}attn.qkv.bias`, [3 * dim]);
    add(`${at}attn.proj.weight`, [dim, dim]);
    add(`${at}attn.proj.bias`, [dim]);
    if (c.karat && !c.karat.universal) for (const [name, shape] of karatTensorShapes(c.heads, tokens, c.karat)) add(`${at}attn.karat.${name}`, shape);
    add(`${at}norm2.weight`, [dim]);
    add(`${at}norm2.bias`, [dim]);
    if (c.mlp === 'kan') {
      add(`${at}mlp.act1.weight_numerator`, [1, 6]);
      add(`${at}mlp.act1.weight_denominator`, [c.groups, 4]);
    }
    add(`${at}mlp.fc1.weight`, [hidden, dim]);
    add(`${at}mlp.fc1.bias`, [hidden]);
    if (c.mlp === 'kan') {
      add(`${at}mlp.act2.weight_numerator`, [1, 6]);
      add(`${at}mlp.act2.weight_denominator`, [c.groups, 4]);
    }
    add(`${at}mlp.fc2.weight`, [dim, hidden]);
    add(`${at}mlp.fc2.bias`, [dim]);
  }
  const norm = c.pool === 'avg' ? 'fc_norm' : 'norm';
  add(`${norm}.weight`, [dim]);
  add(`${norm}.bias`, [dim]);
  add('head.weight', [c.classes, dim]);
  add('head.bias', [c.classes]);
  return { parameters, buffers };
}

/** Total values of a list of shapes. */
export function countLayout(entries: readonly [string, readonly number[]][]): number {
  let total = 0;
  for (const [, shape] of entries) total += shape.reduce((a, b) => a * b, 1);
  return total;
}
