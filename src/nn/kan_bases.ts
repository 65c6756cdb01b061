// KAN layers on three bases, with the same interface (in -> out features):
//  - RationalKanLayer: GR-KAN, fc(groupRational(x)) (KAT).
//  - BSplineKanLayer: efficient-kan, y = base_weight silu(x) + spline_weight B(x),
//    B the B-spline bases of each input on its own knot grid, with the grid
//    update from data (knots from data quantiles mixed with a uniform grid, the
//    spline refitted by least squares so the layer computes the same function
//    on that data as closely as the new knots allow).
//  - RbfKanLayer: FastKAN, y = spline_linear(rbf(layernorm(x))) + base_linear(silu(x)).
//  - ChebyKanLayer: ChebyKAN, y = W T(tanh x), T the Chebyshev polynomials T_0..T_degree.
//  - AfKanLayer: AF-KAN (arXiv 2503.06112), activation-function bases with global attention.
//  - ReluKanLayer: ReLU-KAN (arXiv 2406.02075), squared ReLU bumps on a trainable grid.
//  - MlpLayer: no KAN at all, fc(act(x)) with a fixed activation: the MLP
//    baseline KAN papers compare against, built from the same widths.

import { tensor } from '../ops/creation.js';
import { add, div, gelu, maximum, mul, relu, sigmoid, square, sub, tanh } from '../ops/elementwise.js';
import { bsplineBasis, chebyshevBasis, MAX_CHEBYSHEV_DEGREE, MAX_SPLINE_ORDER, radialBasis, radialBasisSpec, uniformKnots, type RadialBasisOptions } from '../ops/kan_bases.js';
import { reshape } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { layerNorm, softmax } from '../ops/nn.js';
import { sum } from '../ops/reduce.js';
import { noGrad } from '../tensor/autograd.js';
import type { Random } from '../tensor/random.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { constant, uniform } from './init.js';
import { GroupRational } from './kan.js';
import { LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';
import { checkSize, checkValues } from './sizes.js';

/** The KAN bases a layer (and kan-mlp) can use; 'mlp' is the plain MLP they are compared with. */
export const KAN_BASES = ['rational', 'bspline', 'rbf', 'af', 'relu', 'cheby', 'mlp'] as const;
/** The name of a KAN basis (rational, bspline, rbf, af, relu, cheby, or mlp for the plain baseline). */
export type KanBasis = (typeof KAN_BASES)[number];

/** Whether name is one of KAN_BASES. */
export function isKanBasis(name: unknown): name is KanBasis {
  return typeof name === 'string' && (KAN_BASES as readonly string[]).includes(name);
}

/** A module holding tensors that are state but not parameters (saved in checkpoints, never trained). */
export interface HasBuffers {
  namedBuffers(prefix?: string): [string, Tensor][];
}

function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}

/** x [..., in] as [rows, in], with an error naming the layer when the width is wrong. */
function rowsOf(layer: string, x: Tensor, inFeatures: number): Tensor {
  if (x.rank < 1 || x.shape[x.rank - 1] !== inFeatures) {
    throw new Error(`${layer}: input ${formatShape(x.shape)} has ${x.shape[x.rank - 1] ?? 0} features, expected ${inFeatures}`);
  }
  return reshape(x, [-1, inFeatures]);
}

/** The largest group count <= wanted that divides the width. */
export function divisorGroups(width: number, wanted: number): number {
  for (let g = Math.min(wanted, width); g > 1; g--) if (width % g === 0) return g;
  return 1;
}

/** Options of RationalKanLayer (GR-KAN). */
export interface RationalKanOptions {
  /** Initial rational: identity, swish, ... (rational_init.ts). Default swish. */
  mode?: string;
  /** Channel groups (reduced to the largest divisor of the width). Default 8. */
  groups?: number;
}

/** One GR-KAN layer: fc(act(x)), fc with variance-preserving init (std = gain / sqrt(in)). */
export class RationalKanLayer extends Module {
  readonly act: GroupRational;
  readonly fc: Linear;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: RationalKanOptions = {}) {
    super();
    checkSize('RationalKanLayer', 'inFeatures', inFeatures);
    checkSize('RationalKanLayer', 'outFeatures', outFeatures);
    this.act = this.module('act', new GroupRational(inFeatures, { groups: divisorGroups(inFeatures, options.groups ?? 8), mode: options.mode ?? 'swish' }));
    this.fc = this.module('fc', new Linear(inFeatures, outFeatures, rng, { std: this.act.initialGain() / Math.sqrt(inFeatures), untruncated: true }));
  }

  forward(x: Tensor): Tensor {
    return this.fc.forward(this.act.forward(x));
  }
}

