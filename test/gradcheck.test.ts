// Every op's gradient against central finite differences in float64, on
// random shapes and values (three draws per op).

import { describe, it } from 'node:test';
import { Random } from '../src/tensor/random.js';
import { opCases } from './support/cases.js';
import { gradcheck } from './support/harness.js';

const ROUNDS = 3;

describe('gradients match float64 finite differences', () => {
  for (let round = 0; round < ROUNDS; round++) {
    const rng = new Random(1000 + round);
    for (const c of opCases(rng)) {
      it(`${c.name} (draw ${round + 1}: ${c.specs.map((s) => `[${s.shape.join(',')}]`).join(' ')})`, async () => {
        await gradcheck(c.name, c.fn, c.specs, new Random(round), { tolerance: c.gradTolerance ?? 1e-6 });
      });
    }
  }
});
