// Reading what an S-KAN layer learned, as formulas: the function phi_ij of one
// edge (input node i -> output j) written out exactly from the layer's
// coefficients, as the sum over the node's kept spaces s of
// alpha_is sum_k W_s[j, i, k] F_sk(x) (nn/select_kan.ts), each space in its
// own notation:
//
//   rational  c (P(x) / Q(x)), the layer's shared rational (viz/activations.ts)
//   bspline   w silu(x) + sum_k c_k B_k(x) on the input's knots, and the same
//             spline as one cubic per knot interval
//   rbf       w silu(x) + sum_k c_k exp(-((x - m_k) / h)^2)
//   cheby     sum_k c_k T_k(tanh x), and as a polynomial in t = tanh x
//   relu      sum_k c_k (r relu(e_k - x) relu(x - s_k))^2 on the input's grid
//   af        sum_k c_k (silu(x - s_k) silu(e_k - x))^2 on the layer's grid
//
// The coefficients c hold alpha (a pruned layer folded it into W already;
// for an unpruned one it is multiplied in here, in float64). The layer's bias
// b_j belongs to the output, not to any edge, and is left out.
// Browser-safe (no Node imports).

import {
  SELECT_SPACE_SETTINGS, spaceFeatures, type SelectKanLayer, type SelectSpace,
} from '../nn/select_kan.js';
import { radialBasisSpec } from '../ops/kan_bases.js';
import { latexNumber, linearCombination, rationalFormula, type FormulaBody } from './activations.js';

/** One space's coefficients and parameters on the host, in float64. */
export interface SelectMemberValues {
  /** The space. */
  space: SelectSpace;
  /** The layer inputs this space's rows belong to (pruned: the inputs that kept it; else every input), ascending. */
  inputs: number[];
  /** W_s [out, n K] row-major, n = inputs.length, K = spaceFeatures(space). */
  weight: Float64Array;
  /** rational: a0..a5 of P (shared by the layer's inputs). */
  numerator?: Float64Array;
  /** rational: b0..b3 of Q. */
  denominator?: Float64Array;
  /** relu: [n, K] bump starts; af: [K], shared by every input. */
  gridStart?: Float64Array;
  /** relu: [n, K] bump ends; af: [K]. */
  gridEnd?: Float64Array;
  /** bspline: [n, M] knots per input. */
  grid?: Float64Array;
}

/** An S-KAN layer's values on the host: what {@link selectEdgeFormula} writes formulas from. */
export interface SelectLayerValues {
  /** The layer's spaces, in order. */
  spaces: SelectSpace[];
  /** Input nodes. */
  inFeatures: number;
  /** Output nodes. */
  outFeatures: number;
  /** Whether the layer is pruned (alpha folded into its weights). */
  pruned: boolean;
  /** Unpruned: alpha [in, S] = softmax(beta / T) over each node's kept spaces; pruned: null. */
  alpha: Float64Array | null;
  /** Per space (aligned with `spaces`): its values, or null where a pruned layer's space kept no input. */
  members: (SelectMemberValues | null)[];
}

/** Reads a SelectKanLayer's coefficients, grids and (unpruned) selection weights to the host. */
export async function readSelectLayer(layer: SelectKanLayer): Promise<SelectLayerValues> {
  let alpha: Float64Array | null = null;
  if (layer.selection) {
    const a = layer.alpha();
    alpha = await a.dataFloat64();
    a.dispose();
  }
  const members: (SelectMemberValues | null)[] = [];
  for (const [s, member] of layer.members.entries()) {
    if (!member) {
      members.push(null);
      continue;
    }
    const inputs = layer.inputs ? [...layer.inputs[s]!] : Array.from({ length: layer.inFeatures }, (_, i) => i);
    const values: SelectMemberValues = { space: member.space, inputs, weight: await member.weight.dataFloat64() };
    if (member.numerator) values.numerator = await member.numerator.dataFloat64();
    if (member.denominator) values.denominator = await member.denominator.dataFloat64();
    if (member.gridStart) values.gridStart = await member.gridStart.dataFloat64();
    if (member.gridEnd) values.gridEnd = await member.gridEnd.dataFloat64();
    if (member.grid) values.grid = await member.grid.dataFloat64();
    members.push(values);
  }
  return {
    spaces: [...layer.spaces], inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, pruned: !layer.selection, alpha, members,
  };
}