/** Options of BSplineKanLayer (efficient-kan): grid, order and range. */
export interface BSplineKanOptions {
  /** Intervals of the initial uniform grid (efficient-kan's grid_size). Default 5. */
  gridSize?: number;
  /** Spline order (degree; efficient-kan's spline_order). Default 3. */
  order?: number;
  /** Range of the initial grid. Default [-1, 1]. */
  gridRange?: [number, number];
  /** Weight of the uniform grid in the grid update (efficient-kan's grid_eps). Default 0.02. */
  gridEps?: number;
  /** Spline coefficients start uniform in +-noiseScale / (2 gridSize). Default 0.1. */
  noiseScale?: number;
}

/**
 * efficient-kan's KANLinear: y = silu(x) base_weight^T + B(x) spline_weight^T,
 * base_weight [out, in], spline_weight [out, in, gridSize + order] over the
 * B-spline bases of each input on its row of `grid` [in, gridSize + 2 order + 1]
 * (a buffer: saved in checkpoints, changed only by updateGrid).
 */
export class BSplineKanLayer extends Module implements HasBuffers {
  readonly baseWeight: Tensor;
  readonly splineWeight: Tensor;
  /** Knots per input channel [in, gridSize + 2 order + 1]. */
  readonly grid: Tensor;
  readonly gridSize: number;
  readonly order: number;
  readonly gridEps: number;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: BSplineKanOptions = {}) {
    super();
    checkSize('BSplineKanLayer', 'inFeatures', inFeatures);
    checkSize('BSplineKanLayer', 'outFeatures', outFeatures);
    this.gridSize = options.gridSize ?? 5;
    this.order = options.order ?? 3;
    this.gridEps = options.gridEps ?? 0.02;
    const [low, high] = options.gridRange ?? [-1, 1];
    if (!Number.isInteger(this.order) || this.order < 1 || this.order > MAX_SPLINE_ORDER) {
      throw new Error(`BSplineKanLayer: spline order ${this.order} must be an integer in [1, ${MAX_SPLINE_ORDER}]`);
    }
    if (!(this.gridEps >= 0 && this.gridEps <= 1)) throw new Error(`BSplineKanLayer: gridEps ${this.gridEps} must be in [0, 1]`);
    const knots = uniformKnots(this.gridSize, this.order, low, high);
    const bases = this.gridSize + this.order;
    checkValues('BSplineKanLayer', [outFeatures, inFeatures, bases]);
    // kaiming_uniform(a = sqrt 5), PyTorch's Linear default: bound 1 / sqrt(in).
    this.baseWeight = this.parameter('base_weight', uniform(rng, [outFeatures, inFeatures], 1 / Math.sqrt(inFeatures)));
    this.splineWeight = this.parameter('spline_weight',
      uniform(rng, [outFeatures, inFeatures, bases], (options.noiseScale ?? 0.1) / (2 * this.gridSize)));
    const grid = new Float64Array(inFeatures * knots.length);
    for (let c = 0; c < inFeatures; c++) grid.set(knots, c * knots.length);
    this.grid = keep(tensor(grid, [inFeatures, knots.length]));
  }

  get bases(): number {
    return this.gridSize + this.order;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    return [[`${prefix}grid`, this.grid]];
  }

  forward(x: Tensor): Tensor {
    const rows = rowsOf('BSplineKanLayer', x, this.inFeatures);
    const base = matmul(silu(rows), this.baseWeight, { transposeB: true });
    const splines = reshape(bsplineBasis(rows, this.grid, this.order), [rows.shape[0]!, this.inFeatures * this.bases]);
    const spline = matmul(splines, reshape(this.splineWeight, [this.outFeatures, this.inFeatures * this.bases]), { transposeB: true });
    return reshape(add(base, spline), [...x.shape.slice(0, -1), this.outFeatures]);
  }

  /**
   * efficient-kan's update_grid: new knots per input channel from the sorted
   * values of x [..., in]: g_i = eps (min - margin + i h) + (1 - eps) x_(floor(i (n - 1) / G)),
   * i = 0..G, h = (max - min + 2 margin) / G, extended by `order` knots of
   * spacing h on each side; then spline_weight is refitted by least squares so
   * that each channel's spline matches its old values on x.
   */
  async updateGrid(x: Tensor, margin = 0.01): Promise<void> {
    const layer = 'BSplineKanLayer.updateGrid';
    if (!(margin >= 0 && Number.isFinite(margin))) throw new Error(`${layer}: margin ${margin} must be a finite number >= 0`);
    const rows = noGrad(() => rowsOf(layer, x, this.inFeatures));
    const releaseRows = () => { if (rows !== x) rows.dispose(); }; // reshape returns x itself when already [rows, in]
    const count = rows.shape[0]!;
    if (count < 1) {
      releaseRows();
      throw new Error(`${layer}: x ${formatShape(x.shape)} has no rows to fit the grid to`);
    }
    const values = await rows.dataFloat64();
    const { inFeatures: channels, gridSize, order, bases, outFeatures } = this;
    const knotCount = gridSize + 2 * order + 1;
    const grid = new Float64Array(channels * knotCount);
    const column = new Float64Array(count);
    for (let c = 0; c < channels; c++) {
      for (let r = 0; r < count; r++) column[r] = values[r * channels + c]!;
      if (column.some((v) => !Number.isFinite(v))) {
        releaseRows();
        throw new Error(`${layer}: input channel ${c} holds a non-finite value; the grid can only be fitted to finite data`);
      }
      column.sort();
      const step = (column[count - 1]! - column[0]! + 2 * margin) / gridSize;
      const at = c * knotCount;
      for (let i = 0; i <= gridSize; i++) {
        const adaptive = column[Math.floor((i * (count - 1)) / gridSize)]!;
        grid[at + order + i] = this.gridEps * (column[0]! - margin + i * step) + (1 - this.gridEps) * adaptive;
      }
      for (let i = 1; i <= order; i++) {
        grid[at + order - i] = grid[at + order]! - i * step;
        grid[at + order + gridSize + i] = grid[at + order + gridSize]! + i * step;
      }
    }
    const newGrid = tensor(grid, [channels, knotCount]);
    const [oldBases, newBases] = noGrad(() => [bsplineBasis(rows, this.grid, order), bsplineBasis(rows, newGrid, order)]);
    const [before, after] = [await oldBases.dataFloat64(), await newBases.dataFloat64()];
    oldBases.dispose();
    newBases.dispose();
    releaseRows();
    const weights = await this.splineWeight.dataFloat64();
    const fitted = new Float64Array(weights.length);
    const design = new Float64Array(count * bases);
    const target = new Float64Array(count * bases);
    const oldCoefficients = new Float64Array(bases * outFeatures);
    for (let c = 0; c < channels; c++) {
      // min |A_new W - A_old W_old| over W [bases, out], A [count, bases]: this channel's new and old bases on the data.
      for (let r = 0; r < count; r++) {
        const at = (r * channels + c) * bases;
        for (let j = 0; j < bases; j++) {
          design[r * bases + j] = after[at + j]!;
          target[r * bases + j] = before[at + j]!;
        }
      }
      for (let j = 0; j < bases; j++) {
        for (let o = 0; o < outFeatures; o++) oldCoefficients[j * outFeatures + o] = weights[(o * channels + c) * bases + j]!;
      }
      const solution = leastSquares(design, target, oldCoefficients, count, bases, outFeatures);
      for (let o = 0; o < outFeatures; o++) {
        for (let j = 0; j < bases; j++) fitted[(o * channels + c) * bases + j] = solution[j * outFeatures + o]!;
      }
    }
    this.grid.assign(newGrid);
    newGrid.dispose();
    this.splineWeight.assignValues(fitted);
  }

  override dispose(): void {
    super.dispose();
    this.grid.dispose();
  }
}

