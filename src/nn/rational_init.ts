// Host-side float64 math for the group-rational activation of GR-KAN (KAT):
// the shipped initial coefficients, the kernel formula evaluated in float64, a
// least-squares fitter for all 10 coefficients, and the variance-preserving gain.
//
//   P(x) = a0 + a1 x + ... + a5 x^5
//   Q(x) = 1 + |b0| |x| + |b1| |x|^2 + |b2| |x|^3 + |b3| |x|^4
//   F(x) = P(x) / Q(x)

/** Number of numerator (a0..a5) and denominator (b0..b3) coefficients. */
const NUM = 6;
const DEN = 4;
const PARAMS = NUM + DEN;

/** One initialisation mode: coefficients, their stated max error over [-3, 3], and the function they approximate. */
export interface RationalInitSpec {
  /** a0..a5 */
  readonly numerator: readonly number[];
  /** b0..b3 */
  readonly denominator: readonly number[];
  /** Stated max |F(x) - target(x)| over [-3, 3] under the kernel formula. */
  readonly maxError: number;
  /** The function the rational approximates. */
  readonly target: (x: number) => number;
}

// ---------------------------------------------------------------------------
// Special functions

import { erf, erfc } from '../util/special.js';

export { erf, erfc };

const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** The standard normal CDF Phi(x). */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT_2);
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

// ---------------------------------------------------------------------------
// Shipped modes

/** The initialisation modes of KAT's table, with coefficients exactly as published. */
export const RATIONAL_INIT_MODES = Object.freeze({
  identity: Object.freeze({
    numerator: Object.freeze([0, 1, 0, 0, 0, 0]),
    denominator: Object.freeze([0, 0, 0, 0]),
    maxError: 0,
    target: (x: number) => x,
  }),
  swish: Object.freeze({
    numerator: Object.freeze([
      3.054879741161051e-07, 0.5000007853744493, 0.24999783422824703, 0.05326628273219478, 0.005803034571292244,
      0.0002751961022402342,
    ]),
    denominator: Object.freeze([-4.111554955950634e-06, 0.10652899335007572, -1.2690007399796238e-06, 0.0005502331264140556]),
    maxError: 1.2e-6,
    target: (x: number) => x * sigmoid(x),
  }),
  gelu: Object.freeze({
    numerator: Object.freeze([
      -0.0012423594497499122, 0.5080497063245629, 0.41586363182937475, 0.13022718688035761, 0.024355900098993424,
      0.00290283948155535,
    ]),
    denominator: Object.freeze([-0.06675015696494944, 0.17927646217001553, 0.03746682605496631, 1.6561610853276082e-10]),
    maxError: 4.1e-3,
    target: (x: number) => x * normalCdf(x),
  }),
  tanh: Object.freeze({
    numerator: Object.freeze([
      -1.0804622559204184e-08, 1.0003008043819048, -2.5878199375289335e-08, 0.09632129918392647, 3.4775841628196104e-09,
      0.0004255709234726337,
    ]),
    denominator: Object.freeze([-0.0013027181209176277, 0.428349017422072, 1.4524304083061898e-09, 0.010796648111337176]),
    maxError: 4.1e-5,
    target: (x: number) => Math.tanh(x),
  }),
  sigmoid: Object.freeze({
    numerator: Object.freeze([
      0.4999992534599381, 0.25002157564685185, 0.14061924500301096, 0.049420492431596394, 0.00876714851885483,
      0.0006442412789159799,
    ]),
    denominator: Object.freeze([2.1694506382753683e-09, 0.28122766100417684, 1.0123620714203357e-05, 0.017531988049946]),
    maxError: 1.9e-5,
    target: sigmoid,
  }),
  relu: Object.freeze({
    numerator: Object.freeze([
      0.029963801610813613, 0.6168978366891341, 2.37534759733888, 3.0659900472408443, 1.5246831881677423,
      0.2528070864040542,
    ]),
    denominator: Object.freeze([-1.191550121923625, 4.4080487697236626, 0.9110357113686055, 0.34884977946384615]),
    maxError: 3.0e-2,
    target: (x: number) => (x > 0 ? x : 0),
  }),
} satisfies Record<string, RationalInitSpec>);

/** Name of a shipped initialisation mode. */
export type RationalInitMode = keyof typeof RATIONAL_INIT_MODES;