/** One cubic piece of a B-spline sum: sum_k c_k B_k(x) = polynomial(x) for from <= x < to. */
export interface SplinePiece {
  /** The knot interval [from, to). */
  from: number;
  /** End of the interval (excluded). */
  to: number;
  /** Coefficients of 1, x, x^2, ... (in x itself, not shifted). */
  polynomial: number[];
  /** The polynomial as text. */
  text: string;
}

/** One space's part alpha_is phi_ijs(x) of an edge function, with everything needed to evaluate it. */
export interface SelectSpaceTerm {
  /** The space. */
  space: SelectSpace;
  /** The node's selection weight alpha_is (unpruned layers; folded into `coefficients`); null for a pruned layer (already in W). */
  alpha: number | null;
  /**
   * c_k = alpha_is W_s[j, i, k], one per feature in the space's order: rational [c];
   * bspline and rbf [w (of silu x), c_0, ...]; cheby [c_0..c_4]; relu and af one per bump.
   */
  coefficients: number[];
  /** rational: a0..a5 of P(x) = a0 + a1 x + ... + a5 x^5. */
  numerator?: number[];
  /** rational: b0..b3 of Q(x) = 1 + |b0||x| + |b1||x|^2 + |b2||x|^3 + |b3||x|^4. */
  denominator?: number[];
  /** bspline: the input's knots t_0..t_{M-1}; B_k is the order-`order` B-spline on t_k..t_{k+order+1}. */
  knots?: number[];
  /** bspline: the spline order (3: cubic). */
  order?: number;
  /** bspline: sum_k c_k B_k(x) as one polynomial per knot interval (0 outside [t_0, t_{M-1})). */
  pieces?: SplinePiece[];
  /** rbf: the Gaussians' centres m_k. */
  centers?: number[];
  /** rbf: the Gaussians' width h. */
  width?: number;
  /** cheby: sum_k c_k T_k(t) as p_0 + p_1 t + ... + p_n t^n, t = tanh x. */
  polynomial?: number[];
  /** cheby: the polynomial in t = tanh(x) as text. */
  expanded?: string;
  /** relu and af: each bump's start s_k. */
  gridStart?: number[];
  /** relu and af: each bump's end e_k. */
  gridEnd?: number[];
  /** relu: r in (r relu(e_k - x) relu(x - s_k))^2. */
  scale?: number;
  /** The term as text (x the node's input). */
  text: string;
  /** The term as LaTeX. */
  latex: string;
}

/** The function phi_ij(x) of one edge: the node's terms, and their sum as text and LaTeX. */
export interface SelectEdgeFormula {
  /** Input node i. */
  input: number;
  /** Output node j. */
  output: number;
  /** One term per space the node kept (best first for unpruned layers, in the layer's order when pruned). */
  terms: SelectSpaceTerm[];
  /** phi_ij(x) as text: the terms' sum. */
  text: string;
  /** phi_ij(x) as LaTeX. */
  latex: string;
}

/** Options of selectEdgeFormula(): significant digits of the coefficients in the text (default: full precision). */
export interface SelectFormulaOptions {
  /** Significant digits of each number in text and LaTeX; default: the shortest decimal that gives it back exactly. */
  digits?: number;
}

