// Reading what a GR-KAN learned, as formulas: the exact P(x)/Q(x) text and
// LaTeX of every activation, parsed here by an independent evaluator and
// compared with the layer's own outputs; curves and their initial shapes; the
// symbolic fitter on known transforms of library functions and on degenerate
// input.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeCheckpoint } from '../src/models/checkpoint.js';
import { KanMlp } from '../src/models/kan_mlp.js';
import { GroupRational } from '../src/nn/kan.js';
import { Module } from '../src/nn/module.js';
import { tensor } from '../src/ops/creation.js';
import { Random } from '../src/tensor/random.js';
import { groupRationalModules, rationalActivations, rationalFormula, sampleActivation, groupCoefficients } from '../src/viz/activations.js';
import { evaluateSymbolic, fitSymbolic } from '../src/viz/symbolic.js';
import { fitRange } from '../src/cli/commands/formula.js';
import { kat } from './support/cli.js';

// ---------------------------------------------------------------------------
// An independent evaluator of the formula texts: numbers, x, |...|, f(...),
// ^ (integer powers), unary minus, * / + -, parentheses.

const FUNCTIONS: Record<string, (u: number) => number> = {
  tanh: Math.tanh,
  sin: Math.sin,
  exp: Math.exp,
  sigmoid: (u) => 1 / (1 + Math.exp(-u)),
  relu: (u) => Math.max(0, u),
  softplus: (u) => Math.log(1 + Math.exp(u)),
  swish: (u) => u / (1 + Math.exp(-u)),
};

function evaluateText(text: string, x: number): number {
  const tokens = text.match(/\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|[a-z]+|[|()*/+\-^]/g) ?? [];
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
    if (/^[a-z]+$/.test(t)) {
      const fn = FUNCTIONS[t];
      assert.ok(fn, `unknown function '${t}' in '${text}'`);
      take('(');
      const v = sum();
      take(')');
      return fn(v);
    }
    const n = Number(t);
    assert.ok(Number.isFinite(n), `bad number '${t}' in '${text}'`);
    return n;
  };
  const value = sum();
  assert.equal(i, tokens.length, `trailing tokens in '${text}'`);
  return value;
}

/** LaTeX of the formulas back to the plain syntax above (brace-matched \frac, \times 10^{}, \left / \right). */
function latexToText(latex: string): string {
  let s = latex.replace(/ \\times 10\^\{(-?\d+)\}/g, 'e$1').replace(/\\,/g, '*').replace(/\^\{(\d+)\}/g, '^$1')
    .replace(/\\operatorname\{([a-z]+)\}/g, '$1').replace(/\\left\(/g, '(').replace(/\\right\)/g, ')')
    .replace(/\\left\|/g, '|').replace(/\\right\|/g, '|');
  for (;;) {
    const at = s.indexOf('\\frac{');
    if (at < 0) break;
    const closing = (from: number) => {
      let depth = 0;
      for (let k = from; k < s.length; k++) {
        if (s[k] === '{') depth++;
        if (s[k] === '}' && --depth === 0) return k;
      }
      throw new Error(`unbalanced braces in '${latex}'`);
    };
    const numEnd = closing(at + 5);
    const denEnd = closing(numEnd + 1);
    s = `${s.slice(0, at)}(${s.slice(at + 6, numEnd)})/(${s.slice(numEnd + 2, denEnd)})${s.slice(denEnd + 1)}`;
  }
  assert.doesNotMatch(s, /[\\{}]/, `unconverted LaTeX in '${s}'`);
  return s;
}

function randomCoefficients(rng: Random, count: number, scale: number): number[] {
  return Array.from({ length: count }, () => Math.fround(rng.normal() * scale));
}

/** A model with every activation's coefficients set to seeded random values (far from their initial shapes). */
function randomisedKanMlp(seed: number): KanMlp {
  const model = new KanMlp({ inputs: 8, hidden: [12], classes: 3, groups: 4, dropout: 0 }, seed);
  const rng = new Random(seed + 1);
  for (const [name, t] of model.namedParameters()) {
    if (name.endsWith('weight_numerator')) t.assignValues(randomCoefficients(rng, t.size, 0.6));
    if (name.endsWith('weight_denominator')) t.assignValues(randomCoefficients(rng, t.size, 0.6));
  }
  return model;
}

const GRID = Array.from({ length: 61 }, (_, i) => -3 + i * 0.1);

/** The activation module's own output at every grid x, for every channel: [points][channels]. */
async function layerOutputs(module: GroupRational): Promise<Float32Array> {
  const rows = GRID.flatMap((x) => new Array<number>(module.channels).fill(x));
  const y = module.forward(tensor(rows, [GRID.length, module.channels]));
  const values = await y.data();
  y.dispose();
  return values;
}

