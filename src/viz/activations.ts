// Reading what a GR-KAN learned: every group-rational activation of a model as
// host coefficients, its curves in float64, and its exact formula P(x)/Q(x).
// Pure library code (no Node imports): the browser page uses it too.

import { GroupRational } from '../nn/kan.js';
import type { Module } from '../nn/module.js';
import { evaluateRational, rationalCoefficients } from '../nn/rational_init.js';

const NUMERATOR = 6;
const DENOMINATOR = 4;

/** One GroupRational of a model, with its coefficients read back to the host. */
export interface RationalActivation {
  /** Module path, e.g. 'blocks.0.mlp.act2' or 'layers.1.act'. */
  name: string;
  channels: number;
  groups: number;
  /** a0..a5 per numerator row: [rows * 6], rows = 1 (shared by all groups) or G. */
  numerator: Float64Array;
  /** b0..b3 per group: [G * 4]. */
  denominator: Float64Array;
  /** The initial shape it started from (identity, swish, ...). */
  mode: string;
  /** The module itself (to run it on data). */
  module: GroupRational;
}

/** Every GroupRational reachable from `model`, in parameter order. */
export function groupRationalModules(model: Module): { name: string; module: GroupRational }[] {
  const found = new Set<GroupRational>();
  const seen = new Set<unknown>();
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof GroupRational) found.add(value);
    if (value instanceof Map) for (const v of value.values()) walk(v);
    else if (Array.isArray(value)) for (const v of value) walk(v);
    else if (isModuleLike(value)) for (const v of Object.values(value)) walk(v);
  };
  walk(model);
  // Names come from the model's own parameter names (the numerator tensor is unique to its module).
  const byTensor = new Map<unknown, GroupRational>();
  for (const module of found) byTensor.set(module.numerator, module);
  const out: { name: string; module: GroupRational }[] = [];
  for (const [name, tensor] of model.namedParameters()) {
    const module = byTensor.get(tensor);
    if (module) out.push({ name: name.replace(/\.?weight_numerator$/, ''), module });
  }
  return out;
}

function isModuleLike(value: object): boolean {
  return typeof (value as { namedParameters?: unknown }).namedParameters === 'function';
}

/** Every GroupRational of `model` with its coefficients (read with the async tensor API). */
export async function rationalActivations(model: Module): Promise<RationalActivation[]> {
  const out: RationalActivation[] = [];
  for (const { name, module } of groupRationalModules(model)) {
    out.push({
      name,
      channels: module.channels,
      groups: module.groups,
      numerator: await module.numerator.dataFloat64(),
      denominator: await module.denominator.dataFloat64(),
      mode: module.mode,
      module,
    });
  }
  return out;
}

/** The a0..a5 and b0..b3 of one group (the shared numerator row when there is one). */
export function groupCoefficients(act: Pick<RationalActivation, 'numerator' | 'denominator' | 'groups' | 'name'>, group: number):
  { numerator: Float64Array; denominator: Float64Array } {
  if (!Number.isInteger(group) || group < 0 || group >= act.groups) {
    throw new Error(`activation '${act.name}': group ${group} does not exist (it has groups 0..${act.groups - 1})`);
  }
  const rows = act.numerator.length / NUMERATOR;
  const row = rows === 1 ? 0 : group;
  return {
    numerator: act.numerator.subarray(row * NUMERATOR, (row + 1) * NUMERATOR),
    denominator: act.denominator.subarray(group * DENOMINATOR, (group + 1) * DENOMINATOR),
  };
}

/**
 * F(x) = P(x) / Q(x) at every x, in float64, under the kernel formula
 * P = a0 + a1 x + ... + a5 x^5, Q = 1 + |b0||x| + |b1||x|^2 + |b2||x|^3 + |b3||x|^4.
 */
export function evaluateRationalAt(numerator: ArrayLike<number>, denominator: ArrayLike<number>, xs: ArrayLike<number>): Float64Array {
  const ys = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) ys[i] = evaluateRational(numerator, denominator, xs[i]!);
  return ys;
}

/** Options of sampleActivation(): range and points. */
export interface SampleOptions {
  xMin?: number;
  xMax?: number;
  points?: number;
}

/** One activation's curve sampled over a range, with its initial shape. */
export interface ActivationSample {
  xs: Float64Array;
  /** The learned curve. */
  learned: Float64Array;
  /** The curve of the initial coefficients of the activation's mode. */
  initial: Float64Array;
}

/** Equally spaced samples (ends included) of one group's learned and initial curves; default [-3, 3], 201 points. */
export function sampleActivation(act: RationalActivation, group: number, options: SampleOptions = {}): ActivationSample {
  const xMin = options.xMin ?? -3;
  const xMax = options.xMax ?? 3;
  const points = options.points ?? 201;
  if (!Number.isFinite(xMin) || !Number.isFinite(xMax) || !(xMin < xMax)) {
    throw new Error(`sampleActivation: need finite xMin < xMax, got [${xMin}, ${xMax}]`);
  }
  if (!Number.isInteger(points) || points < 2) throw new Error(`sampleActivation: points must be an integer >= 2, got ${points}`);
  const xs = new Float64Array(points);
  for (let i = 0; i < points; i++) xs[i] = i === points - 1 ? xMax : xMin + ((xMax - xMin) * i) / (points - 1);
  const { numerator, denominator } = groupCoefficients(act, group);
  const init = rationalCoefficients(act.mode);
  return { xs, learned: evaluateRationalAt(numerator, denominator, xs), initial: evaluateRationalAt(init.numerator, init.denominator, xs) };
}

