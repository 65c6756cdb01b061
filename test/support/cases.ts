// Every differentiable op as a case with random shapes and values: the
// gradient check (finite differences in float64) and the backend parity suite
// both run this one list, so a new op is checked everywhere once it is here.

import type { Random } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/ops/index.js';
import { afKanForward, reluKanForward, type AfActivation, type AfCombination } from '../../src/nn/kan_bases.js';
import { type InputSpec, randomValues, sizeOf, toFloat32Values } from './harness.js';

export interface OpCase {
  name: string;
  specs: InputSpec[];
  fn: (inputs: Tensor[]) => Tensor;
  /** Looser finite-difference tolerance, where the function is steep. */
  gradTolerance?: number;
}

type Make = (rng: Random) => Omit<OpCase, 'name'>;

const dim = (rng: Random, low: number, high: number) => low + rng.int(high - low + 1);

function input(rng: Random, shape: number[], options: Parameters<typeof randomValues>[2] & { grad?: boolean } = {}): InputSpec {
  return { shape, values: toFloat32Values(randomValues(rng, sizeOf(shape), options)), grad: options.grad ?? true };
}

function integers(rng: Random, shape: number[], below: number): InputSpec {
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = rng.int(below);
  return { shape, values, grad: false };
}

/** Distinct values (no ties), for max/min. */
function distinct(rng: Random, shape: number[]): InputSpec {
  const n = sizeOf(shape);
  const order = rng.shuffle([...Array(n).keys()]);
  return { shape, values: Float64Array.from(order, (k) => (k - n / 2) * 0.37 + 0.01 * rng.uniform()), grad: true };
}

const unaryCases: [string, (x: Tensor) => Tensor, Parameters<typeof randomValues>[2]?][] = [
  ['neg', ops.neg], ['exp', ops.exp], ['log', ops.log, { positive: true, awayFromZero: 0.2 }],
  ['sqrt', ops.sqrt, { positive: true, awayFromZero: 0.2 }], ['rsqrt', ops.rsqrt, { positive: true, awayFromZero: 0.2 }],
  ['abs', ops.abs, { awayFromZero: 0.05 }], ['square', ops.square], ['reciprocal', ops.reciprocal, { awayFromZero: 0.3 }],
  ['tanh', ops.tanh], ['sigmoid', ops.sigmoid], ['relu', ops.relu, { awayFromZero: 0.05 }], ['gelu', ops.gelu, { scale: 2 }],
  ['sin', ops.sin], ['cos', ops.cos], ['sign', ops.sign, { awayFromZero: 0.05 }],
];

