// Host-side float64 math of the group-rational activation: shipped init modes,
// the kernel formula, the least-squares fitter and the variance-preserving gain.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/tensor/random.js';
import {
  erf,
  erfc,
  evaluateRational,
  fitRational,
  RATIONAL_INIT_MODES,
  rationalCoefficients,
  rationalGain,
  rationalInitModes,
  rationalSecondMoment,
  type RationalInitMode,
} from '../src/nn/rational_init.js';

const MODES: RationalInitMode[] = ['identity', 'swish', 'gelu', 'tanh', 'sigmoid', 'relu'];

/** Phi(x) = (1 + erf(x / sqrt 2)) / 2 with erf by its Maclaurin series in float64 (|x| <= 3 here: ~1e-12), independent of src's erf. */
function normalCdfTable(x: number): number {
  const z = x / Math.SQRT2;
  let term = z;
  let total = z;
  for (let n = 1; n < 300; n++) {
    term *= (-z * z) / n;
    total += term / (2 * n + 1);
    if (Math.abs(term) < 1e-18) break;
  }
  return 0.5 * (1 + (2 / Math.sqrt(Math.PI)) * total);
}

/** max |F - target| over an equally spaced grid of `n + 1` points of [lo, hi]. */
function maxErrorOn(numerator: ArrayLike<number>, denominator: ArrayLike<number>, target: (x: number) => number, n = 12000, lo = -3, hi = 3): number {
  let worst = 0;
  for (let i = 0; i <= n; i++) {
    const x = lo + ((hi - lo) * i) / n;
    const e = Math.abs(evaluateRational(numerator, denominator, x) - target(x));
    if (!(e <= worst)) worst = e; // NaN propagates
  }
  return worst;
}

/** Deterministic uniform numbers in [0, 1). */
function rng(seed: number): () => number {
  const random = new Random(seed);
  return () => random.uniform();
}