/**
 * Relative pivot size (times max(n, k)) below which leastSquares drops a
 * column: float32's epsilon, as torch.linalg.lstsq's default rcond
 * (efficient-kan fits in float32); tighter keeps near-dependent columns whose
 * huge coefficients blow up between the data points.
 */
const RANK_TOLERANCE = 2 ** -23;

/**
 * The least-squares solution X [k, m] of A X = B W, A and B [n, k] (row-major,
 * both overwritten), W [k, m]: Householder QR of A with column pivoting, the
 * reflections applied to B, so the product B W is never formed ([n, m] would
 * be large) and A's condition number is not squared (as normal equations
 * would). Columns whose pivot falls below eps32 max(n, k) of the first (bases the data
 * never reaches, or that the data cannot tell apart) get coefficient 0: a
 * basic least-squares solution, as LAPACK's rank-revealing solvers give.
 */
function leastSquares(a: Float64Array, b: Float64Array, w: Float64Array, n: number, k: number, m: number): Float64Array {
  const order = Array.from({ length: k }, (_, j) => j);
  const diagonal = new Float64Array(k);
  let rank = 0;
  let firstPivot = 0;
  for (let step = 0; step < Math.min(n, k); step++) {
    // Pivot: the remaining column with the largest norm below row `step`.
    let best = step;
    let bestNorm = -1;
    for (let j = step; j < k; j++) {
      let norm = 0;
      for (let r = step; r < n; r++) norm += a[r * k + j]! ** 2;
      if (norm > bestNorm) [best, bestNorm] = [j, norm];
    }
    if (best !== step) {
      for (let r = 0; r < n; r++) [a[r * k + step], a[r * k + best]] = [a[r * k + best]!, a[r * k + step]!];
      [order[step], order[best]] = [order[best]!, order[step]!];
    }
    const norm = Math.sqrt(bestNorm);
    if (step === 0) firstPivot = norm;
    if (norm <= RANK_TOLERANCE * Math.max(n, k) * firstPivot || norm === 0) break;
    // Reflection H = I - 2 v v^T / (v^T v) taking column `step` to (alpha, 0, ..., 0).
    const alpha = a[step * k + step]! > 0 ? -norm : norm;
    a[step * k + step]! -= alpha;
    let vv = 0;
    for (let r = step; r < n; r++) vv += a[r * k + step]! ** 2;
    const reflect = (matrix: Float64Array, column: number) => {
      let dot = 0;
      for (let r = step; r < n; r++) dot += a[r * k + step]! * matrix[r * k + column]!;
      const f = (2 * dot) / vv;
      for (let r = step; r < n; r++) matrix[r * k + column]! -= f * a[r * k + step]!;
    };
    for (let j = step + 1; j < k; j++) reflect(a, j);
    for (let j = 0; j < k; j++) reflect(b, j);
    diagonal[step] = alpha;
    rank = step + 1;
  }
  // R X' = (Q^T B)[0:rank] W, back-substituted; X' is X in pivoted order, 0 past the rank.
  const x = new Float64Array(k * m);
  const rhs = new Float64Array(rank * m);
  for (let i = 0; i < rank; i++) {
    for (let j = 0; j < k; j++) {
      const q = b[i * k + j]!;
      if (q !== 0) for (let o = 0; o < m; o++) rhs[i * m + o]! += q * w[j * m + o]!;
    }
  }
  for (let i = rank - 1; i >= 0; i--) {
    for (let o = 0; o < m; o++) {
      let s = rhs[i * m + o]!;
      for (let j = i + 1; j < rank; j++) s -= a[i * k + j]! * x[order[j]! * m + o]!;
      x[order[i]! * m + o] = s / diagonal[i]!;
    }
  }
  return x;
}

