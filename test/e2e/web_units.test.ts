// The page's own logic, in Node: the formula parser against Math, and the
// bundled digits file against the library's loader of the `mnist` package.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadMnist } from '../../src/data/mnist.js';
import { decodeDigits } from '../../web/src/digits.js';
import { parseFormula } from '../../web/src/formula.js';
import { splitMnistDigits } from '../../src/data/mnist_split.js';
import { ROOT } from './browser.js';

describe('formula parser', () => {
  const cases: [string, (x: number, y: number) => number][] = [
    ['sin(x)*exp(-y^2)', (x, y) => Math.sin(x) * Math.exp(-(y ** 2))],
    ['sin(x)·exp(-y^2)', (x, y) => Math.sin(x) * Math.exp(-(y ** 2))],
    ['sin(3x)*exp(-x^2)', (x) => Math.sin(3 * x) * Math.exp(-(x ** 2))],
    ['-x^2', (x) => -(x ** 2)],
    ['2^-x', (x) => 2 ** -x],
    ['2^3^x', (x) => 2 ** (3 ** x)],
    ['1 - 2 - 3', () => -4],
    ['8 / 4 / 2', () => 1],
    ['x y + 2(x - y)', (x, y) => x * y + 2 * (x - y)],
    ['tanh(2x) + 0.3 cos(4y)', (x, y) => Math.tanh(2 * x) + 0.3 * Math.cos(4 * y)],
    ['max(x, y) - min(x, abs(y))', (x, y) => Math.max(x, y) - Math.min(x, Math.abs(y))],
    ['pi*x + e + 1.5e-1', (x) => Math.PI * x + Math.E + 0.15],
    ['x**2 − sqrt(abs(y))', (x, y) => x * x - Math.sqrt(Math.abs(y))],
  ];
  for (const [text, reference] of cases) {
    it(`evaluates ${text}`, () => {
      const parsed = parseFormula(text);
      for (const [x, y] of [[0.3, -1.2], [-1.7, 0.4], [1.1, 1.9]] as const) {
        const want = reference(x, y);
        assert.ok(Math.abs(parsed.evaluate(x, y) - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${text} at (${x}, ${y})`);
      }
    });
  }

  it('knows which formulas use y', () => {
    assert.equal(parseFormula('sin(3x)').usesY, false);
    assert.equal(parseFormula('x + y').usesY, true);
  });

  it('names the problem and where', () => {
    assert.throws(() => parseFormula(''), /empty/);
    assert.throws(() => parseFormula('sin(x'), /column 6: expected '\)' closing sin\(/);
    assert.throws(() => parseFormula('x + z'), /unknown name 'z' at column 5/);
    assert.throws(() => parseFormula('foo(x)'), /unknown name 'foo'/);
    assert.throws(() => parseFormula('x $ 2'), /unexpected '\$' at column 3/);
    assert.throws(() => parseFormula('max(x)'), /max at column 1 takes 2 arguments, got 1/);
    assert.throws(() => parseFormula('x +'), /unexpected end at column 4/);
    assert.throws(() => parseFormula('sin x'), /expected '\(' after sin/);
  });
});

describe('the page\'s digits', () => {
  const file = join(ROOT, 'web', 'dist', 'mnist-digits.bin');
  it('decode to the same 8,000 / 2,000 split as loadMnist, bit for bit', { skip: existsSync(file) ? false : 'run npm run build:web first' }, () => {
    const bytes = new Uint8Array(readFileSync(file));
    const page = splitMnistDigits(decodeDigits(bytes));
    const node = loadMnist();
    for (const part of ['train', 'test'] as const) {
      assert.equal(page[part].count, node[part].count);
      assert.deepEqual(Buffer.from(page[part].images.buffer), Buffer.from(node[part].images.buffer), `${part} images`);
      assert.deepEqual(page[part].labels, node[part].labels, `${part} labels`);
    }
  });

  it('reject a damaged file with a clear error', { skip: existsSync(file) ? false : 'run npm run build:web first' }, () => {
    const bytes = new Uint8Array(readFileSync(file));
    assert.throws(() => decodeDigits(bytes.subarray(0, bytes.length - 1)), /its header promises/);
    const wrongMagic = bytes.slice(0, 4000);
    wrongMagic[0] = 0;
    assert.throws(() => decodeDigits(wrongMagic), /not a katjs digits file/);
  });
});