/** Options of rationalFormula(): significant digits of the coefficients (default: full precision). */
export interface FormulaOptions {
  /** Significant digits of each coefficient; default: the shortest decimal that gives the value back exactly. */
  digits?: number;
}

/**
 * The formula of one group's activation, as plain text (parseable: numbers, x,
 * |x|, ^, *, +, -, /, parentheses) and as LaTeX. Zero terms are left out, so
 * the formula is exact at the default precision. Q's terms are written with
 * |b_j| (the kernel takes the absolute value of each coefficient).
 */
export function rationalFormula(numerator: ArrayLike<number>, denominator: ArrayLike<number>, options: FormulaOptions = {}):
  { text: string; latex: string } {
  if (numerator.length !== NUMERATOR || denominator.length !== DENOMINATOR) {
    throw new Error(`rationalFormula: need 6 numerator and 4 denominator coefficients, got ${numerator.length} and ${denominator.length}`);
  }
  const digits = options.digits;
  if (digits !== undefined && (!Number.isInteger(digits) || digits < 1 || digits > 21)) {
    throw new Error(`rationalFormula: digits must be an integer in 1..21, got ${digits}`);
  }
  for (const v of [...Array.from(numerator), ...Array.from(denominator)]) {
    if (!Number.isFinite(v)) throw new Error(`rationalFormula: coefficient ${v} is not finite`);
  }
  const format = (v: number): string => (digits === undefined ? String(v) : String(Number(v.toPrecision(digits))));
  const pTerms: Term[] = [];
  for (let i = 0; i < NUMERATOR; i++) pTerms.push({ coefficient: numerator[i]!, power: i, absolute: false });
  const qTerms: Term[] = [{ coefficient: 1, power: 0, absolute: true }];
  for (let j = 0; j < DENOMINATOR; j++) qTerms.push({ coefficient: Math.abs(denominator[j]!), power: j + 1, absolute: true });
  const p = polynomial(pTerms, format);
  const q = polynomial(qTerms, format);
  const denominatorIsOne = q.text === '1';
  return {
    text: denominatorIsOne ? p.text : `(${p.text}) / (${q.text})`,
    latex: denominatorIsOne ? p.latex : `\\frac{${p.latex}}{${q.latex}}`,
  };
}

interface Term {
  coefficient: number;
  power: number;
  /** The variable is |x| (denominator) rather than x. */
  absolute: boolean;
}

function polynomial(terms: Term[], format: (v: number) => string): { text: string; latex: string } {
  return linearCombination(terms.map((term) => {
    if (term.power === 0) return { coefficient: term.coefficient, body: null };
    const variable = term.absolute ? '|x|' : 'x';
    return {
      coefficient: term.coefficient,
      body: term.power === 1 ? { text: variable, latex: variable } : { text: `${variable}^${term.power}`, latex: `${variable}^{${term.power}}` },
    };
  }), format);
}

/** A term's body in a linear combination: its text and LaTeX. */
export interface FormulaBody {
  text: string;
  latex: string;
}

/**
 * sum_k c_k body_k as text and LaTeX (a null body is the constant 1), each
 * coefficient as `format` shows it; terms shown as 0 are left out ('0' when none is left).
 */
export function linearCombination(parts: readonly { coefficient: number; body: FormulaBody | null }[], format: (v: number) => string):
  { text: string; latex: string } {
  const text: string[] = [];
  const latex: string[] = [];
  for (const { coefficient, body } of parts) {
    const shown = format(coefficient);
    if (Number(shown) === 0) continue;
    const negative = shown.startsWith('-');
    const magnitude = negative ? shown.slice(1) : shown;
    const textBody = body === null ? magnitude : magnitude === '1' ? body.text : `${magnitude}*${body.text}`;
    const latexBody = body === null ? latexNumber(magnitude) : magnitude === '1' ? body.latex : `${latexNumber(magnitude)}\\,${body.latex}`;
    const sign = negative ? '-' : '+';
    text.push(text.length === 0 ? (negative ? `-${textBody}` : textBody) : ` ${sign} ${textBody}`);
    latex.push(latex.length === 0 ? (negative ? `-${latexBody}` : latexBody) : ` ${sign} ${latexBody}`);
  }
  return text.length === 0 ? { text: '0', latex: '0' } : { text: text.join(''), latex: latex.join('') };
}

/** A number as LaTeX: 1.5e-7 -> 1.5 \times 10^{-7} (signed too); plain decimals unchanged. */
export function latexNumber(shown: string): string {
  const match = /^(-?[0-9.]+)e([+-]?)(\d+)$/.exec(shown);
  return match ? `${match[1]} \\times 10^{${match[2] === '-' ? '-' : ''}${match[3]}}` : shown;
}
