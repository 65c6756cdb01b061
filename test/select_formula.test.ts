// `kat formula` for S-KAN (viz/select_formula.ts): every edge's written
// function phi_ij, read back from its JSON numbers and evaluated here in
// float64 by each space's formula (and its text by a parser of its own),
// against the layer's own phi_ij: y_j(x e_i) - y_j(0) from its forward, with
// the other inputs at 0. On a pruned model that keeps several spaces, an
// unpruned one (all spaces, softmax weights), one after the choice (some
// weights exactly 0), and end to end on a checkpoint `kat train` wrote.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeCheckpoint } from '../src/models/checkpoint.js';
import type { KanMlp } from '../src/models/kan_mlp.js';
import { buildModel, modelSpec } from '../src/models/registry.js';
import { SELECT_SPACE_SETTINGS, type SelectKanLayer, type SelectSpace } from '../src/nn/select_kan.js';
import { tensor } from '../src/ops/creation.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import { pruneSelectModel } from '../src/train/select_phases.js';
import { bsplinePieces, chebyshevToPolynomial, readSelectLayer, selectEdgeFormula, type SelectEdgeFormula } from '../src/viz/select_formula.js';
import { assertBadInputs, jsonLines, kat } from './support/cli.js';
import { bsplines } from './support/harness.js';

const silu = (x: number) => x / (1 + Math.exp(-x));
const relu = (x: number) => Math.max(0, x);

const chebyshev = (k: number, x: number) => Math.cos(k * Math.acos(Math.tanh(x)));

/** A term as JSON gives it back (numbers only; nothing from the library). */
interface TermJson {
  space: SelectSpace;
  alpha: number | null;
  coefficients: number[];
  numerator?: number[];
  denominator?: number[];
  knots?: number[];
  order?: number;
  pieces?: { from: number; to: number; polynomial: number[]; text: string }[];
  centers?: number[];
  width?: number;
  polynomial?: number[];
  expanded?: string;
  gridStart?: number[];
  gridEnd?: number[];
  scale?: number;
  text: string;
  latex: string;
}

/** One space's term at x, by the space's formula, from the term's JSON numbers; the fixed settings come from here, not from the term. */
function termAt(term: TermJson, x: number): number {
  const c = term.coefficients;
  const dot = (features: number[]) => features.reduce((total, f, k) => total + c[k]! * f, 0);
  switch (term.space) {
    case 'rational': {
      const [a, b] = [term.numerator!, term.denominator!];
      let p = 0;
      for (let i = 0; i < 6; i++) p += a[i]! * x ** i;
      let q = 1;
      for (let j = 0; j < 4; j++) q += Math.abs(b[j]!) * Math.abs(x) ** (j + 1);
      assert.equal(c.length, 1);
      return (c[0]! * p) / q;
    }
    case 'bspline':
      assert.equal(term.order, 3);
      assert.equal(term.knots!.length, 12);
      return dot([silu(x), ...bsplines(term.knots!, 3, x)]);
    case 'rbf': {
      // FastKAN's grid: 8 centres on [-2, 2], width their spacing.
      const h = 4 / 7;
      return dot([silu(x), ...Array.from({ length: 8 }, (_, k) => Math.exp(-(((x - (-2 + k * h)) / h) ** 2)))]);
    }
    case 'cheby':
      return dot(Array.from({ length: 5 }, (_, k) => chebyshev(k, x)));
    case 'relu': {
      const r = (4 * 3 ** 2) / (3 + 1) ** 2;
      return dot(term.gridStart!.map((s, k) => (r * relu(term.gridEnd![k]! - x) * relu(x - s)) ** 2));
    }
    case 'af':
      return dot(term.gridStart!.map((s, k) => (silu(x - s) * silu(term.gridEnd![k]! - x)) ** 2));
  }
}

// ---------------------------------------------------------------------------
// An independent evaluator of the text: numbers, x, |...|, f(...) for exp,
// tanh, silu, relu, Tk(...) (Chebyshev), Bk(...) (the term's B-splines), ^
// (integer powers), unary minus, * / + -, parentheses.

