// The closest simple function to a learned activation: for each function f of
// a small library, the best y ~ a f(b x + c) + d in least squares over the
// sampled range, with R^2. (a, d) are solved exactly for every (b, c); (b, c)
// are searched on a grid, then refined by Nelder-Mead. Never throws on
// constant or degenerate curves; non-finite samples are left out.
// Browser-safe.

import { erf } from '../util/special.js';

/** A simple function f of the symbolic library. */
export interface SymbolicFunction {
  name: string;
  f: (u: number) => number;
  /** Used to prefer the simpler of two equally good fits (lower is simpler). */
  complexity: number;
  /** Which inner parameters matter: 'none' (f(x)), 'shift' (f(x + c)), 'scale' (f(b x)), 'both'. */
  inner: 'none' | 'shift' | 'scale' | 'both';
  /** f(u + period) = f(u): the fitted shift c is reported within (-period/2, period/2]. */
  period?: number;
  /** Text and LaTeX of f applied to an argument. */
  text: (arg: string) => string;
  latex: (arg: string) => string;
}

function sigmoid(u: number): number {
  if (u >= 0) return 1 / (1 + Math.exp(-u));
  const e = Math.exp(u);
  return e / (1 + e);
}

function softplus(u: number): number {
  return u > 30 ? u : Math.log1p(Math.exp(u));
}

const paren = (arg: string) => `(${arg})`;
const call = (name: string) => ({ text: (arg: string) => `${name}(${arg})`, latex: (arg: string) => `\\operatorname{${name}}\\left(${arg}\\right)` });

/** The library searched by {@link fitSymbolic}, simplest first. */
export const SYMBOLIC_LIBRARY: readonly SymbolicFunction[] = Object.freeze([
  { name: 'x', f: (u) => u, complexity: 1, inner: 'none', text: (a) => a, latex: (a) => a },
  { name: 'x^2', f: (u) => u * u, complexity: 2, inner: 'shift', text: (a) => `${paren(a)}^2`, latex: (a) => `\\left(${a}\\right)^{2}` },
  { name: '|x|', f: Math.abs, complexity: 2, inner: 'shift', text: (a) => `|${a}|`, latex: (a) => `\\left|${a}\\right|` },
  { name: 'relu', f: (u) => (u > 0 ? u : 0), complexity: 2, inner: 'both', ...call('relu') },
  { name: 'x^3', f: (u) => u * u * u, complexity: 3, inner: 'shift', text: (a) => `${paren(a)}^3`, latex: (a) => `\\left(${a}\\right)^{3}` },
  { name: 'exp', f: Math.exp, complexity: 3, inner: 'scale', ...call('exp') },
  { name: 'sin', f: Math.sin, complexity: 3, inner: 'both', period: 2 * Math.PI, ...call('sin') },
  { name: 'tanh', f: Math.tanh, complexity: 3, inner: 'both', ...call('tanh') },
  { name: 'sigmoid', f: sigmoid, complexity: 3, inner: 'both', ...call('sigmoid') },
  { name: 'gaussian', f: (u) => Math.exp(-u * u), complexity: 3, inner: 'both', text: (a) => `exp(-${paren(a)}^2)`, latex: (a) => `e^{-\\left(${a}\\right)^{2}}` },
  { name: 'softplus', f: softplus, complexity: 4, inner: 'both', ...call('softplus') },
  { name: 'swish', f: (u) => u * sigmoid(u), complexity: 4, inner: 'both', ...call('swish') },
  { name: 'gelu', f: (u) => 0.5 * u * (1 + erf(u * Math.SQRT1_2)), complexity: 4, inner: 'both', ...call('gelu') },
] satisfies SymbolicFunction[]);

/** A fitted a*f(b*x + c) + d and its R^2. */
export interface SymbolicFit {
  /** Library function name, or 'constant'. */
  name: string;
  a: number;
  b: number;
  c: number;
  d: number;
  /** Coefficient of determination over the samples (1 = exact). */
  r2: number;
  text: string;
  latex: string;
}