describe('rational formulas', () => {
  it('rationalActivations finds every GroupRational with its path, sizes, coefficients and mode', async () => {
    const model = randomisedKanMlp(3);
    const acts = await rationalActivations(model);
    assert.deepEqual(acts.map((a) => [a.name, a.channels, a.groups, a.mode]), [['layers.0.act', 8, 4, 'identity'], ['layers.1.act', 12, 4, 'swish']]);
    const state = await model.stateDict();
    for (const act of acts) {
      assert.deepEqual(Array.from(act.numerator), Array.from(state.get(`${act.name}.weight_numerator`)!.values));
      assert.deepEqual(Array.from(act.denominator), Array.from(state.get(`${act.name}.weight_denominator`)!.values));
    }
    model.dispose();
  });

  it('the exact text and the LaTeX, evaluated independently, equal the layer\'s own outputs in every group', async () => {
    const model = randomisedKanMlp(5);
    for (const act of await rationalActivations(model)) {
      const outputs = await layerOutputs(act.module);
      const width = act.channels / act.groups;
      for (let group = 0; group < act.groups; group++) {
        const { numerator, denominator } = groupCoefficients(act, group);
        const formula = rationalFormula(numerator, denominator);
        const fromLatex = latexToText(formula.latex);
        let scale = 1e-6;
        for (let p = 0; p < GRID.length; p++) scale = Math.max(scale, Math.abs(outputs[p * act.channels + group * width]!));
        for (const [p, x] of GRID.entries()) {
          for (const channel of [group * width, (group + 1) * width - 1]) {
            const layer = outputs[p * act.channels + channel]!;
            const fromText = evaluateText(formula.text, x);
            assert.ok(Math.abs(fromText - layer) <= 2e-6 * scale, `${act.name} g${group} x=${x}: text gives ${fromText}, the layer ${layer}`);
            assert.ok(Math.abs(evaluateText(fromLatex, x) - fromText) <= 1e-12 * scale, `${act.name} g${group}: LaTeX and text differ at x=${x}`);
          }
        }
        // Rounded coefficients stay close (3 significant digits: about 1e-3 relative).
        const rounded = rationalFormula(numerator, denominator, { digits: 3 });
        for (const x of GRID) assert.ok(Math.abs(evaluateText(rounded.text, x) - evaluateText(formula.text, x)) <= 2e-2 * scale);
      }
    }
    model.dispose();
  });

  it('per-group numerators ([G, 6]) give one formula per group', async () => {
    class Holder extends Module {
      readonly act = this.module('act', new GroupRational(6, { groups: 3, sharedNumerator: false, mode: 'tanh' }));
    }
    const holder = new Holder();
    const rng = new Random(11);
    holder.act.numerator.assignValues(randomCoefficients(rng, 18, 0.5));
    holder.act.denominator.assignValues(randomCoefficients(rng, 12, 0.5));
    const [act] = await rationalActivations(holder);
    assert.equal(act!.name, 'act');
    const outputs = await layerOutputs(holder.act);
    const texts = new Set<string>();
    for (let group = 0; group < 3; group++) {
      const { numerator, denominator } = groupCoefficients(act!, group);
      const { text } = rationalFormula(numerator, denominator);
      texts.add(text.split(' / ')[0]!);
      for (const [p, x] of GRID.entries()) {
        const layer = outputs[p * 6 + group * 2]!;
        assert.ok(Math.abs(evaluateText(text, x) - layer) <= 2e-6 * Math.max(1, Math.abs(layer)), `group ${group} x=${x}`);
      }
    }
    assert.equal(texts.size, 3, 'each group has its own numerator');
    holder.dispose();
  });

  it('identity and zero coefficients: terms that are 0 are left out; bad input is refused', () => {
    assert.equal(rationalFormula([0, 1, 0, 0, 0, 0], [0, 0, 0, 0]).text, 'x');
    assert.equal(rationalFormula([0, 0, 0, 0, 0, 0], [0, 0, 0, 0]).text, '0');
    assert.equal(rationalFormula([1.5, -2, 0, 0, 0, 0.25], [-0.5, 0, 0, 0]).text, '(1.5 - 2*x + 0.25*x^5) / (1 + 0.5*|x|)');
    assert.throws(() => rationalFormula([1, 2, 3], [0, 0, 0, 0]), /6 numerator and 4 denominator/);
    assert.throws(() => rationalFormula([NaN, 0, 0, 0, 0, 0], [0, 0, 0, 0]), /not finite/);
  });

  it('sampleActivation: the learned curve is the layer\'s output, the initial one the mode\'s function', async () => {
    const model = randomisedKanMlp(9);
    const acts = await rationalActivations(model);
    const swishAct = acts.find((a) => a.mode === 'swish')!;
    const sample = sampleActivation(swishAct, 2, { xMin: -3, xMax: 3, points: 61 });
    const outputs = await layerOutputs(swishAct.module);
    const width = swishAct.channels / swishAct.groups;
    for (let p = 0; p < 61; p++) {
      assert.ok(Math.abs(sample.xs[p]! - GRID[p]!) < 1e-12);
      const layer = outputs[p * swishAct.channels + 2 * width]!;
      assert.ok(Math.abs(sample.learned[p]! - layer) <= 2e-6 * Math.max(1, Math.abs(layer)), `x=${GRID[p]}`);
      const x = sample.xs[p]!;
      // KAT's swish coefficients are within 1.2e-6 of x * sigmoid(x) on [-3, 3].
      assert.ok(Math.abs(sample.initial[p]! - x / (1 + Math.exp(-x))) <= 1.3e-6, `initial at x=${x}`);
    }
    assert.throws(() => sampleActivation(swishAct, 4), /group 4 does not exist/);
    assert.throws(() => sampleActivation(swishAct, 0, { xMin: 1, xMax: 1 }), /xMin < xMax/);
    model.dispose();
  });
});

