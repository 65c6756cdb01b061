// S-KAN ("Activation Space Selectable KANs", arXiv 2408.08338), as katjs
// reads its abstract (the paper's text and code are not public):
//
//   y_j = b_j + sum_i phi_ij(x_i),   phi_ij(x) = sum_s alpha_is phi_ijs(x),
//   alpha_i = softmax(beta_i / T) over the spaces s,
//
// where each space s is one of katjs's bases with its own coefficients W_s
// (phi_ijs(x) = sum_k W_s[j, i, k] F_sk(x), F_s the space's features of one
// input) and beta_i are learnable selection logits of input node i, shared by
// its outgoing edges. Per node, not per edge: the choice then removes whole
// (input, space) blocks of the features and weights, so a pruned layer is a
// smaller dense layer, not a masked one; and a node's inputs come from one
// distribution, which is what a space suits or not.
//
// The spaces are the bases' separable cores, so that phi_ijs depends on x_i
// alone (pruning an input of one space must not change any other):
//   rational  GR-KAN's P(x)/Q(x), one rational shared by the layer's inputs
//   bspline   efficient-kan: silu(x) and B-splines on a per-input knot grid
//   rbf       FastKAN's Gaussians on [-2, 2] and silu(x), without its LayerNorm
//   cheby     ChebyKAN: T_0..T_n of tanh(x)
//   relu      ReLU-KAN's squared bumps on a trainable per-input grid, without LayerNorm
//   af        AF-KAN's activation bases on a shared trainable grid, without its
//             attention and LayerNorm
//
// Phases (the trainer runs them): (1) everything trains; (2) `choose` keeps
// each node's top spaces (a mask on the softmax) and training continues;
// ranked by what each space adds to the outputs on a sample of data
// (`contributions`), or by alpha without data;
// (3) `prunedState` folds alpha into W and drops what was not kept: a layer
// built with `inputs` holds only those blocks and computes the same function.

import { tensor } from '../ops/creation.js';
import { add, mul, relu, sigmoid, square, sub } from '../ops/elementwise.js';
import { bsplineBasis, chebyshevBasis, radialBasis, uniformKnots } from '../ops/kan_bases.js';
import { concat, gather, reshape, slice } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { softmax } from '../ops/nn.js';
import { groupRational } from '../ops/group_rational.js';
import type { Random } from '../tensor/random.js';
import { noGrad } from '../tensor/autograd.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { rationalCoefficients } from './rational_init.js';
import { afKanBasis, reluKanGrid, type AfActivation, type AfCombination, type HasBuffers } from './kan_bases.js';
import { Module, type NamedValues } from './module.js';
import { checkSize } from './sizes.js';

/** The activation spaces a selectable layer draws on (each a basis of nn/kan_bases.ts). */
export const SELECT_SPACES = ['rational', 'bspline', 'rbf', 'cheby', 'relu', 'af'] as const;
/** One activation space of SELECT_SPACES. */
export type SelectSpace = (typeof SELECT_SPACES)[number];

/** Whether `name` is one of SELECT_SPACES. */
export function isSelectSpace(name: unknown): name is SelectSpace {
  return typeof name === 'string' && (SELECT_SPACES as readonly string[]).includes(name);
}

/** The spaces' settings (fixed per layer; the bases' defaults). */
export const SELECT_SPACE_SETTINGS = {
  bspline: { gridSize: 5, order: 3, low: -1, high: 1 },
  rbf: { low: -2, high: 2, centers: 8 },
  cheby: { degree: 4 },
  relu: { gridSize: 3, order: 3 },
  af: { gridSize: 3, order: 3, activation: 'silu' as AfActivation, combination: 'quad1' as AfCombination },
} as const;

/** Features per input of each space. */
export function spaceFeatures(space: SelectSpace): number {
  const s = SELECT_SPACE_SETTINGS;
  switch (space) {
    case 'rational': return 1;
    case 'bspline': return 1 + s.bspline.gridSize + s.bspline.order;
    case 'rbf': return 1 + s.rbf.centers;
    case 'cheby': return s.cheby.degree + 1;
    case 'relu': return s.relu.gridSize + s.relu.order;
    case 'af': return s.af.gridSize + s.af.order;
  }
}