/** Options of fitSymbolic(): which functions of the library to try, and digits in the printed fits. */
export interface SymbolicOptions {
  /** Restrict the library to these names. */
  functions?: readonly string[];
  /** Significant digits in text / latex (default 4). */
  digits?: number;
}

interface Samples {
  xs: Float64Array;
  ys: Float64Array;
  mean: number;
  total: number;
}

/** Sum of squared residuals of the best a f(b x + c) + d for fixed (b, c), with that a and d; null if f fails. */
function innerFit(fn: SymbolicFunction, s: Samples, b: number, c: number, values: Float64Array): { a: number; d: number; residual: number } | null {
  const n = s.xs.length;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const v = fn.f(b * s.xs[i]! + c);
    if (!Number.isFinite(v)) return null;
    values[i] = v;
    mean += v;
  }
  mean /= n;
  let varF = 0;
  let cov = 0;
  for (let i = 0; i < n; i++) {
    const df = values[i]! - mean;
    varF += df * df;
    cov += df * (s.ys[i]! - s.mean);
  }
  if (!Number.isFinite(varF) || !Number.isFinite(cov)) return null;
  // A (numerically) constant f cannot explain any variation: a = 0.
  let meanSquare = 0;
  for (let i = 0; i < n; i++) meanSquare += values[i]! * values[i]!;
  const a = varF > 1e-24 * Math.max(meanSquare, 1e-300) && varF > 0 ? cov / varF : 0;
  const d = s.mean - a * mean;
  let residual = 0;
  for (let i = 0; i < n; i++) {
    const r = a * values[i]! + d - s.ys[i]!;
    residual += r * r;
  }
  return Number.isFinite(residual) && Number.isFinite(a) && Number.isFinite(d) ? { a, d, residual } : null;
}

/** Minimises f over 2 variables from `start` with steps `step` (Nelder-Mead). */
function nelderMead(f: (p: [number, number]) => number, start: [number, number], step: [number, number], iterations: number): [number, number] {
  let simplex: { p: [number, number]; v: number }[] = [
    start,
    [start[0] + step[0], start[1]],
    [start[0], start[1] + step[1]],
  ].map((p) => ({ p: p as [number, number], v: f(p as [number, number]) }));
  for (let it = 0; it < iterations; it++) {
    simplex.sort((u, v) => u.v - v.v);
    const [best, mid, worst] = simplex as [typeof simplex[0], typeof simplex[0], typeof simplex[0]];
    if (Math.abs(worst.v - best.v) <= 1e-15 * (Math.abs(best.v) + 1e-300)) break;
    const centre: [number, number] = [(best.p[0] + mid.p[0]) / 2, (best.p[1] + mid.p[1]) / 2];
    const along = (t: number): [number, number] => [centre[0] + t * (worst.p[0] - centre[0]), centre[1] + t * (worst.p[1] - centre[1])];
    const reflected = along(-1);
    const vr = f(reflected);
    if (vr < best.v) {
      const expanded = along(-2);
      const ve = f(expanded);
      simplex[2] = ve < vr ? { p: expanded, v: ve } : { p: reflected, v: vr };
    } else if (vr < mid.v) {
      simplex[2] = { p: reflected, v: vr };
    } else {
      const contracted = vr < worst.v ? along(-0.5) : along(0.5);
      const vc = f(contracted);
      if (vc < Math.min(vr, worst.v)) simplex[2] = { p: contracted, v: vc };
      else {
        simplex = simplex.map((e, i) => {
          if (i === 0) return e;
          const p: [number, number] = [(e.p[0] + best.p[0]) / 2, (e.p[1] + best.p[1]) / 2];
          return { p, v: f(p) };
        });
      }
    }
  }
  simplex.sort((u, v) => u.v - v.v);
  return simplex[0]!.p;
}

