// The WebAssembly element-wise kernels on their own (plain and relaxed SIMD):
// erf, tanh, sigmoid, GELU and their gradients against float64 evaluations of
// the defining formulas over a wide range, edge values (inf, NaN, +-0, huge),
// binary ops with either operand repeating, and the strided copy against
// index arithmetic.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enableRelaxedSimd, WASM_BINARY, WASM_ERF, WASM_REVERSED, WASM_UNARY, WasmKernels } from '../src/backends/cpu/wasm.js';
import { erf, erfc } from '../src/util/special.js';
import { Random } from '../src/tensor/random.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Phi(x) in float64, from erfc so the negative tail keeps its relative accuracy. */
const normalCdf = (x: number) => 0.5 * erfc(-x * SQRT1_2);

/** float64 references of the unary ops and their derivatives. */
const references: Record<string, { f: (x: number) => number; df: (x: number) => number }> = {
  exp: { f: Math.exp, df: Math.exp },
  tanh: { f: Math.tanh, df: (x) => 4 / (Math.exp(x) + Math.exp(-x)) ** 2 },
  sigmoid: {
    f: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
    df: (x) => { const e = Math.exp(-Math.abs(x)); return e / (1 + e) ** 2; },
  },
  gelu: { f: (x) => x * normalCdf(x), df: (x) => normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x) },
};

/** Evenly spaced f32 values over [low, high], with a length that is not a multiple of 4 (the scalar tail runs too). */
function grid(low: number, high: number, n = 200_003): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = low + ((high - low) * i) / (n - 1);
  return x;
}

/** Worst |actual - exact| / (absolute + relative |exact|), with where it happened. */
function worstError(x: Float32Array, actual: Float32Array, exact: (x: number) => number, absolute: number, relative: number) {
  let worst = 0;
  let at = NaN;
  for (let i = 0; i < x.length; i++) {
    const e = exact(x[i]!);
    const err = Math.abs(actual[i]! - e) / (absolute + relative * Math.abs(e));
    if (!(err <= worst)) { worst = err; at = x[i]!; }
  }
  return { worst, at };
}