/** A selectable layer's spaces, temperature and (pruned) kept inputs. */
export interface SelectKanOptions {
  /** The spaces, in order (at least one, each once). */
  spaces: readonly SelectSpace[];
  /** Softmax temperature T of the selection (default 1). */
  temperature?: number;
  /** The rational space's initial function: 'identity' for a layer on raw inputs, else 'swish' (default). */
  rationalMode?: string;
  /**
   * A pruned layer: for each space (aligned with `spaces`), the inputs that kept
   * it, ascending. The layer then has no selection logits and its weights hold alpha.
   */
  inputs?: readonly (readonly number[])[];
}

/** Names and shapes of a layer's parameters and buffers, in the order the layer makes them (checkpoint layouts use this). */
export function selectLayerLayout(inFeatures: number, outFeatures: number, options: SelectKanOptions):
  { parameters: [string, number[]][]; buffers: [string, number[]][] } {
  const parameters: [string, number[]][] = [];
  const buffers: [string, number[]][] = [];
  const S = options.spaces.length;
  if (!options.inputs) {
    parameters.push(['selection', [inFeatures, S]]);
    buffers.push(['kept', [inFeatures, S]]);
  }
  parameters.push(['bias', [outFeatures]]);
  options.spaces.forEach((space, s) => {
    const n = options.inputs ? options.inputs[s]!.length : inFeatures;
    if (n === 0) return;
    const K = spaceFeatures(space);
    parameters.push([`${space}.weight`, [outFeatures, n * K]]);
    if (space === 'rational') {
      parameters.push(['rational.weight_numerator', [1, 6]], ['rational.weight_denominator', [1, 4]]);
    } else if (space === 'relu') {
      parameters.push(['relu.grid_start', [n, K]], ['relu.grid_end', [n, K]]);
    } else if (space === 'af') {
      parameters.push(['af.grid_start', [K]], ['af.grid_end', [K]]);
    } else if (space === 'bspline') {
      const { gridSize, order } = SELECT_SPACE_SETTINGS.bspline;
      buffers.push(['bspline.grid', [n, gridSize + 2 * order + 1]]);
    }
  });
  return { parameters, buffers };
}

/** Checks a layer's options: spaces known and distinct, temperature > 0, pruned inputs ascending, in range, each input kept somewhere. */
export function checkSelectOptions(where: string, inFeatures: number, options: SelectKanOptions): void {
  const { spaces } = options;
  if (!Array.isArray(spaces) || spaces.length === 0) throw new Error(`${where}: spaces must list at least one of ${SELECT_SPACES.join(', ')}`);
  for (const space of spaces) {
    if (!isSelectSpace(space)) throw new Error(`${where}: unknown space '${String(space)}': expected one of ${SELECT_SPACES.join(', ')}`);
  }
  if (new Set(spaces).size !== spaces.length) throw new Error(`${where}: spaces ${spaces.join(',')} name a space twice`);
  const t = options.temperature ?? 1;
  if (!(typeof t === 'number' && Number.isFinite(t) && t > 0)) throw new Error(`${where}: temperature ${String(t)} must be a finite number > 0`);
  if (options.inputs !== undefined) {
    if (!Array.isArray(options.inputs) || options.inputs.length !== spaces.length) {
      throw new Error(`${where}: a pruned layer lists the kept inputs of each of its ${spaces.length} spaces`);
    }
    const covered = new Uint8Array(inFeatures);
    options.inputs.forEach((list, s) => {
      if (!Array.isArray(list)) throw new Error(`${where}: the kept inputs of space ${spaces[s]} are not a list`);
      for (let k = 0; k < list.length; k++) {
        const i = list[k];
        if (!Number.isInteger(i) || i! < 0 || i! >= inFeatures || (k > 0 && i! <= list[k - 1]!)) {
          throw new Error(`${where}: space ${spaces[s]} keeps input ${String(i)}: expected ascending integers in [0, ${inFeatures - 1}]`);
        }
        covered[i!] = 1;
      }
    });
    const lost = covered.indexOf(0);
    if (lost >= 0) throw new Error(`${where}: input ${lost} is kept by no space (every input keeps at least its best one)`);
  }
}

function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}

