#!/usr/bin/env node
// Writes the two example tables next to this script, the same bytes on every
// run (seeded):
//
//   regression.csv      2000 rows: x1 ~ U(-3, 3), x2 ~ U(-2, 2), x3 ~ U(-1, 1),
//                       distractor ~ N(0, 1) (unused by the target) and
//                       y = sin(x1) exp(-x2^2) + 0.5 x3 + N(0, 0.1^2).
//   classification.csv  1500 rows: a point (x1, x2) on one of three rings
//                       (inner, middle, outer: radius 0.5, 1.5, 2.5 plus
//                       N(0, 0.2^2) noise), where `shape` says which norm
//                       the radius is measured in: circle (Euclidean) or
//                       square (max norm). Without `shape` some points near
//                       a square's corners are ambiguous; the radius noise
//                       alone puts about 0.8% of points across a boundary.
//
// Usage: node examples/make_csv.mjs

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** mulberry32: a tiny seeded 32-bit generator, uniform in [0, 1). */
function generator(seed) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const between = (low, high) => low + (high - low) * uniform();
  // Box-Muller; 1 - u keeps the logarithm finite.
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, between, normal };
}

const fixed = (v) => v.toFixed(4);

function writeTable(name, header, rows) {
  const text = `${[header, ...rows].map((row) => row.join(',')).join('\n')}\n`;
  writeFileSync(join(here, name), text);
  console.log(`${name}: ${rows.length} rows, ${header.length} columns (${header.join(', ')})`);
}

function regressionTable(rows, seed) {
  const rng = generator(seed);
  const out = [];
  for (let i = 0; i < rows; i++) {
    const x1 = rng.between(-3, 3);
    const x2 = rng.between(-2, 2);
    const x3 = rng.between(-1, 1);
    const distractor = rng.normal();
    const y = Math.sin(x1) * Math.exp(-x2 * x2) + 0.5 * x3 + 0.1 * rng.normal();
    out.push([x1, x2, x3, distractor, y].map(fixed));
  }
  return out;
}

function classificationTable(rows, seed) {
  const rng = generator(seed);
  const rings = ['inner', 'middle', 'outer'];
  const out = [];
  for (let i = 0; i < rows; i++) {
    const ring = i % 3;
    const shape = rng.uniform() < 0.5 ? 'circle' : 'square';
    const radius = 0.5 + ring + 0.2 * rng.normal();
    let x1;
    let x2;
    if (shape === 'circle') {
      const angle = rng.between(0, 2 * Math.PI);
      x1 = radius * Math.cos(angle);
      x2 = radius * Math.sin(angle);
    } else {
      // A uniform point on the square's perimeter: a side, then a position along it.
      const side = Math.floor(rng.uniform() * 4);
      const along = rng.between(-radius, radius);
      [x1, x2] = [[radius, along], [-radius, along], [along, radius], [along, -radius]][side];
    }
    out.push([fixed(x1), fixed(x2), shape, rings[ring]]);
  }
  return out;
}

writeTable('regression.csv', ['x1', 'x2', 'x3', 'distractor', 'y'], regressionTable(2000, 7));
writeTable('classification.csv', ['x1', 'x2', 'shape', 'ring'], classificationTable(1500, 11));