for (const relaxed of [false, true]) {
  describe(`wasm element-wise kernels (${relaxed ? 'relaxed' : 'plain'} SIMD)`, async () => {
    if (relaxed) await enableRelaxedSimd();
    const kernels = WasmKernels.load(1, relaxed)!;
    const unary = (code: number, x: Float32Array) => { const out = new Float32Array(x.length); kernels.unary(code, x, out, x.length); return out; };
    const unaryGrad = (code: number, x: Float32Array, gy: Float32Array) => {
      const out = new Float32Array(x.length);
      kernels.unaryGrad(code, x, gy, out, x.length);
      return out;
    };

    it('erf is within 2e-7 absolute of float64 erf over [-12, 12]', () => {
      assert.ok(kernels, 'WebAssembly SIMD should load in Node');
      const x = grid(-12, 12);
      const { worst, at } = worstError(x, unary(WASM_ERF, x), erf, 2e-7, 0);
      assert.ok(worst <= 1, `erf error ${(worst * 2e-7).toExponential(2)} at x = ${at}`);
      const tiny = Float32Array.of(1e-3, -1e-5, 1e-30, 5);
      const { worst: w2 } = worstError(tiny, unary(WASM_ERF, tiny), erf, 2e-7, 0);
      assert.ok(w2 <= 1);
    });

    // [tolerance absolute, relative] per op: float32 results, a few ulp.
    const tolerances: Record<string, [number, number, number, number]> = {
      // forward abs, rel, gradient abs, rel
      exp: [1e-37, 3e-7, 1e-37, 4e-7],
      tanh: [1e-37, 4e-7, 1e-37, 6e-7],
      sigmoid: [1e-37, 4e-7, 1e-37, 6e-7],
      // GELU's negative tail is ~1e-6 relative (x^2 rounds in f32 before the exp): still far below the 1.5e-7 |x| of erfFast.
      gelu: [1e-12, 3e-6, 3e-7, 1e-6], // gradient: Phi + x phi cancels near x = -0.75 (|gy| <= 2)
    };
    for (const op of ['exp', 'tanh', 'sigmoid', 'gelu']) {
      it(`${op} and its gradient match float64 over a wide range`, () => {
        const code = WASM_UNARY[op]!;
        const [fa, fr, ga, gr] = tolerances[op]!;
        const range = op === 'exp' ? 87 : 30;
        const x = Float32Array.from([...grid(-range, range), ...grid(-1, 1, 40_001), ...grid(-1e-3, 1e-3, 4_001)]);
        const y = worstError(x, unary(code, x), references[op]!.f, fa, fr);
        assert.ok(y.worst <= 1, `${op} error ${y.worst.toFixed(2)} x tolerance at x = ${y.at}`);
        const gy = new Float32Array(x.length);
        const rng = new Random(7);
        for (let i = 0; i < gy.length; i++) gy[i] = Math.fround(rng.uniform() * 4 - 2);
        const grads = unaryGrad(code, x, gy);
        let worst = 0;
        let at = NaN;
        for (let i = 0; i < x.length; i++) {
          const exact = gy[i]! * references[op]!.df(x[i]!);
          const err = Math.abs(grads[i]! - exact) / (ga + gr * Math.abs(exact));
          if (!(err <= worst)) { worst = err; at = x[i]!; }
        }
        assert.ok(worst <= 1, `${op} gradient error ${worst.toFixed(2)} x tolerance at x = ${at}`);
      });
    }

    it('handles inf, NaN, +-0 and huge inputs', () => {
      const x = Float32Array.of(Infinity, -Infinity, NaN, 0, -0, 3e38, -3e38, 1e-40);
      const at = (code: number) => Array.from(unary(code, x));
      assert.deepEqual(at(WASM_UNARY.exp!), [Infinity, 0, NaN, 1, 1, Infinity, 0, 1]);
      assert.deepEqual(at(WASM_UNARY.tanh!), [1, -1, NaN, 0, -0, 1, -1, Math.fround(1e-40)]);
      assert.deepEqual(at(WASM_UNARY.sigmoid!), [1, 0, NaN, 0.5, 0.5, 1, 0, 0.5]);
      const erfs = at(WASM_ERF);
      assert.deepEqual(erfs.slice(0, 7), [1, -1, NaN, 0, -0, 1, -1]);
      assert.ok(Math.abs(erfs[7]! - (2 / Math.sqrt(Math.PI)) * 1e-40) < 3e-45, 'erf of a subnormal');
      // GELU: x Phi(x); at -inf that is -inf * 0 = NaN, as the TypeScript kernel gives.
      const gelu = at(WASM_UNARY.gelu!);
      assert.deepEqual(gelu.slice(0, 6), [Infinity, NaN, NaN, 0, -0, Math.fround(3e38)]);
      assert.ok(Object.is(gelu[6], -0) || gelu[6] === 0);
      assert.ok(Math.abs(gelu[7]! - 0.5e-40) < 1e-45);
      const ones = new Float32Array(x.length).fill(1);
      assert.deepEqual(Array.from(unaryGrad(WASM_UNARY.tanh!, x, ones)), [0, 0, NaN, 1, 1, 0, 0, 1]);
      assert.deepEqual(Array.from(unaryGrad(WASM_UNARY.sigmoid!, x, ones)), [0, 0, NaN, 0.25, 0.25, 0, 0, 0.25]);
      assert.deepEqual(Array.from(unaryGrad(WASM_UNARY.gelu!, x, ones)).slice(2, 5), [NaN, 0.5, 0.5]);
    });

    it('binary ops match float64 with equal shapes, a repeating row, a scalar, and swapped operands', () => {
      const rng = new Random(3);
      const rows = 37;
      const cols = 23;
      const n = rows * cols;
      const a = Float32Array.from({ length: n }, () => rng.uniform() * 4 - 2);
      const row = Float32Array.from({ length: cols }, () => (rng.uniform() < 0.5 ? -1 : 1) * (0.5 + rng.uniform()));
      // Ties and signed zeros, where maximum/minimum follow a >= b ? a : b.
      a[0] = row[0]!; a[1] = 0; row[1] = -0; a[2] = NaN;
      const f: Record<string, (x: number, y: number) => number> = {
        add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
        maximum: (x, y) => (x >= y ? x : y), minimum: (x, y) => (x <= y ? x : y),
      };
      for (const op of Object.keys(f)) {
        const code = WASM_BINARY[op]!;
        for (const period of [n, cols, 1]) {
          const b = period === n ? Float32Array.from({ length: n }, (_, i) => row[i % cols]!) : row.subarray(0, period);
          for (const swapped of [false, true]) {
            const out = new Float32Array(n);
            kernels.binary(swapped ? code + WASM_REVERSED : code, a, b, out, n, period);
            for (let i = 0; i < n; i++) {
              const [x, y] = swapped ? [b[i % period]!, a[i]!] : [a[i]!, b[i % period]!];
              const exact = Math.fround(f[op]!(x, y));
              assert.ok(Object.is(out[i], exact), `${op} period ${period}${swapped ? ' swapped' : ''} at ${i}: ${out[i]} vs ${exact}`);
            }
          }
        }
      }
    });

    it('strided copy matches index arithmetic for 4-D and 5-D transposes, slices and broadcasts', () => {
      const source = Float32Array.from({ length: 4 * 5 * 3 * 7 + 11 }, (_, i) => i * 0.5 - 3);
      const layouts: [number[], number[], number][] = [
        [[4, 3, 5, 7], [105, 7, 21, 1], 0], // [b, t, h, d] -> [b, h, t, d]
        [[4, 5, 7, 3], [105, 21, 1, 7], 0], // last two axes swapped
        [[1, 3, 2, 5], [0, 7, 1, 0], 4], // broadcast (zero strides) from an offset
        [[2, 2, 3, 6], [105, 21, 7, 1], 11], // a slice
      ];
      layouts.push([[3, 2, 2, 5, 7], [35, 210, 1, 2, 5], 0]); // rank 5: the leading axis walked outside the kernel
      for (const [shape, strides, offset] of layouts) {
        const size = shape.reduce((p, q) => p * q, 1);
        const out = new Float32Array(size);
        kernels.copyStrided(source, out, shape, strides, offset);
        for (let o = 0; o < size; o++) {
          // Row-major index of o, then the source element by the strides.
          let rest = o;
          let src = offset;
          for (let axis = shape.length - 1; axis >= 0; axis--) {
            src += (rest % shape[axis]!) * strides[axis]!;
            rest = Math.floor(rest / shape[axis]!);
          }
          assert.equal(out[o], source[src], `shape ${shape} strides ${strides} at ${o}`);
        }
      }
    });
  });
}