/** One space of a selectable layer: features [rows, n, K] of its n inputs, and its weight [out, n K]. */
export class SelectSpaceModule extends Module implements HasBuffers {
  readonly weight: Tensor;
  readonly features: number;
  /** rational: P's and Q's coefficients [1, 6], [1, 4]. */
  readonly numerator?: Tensor;
  readonly denominator?: Tensor;
  /** relu: [n, K]; af: [K]. */
  readonly gridStart?: Tensor;
  readonly gridEnd?: Tensor;
  /** bspline: knots per input [n, gridSize + 2 order + 1]. */
  readonly grid?: Tensor;

  constructor(readonly space: SelectSpace, readonly inputs: number, outFeatures: number, rng: Random, std: number, rationalMode: string) {
    super();
    const K = spaceFeatures(space);
    this.features = K;
    const weights = new Float32Array(outFeatures * inputs * K);
    for (let i = 0; i < weights.length; i++) weights[i] = rng.normal() * std;
    this.weight = this.parameter('weight', tensor(weights, [outFeatures, inputs * K]));
    const settings = SELECT_SPACE_SETTINGS;
    if (space === 'rational') {
      const init = rationalCoefficients(rationalMode);
      this.numerator = this.parameter('weight_numerator', tensor([...init.numerator], [1, 6]));
      this.denominator = this.parameter('weight_denominator', tensor([...init.denominator], [1, 4]));
    } else if (space === 'relu') {
      // ReLU-KAN's initial grid, the same for every input.
      const [starts, ends] = reluKanGrid(settings.relu.gridSize, settings.relu.order, inputs);
      this.gridStart = this.parameter('grid_start', tensor(starts, [inputs, K]));
      this.gridEnd = this.parameter('grid_end', tensor(ends, [inputs, K]));
    } else if (space === 'af') {
      const [starts, ends] = reluKanGrid(settings.af.gridSize, settings.af.order, 1);
      this.gridStart = this.parameter('grid_start', tensor(starts, [K]));
      this.gridEnd = this.parameter('grid_end', tensor(ends, [K]));
    } else if (space === 'bspline') {
      const { gridSize, order, low, high } = settings.bspline;
      const knots = uniformKnots(gridSize, order, low, high);
      const grid = new Float64Array(inputs * knots.length);
      for (let i = 0; i < inputs; i++) grid.set(knots, i * knots.length);
      this.grid = keep(tensor(grid, [inputs, knots.length]));
    }
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    return this.grid ? [[`${prefix}grid`, this.grid]] : [];
  }

  /** x [rows, n] -> [rows, n, K]. */
  expand(x: Tensor): Tensor {
    const [rows, n] = [x.shape[0]!, x.shape[1]!];
    const column = () => reshape(x, [rows, n, 1]);
    const s = SELECT_SPACE_SETTINGS;
    switch (this.space) {
      case 'rational': return reshape(groupRational(x, this.numerator!, this.denominator!), [rows, n, 1]);
      case 'bspline': return concat([reshape(silu(x), [rows, n, 1]), bsplineBasis(x, this.grid!, s.bspline.order)], 2);
      case 'rbf': return concat([reshape(silu(x), [rows, n, 1]), radialBasis(x, s.rbf)], 2);
      case 'cheby': return chebyshevBasis(x, s.cheby.degree);
      case 'relu': {
        const r = (4 * s.relu.gridSize ** 2) / (s.relu.order + 1) ** 2;
        const c = column();
        return square(mul(mul(relu(sub(this.gridEnd!, c)), relu(sub(c, this.gridStart!))), r));
      }
      case 'af': return afKanBasis(x, this.gridStart!, this.gridEnd!, s.af);
    }
  }

  override dispose(): void {
    super.dispose();
    this.grid?.dispose();
  }
}

/** How each input node chose (phase 2): the kept spaces, best first, and their selection weights. */
export interface NodeChoice {
  spaces: SelectSpace[];
  weights: number[];
}