/** The names of the shipped initialisation modes. */
export function rationalInitModes(): string[] {
  return Object.keys(RATIONAL_INIT_MODES);
}

/** True when `mode` names a shipped initialisation mode. */
export function isRationalInitMode(mode: string): mode is RationalInitMode {
  return Object.prototype.hasOwnProperty.call(RATIONAL_INIT_MODES, mode);
}

/** The spec of a shipped mode; throws a clear error for an unknown name. */
export function rationalCoefficients(mode: string): RationalInitSpec {
  if (typeof mode !== 'string' || !isRationalInitMode(mode)) {
    throw new Error(`unknown rational init mode '${String(mode)}': expected one of ${rationalInitModes().join(', ')}`);
  }
  return RATIONAL_INIT_MODES[mode];
}

// ---------------------------------------------------------------------------
// The kernel formula

function checkLengths(numerator: ArrayLike<number>, denominator: ArrayLike<number>): void {
  if (numerator.length !== NUM) throw new Error(`rational: numerator must have ${NUM} coefficients (a0..a5), got ${numerator.length}`);
  if (denominator.length !== DEN) {
    throw new Error(`rational: denominator must have ${DEN} coefficients (b0..b3), got ${denominator.length}`);
  }
}

function numeratorAt(a: ArrayLike<number>, x: number): number {
  let p = a[NUM - 1]!;
  for (let i = NUM - 2; i >= 0; i--) p = p * x + a[i]!;
  return p;
}

/** Q(x) - 1 divided by |x|, i.e. |b0| + |b1||x| + |b2||x|^2 + |b3||x|^3, by Horner. */
function denominatorAt(b: ArrayLike<number>, x: number): number {
  const ax = Math.abs(x);
  let q = Math.abs(b[DEN - 1]!);
  for (let j = DEN - 2; j >= 0; j--) q = q * ax + Math.abs(b[j]!);
  return 1 + q * ax;
}

/** F(x) = P(x) / Q(x) under the kernel formula, in float64, both by Horner. */
export function evaluateRational(numerator: ArrayLike<number>, denominator: ArrayLike<number>, x: number): number {
  checkLengths(numerator, denominator);
  return numeratorAt(numerator, x) / denominatorAt(denominator, x);
}

// ---------------------------------------------------------------------------
// Dense least squares (Householder QR with column scaling)

/**
 * Minimises ||A z - rhs||_2 for a row-major m x n matrix A (m >= n) by Householder QR.
 * Columns are scaled to unit norm first; a column that is (numerically) zero, or
 * a pivot that vanishes, gives a zero component rather than a NaN. Rank-deficient
 * callers should append regularisation rows. A and rhs are overwritten.
 */
function leastSquares(A: Float64Array, m: number, n: number, rhs: Float64Array): Float64Array {
  const scale = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let i = 0; i < m; i++) s = Math.max(s, Math.abs(A[i * n + k]!));
    let norm = 0;
    if (s > 0) {
      for (let i = 0; i < m; i++) {
        const v = A[i * n + k]! / s;
        norm += v * v;
      }
      norm = s * Math.sqrt(norm);
    }
    scale[k] = norm > 0 && Number.isFinite(norm) ? norm : 1;
    const inv = 1 / scale[k]!;
    for (let i = 0; i < m; i++) A[i * n + k] = A[i * n + k]! * inv;
  }
  const diag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += A[i * n + k]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) {
      diag[k] = 0;
      continue;
    }
    const alpha = A[k * n + k]! > 0 ? -norm : norm;
    // v = x - alpha e1, stored in place of column k (rows k..m-1).
    A[k * n + k] = A[k * n + k]! - alpha;
    let vnorm2 = 0;
    for (let i = k; i < m; i++) vnorm2 += A[i * n + k]! ** 2;
    diag[k] = alpha;
    if (vnorm2 === 0) continue;
    const beta = 2 / vnorm2;
    for (let j = k + 1; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += A[i * n + k]! * A[i * n + j]!;
      const f = beta * dot;
      for (let i = k; i < m; i++) A[i * n + j] = A[i * n + j]! - f * A[i * n + k]!;
    }
    let dot = 0;
    for (let i = k; i < m; i++) dot += A[i * n + k]! * rhs[i]!;
    const f = beta * dot;
    for (let i = k; i < m; i++) rhs[i] = rhs[i]! - f * A[i * n + k]!;
  }
  // Back substitution with R (diagonal in diag, upper part in A).
  const z = new Float64Array(n);
  let maxDiag = 0;
  for (let k = 0; k < n; k++) maxDiag = Math.max(maxDiag, Math.abs(diag[k]!));
  const tol = maxDiag * 1e-14;
  for (let k = n - 1; k >= 0; k--) {
    let s = rhs[k]!;
    for (let j = k + 1; j < n; j++) s -= A[k * n + j]! * z[j]!;
    const d = diag[k]!;
    z[k] = Math.abs(d) > tol && d !== 0 ? s / d : 0;
  }
  for (let k = 0; k < n; k++) {
    const v = z[k]! / scale[k]!;
    z[k] = Number.isFinite(v) ? v : 0;
  }
  return z;
}

