// The WebAssembly softmax / layerNorm kernels' own pieces: the f32 exp against
// Math.exp (in ulps, plain and relaxed SIMD), and layerNorm's gradient on rows
// that span several arena chunks against a float64 evaluation of the formulas.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enableRelaxedSimd, WasmKernels } from '../src/backends/cpu/wasm.js';
import { Random } from '../src/tensor/random.js';
import { randomValues, scaledMaxError } from './support/harness.js';

/** |actual - exact| in units of the f32 spacing at `exact` (subnormal spacing below 2^-126). */
function ulpError(actual: number, exact: number): number {
  if (actual === exact) return 0;
  const exponent = Math.max(Math.floor(Math.log2(Math.abs(exact))), -126);
  return Math.abs(actual - exact) / 2 ** (exponent - 23);
}

for (const relaxed of [false, true]) {
  describe(`wasm kernels (${relaxed ? 'relaxed' : 'plain'} SIMD)`, async () => {
    if (relaxed) await enableRelaxedSimd();
    const kernels = WasmKernels.load(1, relaxed);
    it('exp is within 2 ulp of Math.exp over [-88, 88] and handles the edges', () => {
      assert.ok(kernels, 'WebAssembly SIMD should load in Node');
      const n = 1 << 20;
      const x = new Float32Array(n + 3);
      for (let i = 0; i < n; i++) x[i] = -88 + (176 * i) / (n - 1);
      x[n] = 0; x[n + 1] = -0.3465736; x[n + 2] = 0.3465736;
      const y = kernels.exp(x);
      let worst = 0;
      let worstAt = 0;
      for (let i = 0; i < x.length; i++) {
        const e = ulpError(y[i]!, Math.exp(x[i]!));
        if (e > worst) { worst = e; worstAt = x[i]!; }
      }
      assert.ok(worst <= 2, `exp max error ${worst.toFixed(3)} ulp at x = ${worstAt}`);
      const edges = kernels.exp(Float32Array.of(100, 89, -104, -200, -Infinity, Infinity, NaN, -87.5));
      assert.deepEqual(Array.from(edges.subarray(0, 7)), [Infinity, Infinity, 0, 0, 0, Infinity, NaN]);
      assert.ok(ulpError(edges[7]!, Math.exp(-87.5)) <= 2, 'subnormal result');
    });

    it('layerNorm backward over several row chunks matches float64 formulas', () => {
      assert.ok(kernels);
      const rows = 3500;
      const cols = 41; // about 1600 rows per chunk; 41 % 4 leaves a tail
      const rng = new Random(5);
      const x = Float32Array.from(randomValues(rng, rows * cols)).map((v) => 3 * v + 1);
      const w = Float32Array.from(randomValues(rng, cols));
      const b = Float32Array.from(randomValues(rng, cols));
      const gy = Float32Array.from(randomValues(rng, rows * cols));
      const [y, mean, rstd] = [new Float32Array(rows * cols), new Float32Array(rows), new Float32Array(rows)];
      kernels.layerNorm(x, w, b, y, mean, rstd, rows, cols, 1e-5);
      const dx = new Float32Array(rows * cols);
      const [dw, db] = kernels.layerNormBackward(x, w, mean, rstd, gy, dx, rows, cols);
      const [yRef, dxRef] = [new Float64Array(rows * cols), new Float64Array(rows * cols)];
      const [dwRef, dbRef] = [new Float64Array(cols), new Float64Array(cols)];
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
        const mu = row.reduce((s, v) => s + v, 0) / cols;
        const sigma = Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / cols + 1e-5);
        const xhat = row.map((v) => (v - mu) / sigma);
        const g = xhat.map((_, c) => gy[r * cols + c]! * w[c]!);
        const meanG = g.reduce((s, v) => s + v, 0) / cols;
        const meanGX = g.reduce((s, v, c) => s + v * xhat[c]!, 0) / cols;
        for (let c = 0; c < cols; c++) {
          yRef[r * cols + c] = xhat[c]! * w[c]! + b[c]!;
          dxRef[r * cols + c] = (g[c]! - meanG - xhat[c]! * meanGX) / sigma;
          dwRef[c] += gy[r * cols + c]! * xhat[c]!;
          dbRef[c] += gy[r * cols + c]!;
        }
      }
      assert.ok(scaledMaxError(y, yRef) < 2e-6, 'y');
      assert.ok(scaledMaxError(dx, dxRef) < 2e-6, 'dx');
      assert.ok(scaledMaxError(dw, dwRef) < 2e-6, 'dWeight');
      assert.ok(scaledMaxError(db, dbRef) < 1e-12, 'dBias');
    });
  });
}