describe('rational init modes', () => {
  it('lists the six modes of the table', () => {
    assert.deepEqual(rationalInitModes(), MODES);
    for (const mode of MODES) {
      const spec = rationalCoefficients(mode);
      assert.equal(spec, RATIONAL_INIT_MODES[mode]);
      assert.equal(spec.numerator.length, 6);
      assert.equal(spec.denominator.length, 4);
    }
    assert.deepEqual(RATIONAL_INIT_MODES.identity.numerator, [0, 1, 0, 0, 0, 0]);
    assert.deepEqual(RATIONAL_INIT_MODES.identity.denominator, [0, 0, 0, 0]);
    assert.equal(RATIONAL_INIT_MODES.swish.numerator[1], 0.5000007853744493);
    assert.equal(RATIONAL_INIT_MODES.relu.denominator[0], -1.191550121923625);
    assert.ok(Object.isFrozen(RATIONAL_INIT_MODES.gelu.numerator));
  });

  it('rejects unknown modes with the list of valid ones', () => {
    assert.throws(() => rationalCoefficients('mish'), {
      message: "unknown rational init mode 'mish': expected one of identity, swish, gelu, tanh, sigmoid, relu",
    });
    assert.throws(() => rationalCoefficients('toString'), /unknown rational init mode 'toString'/);
  });

  it('every shipped mode is KAT\'s published init, and reaches the published max error under a formula and targets written here', () => {
    // KAT's init table (../shared/docs/grkan.md, "Initial coefficients"): a0..a5, b0..b3, max error over [-3, 3].
    const PUBLISHED: Record<Exclude<RationalInitMode, 'identity'>, [number[], number[], number, (x: number) => number]> = {
      swish: [[3.054879741161051e-07, 0.5000007853744493, 0.24999783422824703, 0.05326628273219478, 0.005803034571292244, 0.0002751961022402342],
        [-4.111554955950634e-06, 0.10652899335007572, -1.2690007399796238e-06, 0.0005502331264140556], 1.2e-6, (x) => x / (1 + Math.exp(-x))],
      gelu: [[-0.0012423594497499122, 0.5080497063245629, 0.41586363182937475, 0.13022718688035761, 0.024355900098993424, 0.00290283948155535],
        [-0.06675015696494944, 0.17927646217001553, 0.03746682605496631, 1.6561610853276082e-10], 4.1e-3, (x) => x * normalCdfTable(x)],
      tanh: [[-1.0804622559204184e-08, 1.0003008043819048, -2.5878199375289335e-08, 0.09632129918392647, 3.4775841628196104e-09, 0.0004255709234726337],
        [-0.0013027181209176277, 0.428349017422072, 1.4524304083061898e-09, 0.010796648111337176], 4.1e-5, Math.tanh],
      sigmoid: [[0.4999992534599381, 0.25002157564685185, 0.14061924500301096, 0.049420492431596394, 0.00876714851885483, 0.0006442412789159799],
        [2.1694506382753683e-09, 0.28122766100417684, 1.0123620714203357e-05, 0.017531988049946], 1.9e-5, (x) => 1 / (1 + Math.exp(-x))],
      relu: [[0.029963801610813613, 0.6168978366891341, 2.37534759733888, 3.0659900472408443, 1.5246831881677423, 0.2528070864040542],
        [-1.191550121923625, 4.4080487697236626, 0.9110357113686055, 0.34884977946384615], 3.0e-2, (x) => Math.max(x, 0)],
    };
    // P(x) / (1 + sum_k |b_k| |x|^(k+1)), straight from the paper's formula (not evaluateRational).
    const formula = (a: readonly number[], bs: readonly number[], x: number) =>
      a.reduce((s, c, k) => s + c * x ** k, 0) / (1 + bs.reduce((s, c, k) => s + Math.abs(c) * Math.abs(x) ** (k + 1), 0));
    for (const [mode, [numerator, denominator, published, target]] of Object.entries(PUBLISHED)) {
      const shipped = RATIONAL_INIT_MODES[mode as RationalInitMode];
      assert.deepEqual(shipped.numerator, numerator, `${mode}: numerator`);
      assert.deepEqual(shipped.denominator, denominator, `${mode}: denominator`);
      assert.equal(shipped.maxError, published, `${mode}: stated max error`);
      let err = 0;
      for (let i = 0; i <= 12000; i++) {
        const x = -3 + (6 * i) / 12000;
        const e = Math.abs(formula(shipped.numerator, shipped.denominator, x) - target(x));
        if (!(e <= err)) err = e;
      }
      // The published errors are rounded to two digits.
      assert.ok(err <= published * 1.05 && err >= published * 0.9, `${mode}: max error ${err}, published ${published}`);
    }
    assert.deepEqual(RATIONAL_INIT_MODES.identity.numerator, [0, 1, 0, 0, 0, 0]);
    assert.deepEqual(RATIONAL_INIT_MODES.identity.denominator, [0, 0, 0, 0]);
  });

  it('every shipped mode reaches its stated max error over [-3, 3] under the kernel formula', () => {
    for (const mode of MODES) {
      const { numerator, denominator, target, maxError } = RATIONAL_INIT_MODES[mode];
      const err = maxErrorOn(numerator, denominator, target);
      assert.ok(err <= maxError * 1.05, `${mode}: max error ${err} > stated ${maxError}`);
      if (maxError > 0) assert.ok(err >= maxError * 0.5, `${mode}: stated ${maxError} is far above the measured ${err}`);
    }
    // The gelu set is the one fitted to the sum-of-|terms| denominator (error 4.1e-3, not 1.47).
    const gelu = RATIONAL_INIT_MODES.gelu;
    assert.equal(gelu.maxError, 4.1e-3);
    assert.equal(gelu.numerator[0], -0.0012423594497499122);
    assert.equal(gelu.denominator[0], -0.06675015696494944);
  });

  it('targets are the named functions', () => {
    const t = (m: RationalInitMode) => RATIONAL_INIT_MODES[m].target;
    assert.equal(t('identity')(1.25), 1.25);
    assert.equal(t('relu')(-2), 0);
    assert.equal(t('relu')(2.5), 2.5);
    assert.ok(Math.abs(t('sigmoid')(1) - 0.7310585786300049) < 1e-15);
    assert.ok(Math.abs(t('swish')(-1) + 0.2689414213699951) < 1e-15);
    assert.ok(Math.abs(t('tanh')(0.5) - 0.46211715726000974) < 1e-15);
    // gelu(x) = x Phi(x), exact
    assert.ok(Math.abs(t('gelu')(1) - 0.8413447460685429) < 1e-15);
    assert.ok(Math.abs(t('gelu')(-2) + 0.04550026389635842) < 1e-15);
    assert.ok(Math.abs(t('gelu')(-7) / (-7 * 1.279812543885835e-12) - 1) < 1e-12);
  });
});