// ---------------------------------------------------------------------------
// Fitting

/** Options of {@link fitRational}. */
export interface FitRationalOptions {
  /** Fitting interval, default [-3, 3]. */
  range?: [number, number];
  /** Number of equally spaced sample points over the range (ends included), default 1001. */
  points?: number;
  /** Levenberg-Marquardt iterations of the nonlinear refinement, default 200. */
  iterations?: number;
}

/** Result of {@link fitRational}: coefficients of the kernel formula and the errors on the sample grid. */
export interface RationalFit {
  numerator: number[];
  denominator: number[];
  /** max |F(x) - target(x)| over the sample grid. */
  maxError: number;
  /** sqrt(mean (F(x) - target(x))^2) over the sample grid. */
  rmsError: number;
}

interface Sample {
  xs: Float64Array;
  ys: Float64Array;
}

function residuals(p: Float64Array, s: Sample, out: Float64Array): number {
  let cost = 0;
  for (let i = 0; i < s.xs.length; i++) {
    const x = s.xs[i]!;
    const r = numeratorAt(p, x) / denominatorAt(p.subarray(NUM), x) - s.ys[i]!;
    out[i] = r;
    cost += r * r;
  }
  return Number.isFinite(cost) ? cost : Infinity;
}

/**
 * Solves the linearised problem min sum w_i^2 (P(x_i) - y_i Q(x_i))^2, linear in a and
 * c_j = |b_j|, with c >= 0 kept by an active set (negative c_j are pinned to 0 and the
 * problem is solved again). A tiny ridge keeps rank-deficient problems (constant
 * targets) well posed.
 */