function evaluateText(text: string, x: number, knots?: readonly number[]): number {
  const tokens = text.match(/\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|[A-Za-z]+\d*|[|()*/+\-^]/g) ?? [];
  assert.equal(tokens.join(''), text.replace(/\s+/g, ''), `unexpected characters in '${text}'`);
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const t = tokens[i++];
    if (expected !== undefined) assert.equal(t, expected, `expected '${expected}' in '${text}'`);
    return t!;
  };
  const sum = (): number => {
    let v = product();
    while (peek() === '+' || peek() === '-') v = take() === '+' ? v + product() : v - product();
    return v;
  };
  const product = (): number => {
    let v = unary();
    while (peek() === '*' || peek() === '/') v = take() === '*' ? v * unary() : v / unary();
    return v;
  };
  const unary = (): number => (peek() === '-' ? (take(), -unary()) : power());
  const power = (): number => {
    const base = primary();
    if (peek() !== '^') return base;
    take();
    const exponent = Number(take());
    assert.ok(Number.isInteger(exponent), `non-integer power in '${text}'`);
    return base ** exponent;
  };
  const call = (name: string, u: number): number => {
    const functions: Record<string, (u: number) => number> = { exp: Math.exp, tanh: Math.tanh, silu, relu };
    if (functions[name]) return functions[name](u);
    const cheby = /^T(\d+)$/.exec(name);
    if (cheby) return Math.cos(Number(cheby[1]) * Math.acos(u));
    const spline = /^B(\d+)$/.exec(name);
    if (spline) {
      assert.ok(knots, `B-splines in '${text}' without knots`);
      return bsplines(knots, 3, u)[Number(spline[1])]!;
    }
    throw new Error(`unknown function '${name}' in '${text}'`);
  };
  const primary = (): number => {
    const t = take();
    if (t === '(') {
      const v = sum();
      take(')');
      return v;
    }
    if (t === '|') {
      const v = sum();
      take('|');
      return Math.abs(v);
    }
    if (t === 'x') return x;
    if (/^[A-Za-z]/.test(t)) {
      take('(');
      const v = sum();
      take(')');
      return call(t, v);
    }
    const n = Number(t);
    assert.ok(Number.isFinite(n), `bad number '${t}' in '${text}'`);
    return n;
  };
  const value = sum();
  assert.equal(i, tokens.length, `trailing tokens in '${text}'`);
  return value;
}

// ---------------------------------------------------------------------------

/** x values exactly representable in float32, beyond every grid ([-2.5, 2.5] in steps of 1/32). */
const GRID = Array.from({ length: 161 }, (_, k) => -2.5 + k / 32);

/** The layer's own phi_ij(x) - phi_ij(0) for every grid x and output j ([points][out]), and the scale of its outputs. */
async function layerCurves(layer: SelectKanLayer, input: number): Promise<{ phi: (p: number, j: number) => number; scale: number }> {
  const n = layer.inFeatures;
  const rows = new Float32Array((GRID.length + 1) * n);
  GRID.forEach((x, p) => { rows[(p + 1) * n + input] = x; });
  const y = noGrad(() => layer.forward(tensor(rows, [GRID.length + 1, n])));
  const values = await y.data();
  y.dispose();
  const out = layer.outFeatures;
  let scale = 0;
  for (const v of values) scale = Math.max(scale, Math.abs(v));
  return { phi: (p, j) => values[(p + 1) * out + j]! - values[j]!, scale };
}