describe('erf', () => {
  it('matches reference values to ~1e-15', () => {
    const cases: [number, number][] = [
      [0, 0],
      [1e-10, 1.1283791670955126e-10],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.9, 0.9999589021219005],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
    ];
    for (const [x, want] of cases) {
      assert.ok(Math.abs(erf(x) - want) <= 1e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
      assert.ok(Math.abs(erf(-x) + want) <= 1e-15);
    }
    assert.ok(Math.abs(erfc(2.5) / 4.069520174449590e-4 - 1) < 1e-14);
    assert.ok(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1) < 1e-14);
    assert.ok(Math.abs(erfc(-1) - 1.8427007929497148) < 1e-15);
    assert.ok(Number.isNaN(erf(NaN)));
  });
});

describe('evaluateRational', () => {
  it('follows the kernel formula P / (1 + sum |b_j| |x|^(j+1))', () => {
    const a = [0.3, -1.2, 0.5, 0.25, -0.07, 0.01];
    const b = [-0.4, 0.3, -0.2, 0.05];
    for (const x of [-2.7, -1, -0.3, 0, 0.8, 2.2, 5]) {
      const P = a.reduce((s, c, i) => s + c * x ** i, 0);
      const Q = 1 + b.reduce((s, c, j) => s + Math.abs(c) * Math.abs(x) ** (j + 1), 0);
      const got = evaluateRational(a, b, x);
      assert.ok(Math.abs(got - P / Q) <= 1e-14 * Math.max(1, Math.abs(P / Q)), `x=${x}: ${got} vs ${P / Q}`);
    }
    assert.equal(evaluateRational([0, 1, 0, 0, 0, 0], [0, 0, 0, 0], -1.5), -1.5);
    assert.throws(() => evaluateRational([1, 2], [0, 0, 0, 0], 1), /6 coefficients/);
    assert.throws(() => evaluateRational([0, 1, 0, 0, 0, 0], [0, 0, 0], 1), /4 coefficients/);
  });
});

