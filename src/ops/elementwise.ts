// Element-wise ops: unary math, broadcasting binary arithmetic, dropout.

import type { BinaryOp, UnaryOp } from '../backends/backend.js';
import { globalRandom } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { assertTensor, backendOf, broadcastShapes, broadcastStrides, output, sameShape } from './op.js';
import { sumTo } from './reduce.js';

/** A tensor, or a number broadcast like a scalar tensor. */
export type Operand = Tensor | number;

function asTensor(op: string, value: Operand, like: Tensor): Tensor {
  if (value instanceof Tensor) return value;
  if (typeof value !== 'number') throw new Error(`${op}: operand must be a Tensor or a number, got ${typeof value}`);
  return Tensor.fromBuffer(like.backend, like.backend.kernels.fill(1, value), []);
}

function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  assertTensor(op, 'x', x);
  const backend = x.backend;
  return output(op, backend, backend.kernels.unary(op, x.buffer, x.size), x.shape, [x], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.unaryGrad(op, x.buffer, g.buffer, x.size), x.shape),
  ]);
}

/** -x, element-wise. */
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
/** e^x, element-wise. */
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
/** Natural logarithm, element-wise. */
export const log = (x: Tensor): Tensor => unaryOp('log', x);
/** Square root, element-wise. */
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
/** 1 / sqrt(x), element-wise. */
export const rsqrt = (x: Tensor): Tensor => unaryOp('rsqrt', x);
/** |x|, element-wise (gradient sign(x)). */
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
/** -1, 0 or +1 (gradient zero). */
export const sign = (x: Tensor): Tensor => unaryOp('sign', x);
/** x^2, element-wise. */
export const square = (x: Tensor): Tensor => unaryOp('square', x);
/** 1 / x, element-wise. */
export const reciprocal = (x: Tensor): Tensor => unaryOp('reciprocal', x);
/** Hyperbolic tangent, element-wise. */
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
/** The logistic function 1 / (1 + e^-x), element-wise. */
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
/** max(x, 0), element-wise. */
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
/** Exact GELU, x * Phi(x) (erf form, as PyTorch's default). */
export const gelu = (x: Tensor): Tensor => unaryOp('gelu', x);
/** Sine, element-wise. */
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
/** Cosine, element-wise. */
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);

type BinaryRule = (g: Tensor, a: Tensor, b: Tensor) => [Tensor | null, Tensor | null];

function binaryOp(op: BinaryOp, left: Operand, right: Operand, rule: BinaryRule | null): Tensor {
  if (!(left instanceof Tensor) && !(right instanceof Tensor)) {
    throw new Error(`${op}: at least one operand must be a Tensor`);
  }
  const like = (left instanceof Tensor ? left : right) as Tensor;
  const a = asTensor(op, left, like);
  const b = asTensor(op, right, like);
  const backend = backendOf(op, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(op, a.shape, b.shape);
  const buffer = backend.kernels.binary(op, a.buffer, b.buffer, shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  return output(op, backend, buffer, shape, [a, b], rule ? (g) => {
    const [ga, gb] = rule(g, a, b);
    return [ga && a.requiresGrad ? sumTo(ga, a.shape) : null, gb && b.requiresGrad ? sumTo(gb, b.shape) : null];
  } : undefined);
}

/** a + b with broadcasting; either may be a number. */
export function add(a: Operand, b: Operand): Tensor {
  return binaryOp('add', a, b, (g) => [g, g]);
}

/** a - b with broadcasting; either may be a number. */
export function sub(a: Operand, b: Operand): Tensor {
  return binaryOp('sub', a, b, (g, _a, b) => [g, b.requiresGrad ? neg(g) : null]);
}

/** a * b with broadcasting; either may be a number. */
export function mul(a: Operand, b: Operand): Tensor {
  return binaryOp('mul', a, b, (g, a, b) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
}

/** a / b with broadcasting; either may be a number. */
export function div(a: Operand, b: Operand): Tensor {
  return binaryOp('div', a, b, (g, a, b) => [
    a.requiresGrad ? div(g, b) : null,
    b.requiresGrad ? neg(div(mul(g, a), square(b))) : null,
  ]);
}

/** a ** b; the gradient for b uses log(a), so it needs a > 0 where b requires grad. */
export function pow(a: Operand, b: Operand): Tensor {
  return binaryOp('pow', a, b, (g, a, b) => [
    a.requiresGrad ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
    b.requiresGrad ? mul(g, mul(log(a), pow(a, b))) : null,
  ]);
}

/** Element-wise maximum; on ties the gradient goes to a. */
export function maximum(a: Operand, b: Operand): Tensor {
  return binaryOp('maximum', a, b, (g, a, b) => {
    const toB = greater(b, a);
    return [a.requiresGrad ? mul(g, sub(1, toB)) : null, b.requiresGrad ? mul(g, toB) : null];
  });
}

/** Element-wise minimum; on ties the gradient goes to a. */
export function minimum(a: Operand, b: Operand): Tensor {
  return binaryOp('minimum', a, b, (g, a, b) => {
    const toB = greater(a, b);
    return [a.requiresGrad ? mul(g, sub(1, toB)) : null, b.requiresGrad ? mul(g, toB) : null];
  });
}

/** 1 where a == b, else 0 (not differentiable). */
export function equal(a: Operand, b: Operand): Tensor {
  return binaryOp('equal', a, b, null);
}

/** 1 where a > b, else 0 (not differentiable). */
export function greater(a: Operand, b: Operand): Tensor {
  return binaryOp('greater', a, b, null);
}

/** Options of dropout(). */
export interface DropoutOptions {
  /** Mask seed; drawn from the global generator when omitted. */
  seed?: number;
  /** When false, dropout is the identity (evaluation). Default true. */
  training?: boolean;
}

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest
 * by 1 / (1 - p). The mask is a function of (seed, index), identical on every
 * backend, and is recomputed in the backward instead of stored.
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  assertTensor('dropout', 'x', x);
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p = ${p} is not a probability in [0, 1)`);
  if (p === 0 || options.training === false) return x;
  const seed = options.seed ?? globalRandom.nextUint32();
  const backend = x.backend;
  return output('dropout', backend, backend.kernels.dropout(x.buffer, x.size, p, seed), x.shape, [x], (g) => [
    Tensor.fromBuffer(backend, backend.kernels.dropout(g.buffer, g.size, p, seed), x.shape),
  ]);
}