/** Options of RbfKanLayer (FastKAN): the radial grid, LayerNorm and base branch. */
export interface RbfKanOptions extends RadialBasisOptions {
  /** LayerNorm before the radial bases (FastKAN's use_layernorm). Default true. */
  layerNorm?: boolean;
  /** Add base_linear(silu(x)) (FastKAN's use_base_update). Default true. */
  baseUpdate?: boolean;
  /** Std of the spline_linear weights (FastKAN's spline_weight_init_scale). Default 0.1. */
  splineInitScale?: number;
}

/**
 * FastKAN's layer: spline_linear (no bias, [out, in K]) over the Gaussian
 * radial bases of layernorm(x), plus base_linear(silu(x)) ([out, in] + bias).
 */
export class RbfKanLayer extends Module {
  readonly layernorm: LayerNorm | null;
  readonly splineLinear: Linear;
  readonly baseLinear: Linear | null;
  readonly basis: { low: number; high: number; centers: number; width: number };

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: RbfKanOptions = {}) {
    super();
    checkSize('RbfKanLayer', 'inFeatures', inFeatures);
    checkSize('RbfKanLayer', 'outFeatures', outFeatures);
    const { low, high, centers, width } = radialBasisSpec(options);
    this.basis = { low, high, centers, width };
    this.layernorm = (options.layerNorm ?? true) ? this.module('layernorm', new LayerNorm(inFeatures, 1e-5)) : null;
    this.splineLinear = this.module('spline_linear',
      new Linear(inFeatures * centers, outFeatures, rng, { bias: false, std: options.splineInitScale ?? 0.1 }));
    // PyTorch's Linear default is uniform +-1 / sqrt(in): std 1 / sqrt(3 in).
    this.baseLinear = (options.baseUpdate ?? true)
      ? this.module('base_linear', new Linear(inFeatures, outFeatures, rng, { std: 1 / Math.sqrt(3 * inFeatures), untruncated: true }))
      : null;
  }

  forward(x: Tensor): Tensor {
    const rows = rowsOf('RbfKanLayer', x, this.inFeatures);
    const normed = this.layernorm ? this.layernorm.forward(rows) : rows;
    const phi = reshape(radialBasis(normed, this.basis), [rows.shape[0]!, this.inFeatures * this.basis.centers]);
    let y = this.splineLinear.forward(phi);
    if (this.baseLinear) y = add(y, this.baseLinear.forward(silu(rows)));
    return reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
  }
}