/** Every edge of every layer: the written formula (via JSON), evaluated here, against the layer; returns the spaces seen per layer. */
async function checkEveryEdge(model: KanMlp, what: string): Promise<Set<SelectSpace>[]> {
  const seen: Set<SelectSpace>[] = [];
  for (const [l, module] of model.layers.entries()) {
    const layer = module as SelectKanLayer;
    const values = await readSelectLayer(layer);
    const spaces = new Set<SelectSpace>();
    for (let i = 0; i < layer.inFeatures; i++) {
      const { phi, scale } = await layerCurves(layer, i);
      for (let j = 0; j < layer.outFeatures; j++) {
        const formula = JSON.parse(JSON.stringify(selectEdgeFormula(values, i, j))) as SelectEdgeFormula & { terms: TermJson[] };
        assert.ok(formula.terms.length >= 1);
        const knots = formula.terms.find((t) => t.space === 'bspline')?.knots;
        const byHand = (x: number) => formula.terms.reduce((total, term) => total + termAt(term, x), 0);
        const zero = byHand(0);
        const textZero = evaluateText(formula.text, 0, knots);
        for (const [p, x] of GRID.entries()) {
          const layerValue = phi(p, j);
          const hand = byHand(x) - zero;
          assert.ok(Math.abs(hand - layerValue) <= 2e-6 * scale,
            `${what} layer ${l} edge ${i}->${j} (${formula.terms.map((t) => t.space).join('+')}) x=${x}: formula ${hand}, layer ${layerValue} (scale ${scale})`);
          const text = evaluateText(formula.text, x, knots) - textZero;
          assert.ok(Math.abs(text - hand) <= 1e-12 * Math.max(1, scale), `${what} layer ${l} edge ${i}->${j} x=${x}: text ${text}, numbers ${hand}`);
        }
        for (const term of formula.terms) {
          spaces.add(term.space);
          if (term.alpha !== null) assert.ok(term.alpha > 0 && term.alpha <= 1);
          for (const x of GRID) {
            const single = termAt(term, x);
            assert.ok(Math.abs(evaluateText(term.text, x, term.knots) - single) <= 1e-12 * Math.max(1, Math.abs(single)), `${term.space} text at ${x}`);
            if (term.space === 'cheby') {
              const t = Math.tanh(x);
              const fromPolynomial = term.polynomial!.reduce((total, p, m) => total + p * t ** m, 0);
              assert.ok(Math.abs(fromPolynomial - single) <= 1e-12 * Math.max(1, Math.abs(single)), `cheby polynomial at ${x}`);
              assert.ok(Math.abs(evaluateText(term.expanded!.replaceAll('tanh(x)', `(${t})`), x) - single) <= 1e-12 * Math.max(1, Math.abs(single)));
            }
            if (term.space === 'bspline') {
              const splineOnly = single - term.coefficients[0]! * silu(x);
              const piece = term.pieces!.find((q) => q.from <= x && x < q.to);
              const fromPiece = piece ? piece.polynomial.reduce((total, p, m) => total + p * x ** m, 0) : 0;
              assert.ok(Math.abs(fromPiece - splineOnly) <= 1e-11 * Math.max(1, Math.abs(splineOnly)), `bspline piece at ${x}: ${fromPiece} vs ${splineOnly}`);
              if (piece) assert.ok(Math.abs(evaluateText(piece.text, x) - fromPiece) <= 1e-12 * Math.max(1, Math.abs(fromPiece)));
            }
            if (term.space === 'rbf') {
              assert.equal(term.width, 4 / 7);
              term.centers!.forEach((m, k) => assert.ok(Math.abs(m - (-2 + (4 * k) / 7)) < 1e-15));
            }
          }
        }
      }
    }
    seen.push(spaces);
  }
  return seen;
}

const ALL: SelectSpace[] = ['rational', 'bspline', 'rbf', 'cheby', 'relu', 'af'];