// ---------------------------------------------------------------------------

const XS = Array.from({ length: 201 }, (_, i) => -2.5 + i * 0.025);

describe('symbolic fits', () => {
  const cases: [string, (x: number) => number][] = [
    ['tanh', (x) => 2 * Math.tanh(1.5 * x - 0.5) + 0.3],
    ['sin', (x) => -0.7 * Math.sin(2 * x + 1) + 0.1],
    ['x^2', (x) => 0.5 * (x - 1) ** 2 - 2],
    ['exp', (x) => 1.3 * Math.exp(0.8 * x) - 1],
    ['sigmoid', (x) => 3 / (1 + Math.exp(-(2.5 * x + 0.4))) - 1],
    ['|x|', (x) => 1.2 * Math.abs(x - 0.3) + 0.2],
    ['x', (x) => -0.4 * x + 7],
    ['gaussian', (x) => 0.8 * Math.exp(-((1.3 * x - 0.2) ** 2)) + 0.05],
    ['swish', (x) => 0.9 * (1.2 * x + 0.2) / (1 + Math.exp(-(1.2 * x + 0.2)))],
  ];
  for (const [name, truth] of cases) {
    it(`recovers an affine transform of ${name} with R^2 ~ 1, and its text evaluates to the curve`, () => {
      const ys = XS.map(truth);
      const fits = fitSymbolic(XS, ys);
      const fit = fits.find((f) => f.name === name)!;
      assert.ok(fit.r2 > 1 - 1e-8, `${name}: R^2 ${fit.r2}`);
      assert.ok(fits[0]!.r2 >= fit.r2 - 1e-9, 'the best fit comes first');
      let scale = 0;
      for (const y of ys) scale = Math.max(scale, Math.abs(y));
      for (const [i, x] of XS.entries()) {
        assert.ok(Math.abs(evaluateSymbolic(fit, x) - ys[i]!) <= 1e-4 * scale, `${name} at x=${x}`);
      }
      {
        const precise = fitSymbolic(XS, ys, { functions: [name], digits: 12 }).find((f) => f.name === name)!;
        for (const x of [-2, -0.5, 0, 1.1, 2.4]) {
          assert.ok(Math.abs(evaluateText(precise.text, x) - truth(x)) <= 1e-4 * scale, `${precise.text} at x=${x}`);
        }
      }
    });
  }

  it('the best of the library for a non-library curve is reported with its R^2, best first', () => {
    const ys = XS.map((x) => Math.sin(x) + 0.3 * x * x);
    const fits = fitSymbolic(XS, ys);
    for (let i = 1; i < fits.length; i++) assert.ok(fits[i - 1]!.r2 >= fits[i]!.r2 - 1e-9);
    for (const fit of fits) {
      // R^2 recomputed from the fitted function.
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const total = ys.reduce((a, y) => a + (y - mean) ** 2, 0);
      const residual = XS.reduce((a, x, i) => a + (evaluateSymbolic(fit, x) - ys[i]!) ** 2, 0);
      assert.ok(Math.abs(fit.r2 - (1 - residual / total)) < 1e-9, `${fit.name}: R^2 ${fit.r2} vs ${1 - residual / total}`);
    }
  });

  it('constant curves, NaN samples, a single x and overflowing candidates do not break it', () => {
    const constant = fitSymbolic(XS, XS.map(() => 2.5));
    assert.equal(constant[0]!.name, 'constant');
    assert.equal(constant[0]!.r2, 1);
    assert.equal(constant[0]!.d, 2.5);
    assert.equal(constant[0]!.text, '2.5');
    for (const fit of constant) assert.ok(Number.isFinite(fit.r2) && Number.isFinite(evaluateSymbolic(fit, 0.3)));

    const withNaN = XS.map((x, i) => (i % 10 === 0 ? NaN : Math.tanh(x)));
    const clean = fitSymbolic(XS.filter((_, i) => i % 10 !== 0), XS.filter((_, i) => i % 10 !== 0).map(Math.tanh));
    const dirty = fitSymbolic(XS, withNaN);
    assert.equal(dirty[0]!.name, clean[0]!.name);
    assert.ok(Math.abs(dirty[0]!.r2 - clean[0]!.r2) < 1e-12);

    const sameX = fitSymbolic([1, 1, 1, 1], [0, 1, 2, 3]);
    assert.ok(sameX.every((f) => Number.isFinite(f.r2)));
    assert.equal(sameX[0]!.name, 'constant');

    const huge = fitSymbolic(XS.map((x) => x * 300), XS.map((x) => x * 1e6));
    assert.equal(huge[0]!.name, 'x');
    assert.ok(huge.every((f) => Number.isFinite(f.r2) && Number.isFinite(f.a) && Number.isFinite(f.d)));

    assert.throws(() => fitSymbolic([1, 2], [1, 2]), /at least 3 finite/);
    assert.throws(() => fitSymbolic([1, 2, 3], [1, 2]), /3 x values but 2 y values/);
    assert.throws(() => fitSymbolic(XS, XS, { functions: ['cosh'] }), /unknown function 'cosh'/);
  });

  it('fitRange: the central 99% of the inputs seen, widened when they are all equal', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i / 999);
    values[0] = -1e6; // an outlier is cut off
    const [lo, hi] = fitRange(values);
    assert.ok(lo > 0 && lo < 0.01 && hi > 0.99 && hi <= 1, `${lo} ${hi}`);
    assert.deepEqual(fitRange(new Float32Array(10).fill(2)), [1.5, 2.5]);
    assert.deepEqual(fitRange(new Float32Array(0)), [-3, 3]);
  });
});