/** Options of ChebyKanLayer (ChebyKAN). */
export interface ChebyKanOptions {
  /** Highest Chebyshev degree (the layer has degree + 1 bases per input). Default 4. */
  degree?: number;
}

/**
 * ChebyKAN's layer: y_j = sum_i sum_k coeffs[j, i, k] T_k(tanh x_i), one
 * matmul of the [rows, in (degree + 1)] expansion by cheby_linear's weight
 * [out, in (degree + 1)] (ChebyKAN's cheby_coeffs [in, out, degree + 1]
 * transposed to in-major rows); no bias. Init normal(0, 1 / (in (degree + 1))) as ChebyKAN.
 */
export class ChebyKanLayer extends Module {
  readonly chebyLinear: Linear;
  readonly degree: number;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: ChebyKanOptions = {}) {
    super();
    checkSize('ChebyKanLayer', 'inFeatures', inFeatures);
    checkSize('ChebyKanLayer', 'outFeatures', outFeatures);
    this.degree = options.degree ?? 4;
    if (!Number.isInteger(this.degree) || this.degree < 0 || this.degree > MAX_CHEBYSHEV_DEGREE) {
      throw new Error(`ChebyKanLayer: degree ${this.degree} must be an integer in [0, ${MAX_CHEBYSHEV_DEGREE}]`);
    }
    const width = inFeatures * (this.degree + 1);
    this.chebyLinear = this.module('cheby_linear', new Linear(width, outFeatures, rng, { bias: false, std: 1 / width, untruncated: true }));
  }

  forward(x: Tensor): Tensor {
    const rows = rowsOf('ChebyKanLayer', x, this.inFeatures);
    const basis = reshape(chebyshevBasis(rows, this.degree), [rows.shape[0]!, this.inFeatures * (this.degree + 1)]);
    return reshape(this.chebyLinear.forward(basis), [...x.shape.slice(0, -1), this.outFeatures]);
  }
}

/** AF-KAN's activations for the two halves of a basis function. */
export const AF_ACTIVATIONS = ['silu', 'relu', 'gelu', 'tanh', 'sigmoid'] as const;
/** The activation AF-KAN builds its bases from. */
export type AfActivation = (typeof AF_ACTIVATIONS)[number];
/**
 * AF-KAN's ways to combine a = act(x - s) and c = act(e - x): quad1 (ac)^2
 * (the paper's best), sum a + c, prod ac, quad2 ac + a^2 + c^2,
 * cubic1 (a + c)(a^2 + c^2), cubic2 (ac)^3.
 */
export const AF_COMBINATIONS = ['quad1', 'sum', 'prod', 'quad2', 'cubic1', 'cubic2'] as const;
/** How AF-KAN combines its two ramps (see AF_COMBINATIONS). */
export type AfCombination = (typeof AF_COMBINATIONS)[number];

/** Options of AfKanLayer (AF-KAN): grid, activation, combination. */
export interface AfKanOptions {
  /** Grid intervals g. Default 3. */
  gridSize?: number;
  /** k: the layer has g + k basis functions. Default 3. */
  order?: number;
  activation?: AfActivation;
  combination?: AfCombination;
}

/** Upper bound on g and k, shared with the config check (the grid is tiny; this only stops absurd values). */
export const AF_MAX_GRID = 1024;

function checkGrid(layer: string, gridSize: number, order: number): void {
  if (!Number.isInteger(gridSize) || gridSize < 1 || gridSize > AF_MAX_GRID) throw new Error(`${layer}: gridSize ${gridSize} must be an integer in [1, ${AF_MAX_GRID}]`);
  if (!Number.isInteger(order) || order < 0 || order > AF_MAX_GRID) throw new Error(`${layer}: order ${order} must be an integer in [0, ${AF_MAX_GRID}]`);
}

/** ReLU-KAN's initial grid: s_i = (i - 1 - k) / g, e_i = s_i + (k + 1) / g, i = 1..g+k, repeated `copies` times. */
export function reluKanGrid(gridSize: number, order: number, copies: number): [Float64Array, Float64Array] {
  const bases = gridSize + order;
  const [starts, ends] = [new Float64Array(copies * bases), new Float64Array(copies * bases)];
  for (let c = 0; c < copies; c++) {
    for (let i = 0; i < bases; i++) {
      starts[c * bases + i] = (i - order) / gridSize;
      ends[c * bases + i] = (i - order) / gridSize + (order + 1) / gridSize;
    }
  }
  return [starts, ends];
}

function applyActivation(name: AfActivation, x: Tensor): Tensor {
  switch (name) {
    case 'silu': return silu(x);
    case 'relu': return relu(x);
    case 'gelu': return gelu(x);
    case 'tanh': return tanh(x);
    case 'sigmoid': return sigmoid(x);
  }
}