/** The order-`order` B-splines on `knots` restricted to knot interval m, each as polynomial coefficients in x (Cox-de Boor on polynomials). */
function bsplinePolynomials(knots: ArrayLike<number>, order: number, m: number): number[][] {
  const count = knots.length - 1;
  let b: number[][] = Array.from({ length: count }, (_, j) => (j === m ? [1] : [0]));
  for (let d = 1; d <= order; d++) {
    b = b.slice(0, -1).map((_, j) => {
      const out = new Array<number>(d + 1).fill(0);
      const left = knots[j + d]! - knots[j]!;
      if (left > 0) {
        // (x - t_j) / left * b_j
        b[j]!.forEach((v, p) => {
          out[p + 1]! += v / left;
          out[p]! -= (knots[j]! * v) / left;
        });
      }
      const right = knots[j + d + 1]! - knots[j + 1]!;
      if (right > 0) {
        // (t_{j+d+1} - x) / right * b_{j+1}
        b[j + 1]!.forEach((v, p) => {
          out[p]! += (knots[j + d + 1]! * v) / right;
          out[p + 1]! -= v / right;
        });
      }
      return out;
    });
  }
  return b.map((p) => [...p, ...new Array<number>(Math.max(0, order + 1 - p.length)).fill(0)].slice(0, order + 1));
}

/**
 * sum_k c_k B_k(x) on `knots` (order `order`, c_k for k = 0..M-order-2) as one
 * polynomial in x per non-empty knot interval [t_m, t_{m+1}).
 */
export function bsplinePieces(knots: ArrayLike<number>, order: number, coefficients: ArrayLike<number>, options: SelectFormulaOptions = {}): SplinePiece[] {
  if (coefficients.length !== knots.length - order - 1) {
    throw new Error(`bsplinePieces: ${knots.length} knots of order ${order} have ${knots.length - order - 1} bases, got ${coefficients.length} coefficients`);
  }
  const format = formatter(options.digits);
  const pieces: SplinePiece[] = [];
  for (let m = 0; m + 1 < knots.length; m++) {
    if (!(knots[m + 1]! > knots[m]!)) continue;
    const bases = bsplinePolynomials(knots, order, m);
    const polynomial = new Array<number>(order + 1).fill(0);
    bases.forEach((p, k) => p.forEach((v, power) => { polynomial[power]! += coefficients[k]! * v; }));
    pieces.push({ from: knots[m]!, to: knots[m + 1]!, polynomial, text: polynomialText(polynomial, 'x', format).text });
  }
  return pieces;
}

/** p_0..p_n with sum_k c_k T_k(t) = sum_m p_m t^m (Chebyshev polynomials of the first kind). */
export function chebyshevToPolynomial(coefficients: ArrayLike<number>): number[] {
  const n = coefficients.length;
  const out = new Array<number>(Math.max(n, 1)).fill(0);
  let previous = [1];
  let current = [0, 1];
  for (let k = 0; k < n; k++) {
    const t = k === 0 ? previous : current;
    t.forEach((v, m) => { out[m]! += coefficients[k]! * v; });
    if (k >= 1) {
      const next = new Array<number>(k + 2).fill(0);
      current.forEach((v, m) => { next[m + 1]! += 2 * v; });
      previous.forEach((v, m) => { next[m]! -= v; });
      [previous, current] = [current, next];
    }
  }
  return out;
}

function formatter(digits: number | undefined): (v: number) => string {
  if (digits !== undefined && (!Number.isInteger(digits) || digits < 1 || digits > 21)) {
    throw new Error(`selectEdgeFormula: digits must be an integer in 1..21, got ${digits}`);
  }
  return (v: number) => {
    const s = digits === undefined ? String(v) : String(Number(v.toPrecision(digits)));
    return s === '-0' ? '0' : s;
  };
}


function polynomialText(coefficients: readonly number[], variable: string, format: (v: number) => string, latexVariable = variable): FormulaBody {
  return linearCombination(coefficients.map((c, p) => ({
    coefficient: c,
    body: p === 0 ? null : { text: p === 1 ? variable : `${variable}^${p}`, latex: p === 1 ? latexVariable : `${latexVariable}^{${p}}` },
  })), format);
}

/** "x - s" (or "x + |s|", or "x" for s = 0). */
function minus(variable: string, s: number, format: (v: number) => string, latex = false): string {
  const shown = format(Math.abs(s));
  const n = latex ? latexNumber(shown) : shown;
  if (Number(shown) === 0) return variable;
  return s < 0 ? `${variable} + ${n}` : `${variable} - ${n}`;
}