/** A 16 -> 5 -> 3 S-KAN with every parameter and knot moved off its initial value (so no term is trivially zero or shared). */
async function perturbedModel(seed: number) {
  const spec = modelSpec('kan-mlp', { basis: 'select', select: { spaces: ALL, temperature: 0.7 }, hidden: [5], channels: 1, imageSize: 4, classes: 3 });
  const model = buildModel(spec, seed) as KanMlp;
  const rng = new Random(seed + 1);
  for (const [name, t] of model.namedParameters()) {
    const current = await t.data();
    const noise = Float64Array.from({ length: t.size }, () => rng.normal());
    t.assignValues(name.includes('grid_') ? current.map((v, k) => v + 0.1 * noise[k]!) :
      name.includes('rational.') ? current.map((v, k) => v + 0.2 * noise[k]!) :
        name.endsWith('selection') ? noise.map((v) => 1.5 * v) : noise.map((v) => 0.5 * v));
  }
  for (const [, grid] of model.namedBuffers()) {
    if (grid.rank !== 2 || grid.shape[1] !== 12) continue;
    // Non-uniform knots, different per input (spacing 0.4, moved by at most 0.06: still increasing).
    const knots = await grid.data();
    grid.assignValues(knots.map((v, k) => v + 0.06 * Math.sin(1.3 * k + 0.4)));
  }
  return { spec, model };
}