function combine(name: AfCombination, a: Tensor, c: Tensor): Tensor {
  switch (name) {
    case 'quad1': return square(mul(a, c));
    case 'sum': return add(a, c);
    case 'prod': return mul(a, c);
    case 'quad2': return add(mul(a, c), add(square(a), square(c)));
    case 'cubic1': return mul(add(a, c), add(square(a), square(c)));
    case 'cubic2': { const ac = mul(a, c); return mul(square(ac), ac); }
  }
}

/**
 * AF-KAN's layer (the authors' best configuration by default): bases
 * B_ji = combine(act(x_j - s_i), act(e_i - x_j)) on one trainable grid s, e
 * [g + k] shared by all inputs; attention l_j = w . B_j + b0, alpha =
 * softmax_j(l_j / max(tau, 1)), z_j = alpha_j sum_i B_ji; y = W silu(LayerNorm(z)).
 */
export class AfKanLayer extends Module {
  readonly gridStart: Tensor;
  readonly gridEnd: Tensor;
  readonly attention: Linear;
  /** The softmax temperature tau (used as max(tau, 1)). */
  readonly temperature: Tensor;
  readonly layernorm: LayerNorm;
  readonly weight: Tensor;
  readonly gridSize: number;
  readonly order: number;
  readonly activation: AfActivation;
  readonly combination: AfCombination;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: AfKanOptions = {}) {
    super();
    checkSize('AfKanLayer', 'inFeatures', inFeatures);
    checkSize('AfKanLayer', 'outFeatures', outFeatures);
    this.gridSize = options.gridSize ?? 3;
    this.order = options.order ?? 3;
    this.activation = options.activation ?? 'silu';
    this.combination = options.combination ?? 'quad1';
    checkGrid('AfKanLayer', this.gridSize, this.order);
    if (!(AF_ACTIVATIONS as readonly string[]).includes(this.activation)) {
      throw new Error(`AfKanLayer: unknown activation '${String(this.activation)}': expected one of ${AF_ACTIVATIONS.join(', ')}`);
    }
    if (!(AF_COMBINATIONS as readonly string[]).includes(this.combination)) {
      throw new Error(`AfKanLayer: unknown combination '${String(this.combination)}': expected one of ${AF_COMBINATIONS.join(', ')}`);
    }
    checkValues('AfKanLayer', [outFeatures, inFeatures]);
    const bases = this.bases;
    const [starts, ends] = reluKanGrid(this.gridSize, this.order, 1);
    this.gridStart = this.parameter('grid_start', tensor(starts, [bases]));
    this.gridEnd = this.parameter('grid_end', tensor(ends, [bases]));
    // PyTorch's Linear default, uniform +-1 / sqrt(in), matched in variance. Its bias b0
    // shifts every logit alike, so the softmax ignores it (gradient 0); kept for the paper's count.
    this.attention = this.module('attention', new Linear(bases, 1, rng, { std: 1 / Math.sqrt(3 * bases), untruncated: true }));
    this.temperature = this.parameter('temperature', constant([1], Math.sqrt(inFeatures)));
    this.layernorm = this.module('layernorm', new LayerNorm(inFeatures, 1e-5));
    // kaiming_uniform with a = sqrt 5 (PyTorch's default for weights): bound 1 / sqrt(in).
    this.weight = this.parameter('weight', uniform(rng, [outFeatures, inFeatures], 1 / Math.sqrt(inFeatures)));
  }

  get bases(): number {
    return this.gridSize + this.order;
  }

  /** The bases B [rows, in, g + k] of x [rows, in]. */
  basisOf(rows: Tensor): Tensor {
    return afKanBasis(rows, this.gridStart, this.gridEnd, this);
  }

  /** The layer's tensors, in the form afKanForward takes. */
  get tensors(): AfKanTensors {
    return {
      gridStart: this.gridStart, gridEnd: this.gridEnd, attentionWeight: this.attention.weight, attentionBias: this.attention.bias!,
      temperature: this.temperature, normWeight: this.layernorm.weight, normBias: this.layernorm.bias, weight: this.weight,
    };
  }

  forward(x: Tensor): Tensor {
    return afKanForward(rowsOf('AfKanLayer', x, this.inFeatures), this.tensors, this, x.shape.slice(0, -1));
  }
}

/** AF-KAN's tensors: grid s, e [K]; attention w [1, K], b0 [1]; tau [1]; LayerNorm gamma, beta [in]; W [out, in]. */
export interface AfKanTensors {
  gridStart: Tensor;
  gridEnd: Tensor;
  attentionWeight: Tensor;
  attentionBias: Tensor;
  temperature: Tensor;
  normWeight: Tensor;
  normBias: Tensor;
  weight: Tensor;
}