const makers: [string, Make][] = [
  ...unaryCases.map(([name, f, options]): [string, Make] => [name, (rng) => ({
    specs: [input(rng, [dim(rng, 1, 4), dim(rng, 1, 6)], options)],
    fn: ([x]) => f(x!),
  })]),
  ['add (broadcast)', (rng) => {
    const [b, n, c] = [dim(rng, 1, 3), dim(rng, 2, 4), dim(rng, 1, 5)];
    return { specs: [input(rng, [b, 1, c]), input(rng, [n, c])], fn: ([x, y]) => ops.add(x!, y!) };
  }],
  ['sub (number operands)', (rng) => ({
    specs: [input(rng, [dim(rng, 1, 4), 3])],
    fn: ([x]) => ops.sub(ops.sub(x!, 1.5), ops.mul(ops.sub(2, x!), x!)),
  })],
  ['mul (broadcast)', (rng) => {
    const c = dim(rng, 1, 5);
    return { specs: [input(rng, [dim(rng, 1, 4), c]), input(rng, [c])], fn: ([x, y]) => ops.mul(x!, y!) };
  }],
  ['div', (rng) => {
    const shape = [dim(rng, 1, 3), dim(rng, 1, 4)];
    return { specs: [input(rng, shape), input(rng, [shape[1]!], { awayFromZero: 0.5 })], fn: ([x, y]) => ops.div(x!, y!) };
  }],
  ['pow', (rng) => {
    const shape = [dim(rng, 1, 3), dim(rng, 1, 4)];
    return {
      specs: [input(rng, shape, { positive: true, awayFromZero: 0.3 }), input(rng, shape, { scale: 0.7 })],
      fn: ([x, y]) => ops.pow(x!, y!),
    };
  }],
  ['maximum and minimum', (rng) => {
    const shape = [dim(rng, 1, 3), dim(rng, 2, 4)];
    const both = distinct(rng, [2, ...shape]);
    const n = sizeOf(shape);
    const a = { shape, values: both.values.slice(0, n), grad: true };
    const b = { shape, values: both.values.slice(n), grad: true };
    return { specs: [a, b], fn: ([x, y]) => ops.add(ops.maximum(x!, y!), ops.mul(ops.minimum(x!, y!), 3)) };
  }],
  ['matmul', (rng) => {
    const [m, k, n] = [dim(rng, 1, 6), dim(rng, 1, 7), dim(rng, 1, 6)];
    return { specs: [input(rng, [m, k]), input(rng, [k, n])], fn: ([a, b]) => ops.matmul(a!, b!) };
  }],
  ['matmul transposeA', (rng) => {
    const [m, k, n] = [dim(rng, 1, 6), dim(rng, 1, 7), dim(rng, 1, 6)];
    return { specs: [input(rng, [k, m]), input(rng, [k, n])], fn: ([a, b]) => ops.matmul(a!, b!, { transposeA: true }) };
  }],
  ['matmul transposeB', (rng) => {
    const [m, k, n] = [dim(rng, 1, 6), dim(rng, 1, 7), dim(rng, 1, 6)];
    return { specs: [input(rng, [m, k]), input(rng, [n, k])], fn: ([a, b]) => ops.matmul(a!, b!, { transposeB: true }) };
  }],
  ['matmul both transposed, batched', (rng) => {
    const [batch, m, k, n] = [dim(rng, 2, 3), dim(rng, 1, 5), dim(rng, 1, 6), dim(rng, 1, 5)];
    return {
      specs: [input(rng, [batch, k, m]), input(rng, [batch, n, k])],
      fn: ([a, b]) => ops.matmul(a!, b!, { transposeA: true, transposeB: true }),
    };
  }],
  ['matmul batch broadcast', (rng) => {
    const [b1, b2, m, k, n] = [dim(rng, 2, 3), dim(rng, 2, 3), dim(rng, 1, 5), dim(rng, 1, 6), dim(rng, 1, 5)];
    return {
      specs: [input(rng, [b1, 1, m, k]), input(rng, [b2, k, n]), input(rng, [k, n])],
      fn: ([a, b, c]) => ops.add(ops.matmul(a!, b!), ops.matmul(a!, c!)),
    };
  }],
  ['sum over axes (keepDims)', (rng) => ({
    specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 4), dim(rng, 1, 5)])],
    fn: ([x]) => ops.sum(x!, [0, 2], { keepDims: true }),
  })],
  ['sum all and mean', (rng) => ({
    specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 4)])],
    fn: ([x]) => ops.add(ops.sum(x!), ops.mean(x!, -1)),
  })],
  ['max and min', (rng) => ({
    specs: [distinct(rng, [dim(rng, 1, 3), dim(rng, 2, 5), dim(rng, 1, 3)])],
    fn: ([x]) => ops.add(ops.max(x!, 1, { keepDims: true }), ops.min(x!, [0, 2], { keepDims: true })),
  })],
  ['reshape and broadcastTo', (rng) => {
    const [a, b] = [dim(rng, 1, 3), dim(rng, 1, 4)];
    return {
      specs: [input(rng, [a * b])],
      fn: ([x]) => ops.mul(ops.broadcastTo(ops.reshape(x!, [a, 1, b]), [a, 3, b]), ops.reshape(x!, [a, 1, -1])),
    };
  }],
  ['transpose', (rng) => ({
    specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 4), dim(rng, 1, 3)])],
    fn: ([x]) => ops.transpose(x!, [2, 0, 1]),
  })],
  ['slice', (rng) => {
    const shape = [dim(rng, 2, 4), dim(rng, 3, 6)];
    return { specs: [input(rng, shape)], fn: ([x]) => ops.slice(x!, [1, 1], [-1, shape[1]! - 2]) };
  }],
  ['concat', (rng) => {
    const rows = dim(rng, 1, 3);
    return {
      specs: [input(rng, [rows, dim(rng, 1, 3), 2]), input(rng, [rows, dim(rng, 1, 3), 2]), input(rng, [rows, 1, 2])],
      fn: (xs) => ops.concat(xs, 1),
    };
  }],
  ['gather rows (repeated indices)', (rng) => {
    const vocabulary = dim(rng, 2, 5);
    return {
      specs: [input(rng, [vocabulary, dim(rng, 1, 4)]), integers(rng, [dim(rng, 1, 3), dim(rng, 2, 4)], vocabulary)],
      fn: ([x, i]) => ops.gather(x!, i!, 0),
    };
  }],
  ['gather along axis 1', (rng) => {
    const size = dim(rng, 2, 5);
    return {
      specs: [input(rng, [dim(rng, 1, 3), size, 2]), integers(rng, [dim(rng, 1, 6)], size)],
      fn: ([x, i]) => ops.gather(x!, i!, 1),
    };
  }],
  ['softmax', (rng) => ({
    specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 4), dim(rng, 2, 7)], { scale: 2 })],
    fn: ([x]) => ops.softmax(x!),
  })],
  ['layerNorm', (rng) => {
    const c = dim(rng, 2, 9);
    return {
      specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 3), c], { scale: 3 }), input(rng, [c]), input(rng, [c])],
      fn: ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5),
    };
  }],
  ['dropout', (rng) => ({
    specs: [input(rng, [dim(rng, 2, 5), dim(rng, 2, 9)])],
    fn: ([x]) => ops.dropout(x!, 0.3, { seed: 1234 }),
  })],
  ['softmaxCrossEntropy (smoothing, mean)', (rng) => {
    const [rows, classes] = [dim(rng, 1, 6), dim(rng, 2, 7)];
    return {
      specs: [input(rng, [rows, classes], { scale: 2 }), integers(rng, [rows], classes)],
      fn: ([z, y]) => ops.softmaxCrossEntropy(z!, y!, { labelSmoothing: 0.1 }),
    };
  }],
  ['softmaxCrossEntropy (per row)', (rng) => {
    const [batch, rows, classes] = [dim(rng, 1, 2), dim(rng, 1, 4), dim(rng, 2, 6)];
    return {
      specs: [input(rng, [batch, rows, classes], { scale: 2 }), integers(rng, [batch, rows], classes)],
      fn: ([z, y]) => ops.softmaxCrossEntropy(z!, y!, { reduction: 'none' }),
    };
  }],
  ['groupRational (shared numerator)', (rng) => {
    const groups = dim(rng, 1, 4);
    const channels = groups * dim(rng, 1, 4);
    return {
      specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 3), channels], { scale: 1.5, awayFromZero: 0.05 }),
        input(rng, [1, 6], { scale: 0.5 }), input(rng, [groups, 4], { scale: 0.5, awayFromZero: 0.05 })],
      fn: ([x, a, b]) => ops.groupRational(x!, a!, b!),
    };
  }],
  ['groupRational (per-group numerator)', (rng) => {
    const groups = dim(rng, 2, 4);
    const channels = groups * dim(rng, 1, 3);
    return {
      specs: [input(rng, [dim(rng, 1, 4), channels], { scale: 1.5, awayFromZero: 0.05 }),
        input(rng, [groups, 6], { scale: 0.5 }), input(rng, [groups, 4], { scale: 0.5, awayFromZero: 0.05 })],
      fn: ([x, a, b]) => ops.groupRational(x!, a!, b!),
    };
  }],
  ['karatAttention (Fourier-KArAt: scores, a, b, W, V)', (rng) => {
    const [batch, heads, tokens, rank, terms, d] = [dim(rng, 1, 2), dim(rng, 1, 3), dim(rng, 2, 5), dim(rng, 1, 3), dim(rng, 1, 4), dim(rng, 1, 5)];
    return {
      specs: [input(rng, [batch, heads, tokens, tokens], { scale: 1.5 }), input(rng, [heads, rank, tokens, terms], { scale: 0.5 }),
        input(rng, [heads, rank, tokens, terms], { scale: 0.5 }), input(rng, [heads, tokens, rank], { scale: 0.5 }),
        input(rng, [batch, heads, tokens, d])],
      fn: ([scores, a, b, w, v]) => ops.karatAttention(scores!, a!, b!, w!, v!),
    };
  }],
  ['meanSquaredError (mean, sum, none)', (rng) => {
    const shape = [dim(rng, 1, 5), dim(rng, 1, 4)];
    return {
      specs: [input(rng, shape, { scale: 2 }), input(rng, shape)],
      fn: ([p, t]) => ops.add(ops.add(ops.meanSquaredError(p!, t!), ops.mul(ops.meanSquaredError(p!, t!, { reduction: 'sum' }), 0.5)),
        ops.meanSquaredError(p!, t!, { reduction: 'none' })),
    };
  }],
  ['bsplineBasis (non-uniform knots, x inside and outside them)', (rng) => {
    const channels = dim(rng, 1, 3);
    const order = dim(rng, 2, 3); // C^1 or smoother, so finite differences across knots hold
    const knots = dim(rng, 2, 4) + 2 * order + 1;
    const grid = new Float64Array(channels * knots);
    for (let c = 0; c < channels; c++) {
      let t = -1.5 + 0.5 * rng.uniform();
      for (let m = 0; m < knots; m++) grid[c * knots + m] = (t += 0.25 + 0.5 * rng.uniform());
    }
    const xShape = [dim(rng, 1, 3), dim(rng, 1, 3), channels];
    const x = new Float64Array(sizeOf(xShape));
    for (let i = 0; i < x.length; i++) {
      const c = i % channels;
      const [first, last] = [grid[c * knots]!, grid[c * knots + knots - 1]!];
      x[i] = first - 0.3 + (last - first + 0.6) * rng.uniform();
    }
    return {
      specs: [{ shape: xShape, values: toFloat32Values(x), grad: true }, { shape: [channels, knots], values: toFloat32Values(grid), grad: false }],
      fn: ([xt, g]) => ops.bsplineBasis(xt!, g!, order),
    };
  }],
  ['radialBasis', (rng) => {
    const centers = dim(rng, 3, 6);
    return {
      specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 4)], { scale: 1.5 })],
      fn: ([x]) => ops.radialBasis(x!, { low: -1.5, high: 1.5, centers, width: 0.4 + 0.1 * centers }),
    };
  }],
  // Rows long enough for the SIMD kernels' four-lane loops, with and without a tail (cols % 4 != 0).
  ['softmax (long rows)', (rng) => ({
    specs: [input(rng, [dim(rng, 2, 4), 4 * dim(rng, 4, 9) + dim(rng, 0, 3)], { scale: 3 })],
    fn: ([x]) => ops.softmax(x!),
  })],
  ['layerNorm (long rows)', (rng) => {
    const c = 4 * dim(rng, 4, 9) + dim(rng, 1, 3);
    return {
      specs: [input(rng, [dim(rng, 2, 4), c], { scale: 3 }), input(rng, [c]), input(rng, [c])],
      fn: ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5),
    };
  }],
  ['layerNorm (rows of 64)', (rng) => ({
    specs: [input(rng, [dim(rng, 2, 3), 64], { scale: 3 }), input(rng, [64]), input(rng, [64])],
    fn: ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5),
  })],
  // Sizes past the wasm element-wise kernels' thresholds (64 elements, 256 for strided copies), rows with a tail (cols % 4 != 0).
  ...(['exp', 'tanh', 'sigmoid', 'gelu'] as const).map((name): [string, Make] => [`${name} (long)`, (rng) => ({
    specs: [input(rng, [dim(rng, 2, 3), 4 * dim(rng, 8, 12) + dim(rng, 1, 3)], { scale: name === 'exp' ? 2 : 4 })],
    fn: ([x]) => ops[name](x!),
  })]),
  ['add, sub, mul, div (long, broadcast both ways)', (rng) => {
    const c = 4 * dim(rng, 8, 12) + dim(rng, 1, 3);
    return {
      specs: [input(rng, [dim(rng, 2, 3), c]), input(rng, [c], { awayFromZero: 0.5 })],
      fn: ([x, y]) => ops.add(ops.sub(ops.div(x!, y!), ops.mul(y!, x!)), ops.sub(ops.mul(ops.sub(y!, x!), 0.5), ops.add(x!, x!))),
    };
  }],
  ['div, maximum, minimum (long)', (rng) => {
    const shape = [dim(rng, 2, 3), 4 * dim(rng, 8, 12) + dim(rng, 1, 3)];
    const both = distinct(rng, [2, ...shape]);
    const n = sizeOf(shape);
    const a = { shape, values: both.values.slice(0, n), grad: true };
    const b = { shape, values: both.values.slice(n).map((v) => v + Math.sign(v) * 0.5), grad: true };
    return { specs: [a, b], fn: ([x, y]) => ops.add(ops.div(ops.maximum(x!, y!), y!), ops.mul(ops.minimum(y!, x!), 3)) };
  }],
  ['transpose (attention heads, long)', (rng) => {
    const [b, t, h, d] = [4, dim(rng, 5, 7), dim(rng, 3, 4), 4 * dim(rng, 1, 2) + dim(rng, 1, 3)];
    return {
      specs: [input(rng, [b, t, h, d]), input(rng, [b, h, t, t])],
      fn: ([x, s]) => ops.add(ops.sum(ops.transpose(x!, [0, 2, 1, 3]), -1, { keepDims: true }), ops.transpose(s!, [0, 1, 3, 2])),
    };
  }],
  ['transpose (rank 5, query/key/value split)', (rng) => {
    const [t, h, d] = [dim(rng, 5, 7), dim(rng, 2, 3), 4 * dim(rng, 1, 2) + dim(rng, 1, 3)];
    return {
      specs: [input(rng, [2, t, 3, h, d])],
      fn: ([x]) => ops.mul(ops.transpose(x!, [2, 0, 3, 1, 4]), ops.transpose(x!, [2, 0, 3, 1, 4])),
    };
  }],
];