describe('fitRational', () => {
  it('reproduces every shipped mode from scratch over [-3, 3]', () => {
    for (const mode of MODES) {
      const { target, maxError } = RATIONAL_INIT_MODES[mode];
      const fit = fitRational(target);
      assert.equal(fit.numerator.length, 6);
      assert.equal(fit.denominator.length, 4);
      assert.ok([...fit.numerator, ...fit.denominator, fit.maxError, fit.rmsError].every(Number.isFinite), mode);
      assert.ok(fit.rmsError <= fit.maxError);
      const dense = maxErrorOn(fit.numerator, fit.denominator, target);
      // The fit lives on the 1001-point grid; a dense grid must agree.
      assert.ok(dense <= fit.maxError * 1.05 + 1e-12, `${mode}: dense ${dense} vs grid ${fit.maxError}`);
      const allowed = mode === 'identity' ? 1e-12 : mode === 'relu' ? maxError * 1.5 : maxError * 1.05;
      assert.ok(dense <= allowed, `${mode}: fitted max error ${dense} > ${allowed}`);
    }
  });

  it('recovers an exact rational to < 1e-6', () => {
    const random = rng(12345);
    for (let trial = 0; trial < 3; trial++) {
      const a = Array.from({ length: 6 }, () => 2 * random() - 1);
      const b = Array.from({ length: 4 }, () => 0.3 * (2 * random() - 1));
      const target = (x: number) => evaluateRational(a, b, x);
      const fit = fitRational(target);
      const err = maxErrorOn(fit.numerator, fit.denominator, target);
      assert.ok(err < 1e-6, `trial ${trial}: max error ${err}`);
    }
  });

  it('honours range and points', () => {
    // 1 / (1 + x^2) is in the family (a0 = 1, |b1| = 1) but far from a polynomial on [-5, 5].
    const runge = (x: number) => 1 / (1 + x * x);
    const fit = fitRational(runge, { range: [-5, 5], points: 501 });
    assert.ok(fit.maxError < 1e-9, `runge on [-5, 5]: ${fit.maxError}`);
    assert.ok(maxErrorOn(fit.numerator, fit.denominator, runge, 5000, -5, 5) < 1e-9);
    // exp on [-1, 2]: max error is measured over that range only.
    const expFit = fitRational(Math.exp, { range: [-1, 2], points: 301 });
    assert.ok(expFit.maxError < 3e-3, `exp on [-1, 2]: ${expFit.maxError}`);
    const dense = maxErrorOn(expFit.numerator, expFit.denominator, Math.exp, 3000, -1, 2);
    assert.ok(Math.abs(dense - expFit.maxError) <= 0.05 * expFit.maxError);
    assert.throws(() => fitRational(Math.exp, { range: [1, 1] }), /range/);
    assert.throws(() => fitRational(Math.exp, { points: 5 }), /points/);
    assert.throws(() => fitRational(() => NaN), /not finite/);
  });

  it('survives degenerate targets without NaN', () => {
    const cases: [string, (x: number) => number, number][] = [
      ['zero', () => 0, 1e-12],
      ['five', () => 5, 1e-9],
      ['step', (x) => (x < 0.4 ? -1 : 2), 2],
    ];
    for (const [name, target, bound] of cases) {
      const fit = fitRational(target);
      const values = [...fit.numerator, ...fit.denominator, fit.maxError, fit.rmsError];
      assert.ok(values.every(Number.isFinite), `${name}: ${JSON.stringify(fit)}`);
      assert.ok(fit.maxError <= bound, `${name}: max error ${fit.maxError}`);
    }
    const few = fitRational(Math.sin, { points: 10, iterations: 0 });
    assert.ok([...few.numerator, ...few.denominator, few.maxError].every(Number.isFinite));
  });
});

describe('rationalGain', () => {
  it('1 / E[F(x)^2] matches the exact values (swish 2.8108, gelu 2.3516, identity 1)', () => {
    const exact: [RationalInitMode, number][] = [
      ['swish', 2.8108],
      ['gelu', 2.3516],
      ['identity', 1.0],
    ];
    for (const [mode, want] of exact) {
      const { numerator, denominator } = RATIONAL_INIT_MODES[mode];
      const inverseMoment = 1 / rationalSecondMoment(numerator, denominator);
      assert.ok(Math.abs(inverseMoment / want - 1) < 1e-3, `${mode}: 1/E[F^2] = ${inverseMoment}, want ${want}`);
      const gain = rationalGain(numerator, denominator);
      assert.ok(Math.abs(gain * gain / want - 1) < 1e-3, `${mode}: gain^2 = ${gain * gain}, want ${want}`);
    }
    assert.ok(Math.abs(rationalGain([0, 1, 0, 0, 0, 0], [0, 0, 0, 0]) - 1) < 1e-12);
  });

  it('integrates moments of N(0, 1) exactly, kinks included', () => {
    // F = x^2: E[x^4] = 3. F = 2 + x^5: E = 4 + E[x^10] = 4 + 945.
    assert.ok(Math.abs(rationalSecondMoment([0, 0, 1, 0, 0, 0], [0, 0, 0, 0]) - 3) < 1e-12);
    assert.ok(Math.abs(rationalSecondMoment([2, 0, 0, 0, 0, 1], [0, 0, 0, 0]) / 949 - 1) < 1e-12);
    // F = x / (1 + |x|) against a fine midpoint rule.
    let reference = 0;
    const n = 400000;
    const L = 12;
    for (let i = 0; i < n; i++) {
      const x = -L + (2 * L * (i + 0.5)) / n;
      const f = x / (1 + Math.abs(x));
      reference += f * f * Math.exp(-0.5 * x * x) * (2 * L / n);
    }
    reference /= Math.sqrt(2 * Math.PI);
    assert.ok(Math.abs(rationalSecondMoment([0, 1, 0, 0, 0, 0], [-1, 0, 0, 0]) / reference - 1) < 1e-8);
  });
});