function fitOne(fn: SymbolicFunction, s: Samples): { a: number; b: number; c: number; d: number; residual: number } | null {
  const n = s.xs.length;
  const values = new Float64Array(n);
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of s.xs) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const centre = (lo + hi) / 2;
  const half = Math.max((hi - lo) / 2, 1e-6);
  const scales: number[] = [];
  if (fn.inner === 'none' || fn.inner === 'shift') scales.push(1);
  else {
    // |b| from 1/8 to 16 cycles-or-knees across the half range, both signs (exp and sigmoid are not symmetric).
    for (let k = -3; k <= 4; k += 0.5) {
      scales.push(2 ** k / half, -(2 ** k) / half);
    }
  }
  // Where the feature sits in x: b (x - s), s over the range and a half-range beyond it.
  const shifts: number[] = [];
  if (fn.inner === 'none' || fn.inner === 'scale') shifts.push(0);
  else for (let k = -16; k <= 16; k++) shifts.push(centre + (k / 16) * 2 * half);
  const found: { best: { a: number; b: number; c: number; d: number; residual: number } | null } = { best: null };
  const consider = (b: number, c: number, samples = s) => {
    const fit = innerFit(fn, samples, b, c, values);
    if (fit && (!found.best || fit.residual < found.best.residual)) found.best = { a: fit.a, b, c, d: fit.d, residual: fit.residual };
  };
  // The grid runs on at most ~50 of the samples (the shape, cheaply); the refinement on all of them.
  const stride = Math.max(1, Math.floor(n / 50));
  const keep = (_: number, i: number) => i % stride === 0 || i === n - 1;
  const coarse = { ...s, xs: s.xs.filter(keep), ys: s.ys.filter(keep) };
  coarse.mean = coarse.ys.reduce((t, v) => t + v, 0) / coarse.ys.length;
  for (const b of scales) for (const sh of shifts) consider(b, fn.inner === 'shift' ? -sh : -b * sh, coarse);
  if (!found.best) return null;
  const start = { b: found.best.b, c: found.best.c };
  found.best = null;
  consider(start.b, start.c);
  if (fn.inner !== 'none') {
    const objective = ([b, c]: [number, number]): number => {
      const pb = fn.inner === 'shift' ? 1 : b;
      const pc = fn.inner === 'scale' ? 0 : c;
      return innerFit(fn, s, pb, pc, values)?.residual ?? Infinity;
    };
    const [b, c] = nelderMead(objective, [start.b, start.c], [Math.abs(start.b) * 0.1 || 0.1, (half * Math.abs(start.b)) * 0.1 || 0.1], 300);
    consider(fn.inner === 'shift' ? 1 : b, fn.inner === 'scale' ? 0 : c);
  }
  return found.best;
}

function formatNumber(v: number, digits: number): string {
  const s = String(Number(v.toPrecision(digits)));
  return s === '-0' ? '0' : s;
}

function latexNumber(s: string): string {
  const m = /^(-?[0-9.]+)e([+-]?)(\d+)$/.exec(s);
  return m ? `${m[1]} \\times 10^{${m[2] === '-' ? '-' : ''}${m[3]}}` : s;
}

/** "b*x + c" with b = 1 and c = 0 simplified. */
function argument(b: number, c: number, digits: number, latex: boolean): string {
  const bs = formatNumber(b, digits);
  const cs = formatNumber(Math.abs(c), digits);
  const times = latex ? '\\,' : '*';
  let out = bs === '1' ? 'x' : bs === '-1' ? '-x' : `${latex ? latexNumber(bs) : bs}${times}x`;
  if (cs !== '0') out += `${c < 0 ? ' - ' : ' + '}${latex ? latexNumber(cs) : cs}`;
  return out;
}

function describe(fn: SymbolicFunction | null, a: number, b: number, c: number, d: number, digits: number): { text: string; latex: string } {
  const ds = formatNumber(Math.abs(d), digits);
  const tail = (latex: boolean) => (ds === '0' ? '' : `${d < 0 ? ' - ' : ' + '}${latex ? latexNumber(ds) : ds}`);
  const as = formatNumber(a, digits);
  if (!fn || as === '0') {
    const only = formatNumber(d, digits);
    return { text: only, latex: latexNumber(only) };
  }
  const factor = (latex: boolean) => (as === '1' ? '' : as === '-1' ? '-' : `${latex ? latexNumber(as) : as}${latex ? '\\,' : '*'}`);
  return {
    text: `${factor(false)}${fn.text(argument(b, c, digits, false))}${tail(false)}`,
    latex: `${factor(true)}${fn.latex(argument(b, c, digits, true))}${tail(true)}`,
  };
}