/** A grid like AF-KAN's / ReLU-KAN's initial one (s_i = (i - k) / g, e_i = s_i + (k + 1) / g) per copy, jittered. */
function kanGrid(rng: Random, copies: number, gridSize: number, order: number): [InputSpec, InputSpec] {
  const bases = gridSize + order;
  const shape = copies === 1 ? [bases] : [copies, bases];
  const [starts, ends] = [new Float64Array(copies * bases), new Float64Array(copies * bases)];
  for (let i = 0; i < starts.length; i++) {
    starts[i] = ((i % bases) - order) / gridSize + 0.1 * rng.normal();
    ends[i] = starts[i]! + (order + 1) / gridSize + 0.1 * rng.normal();
  }
  return [{ shape, values: toFloat32Values(starts), grad: true }, { shape, values: toFloat32Values(ends), grad: true }];
}

/** Around 1 (LayerNorm's gamma). */
function nearOne(rng: Random, size: number): InputSpec {
  return { shape: [size], values: toFloat32Values(Float64Array.from(randomValues(rng, size, { scale: 0.2 }), (v) => 1 + v)), grad: true };
}

// AF-KAN layers (afKanForward is AfKanLayer's forward) over every combination, each with one of the activations.
const afCases: [AfActivation, AfCombination, number][] = [
  ['silu', 'quad1', 2.2], ['gelu', 'cubic1', 1.7], ['tanh', 'quad2', 0.6], ['sigmoid', 'cubic2', 3], ['relu', 'prod', 2.2], ['silu', 'sum', 1.3],
];
for (const [activation, combination, temperature] of afCases) {
  makers.push([`AF-KAN layer (${activation}, ${combination}, tau ${temperature})`, (rng) => {
    const [rows, inputs, outputs, gridSize, order] = [2, 5, 3, 3, 3];
    const bases = gridSize + order;
    return {
      specs: [input(rng, [rows, inputs], { scale: 0.8 }), ...kanGrid(rng, 1, gridSize, order), input(rng, [1, bases], { scale: 0.4 }),
        // b0 shifts every logit alike: its gradient is 0 exactly, float32 leaves rounding noise there (af_kan.test.ts checks it).
        { ...input(rng, [1]), grad: false },
        { shape: [1], values: Float64Array.of(temperature), grad: true }, nearOne(rng, inputs), input(rng, [inputs], { scale: 0.2 }),
        input(rng, [outputs, inputs], { scale: 0.5 })],
      fn: ([x, gridStart, gridEnd, attentionWeight, attentionBias, tau, normWeight, normBias, weight]) => afKanForward(x!, {
        gridStart: gridStart!, gridEnd: gridEnd!, attentionWeight: attentionWeight!, attentionBias: attentionBias!, temperature: tau!,
        normWeight: normWeight!, normBias: normBias!, weight: weight!,
      }, { activation, combination }),
    };
  }]);
}