/** A KAN layer whose nodes choose among activation spaces (see the top of this file). */
export class SelectKanLayer extends Module implements HasBuffers {
  readonly spaces: readonly SelectSpace[];
  /** The selection's softmax temperature (the trainer anneals it in phase 1: setTemperature). */
  temperature: number;
  /** Pruned: the inputs each space kept; else undefined. */
  readonly inputs?: readonly (readonly number[])[];
  readonly selection: Tensor | null;
  readonly bias: Tensor;
  /** [in, S]: 1 where a space is kept (all 1 until `choose`). */
  readonly kept: Tensor | null;
  /** Each space's module (null: a pruned space no input kept), aligned with `spaces`. */
  readonly members: (SelectSpaceModule | null)[];
  private readonly indexTensors: (Tensor | null)[];

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: SelectKanOptions) {
    super();
    checkSize('SelectKanLayer', 'inFeatures', inFeatures);
    checkSize('SelectKanLayer', 'outFeatures', outFeatures);
    checkSelectOptions('SelectKanLayer', inFeatures, options);
    this.spaces = [...options.spaces];
    this.temperature = options.temperature ?? 1;
    this.inputs = options.inputs?.map((list) => [...list]);
    const S = this.spaces.length;
    this.selection = this.inputs ? null : this.parameter('selection', tensor(new Float32Array(inFeatures * S), [inFeatures, S]));
    this.kept = this.inputs ? null : keep(tensor(new Float32Array(inFeatures * S).fill(1), [inFeatures, S]));
    this.bias = this.parameter('bias', tensor(new Float32Array(outFeatures), [outFeatures]));
    // With alpha = 1/S each space's share of the output variance is 1/S^2: sqrt(S) restores the sum's.
    this.members = this.spaces.map((space, s) => {
      const n = this.inputs ? this.inputs[s]!.length : inFeatures;
      if (n === 0) return null;
      const std = Math.sqrt(S) / Math.sqrt(inFeatures * spaceFeatures(space));
      return this.module(space, new SelectSpaceModule(space, n, outFeatures, rng, std, options.rationalMode ?? 'swish'));
    });
    this.indexTensors = this.spaces.map((_, s) => (this.inputs && this.inputs[s]!.length > 0 ? keep(tensor(this.inputs[s]!, [this.inputs[s]!.length])) : null));
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const own: [string, Tensor][] = this.kept ? [[`${prefix}kept`, this.kept]] : [];
    return [...own, ...this.members.flatMap((m) => (m ? m.namedBuffers(`${prefix}${m.space}.`) : []))];
  }

  /** Whether phase 2 has restricted any node's spaces. */
  async isRestricted(): Promise<boolean> {
    if (!this.kept) return true;
    return (await this.kept.data()).some((v) => v === 0);
  }

  setTemperature(temperature: number): void {
    if (!(Number.isFinite(temperature) && temperature > 0)) throw new Error(`SelectKanLayer: temperature ${temperature} must be a finite number > 0`);
    this.temperature = temperature;
  }

  /** alpha [in, S]: softmax(beta / T) over each node's kept spaces. */
  alpha(): Tensor {
    if (!this.selection) throw new Error('SelectKanLayer: a pruned layer has no selection weights (they are folded into its weights)');
    // A space not kept gets logit -1e30 ((kept - 1) 1e30): its softmax weight and gradient are exactly 0.
    // Made from the `kept` buffer on each call, so a loaded or resumed choice holds without a sync.
    return softmax(add(mul(this.selection, 1 / this.temperature), mul(sub(this.kept!, 1), 1e30)), -1);
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`SelectKanLayer: input ${formatShape(x.shape)} has ${x.shape[x.rank - 1] ?? 0} features, expected ${this.inFeatures}`);
    }
    const rows = reshape(x, [-1, this.inFeatures]);
    const count = rows.shape[0]!;
    const alpha = this.selection ? this.alpha() : null;
    let y: Tensor | null = null;
    this.members.forEach((member, s) => {
      if (!member) return;
      const n = member.inputs;
      const K = member.features;
      const xs = this.indexTensors[s] ? gather(rows, this.indexTensors[s]!, 1) : rows;
      let weight = member.weight;
      if (alpha) {
        // W[j, i, k] alpha[i, s]: the node's share of this space, on each of its edges.
        const share = reshape(slice(alpha, [0, s], [n, 1]), [1, n, 1]);
        weight = reshape(mul(reshape(weight, [this.outFeatures, n, K]), share), [this.outFeatures, n * K]);
      }
      const term = matmul(reshape(member.expand(xs), [count, n * K]), weight, { transposeB: true, ...(y === null ? { bias: this.bias } : {}) });
      y = y === null ? term : add(y, term);
    });
    return reshape(y!, [...x.shape.slice(0, -1), this.outFeatures]);
  }

  /**
   * What each (node, space) adds to the layer's outputs on a sample of its
   * inputs x [rows, in]: sum_j Var_x(alpha_is phi_ijs(x_i)) =
   * alpha_is^2 tr(W_is Cov(F_s(x_i)) W_is^T), as [in, S] (row-major). Unlike
   * alpha alone, this cannot be fooled by a space whose small weight in the
   * mixture its coefficients W make up for.
   */
  async contributions(x: Tensor): Promise<Float64Array> {
    if (!this.selection) throw new Error('SelectKanLayer: a pruned layer has chosen already');
    const rows = reshape(x, [-1, this.inFeatures]);
    const count = rows.shape[0]!;
    if (count < 2) throw new Error(`SelectKanLayer.contributions: need at least 2 sample rows, got ${count}`);
    const S = this.spaces.length;
    const alphaTensor = this.alpha();
    const alpha = await alphaTensor.dataFloat64();
    alphaTensor.dispose();
    const scores = new Float64Array(this.inFeatures * S);
    for (const [s, member] of this.members.entries()) {
      if (!member) continue;
      const K = member.features;
      const featureTensor = noGrad(() => tidy(() => member.expand(rows)));
      const features = await featureTensor.dataFloat64();
      featureTensor.dispose();
      const weight = await member.weight.dataFloat64();
      const cov = new Float64Array(K * K);
      const meanK = new Float64Array(K);
      for (let i = 0; i < this.inFeatures; i++) {
        meanK.fill(0);
        cov.fill(0);
        for (let r = 0; r < count; r++) for (let k = 0; k < K; k++) meanK[k]! += features[(r * this.inFeatures + i) * K + k]!;
        for (let k = 0; k < K; k++) meanK[k]! /= count;
        for (let r = 0; r < count; r++) {
          const at = (r * this.inFeatures + i) * K;
          for (let k = 0; k < K; k++) {
            const dk = features[at + k]! - meanK[k]!;
            for (let l = k; l < K; l++) cov[k * K + l]! += dk * (features[at + l]! - meanK[l]!);
          }
        }
        let total = 0;
        for (let j = 0; j < this.outFeatures; j++) {
          const w = (j * this.inFeatures + i) * K;
          for (let k = 0; k < K; k++) {
            total += weight[w + k]! * weight[w + k]! * cov[k * K + k]!;
            for (let l = k + 1; l < K; l++) total += 2 * weight[w + k]! * weight[w + l]! * cov[k * K + l]!;
          }
        }
        const a = alpha[i * S + s]!;
        scores[i * S + s] = Number.isFinite(total) ? (a * a * total) / (count - 1) : 0;
      }
    }
    return scores;
  }

  /**
   * Phase 2: keeps each node's best `keep` spaces (default 1), or with
   * `threshold` every space whose share reaches it (at least the best one);
   * the others get weight 0 from now on. Ranked by `scores` [in, S] when given
   * (e.g. contributions()), else by the current alpha.
   */
  async choose(options: { keep?: number; threshold?: number; scores?: ArrayLike<number> } = {}): Promise<NodeChoice[]> {
    if (!this.kept || !this.selection) throw new Error('SelectKanLayer: a pruned layer has chosen already');
    const S = this.spaces.length;
    const keepCount = options.keep ?? 1;
    if (!Number.isInteger(keepCount) || keepCount < 1) throw new Error(`SelectKanLayer.choose: keep ${keepCount} must be a positive integer`);
    if (options.threshold !== undefined && !(options.threshold > 0 && options.threshold <= 1)) {
      throw new Error(`SelectKanLayer.choose: threshold ${options.threshold} must be in (0, 1]`);
    }
    if (options.scores !== undefined && options.scores.length !== this.inFeatures * S) {
      throw new Error(`SelectKanLayer.choose: ${options.scores.length} scores, expected ${this.inFeatures} inputs x ${S} spaces`);
    }
    const alpha = this.alpha();
    const values = options.scores ?? await alpha.data();
    alpha.dispose();
    const kept = new Float32Array(this.inFeatures * S);
    for (let i = 0; i < this.inFeatures; i++) {
      const order = [...Array(S).keys()].sort((a, b) => values[i * S + b]! - values[i * S + a]! || a - b);
      let total = 0;
      for (let s = 0; s < S; s++) total += values[i * S + s]!;
      const share = (s: number) => (total > 0 ? values[i * S + s]! / total : 0);
      const chosen = options.threshold !== undefined
        ? order.filter((s, rank) => rank === 0 || share(s) >= options.threshold!)
        : order.slice(0, Math.min(keepCount, S));
      for (const s of chosen) kept[i * S + s] = 1;
    }
    this.kept.assignValues(kept);
    return this.choices();
  }

  /** Each node's spaces with weight > 0, best first, and their weights (pruned: the spaces that kept the node, weight 1 folded in). */
  async choices(): Promise<NodeChoice[]> {
    const S = this.spaces.length;
    if (!this.selection) {
      return Array.from({ length: this.inFeatures }, (_, i) => {
        const spaces = this.spaces.filter((_, s) => this.inputs![s]!.includes(i));
        return { spaces, weights: spaces.map(() => Number.NaN) };
      });
    }
    const alpha = this.alpha();
    const values = await alpha.data();
    alpha.dispose();
    return Array.from({ length: this.inFeatures }, (_, i) => {
      const order = [...Array(S).keys()].filter((s) => values[i * S + s]! > 0).sort((a, b) => values[i * S + b]! - values[i * S + a]! || a - b);
      return { spaces: order.map((s) => this.spaces[s]!), weights: order.map((s) => values[i * S + s]!) };
    });
  }

  /**
   * Phase 3: the pruned layer's kept inputs per space and its values (tensor
   * name -> values, parameters and buffers): alpha folded into each kept
   * block of W, every other block and the selection logits dropped.
   */
  async prunedState(): Promise<{ inputs: number[][]; values: Map<string, NamedValues> }> {
    if (!this.selection || !this.kept) throw new Error('SelectKanLayer: this layer is pruned already');
    const S = this.spaces.length;
    const alphaTensor = this.alpha();
    const alpha = await alphaTensor.data();
    alphaTensor.dispose();
    const kept = await this.kept.data();
    const inputs = this.spaces.map((_, s) => [...Array(this.inFeatures).keys()].filter((i) => kept[i * S + s] === 1 && alpha[i * S + s]! > 0));
    const values = new Map<string, NamedValues>();
    values.set('bias', { shape: [this.outFeatures], values: await this.bias.data() });
    for (const [s, member] of this.members.entries()) {
      const list = inputs[s]!;
      if (!member || list.length === 0) continue;
      const K = member.features;
      const n = list.length;
      const weight = await member.weight.data();
      const folded = new Float32Array(this.outFeatures * n * K);
      for (let j = 0; j < this.outFeatures; j++) {
        for (const [m, i] of list.entries()) {
          // The same float32 product the unpruned forward forms.
          const share = alpha[i * S + s]!;
          for (let k = 0; k < K; k++) folded[(j * n + m) * K + k] = Math.fround(weight[(j * this.inFeatures + i) * K + k]! * share);
        }
      }
      const name = member.space;
      values.set(`${name}.weight`, { shape: [this.outFeatures, n * K], values: folded });
      for (const [param, t] of member.namedParameters()) {
        if (param === 'weight') continue;
        const data = await t.data();
        // Per-input tensors keep the rows of the kept inputs; shared ones stay whole.
        if (t.rank === 2 && t.shape[0] === this.inFeatures && (param === 'grid_start' || param === 'grid_end')) {
          const width = t.shape[1]!;
          values.set(`${name}.${param}`, { shape: [n, width], values: gatherRows(data, list, width) });
        } else values.set(`${name}.${param}`, { shape: [...t.shape], values: data });
      }
      for (const [buffer, t] of member.namedBuffers()) {
        const width = t.shape[1]!;
        values.set(`${name}.${buffer}`, { shape: [n, width], values: gatherRows(await t.data(), list, width) });
      }
    }
    return { inputs, values };
  }

  override dispose(): void {
    super.dispose();
    this.kept?.dispose();
    for (const t of this.indexTensors) t?.dispose();
    for (const m of this.members) if (m) for (const [, b] of m.namedBuffers()) b.dispose();
  }
}

function gatherRows(values: ArrayLike<number>, rows: readonly number[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, m) => {
    for (let k = 0; k < width; k++) out[m * width + k] = values[r * width + k]!;
  });
  return out;
}
