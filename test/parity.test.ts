// The parity suite: every op, forward and gradients, on every backend against
// the float64 CPU reference with the same (float32-representable) inputs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackend } from '../src/backends/backend.js';
import '../src/tensor/engine.js';
import { Random } from '../src/tensor/random.js';
import { opCases } from './support/cases.js';
import { assertClose, float64Backend, forwardBackward, onBackendAsync, randomValues, sizeOf } from './support/harness.js';

const BACKENDS = ['cpu', 'cpu-js'];
const TOLERANCE = 2e-5;

for (const name of BACKENDS) {
  describe(`parity: ${name} vs float64 reference`, async () => {
    const backend = await createBackend(name);
    const rng = new Random(42);
    for (const c of opCases(rng)) {
      it(c.name, async () => {
        const projection = (shape: readonly number[]) => randomValues(new Random(3), sizeOf(shape));
        const expected = await onBackendAsync(float64Backend, () => forwardBackward(c.fn, c.specs, projection));
        const actual = await onBackendAsync(backend, () => forwardBackward(c.fn, c.specs, projection));
        assert.deepEqual(actual.outputShape, expected.outputShape);
        assertClose(actual.output, expected.output, TOLERANCE, `${c.name} forward`);
        expected.grads.forEach((g, i) => {
          if (g) assertClose(actual.grads[i]!, g, TOLERANCE, `${c.name} gradient of input ${i}`);
        });
      });
    }
  });
}
