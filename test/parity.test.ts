// The parity suite: every op, forward and gradients, on every backend against
// the float64 CPU reference with the same (float32-representable) inputs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PARITY_BACKENDS, skipUnless, startBackend } from './support/backends.js';
import '../src/tensor/engine.js';
import { Random } from '../src/tensor/random.js';
import { opCases } from './support/cases.js';
import { assertClose, float64Backend, forwardBackward, onBackend, onBackendAsync, randomValues, sizeOf } from './support/harness.js';
import { adamwStep, argmax, equal, greater, reshape, slice, tensor } from '../src/ops/index.js';

const BACKENDS = PARITY_BACKENDS;
const TOLERANCE = 2e-5;

for (const name of BACKENDS) {
  describe(`parity: ${name} vs float64 reference`, async () => {
    const backend = await startBackend(name);
    const skip = skipUnless(backend, name);
    const rng = new Random(42);
    for (const c of opCases(rng)) {
      it(c.name, { skip }, async () => {
        const projection = (shape: readonly number[]) => randomValues(new Random(3), sizeOf(shape));
        const expected = await onBackendAsync(float64Backend, () => forwardBackward(c.fn, c.specs, projection));
        const actual = await onBackendAsync(backend!, () => forwardBackward(c.fn, c.specs, projection));
        assert.deepEqual(actual.outputShape, expected.outputShape);
        assertClose(actual.output, expected.output, TOLERANCE, `${c.name} forward`);
        expected.grads.forEach((g, i) => {
          if (g) assertClose(actual.grads[i]!, g, TOLERANCE, `${c.name} gradient of input ${i}`);
        });
      });
    }
  });
}

describe('parity of kernels without gradients', async () => {
  // Every backend is started before any test is declared: a declaration after an await can come too late for the suite.
  const backends = await Promise.all(BACKENDS.map(startBackend));
  for (const [index, name] of BACKENDS.entries()) {
    const backend = backends[index];
    it(`${name}: adamwStep, argmax, equal, greater match the float64 reference`, { skip: skipUnless(backend, name) }, async () => {
      const rng = new Random(9);
      const n = 37;
      const values = [0, 1, 2, 3].map(() => Float64Array.from(Float32Array.from(randomValues(rng, n))));
      values[3] = values[3]!.map(Math.abs); // second moments are non-negative
      const run = () => {
        const [p, g, m, v] = values.map((x) => tensor(x, [n]));
        const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step: 3 };
        const rows = reshape(p!, [-1, 1]);
        return [...adamwStep(p!, g!, m!, v!, hyper), argmax(reshape(slice(p!, [0], [36]), [6, 6]), 1), equal(rows, reshape(g!, [1, -1])),
          greater(p!, g!)];
      };
      const expected = await Promise.all(onBackend(float64Backend, run).map((t) => t.dataFloat64()));
      const actual = await Promise.all(onBackend(backend!, run).map((t) => t.dataFloat64()));
      expected.forEach((e, i) => assertClose(actual[i]!, e, 1e-6, `output ${i}`));
    });
  }
});