// ---------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'kat-formula-'));

describe('kat formula', () => {
  it('gives every activation and group of a checkpoint trained by kat train: formulas equal to its layers, fits with R^2', async () => {
    const checkpoint = join(dir, 'mlp.safetensors');
    const trained = kat('train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x8x8:4:64', '--epochs', '1', '--batch-size', '16',
      '--backend', 'cpu', '--out', checkpoint, '--json');
    assert.equal(trained.code, 0, trained.stderr);
    const run = kat('formula', '--checkpoint', checkpoint, '--images', '32', '--top', '2', '--backend', 'cpu', '--json');
    assert.equal(run.code, 0, run.stderr);
    const entries = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    assert.equal(entries.length, 24);
    const { model } = decodeCheckpoint(readFileSync(checkpoint));
    const modules = new Map(groupRationalModules(model).map(({ name, module }) => [name, module]));
    const outputs = new Map<string, Float32Array>();
    for (const [name, module] of modules) outputs.set(name, await layerOutputs(module));
    for (const entry of entries) {
      const module = modules.get(entry.activation)!;
      const values = outputs.get(entry.activation)!;
      const channel = entry.group * (module.channels / module.groups);
      for (const [p, x] of GRID.entries()) {
        const layer = values[p * module.channels + channel]!;
        assert.ok(Math.abs(evaluateText(entry.text, x) - layer) <= 2e-6 * Math.max(1, Math.abs(layer)), `${entry.activation} g${entry.group} x=${x}`);
      }
      assert.equal(entry.closest.length, 2);
      assert.ok(entry.closest[0].r2 >= entry.closest[1].r2 && entry.closest[0].r2 <= 1 + 1e-12);
      assert.ok(entry.fit_range[0] < entry.fit_range[1]);
    }
    const text = kat('formula', '--checkpoint', checkpoint, '--activation', 'layers.2.act', '--digits', '4', '--backend', 'cpu');
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.match(/^layers\.2\.act group \d/gm)?.length, 8);
    assert.equal(text.stdout.match(/^  closest /gm)?.length, 8);
    const unknown = kat('formula', '--checkpoint', checkpoint, '--activation', 'layers.9.act', '--backend', 'cpu');
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /^kat: formula: no activation 'layers.9.act' in kan-mlp: expected one of layers.0.act, layers.1.act, layers.2.act$/m);
    model.dispose();
  });
});