function linearisedFit(s: Sample, weights: Float64Array): Float64Array {
  const m = s.xs.length;
  const free = new Array<boolean>(DEN).fill(true);
  const ridge = 1e-7;
  let result = new Float64Array(PARAMS);
  for (let round = 0; round <= DEN; round++) {
    const cols: number[] = [];
    for (let k = 0; k < NUM; k++) cols.push(k);
    for (let j = 0; j < DEN; j++) if (free[j]) cols.push(NUM + j);
    const n = cols.length;
    const rows = m + n;
    const A = new Float64Array(rows * n);
    const rhs = new Float64Array(rows);
    for (let i = 0; i < m; i++) {
      const x = s.xs[i]!;
      const y = s.ys[i]!;
      const w = weights[i]!;
      const ax = Math.abs(x);
      for (let c = 0; c < n; c++) {
        const k = cols[c]!;
        A[i * n + c] = k < NUM ? w * x ** k : -w * y * ax ** (k - NUM + 1);
      }
      rhs[i] = w * y;
    }
    // Ridge rows, relative to each column's norm (the solver scales columns to unit norm).
    for (let c = 0; c < n; c++) {
      let norm = 0;
      for (let i = 0; i < m; i++) norm += A[i * n + c]! ** 2;
      A[(m + c) * n + c] = ridge * (Math.sqrt(norm) || 1);
    }
    const z = leastSquares(A, rows, n, rhs);
    result = new Float64Array(PARAMS);
    for (let c = 0; c < n; c++) result[cols[c]!] = z[c]!;
    let changed = false;
    for (let j = 0; j < DEN; j++) {
      if (free[j] && result[NUM + j]! < 0) {
        free[j] = false;
        result[NUM + j] = 0;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return result;
}

/**
 * Levenberg-Marquardt on the true residual F(x_i) - y_i over all 10 coefficients
 * (b keep a free sign; Q uses |b_j|). Returns the best parameters seen.
 */
function refine(start: Float64Array, s: Sample, iterations: number): { p: Float64Array; cost: number } {
  const m = s.xs.length;
  const r = new Float64Array(m);
  let p = Float64Array.from(start);
  let cost = residuals(p, s, r);
  if (!Number.isFinite(cost)) return { p, cost };
  let lambda = 1e-3;
  const J = new Float64Array(m * PARAMS);
  const colNorm = new Float64Array(PARAMS);
  const trial = new Float64Array(PARAMS);
  const rTrial = new Float64Array(m);
  let stall = 0;
  for (let it = 0; it < iterations; it++) {
    // Jacobian.
    colNorm.fill(0);
    for (let i = 0; i < m; i++) {
      const x = s.xs[i]!;
      const ax = Math.abs(x);
      const q = denominatorAt(p.subarray(NUM), x);
      const P = numeratorAt(p, x);
      const invQ = 1 / q;
      let xp = 1;
      for (let k = 0; k < NUM; k++) {
        const v = xp * invQ;
        J[i * PARAMS + k] = v;
        colNorm[k] += v * v;
        xp *= x;
      }
      const g = -P * invQ * invQ;
      let axp = ax;
      for (let j = 0; j < DEN; j++) {
        const sign = p[NUM + j]! < 0 ? -1 : 1;
        const v = g * sign * axp;
        J[i * PARAMS + NUM + j] = v;
        colNorm[NUM + j] += v * v;
        axp *= ax;
      }
    }
    let maxNorm = 0;
    for (let k = 0; k < PARAMS; k++) {
      colNorm[k] = Math.sqrt(colNorm[k]!);
      maxNorm = Math.max(maxNorm, colNorm[k]!);
    }
    let improved = false;
    for (let attempt = 0; attempt < 12; attempt++) {
      const rows = m + PARAMS;
      const A = new Float64Array(rows * PARAMS);
      A.set(J);
      const rhs = new Float64Array(rows);
      for (let i = 0; i < m; i++) rhs[i] = -r[i]!;
      const damp = Math.sqrt(lambda);
      for (let k = 0; k < PARAMS; k++) {
        // Marquardt scaling by the column norm, floored so dead columns are still damped.
        A[(m + k) * PARAMS + k] = damp * Math.max(colNorm[k]!, 1e-8 * maxNorm, 1e-300);
      }
      const step = leastSquares(A, rows, PARAMS, rhs);
      for (let k = 0; k < PARAMS; k++) trial[k] = p[k]! + step[k]!;
      const trialCost = residuals(trial, s, rTrial);
      if (trialCost < cost) {
        const gain = (cost - trialCost) / cost;
        p = Float64Array.from(trial);
        r.set(rTrial);
        cost = trialCost;
        lambda = Math.max(lambda / 3, 1e-12);
        improved = true;
        stall = gain < 1e-12 ? stall + 1 : 0;
        break;
      }
      lambda *= 4;
      if (lambda > 1e12) break;
    }
    if (!improved || stall >= 3 || cost === 0) break;
  }
  return { p, cost };
}

function sampleTarget(target: (x: number) => number, range: [number, number], points: number): Sample {
  const [lo, hi] = range;
  const xs = new Float64Array(points);
  const ys = new Float64Array(points);
  for (let i = 0; i < points; i++) {
    const x = points === 1 ? (lo + hi) / 2 : i === points - 1 ? hi : lo + ((hi - lo) * i) / (points - 1);
    const y = target(x);
    if (!Number.isFinite(y)) throw new Error(`fitRational: target(${x}) = ${y} is not finite`);
    xs[i] = x;
    ys[i] = y;
  }
  return { xs, ys };
}

/**
 * Least-squares fit of all 10 coefficients of the kernel formula F = P/Q to `target`
 * on an equally spaced grid. Starts from the linearised problem (Sanathanan-Koerner
 * reweighted, with |b| >= 0 kept by an active set) and refines the true residual with
 * Levenberg-Marquardt, keeping the best coefficients seen. Never returns NaN.
 */
export function fitRational(target: (x: number) => number, options: FitRationalOptions = {}): RationalFit {
  const range = options.range ?? [-3, 3];
  const points = options.points ?? 1001;
  const iterations = options.iterations ?? 200;
  if (!Array.isArray(range) || range.length !== 2 || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || !(range[0] < range[1])) {
    throw new Error(`fitRational: range must be [lo, hi] with finite lo < hi, got ${JSON.stringify(range)}`);
  }
  if (!Number.isInteger(points) || points < PARAMS) throw new Error(`fitRational: points must be an integer >= ${PARAMS}, got ${points}`);
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new Error(`fitRational: iterations must be a non-negative integer, got ${iterations}`);
  }
  const s = sampleTarget(target, range, points);
  const m = points;
  const r = new Float64Array(m);

  let best = new Float64Array(PARAMS);
  let bestCost = residuals(best, s, r);
  const consider = (p: Float64Array): void => {
    const cost = residuals(p, s, r);
    if (cost < bestCost) {
      best = Float64Array.from(p);
      bestCost = cost;
    }
  };

  // Starts: linearised fit, then Sanathanan-Koerner reweighting by 1/Q of the previous one.
  const starts: Float64Array[] = [];
  const weights = new Float64Array(m).fill(1);
  for (let sk = 0; sk < 6; sk++) {
    const p = linearisedFit(s, weights);
    if (!p.every(Number.isFinite)) break;
    starts.push(p);
    consider(p);
    for (let i = 0; i < m; i++) weights[i] = 1 / denominatorAt(p.subarray(NUM), s.xs[i]!);
  }
  // Refine the two best starts by true residual, plus the plain linearised one.
  const ranked = starts
    .map((p) => ({ p, cost: residuals(p, s, r) }))
    .sort((u, v) => u.cost - v.cost)
    .slice(0, 2);
  if (starts.length > 0 && !ranked.some((e) => e.p === starts[0])) ranked.push({ p: starts[0]!, cost: 0 });
  for (const { p } of ranked) {
    const refined = refine(p, s, iterations);
    if (refined.p.every(Number.isFinite)) consider(refined.p);
  }

  let maxError = 0;
  let sum = 0;
  residuals(best, s, r);
  for (let i = 0; i < m; i++) {
    maxError = Math.max(maxError, Math.abs(r[i]!));
    sum += r[i]! * r[i]!;
  }
  return {
    numerator: Array.from(best.subarray(0, NUM), (v) => v + 0),
    denominator: Array.from(best.subarray(NUM), (v) => v + 0),
    maxError,
    rmsError: Math.sqrt(sum / m),
  };
}

// ---------------------------------------------------------------------------
// Variance-preserving gain

/**
 * E[F(x)^2] for x ~ N(0, 1) under the kernel formula. F has a kink at 0 (Q uses
 * |x|), so each half-line is integrated separately, with composite Gauss-Legendre
 * (8 points per panel, 256 panels) over [0, 16]; the tail beyond 16 is below 1e-50.
 */
export function rationalSecondMoment(numerator: ArrayLike<number>, denominator: ArrayLike<number>): number {
  checkLengths(numerator, denominator);
  const panels = 256;
  const upper = 16;
  const h = upper / panels;
  let sum = 0;
  for (let k = 0; k < panels; k++) {
    const mid = (k + 0.5) * h;
    for (let g = 0; g < GL_NODES.length; g++) {
      const t = mid + 0.5 * h * GL_NODES[g]!;
      const w = 0.5 * h * GL_WEIGHTS[g]!;
      const phi = INV_SQRT_2PI * Math.exp(-0.5 * t * t);
      const fp = numeratorAt(numerator, t) / denominatorAt(denominator, t);
      const fm = numeratorAt(numerator, -t) / denominatorAt(denominator, -t);
      sum += w * phi * (fp * fp + fm * fm);
    }
  }
  return sum;
}

/**
 * The variance-preserving gain 1 / sqrt(E[F(x)^2]), x ~ N(0, 1): a linear layer
 * after the activation initialised with std = gain / sqrt(fan_in) keeps unit
 * variance. Note: the numbers KAT quotes (swish ~2.81, gelu ~2.35) are
 * 1 / E[F(x)^2], i.e. this gain squared (a variance factor).
 */
export function rationalGain(numerator: ArrayLike<number>, denominator: ArrayLike<number>): number {
  return 1 / Math.sqrt(rationalSecondMoment(numerator, denominator));
}

// 8-point Gauss-Legendre nodes and weights on [-1, 1], computed by Newton's method on P_8.
const [GL_NODES, GL_WEIGHTS] = gaussLegendre(8);

function gaussLegendre(n: number): [Float64Array, Float64Array] {
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 1;
    for (let it = 0; it < 100; it++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes[i] = x;
    weights[i] = 2 / ((1 - x * x) * dp * dp);
  }
  return [nodes, weights];
}