describe('S-KAN edge formulas against the layers', () => {
  it('unpruned: every node uses all six spaces, alpha folded in; the formula is the layer\'s phi_ij to float32 rounding', async () => {
    const { model } = await perturbedModel(3);
    const seen = await checkEveryEdge(model, 'unpruned');
    for (const spaces of seen) assert.equal(spaces.size, 6);
    const values = await readSelectLayer(model.layers[0] as SelectKanLayer);
    const formula = selectEdgeFormula(values, 2, 1);
    assert.deepEqual(formula.terms.map((t) => t.space).sort(), [...ALL].sort());
    // Best first, and the weights of a softmax.
    const alphas = formula.terms.map((t) => t.alpha!);
    assert.ok(alphas.every((a, k) => k === 0 || a <= alphas[k - 1]!));
    assert.ok(Math.abs(alphas.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    model.dispose();
  });

  it('after the choice (phase 2, unpruned): only the kept spaces appear, with their renormalised weights', async () => {
    const { model } = await perturbedModel(4);
    await model.chooseSpaces({ keep: 2 });
    await checkEveryEdge(model, 'chosen');
    const values = await readSelectLayer(model.layers[1] as SelectKanLayer);
    for (let i = 0; i < 5; i++) {
      const terms = selectEdgeFormula(values, i, 0).terms;
      assert.equal(terms.length, 2);
      assert.ok(Math.abs(terms[0]!.alpha! + terms[1]!.alpha! - 1) < 1e-6);
    }
    model.dispose();
  });

  it('pruned (keep 2): each node shows the spaces that kept it, and the formula is still the layer\'s phi_ij', async () => {
    const { spec, model } = await perturbedModel(5);
    await model.chooseSpaces({ keep: 2 });
    const pruned = await pruneSelectModel(model, spec);
    const seen = await checkEveryEdge(pruned.model as KanMlp, 'pruned');
    assert.ok(seen[0]!.size >= 3, `layer 0 keeps ${[...seen[0]!].join(', ')}`);
    const layer = (pruned.model as KanMlp).layers[0] as SelectKanLayer;
    const values = await readSelectLayer(layer);
    const choices = await layer.choices();
    for (let i = 0; i < 16; i++) {
      const formula = selectEdgeFormula(values, i, 0);
      assert.deepEqual(formula.terms.map((t) => t.space), choices[i]!.spaces);
      assert.ok(formula.terms.every((t) => t.alpha === null));
    }
    assert.throws(() => selectEdgeFormula(values, 16, 0), /input 16 is not in \[0, 15\]/);
    assert.throws(() => selectEdgeFormula(values, 0, 5), /output 5 is not in \[0, 4\]/);
    pruned.model.dispose();
    model.dispose();
  });

  it('digits: rounded text stays close; zero coefficients are left out', async () => {
    const { model } = await perturbedModel(6);
    const values = await readSelectLayer(model.layers[0] as SelectKanLayer);
    const exact = selectEdgeFormula(values, 1, 2);
    const rounded = selectEdgeFormula(values, 1, 2, { digits: 3 });
    assert.ok(rounded.text.length < exact.text.length);
    const knots = exact.terms.find((t) => t.space === 'bspline')!.knots;
    const roundedKnots = rounded.terms.find((t) => t.space === 'bspline')!.knots;
    assert.deepEqual(roundedKnots, knots, 'the numbers themselves stay exact');
    let scale = 0;
    for (const x of GRID) scale = Math.max(scale, Math.abs(evaluateText(exact.text, x, knots)));
    for (const x of GRID) assert.ok(Math.abs(evaluateText(rounded.text, x, knots) - evaluateText(exact.text, x, knots)) <= 3e-2 * scale, `x=${x}`);
    assert.throws(() => selectEdgeFormula(values, 1, 2, { digits: 0 }), /digits must be an integer in 1\.\.21/);
    model.dispose();
  });

  it('helpers: Chebyshev to powers of t, and B-spline pieces of a known spline', () => {
    // T_2 = 2t^2 - 1, T_3 = 4t^3 - 3t, T_4 = 8t^4 - 8t^2 + 1.
    assert.deepEqual(chebyshevToPolynomial([0, 0, 0, 0, 1]), [1, 0, -8, 0, 8]);
    assert.deepEqual(chebyshevToPolynomial([1, 2, 3]), [1 - 3, 2, 6]);
    // The B-splines on uniform knots sum to 1 inside [t_order, t_{M-1-order}): every inner piece is the constant 1.
    const knots = Array.from({ length: 12 }, (_, k) => -2.2 + 0.4 * k);
    const pieces = bsplinePieces(knots, SELECT_SPACE_SETTINGS.bspline.order, new Array(8).fill(1));
    assert.equal(pieces.length, 11);
    for (const piece of pieces.slice(3, 8)) {
      piece.polynomial.forEach((v, m) => assert.ok(Math.abs(v - (m === 0 ? 1 : 0)) < 1e-9, `${piece.from}: ${piece.polynomial}`));
    }
    assert.throws(() => bsplinePieces(knots, 3, [1, 2]), /12 knots of order 3 have 8 bases, got 2 coefficients/);
  });
});

// ---------------------------------------------------------------------------

describe('kat formula on an S-KAN checkpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kat-select-formula-'));
  const checkpoint = join(dir, 'select.safetensors');

  it('writes each node\'s strongest edge exactly (JSON numbers evaluated here = the checkpoint\'s layer), with fits', async () => {
    const trained = kat('train', '--model', 'kan-mlp', '--basis', 'select:rational,bspline,rbf,cheby', '--hidden', '4', '--dataset', 'function:xy:200',
      '--epochs', '2', '--backend', 'cpu', '--out', checkpoint);
    assert.equal(trained.code, 0, trained.stderr);
    const run = kat('formula', '--checkpoint', checkpoint, '--nodes', 'all', '--top', '2', '--backend', 'cpu', '--json');
    assert.equal(run.code, 0, run.stderr);
    const entries = jsonLines(run.stdout) as Record<string, any>[];
    assert.equal(entries.length, 2 + 4, 'every node of both layers');
    const { model } = decodeCheckpoint(readFileSync(checkpoint));
    const layers = (model as KanMlp).layers as SelectKanLayer[];
    const choices = await Promise.all(layers.map((layer) => layer.choices()));
    const layerValues = await Promise.all(layers.map((layer) => readSelectLayer(layer)));
    const byLayer = new Map<string, number[]>();
    for (const entry of entries) {
      assert.equal(entry.event, 'formula');
      const l = Number(/^layers\.(\d)$/.exec(entry.layer)![1]);
      byLayer.set(entry.layer, [...(byLayer.get(entry.layer) ?? []), entry.range]);
      assert.equal(entry.pruned, true);
      assert.equal(entry.alpha, null);
      assert.deepEqual(entry.spaces, choices[l]![entry.input]!.spaces);
      const { phi, scale } = await layerCurves(layers[l]!, entry.input);
      const terms = entry.terms as TermJson[];
      const at = (x: number) => terms.reduce((total, term) => total + termAt(term, x), 0);
      let min = Infinity;
      let max = -Infinity;
      for (const [p, x] of GRID.entries()) {
        const layerValue = phi(p, entry.output);
        assert.ok(Math.abs(at(x) - at(0) - layerValue) <= 2e-6 * scale, `${entry.layer} ${entry.input}->${entry.output} x=${x}`);
        if (x >= entry.fit_range[0] && x <= entry.fit_range[1]) [min, max] = [Math.min(min, layerValue), Math.max(max, layerValue)];
      }
      // The edge shown is the node's strongest: no other output's phi varies more over the node's inputs.
      for (let j = 0; j < layers[l]!.outFeatures; j++) {
        let [lo, hi] = [Infinity, -Infinity];
        for (let k = 0; k <= 200; k++) {
          const x = entry.fit_range[0] + ((entry.fit_range[1] - entry.fit_range[0]) * k) / 200;
          const v = (JSON.parse(JSON.stringify(selectEdgeFormula(layerValues[l]!, entry.input, j).terms)) as TermJson[])
            .reduce((total, term) => total + termAt(term, x), 0);
          [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
        }
        assert.ok(hi - lo <= entry.range * (1 + 1e-4) + 1e-6, `${entry.layer} node ${entry.input}: output ${j} varies by ${hi - lo} > ${entry.range}`);
      }
      assert.ok(entry.range >= (max - min) * 0.9, 'range is the variation over the node\'s inputs');
      assert.equal(entry.closest.length, 2);
      assert.ok(entry.closest[0].r2 >= entry.closest[1].r2 && entry.closest[0].r2 <= 1 + 1e-12);
      assert.ok(entry.fit_range[0] < entry.fit_range[1]);
    }
    for (const ranges of byLayer.values()) assert.ok(ranges.every((r, k) => k === 0 || r <= ranges[k - 1]!), 'strongest nodes first');
    model.dispose();
  });

  it('text: one block per node, --nodes and --activation limit them; bad flags give one clear error', () => {
    const text = kat('formula', '--checkpoint', checkpoint, '--nodes', '1', '--digits', '4', '--backend', 'cpu');
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.match(/^layers\.\d node \d -> \d: /gm)?.length, 2);
    assert.equal(text.stdout.match(/^  closest /gm)?.length, 2);
    assert.match(text.stdout, /^layers\.0: 2 inputs -> 4 outputs, pruned; nodes per space: .*; the strongest 1 of 2 nodes:$/m);
    assert.match(text.stdout, /^ {2}LaTeX {2}: /m);
    const one = kat('formula', '--checkpoint', checkpoint, '--activation', 'layers.1', '--backend', 'cpu');
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(one.stdout.match(/^layers\.\d node/gm), ['layers.1 node', 'layers.1 node', 'layers.1 node', 'layers.1 node']);
    assertBadInputs([
      [['formula', '--checkpoint', checkpoint, '--activation', 'layers.2', '--backend', 'cpu'],
        /^kat: formula: no layer 'layers\.2' in kan-mlp \(S-KAN\): expected one of layers\.0, layers\.1$/],
      [['formula', '--checkpoint', checkpoint, '--nodes', '0', '--backend', 'cpu'], /^kat: formula: --nodes must be a positive integer in \[1, 1,000,000\] or 'all', got '0'$/],
      [['formula', '--checkpoint', checkpoint, '--nodes', 'some', '--backend', 'cpu'], /--nodes must be .* or 'all', got 'some'$/],
    ]);
    const rational = join(dir, 'rational.safetensors');
    const trained = kat('train', '--model', 'kan-mlp', '--hidden', '4', '--dataset', 'function:xy:100', '--epochs', '1', '--backend', 'cpu', '--out', rational);
    assert.equal(trained.code, 0, trained.stderr);
    assert.equal(kat('formula', '--checkpoint', rational, '--backend', 'cpu', '--json').code, 0, 'the rational path reads function data sets too');
    assertBadInputs([[['formula', '--checkpoint', rational, '--nodes', '3', '--backend', 'cpu'],
      /^kat: formula: --nodes applies to S-KAN checkpoints \(kan-mlp --basis select\); kan-mlp in '.*' is not one$/]]);
  });
});