/** AF-KAN's bases B [rows, in, K] of x [rows, in] on the grid s, e [K]. */
export function afKanBasis(rows: Tensor, gridStart: Tensor, gridEnd: Tensor,
  settings: { activation: AfActivation; combination: AfCombination }): Tensor {
  const x = reshape(rows, [rows.shape[0]!, rows.shape[1]!, 1]);
  const a = applyActivation(settings.activation, sub(x, gridStart));
  const c = applyActivation(settings.activation, sub(gridEnd, x));
  return combine(settings.combination, a, c);
}

/**
 * AfKanLayer's function of x [rows, in] and its tensors (the layer's forward;
 * tests run it on tensors of their own), shaped [...batch, out] (default [rows, out]).
 */
export function afKanForward(rows: Tensor, t: AfKanTensors, settings: { activation: AfActivation; combination: AfCombination },
  batch: readonly number[] = [rows.shape[0]!]): Tensor {
  const [count, inFeatures] = [rows.shape[0]!, rows.shape[1]!];
  const basis = afKanBasis(rows, t.gridStart, t.gridEnd, settings);
  const bases = basis.shape[2]!;
  const logits = reshape(add(matmul(reshape(basis, [-1, bases]), t.attentionWeight, { transposeB: true }), t.attentionBias), [count, inFeatures]);
  const alpha = softmax(div(logits, maximum(t.temperature, 1)), -1);
  const z = mul(alpha, sum(basis, -1));
  const y = matmul(silu(layerNorm(z, t.normWeight, t.normBias, 1e-5)), t.weight, { transposeB: true });
  return reshape(y, [...batch, t.weight.shape[0]!]);
}

/** Options of ReluKanLayer (ReLU-KAN): grid size and k. */
export interface ReluKanOptions {
  /** Grid intervals g. Default 3. */
  gridSize?: number;
  /** k: g + k bases per input. Default 3. */
  order?: number;
}

/**
 * ReLU-KAN's layer as in the AF-KAN authors' comparison: x -> LayerNorm(x),
 * bases B_ji = (r relu(e_ji - x_j) relu(x_j - s_ji))^2 with r = 4 g^2 / (k + 1)^2
 * (so each bump peaks at 1) on a trainable grid per input [in, g + k], then
 * one linear map (ReLU-KAN's convolution over the [in, g + k] bases) with bias.
 */
export class ReluKanLayer extends Module {
  readonly layernorm: LayerNorm;
  readonly gridStart: Tensor;
  readonly gridEnd: Tensor;
  readonly fc: Linear;
  readonly gridSize: number;
  readonly order: number;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: ReluKanOptions = {}) {
    super();
    checkSize('ReluKanLayer', 'inFeatures', inFeatures);
    checkSize('ReluKanLayer', 'outFeatures', outFeatures);
    this.gridSize = options.gridSize ?? 3;
    this.order = options.order ?? 3;
    checkGrid('ReluKanLayer', this.gridSize, this.order);
    const bases = this.bases;
    checkValues('ReluKanLayer', [outFeatures, inFeatures, bases]);
    this.layernorm = this.module('layernorm', new LayerNorm(inFeatures, 1e-5));
    const [starts, ends] = reluKanGrid(this.gridSize, this.order, inFeatures);
    this.gridStart = this.parameter('grid_start', tensor(starts, [inFeatures, bases]));
    this.gridEnd = this.parameter('grid_end', tensor(ends, [inFeatures, bases]));
    // PyTorch's Conv2d default, uniform +-1 / sqrt(fan_in), matched in variance.
    this.fc = this.module('fc', new Linear(inFeatures * bases, outFeatures, rng, { std: 1 / Math.sqrt(3 * inFeatures * bases), untruncated: true }));
  }

  get bases(): number {
    return this.gridSize + this.order;
  }

  /** The layer's tensors, in the form reluKanForward takes. */
  get tensors(): ReluKanTensors {
    return {
      normWeight: this.layernorm.weight, normBias: this.layernorm.bias, gridStart: this.gridStart, gridEnd: this.gridEnd,
      weight: this.fc.weight, bias: this.fc.bias!,
    };
  }

  forward(x: Tensor): Tensor {
    return reluKanForward(rowsOf('ReluKanLayer', x, this.inFeatures), this.tensors, this, x.shape.slice(0, -1));
  }
}

/** ReLU-KAN's tensors: LayerNorm gamma, beta [in]; grid s, e [in, K]; fc W [out, in K], bias [out]. */
export interface ReluKanTensors {
  normWeight: Tensor;
  normBias: Tensor;
  gridStart: Tensor;
  gridEnd: Tensor;
  weight: Tensor;
  bias: Tensor;
}