// ReLU-KAN layers (reluKanForward is ReluKanLayer's forward): the default grid and a finer one of lower order.
for (const [gridSize, order] of [[3, 3], [4, 2]] as const) {
  makers.push([`ReLU-KAN layer (g ${gridSize}, k ${order})`, (rng) => {
    const [rows, inputs, outputs] = [2, 5, 3];
    const bases = gridSize + order;
    return {
      specs: [input(rng, [rows, inputs]), nearOne(rng, inputs), input(rng, [inputs], { scale: 0.2 }), ...kanGrid(rng, inputs, gridSize, order),
        input(rng, [outputs, inputs * bases], { scale: 0.3 }), input(rng, [outputs], { scale: 0.3 })],
      fn: ([x, normWeight, normBias, gridStart, gridEnd, weight, bias]) => reluKanForward(x!, {
        normWeight: normWeight!, normBias: normBias!, gridStart: gridStart!, gridEnd: gridEnd!, weight: weight!, bias: bias!,
      }, { gridSize, order }),
    };
  }]);
}

// Later additions go last, so that every earlier case keeps its draws from the shared generator.
makers.push(
  ['attention (softmax(scale q k^T) v; fused on WebGPU)', (rng) => {
    const shape = [dim(rng, 1, 2), dim(rng, 1, 3), dim(rng, 1, 6), dim(rng, 1, 5)];
    const scale = 0.3 + rng.uniform();
    return {
      specs: [input(rng, shape), input(rng, shape), input(rng, shape)],
      fn: ([q, k, v]) => ops.attention(q!, k!, v!, { scale }),
    };
  }],
  ['matmul transposeB with a fused bias, batched (k past one 256-deep slice)', (rng) => {
    const [batch, m, k, n] = [dim(rng, 1, 3), dim(rng, 1, 8), dim(rng, 257, 260), dim(rng, 1, 10)];
    return {
      specs: [input(rng, [batch, m, k]), input(rng, [n, k]), input(rng, [n])],
      fn: ([a, w, bias]) => ops.matmul(a!, w!, { transposeB: true, bias: bias! }),
    };
  }],
  // Degrees 0 to 7; |x| up to ~4.5, where tanh is within 2e-4 of +-1 (the gradient's (1 - t^2) factor small).
  ['chebyshevBasis', (rng) => {
    const degree = dim(rng, 0, 7);
    return {
      specs: [input(rng, [dim(rng, 1, 3), dim(rng, 1, 5)], { scale: 1.5 })],
      fn: ([x]) => ops.chebyshevBasis(x!, degree),
    };
  }],
);

/** The cases, with shapes and values drawn from `rng`. */
export function opCases(rng: Random): OpCase[] {
  return makers.map(([name, make]) => ({ name, ...make(rng) }));
}