/**
 * Fits y ~ a f(b x + c) + d for every function of the library (and a constant)
 * and returns them best first: by R^2, the simpler one first when two are
 * within 1e-9 of each other. Non-finite samples are skipped; fewer than 3 finite
 * samples is an error.
 */
export function fitSymbolic(xs: ArrayLike<number>, ys: ArrayLike<number>, options: SymbolicOptions = {}): SymbolicFit[] {
  if (xs.length !== ys.length) throw new Error(`fitSymbolic: ${xs.length} x values but ${ys.length} y values`);
  const digits = options.digits ?? 4;
  const library = options.functions
    ? options.functions.map((name) => {
      const fn = SYMBOLIC_LIBRARY.find((f) => f.name === name);
      if (!fn) throw new Error(`fitSymbolic: unknown function '${name}': expected one of ${SYMBOLIC_LIBRARY.map((f) => f.name).join(', ')}`);
      return fn;
    })
    : SYMBOLIC_LIBRARY;
  const keptX: number[] = [];
  const keptY: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) {
      keptX.push(xs[i]!);
      keptY.push(ys[i]!);
    }
  }
  if (keptX.length < 3) throw new Error(`fitSymbolic: need at least 3 finite (x, y) samples, got ${keptX.length}`);
  const n = keptX.length;
  const mean = keptY.reduce((t, v) => t + v, 0) / n;
  const total = keptY.reduce((t, v) => t + (v - mean) ** 2, 0);
  const s: Samples = { xs: Float64Array.from(keptX), ys: Float64Array.from(keptY), mean, total };
  // A (numerically) constant curve: everything fits it exactly with a = 0.
  const scale = keptY.reduce((t, v) => Math.max(t, Math.abs(v)), 0);
  const flat = !(total > n * (1e-12 * Math.max(scale, 1e-300)) ** 2);
  const r2Of = (residual: number) => (flat ? (residual <= total + n * (1e-12 * scale) ** 2 ? 1 : 0) : 1 - residual / total);
  const results: (SymbolicFit & { complexity: number })[] = [];
  results.push({ name: 'constant', a: 0, b: 0, c: 0, d: mean, r2: r2Of(total), complexity: 0, ...describe(null, 0, 0, 0, mean, digits) });
  for (const fn of library) {
    const fit = flat ? { a: 0, b: 1, c: 0, d: mean, residual: total } : fitOne(fn, s);
    if (!fit) continue;
    if (fn.name === 'sin' && fit.a < 0) {
      // a sin(u) = -a sin(u + pi): report a positive amplitude.
      fit.a = -fit.a;
      fit.c += Math.PI;
    }
    if (fn.period) fit.c -= fn.period * Math.round(fit.c / fn.period);
    results.push({ name: fn.name, a: fit.a, b: fit.b, c: fit.c, d: fit.d, r2: r2Of(fit.residual), complexity: fn.complexity,
      ...describe(fn, fit.a, fit.b, fit.c, fit.d, digits) });
  }
  results.sort((u, v) => (Math.abs(u.r2 - v.r2) > 1e-9 ? v.r2 - u.r2 : u.complexity - v.complexity));
  return results.map(({ complexity: _complexity, ...fit }) => fit);
}

/** Evaluates a fit at x (the inverse of reading its text). */
export function evaluateSymbolic(fit: Pick<SymbolicFit, 'name' | 'a' | 'b' | 'c' | 'd'>, x: number): number {
  if (fit.name === 'constant') return fit.d;
  const fn = SYMBOLIC_LIBRARY.find((f) => f.name === fit.name);
  if (!fn) throw new Error(`evaluateSymbolic: unknown function '${fit.name}'`);
  return fit.a * fn.f(fit.b * x + fit.c) + fit.d;
}