/** ReluKanLayer's function of x [rows, in] and its tensors, shaped [...batch, out] (default [rows, out]). */
export function reluKanForward(rows: Tensor, t: ReluKanTensors, settings: { gridSize: number; order: number },
  batch: readonly number[] = [rows.shape[0]!]): Tensor {
  const [count, inFeatures] = [rows.shape[0]!, rows.shape[1]!];
  const normed = reshape(layerNorm(rows, t.normWeight, t.normBias, 1e-5), [count, inFeatures, 1]);
  const r = (4 * settings.gridSize ** 2) / (settings.order + 1) ** 2;
  const bump = mul(mul(relu(sub(t.gridEnd, normed)), relu(sub(normed, t.gridStart))), r);
  const y = add(matmul(reshape(square(bump), [count, inFeatures * t.gridStart.shape[1]!]), t.weight, { transposeB: true }), t.bias);
  return reshape(y, [...batch, t.weight.shape[0]!]);
}

/** The fixed activations of the MLP baseline. */
export const MLP_ACTIVATIONS = ['relu', 'gelu', 'silu'] as const;
export type MlpActivation = (typeof MLP_ACTIVATIONS)[number];

export interface MlpOptions {
  /** The activation between layers (default relu). */
  activation?: MlpActivation;
  /** Apply the activation to the input (false for a network's first layer, which sees the raw inputs). Default true. */
  activateInput?: boolean;
}

/**
 * One layer of the MLP baseline: fc(act(x)), so that stacked layers make the
 * usual Linear, act, Linear, ... (the first layer's input is not activated).
 * He-normal weights after the activation, LeCun-normal on raw inputs; zero bias.
 */
export class MlpLayer extends Module {
  readonly fc: Linear;
  readonly activation: MlpActivation;
  readonly activateInput: boolean;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Random, options: MlpOptions = {}) {
    super();
    this.activation = options.activation ?? 'relu';
    if (!(MLP_ACTIVATIONS as readonly string[]).includes(this.activation)) {
      throw new Error(`MlpLayer: unknown activation '${String(this.activation)}': expected one of ${MLP_ACTIVATIONS.join(', ')}`);
    }
    this.activateInput = options.activateInput ?? true;
    const gain = this.activateInput ? Math.SQRT2 : 1;
    this.fc = this.module('fc', new Linear(inFeatures, outFeatures, rng, { std: gain / Math.sqrt(inFeatures), untruncated: true }));
  }

  forward(x: Tensor): Tensor {
    if (!this.activateInput) return this.fc.forward(x);
    const h = this.activation === 'relu' ? relu(x) : this.activation === 'gelu' ? gelu(x) : silu(x);
    return this.fc.forward(h);
  }
}

/** A KAN layer of any basis (in -> out), for models and benchmarks. */
export type KanLayer = RationalKanLayer | BSplineKanLayer | RbfKanLayer | AfKanLayer | ReluKanLayer | ChebyKanLayer | MlpLayer;

/** Per-basis options of createKanLayer: only the entry for the chosen basis is read. */
export interface KanLayerOptions {
  rational?: RationalKanOptions;
  bspline?: BSplineKanOptions;
  rbf?: RbfKanOptions;
  af?: AfKanOptions;
  relu?: ReluKanOptions;
  cheby?: ChebyKanOptions;
  mlp?: MlpOptions;
}

/** A KAN layer of the given basis, in -> out, initialised from rng: the one entry point for every basis. */
export function createKanLayer(basis: KanBasis, inFeatures: number, outFeatures: number, rng: Random, options: KanLayerOptions = {}): KanLayer {
  switch (basis) {
    case 'rational': return new RationalKanLayer(inFeatures, outFeatures, rng, options.rational);
    case 'bspline': return new BSplineKanLayer(inFeatures, outFeatures, rng, options.bspline);
    case 'rbf': return new RbfKanLayer(inFeatures, outFeatures, rng, options.rbf);
    case 'af': return new AfKanLayer(inFeatures, outFeatures, rng, options.af);
    case 'relu': return new ReluKanLayer(inFeatures, outFeatures, rng, options.relu);
    case 'cheby': return new ChebyKanLayer(inFeatures, outFeatures, rng, options.cheby);
    case 'mlp': return new MlpLayer(inFeatures, outFeatures, rng, options.mlp);
    default: throw new Error(`unknown KAN basis '${basis as string}': expected one of ${KAN_BASES.join(', ')}`);
  }
}

/** Runs `layer` without recording gradients and frees its intermediates (grid updates walk a model this way). */
export function forwardNoGrad(layer: { forward(x: Tensor): Tensor }, x: Tensor): Tensor {
  return noGrad(() => tidy(() => layer.forward(x)));
}