/** "e - x". */
function from(e: number, variable: string, format: (v: number) => string, latex = false): string {
  const shown = format(e);
  if (Number(shown) === 0) return `-${variable}`;
  return `${latex ? latexNumber(shown) : shown} - ${variable}`;
}

const SILU: FormulaBody = { text: 'silu(x)', latex: '\\operatorname{silu}(x)' };

/** One space's term of edge (i -> j) from its member's values: coefficients and notation. */
function spaceTerm(member: SelectMemberValues, outFeatures: number, input: number, output: number, alpha: number | null,
  format: (v: number) => string, digits: number | undefined): SelectSpaceTerm {
  const { space } = member;
  const K = spaceFeatures(space);
  const n = member.inputs.length;
  const m = member.inputs.indexOf(input);
  if (m < 0) throw new Error(`selectEdgeFormula: space ${space} does not hold input ${input}`);
  if (!(output >= 0 && output < outFeatures)) throw new Error(`selectEdgeFormula: output ${output} is not in [0, ${outFeatures - 1}]`);
  const coefficients = Array.from({ length: K }, (_, k) => member.weight[(output * n + m) * K + k]! * (alpha ?? 1));
  const settings = SELECT_SPACE_SETTINGS;
  const base = { space, alpha, coefficients };
  switch (space) {
    case 'rational': {
      const numerator = Array.from(member.numerator!);
      const denominator = Array.from(member.denominator!);
      const ratio = rationalFormula(numerator, denominator, digits === undefined ? {} : { digits });
      const written = linearCombination([{ coefficient: coefficients[0]!, body: { text: `(${ratio.text})`, latex: `\\left(${ratio.latex}\\right)` } }], format);
      return { ...base, numerator, denominator, ...written };
    }
    case 'bspline': {
      const { order } = settings.bspline;
      const M = member.grid!.length / n;
      const knots = Array.from(member.grid!.subarray(m * M, (m + 1) * M));
      const written = linearCombination([
        { coefficient: coefficients[0]!, body: SILU },
        ...coefficients.slice(1).map((c, k) => ({ coefficient: c, body: { text: `B${k}(x)`, latex: `B_{${k}}(x)` } })),
      ], format);
      return { ...base, knots, order, pieces: bsplinePieces(knots, order, coefficients.slice(1), { ...(digits === undefined ? {} : { digits }) }), ...written };
    }
    case 'rbf': {
      const { low, spacing, width, centers: count } = radialBasisSpec(settings.rbf);
      const centers = Array.from({ length: count }, (_, k) => low + k * spacing);
      const w = format(width);
      const written = linearCombination([
        { coefficient: coefficients[0]!, body: SILU },
        ...coefficients.slice(1).map((c, k) => ({
          coefficient: c,
          body: {
            text: `exp(-((${minus('x', centers[k]!, format)})/${w})^2)`,
            latex: `e^{-\\left(\\frac{${minus('x', centers[k]!, format, true)}}{${latexNumber(w)}}\\right)^{2}}`,
          },
        })),
      ], format);
      return { ...base, centers, width, ...written };
    }
    case 'cheby': {
      const polynomial = chebyshevToPolynomial(coefficients);
      const written = linearCombination(coefficients.map((c, k) => ({
        coefficient: c, body: k === 0 ? null : { text: `T${k}(tanh(x))`, latex: `T_{${k}}(\\tanh x)` },
      })), format);
      const expanded = polynomialText(polynomial, 'tanh(x)', format).text;
      return { ...base, polynomial, expanded, ...written };
    }
    case 'relu': {
      const { gridSize, order } = settings.relu;
      const r = (4 * gridSize ** 2) / (order + 1) ** 2;
      const gridStart = Array.from(member.gridStart!.subarray(m * K, (m + 1) * K));
      const gridEnd = Array.from(member.gridEnd!.subarray(m * K, (m + 1) * K));
      const rs = format(r);
      const written = linearCombination(coefficients.map((c, k) => ({
        coefficient: c,
        body: {
          text: `(${rs}*relu(${from(gridEnd[k]!, 'x', format)})*relu(${minus('x', gridStart[k]!, format)}))^2`,
          latex: `\\left(${latexNumber(rs)}\\,\\operatorname{relu}(${from(gridEnd[k]!, 'x', format, true)})\\,` +
            `\\operatorname{relu}(${minus('x', gridStart[k]!, format, true)})\\right)^{2}`,
        },
      })), format);
      return { ...base, gridStart, gridEnd, scale: r, ...written };
    }
    case 'af': {
      const gridStart = Array.from(member.gridStart!);
      const gridEnd = Array.from(member.gridEnd!);
      // SELECT_SPACE_SETTINGS.af: silu halves combined by quad1, (a c)^2.
      const written = linearCombination(coefficients.map((c, k) => ({
        coefficient: c,
        body: {
          text: `(silu(${minus('x', gridStart[k]!, format)})*silu(${from(gridEnd[k]!, 'x', format)}))^2`,
          latex: `\\left(\\operatorname{silu}(${minus('x', gridStart[k]!, format, true)})\\,` +
            `\\operatorname{silu}(${from(gridEnd[k]!, 'x', format, true)})\\right)^{2}`,
        },
      })), format);
      return { ...base, gridStart, gridEnd, ...written };
    }
  }
}

