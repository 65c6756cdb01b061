// Function-fitting data sets from the KAN literature (pykan's examples and
// tutorials): inputs drawn uniformly from [-1, 1]^d, the target a closed-form
// function of them, as a regression table (`function:NAME[:count]`). The
// draw is fixed (its own seed), so runs with different training seeds fit the
// same points. Browser-safe.

import { Random } from '../tensor/random.js';
import { tabularSplit, type CsvTable, type TabularSplit } from './csv.js';

/** Bessel J0 by its integral (1/pi) int_0^pi cos(z sin t) dt: Simpson's rule on 400 intervals, exact to ~1e-12 for |z| <= 30. */
export function besselJ0(z: number): number {
  const n = 400;
  const h = Math.PI / n;
  let total = 0;
  for (let k = 0; k <= n; k++) {
    const weight = k === 0 || k === n ? 1 : k % 2 === 1 ? 4 : 2;
    total += weight * Math.cos(z * Math.sin(k * h));
  }
  return (total * h) / 3 / Math.PI;
}

/** A function to fit: its input count, its formula as text, and its value. */
export interface FittingFunction {
  /** Inputs (dimensions of x). */
  inputs: number;
  /** The formula, as written in docs and tables. */
  formula: string;
  f(x: readonly number[]): number;
}

/** The functions: the first four are pykan's examples; the last three katjs's picks of the same kind. */
export const FITTING_FUNCTIONS: Record<string, FittingFunction> = {
  bessel: { inputs: 1, formula: 'J0(20 x)', f: ([x]) => besselJ0(20 * x!) },
  'exp-sin': { inputs: 2, formula: 'exp(sin(pi x) + y^2)', f: ([x, y]) => Math.exp(Math.sin(Math.PI * x!) + y! ** 2) },
  xy: { inputs: 2, formula: 'x y', f: ([x, y]) => x! * y! },
  'exp-sin4': {
    inputs: 4, formula: 'exp((sin(pi (x1^2 + x2^2)) + sin(pi (x3^2 + x4^2))) / 2)',
    f: ([a, b, c, d]) => Math.exp((Math.sin(Math.PI * (a! ** 2 + b! ** 2)) + Math.sin(Math.PI * (c! ** 2 + d! ** 2))) / 2),
  },
  'exp-j0': { inputs: 2, formula: 'exp(J0(20 x) + y^2)', f: ([x, y]) => Math.exp(besselJ0(20 * x!) + y! ** 2) },
  'tanh-quartic': { inputs: 2, formula: 'tanh(5 (x^4 + y^4 - 1))', f: ([x, y]) => Math.tanh(5 * (x! ** 4 + y! ** 4 - 1)) },
  'sin-xy': { inputs: 2, formula: 'sin(pi x y)', f: ([x, y]) => Math.sin(Math.PI * x! * y!) },
};

export const FUNCTION_DEFAULT_COUNT = 3000;
export const FUNCTION_MAX_COUNT = 1_000_000;
/** The seed of every function data set's draw and split (not the training seed). */
export const FUNCTION_DATA_SEED = 2024;

/** `count` points of function `name` with its value, as a table with columns x1..xd and y. */
export function functionTable(name: string, count = FUNCTION_DEFAULT_COUNT): CsvTable {
  const fn = FITTING_FUNCTIONS[name];
  if (!fn || !Object.hasOwn(FITTING_FUNCTIONS, name)) {
    throw new Error(`unknown function '${name}': expected one of ${Object.keys(FITTING_FUNCTIONS).join(', ')}`);
  }
  if (!Number.isInteger(count) || count < 10 || count > FUNCTION_MAX_COUNT) {
    throw new Error(`function:${name}: count ${count} must be an integer in [10, ${FUNCTION_MAX_COUNT.toLocaleString('en-US')}]`);
  }
  const rng = new Random(FUNCTION_DATA_SEED);
  const columns = [...Array.from({ length: fn.inputs }, (_, i) => `x${i + 1}`), 'y'];
  const rows: string[][] = [];
  for (let r = 0; r < count; r++) {
    const x = Array.from({ length: fn.inputs }, () => 2 * rng.uniform() - 1);
    // Round-trip exact: the shortest decimal that reads back as the same double.
    rows.push([...x.map(String), String(fn.f(x))]);
  }
  return { columns, rows, lines: rows.map((_, r) => r + 2), delimiter: ',' };
}

/** The train/test split (80/20, fixed) of a function data set, standardised like a CSV regression table. */
export function functionSplit(name: string, count = FUNCTION_DEFAULT_COUNT): TabularSplit {
  return tabularSplit(functionTable(name, count), { target: 'y', task: 'regression', seed: FUNCTION_DATA_SEED, source: `function:${name}` });
}