/**
 * The spaces input node `input` uses, best first (unpruned: alpha > 0 by
 * weight; pruned: the spaces that kept it, in the layer's order), with alpha (null when pruned).
 */
export function nodeSpaces(values: SelectLayerValues, input: number): { space: SelectSpace; alpha: number | null }[] {
  if (!(Number.isInteger(input) && input >= 0 && input < values.inFeatures)) {
    throw new Error(`selectEdgeFormula: input ${input} is not in [0, ${values.inFeatures - 1}]`);
  }
  const S = values.spaces.length;
  if (values.alpha) {
    const alpha = values.alpha;
    return [...Array(S).keys()].filter((s) => alpha[input * S + s]! > 0 && values.members[s])
      .sort((a, b) => alpha[input * S + b]! - alpha[input * S + a]! || a - b)
      .map((s) => ({ space: values.spaces[s]!, alpha: alpha[input * S + s]! }));
  }
  return values.spaces.flatMap((space, s) => (values.members[s]?.inputs.includes(input) ? [{ space, alpha: null }] : []));
}

/**
 * The function phi_ij(x) of the edge from input node `input` to output
 * `output`, written out: one term per space the node uses, with its exact
 * coefficients (alpha folded in) and the space's parameters, and the sum as
 * text and LaTeX. Text uses x, numbers, + - * / ^, parentheses, |.|, exp,
 * tanh, silu (x sigmoid(x)) and relu, and B0(x), B1(x), ... for the B-splines
 * on the listed knots (see `pieces` for them as polynomials) and T1, T2, ...
 * for Chebyshev polynomials (see `expanded`).
 */
export function selectEdgeFormula(values: SelectLayerValues, input: number, output: number, options: SelectFormulaOptions = {}): SelectEdgeFormula {
  const format = formatter(options.digits);
  const terms = nodeSpaces(values, input).map(({ space, alpha }) =>
    spaceTerm(values.members[values.spaces.indexOf(space)]!, values.outFeatures, input, output, alpha, format, options.digits));
  const text: string[] = [];
  const latex: string[] = [];
  for (const term of terms) {
    if (term.text === '0') continue;
    // "a + -b*c" reads "a - b*c": a leading minus belongs to the term's first product.
    if (text.length === 0) {
      text.push(term.text);
      latex.push(term.latex);
    } else {
      text.push(term.text.startsWith('-') ? ` - ${term.text.slice(1)}` : ` + ${term.text}`);
      latex.push(term.latex.startsWith('-') ? ` - ${term.latex.slice(1)}` : ` + ${term.latex}`);
    }
  }
  return { input, output, terms, text: text.join('') || '0', latex: latex.join('') || '0' };
}
