// Element-wise WGSL kernels: fill, unary math and its derivative, broadcasting
// binary ops, strided copies, dropout, the fused AdamW step. One invocation per
// element, 256 per workgroup, launched on a 2-D grid when large.

import type { AdamWHyper, BinaryOp, UnaryOp } from '../../backend.js';
import { mix32 } from '../../../util/hash.js';
import { isContiguous, repeatPeriod } from '../../../util/shape.js';
import { GpuContext, LINEAR_WORKGROUP, Params, type GpuBuffer, type KernelSource } from '../context.js';

const WG = 256;
/** Broadcast and strided kernels take shapes of up to this rank. */
export const MAX_RANK = 8;

/** erf to ~1.5e-7 (Abramowitz & Stegun 7.1.26), as the CPU backend's float32 path. */
const ERF = /* wgsl */ `
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-z * z));
}
// WGSL's sin/cos only promise 2^-11 absolute error: reduce to [-pi/2, pi/2] and sum the series.
fn sin_accurate(x: f32) -> f32 {
  let turns = round(x * 0.15915494309189535);
  var r = (x - turns * 6.28125) - turns * 0.0019353071795864769; // 2 pi split in two for an exact first product
  if (r > 1.5707963267948966) { r = 3.141592653589793 - r; }
  if (r < -1.5707963267948966) { r = -3.141592653589793 - r; }
  let r2 = r * r;
  return r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 + r2 * (-1.0 / 39916800.0 + r2 / 6227020800.0))))));
}
fn cos_accurate(x: f32) -> f32 { return sin_accurate(x + 1.5707963267948966); }
fn tanh_stable(x: f32) -> f32 {
  let t = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - t) / (1.0 + t);
}`;

const UNARY: Record<UnaryOp, { forward: string; grad: string }> = {
  neg: { forward: '-x', grad: '-g' },
  exp: { forward: 'exp(x)', grad: 'g * exp(x)' },
  log: { forward: 'log(x)', grad: 'g / x' },
  sqrt: { forward: 'sqrt(x)', grad: 'g * 0.5 / sqrt(x)' },
  rsqrt: { forward: 'inverseSqrt(x)', grad: '-0.5 * g / (x * sqrt(x))' },
  abs: { forward: 'abs(x)', grad: 'select(select(0.0, -g, x < 0.0), g, x > 0.0)' },
  sign: { forward: 'sign(x)', grad: '0.0' },
  square: { forward: 'x * x', grad: '2.0 * x * g' },
  reciprocal: { forward: '1.0 / x', grad: '-g / (x * x)' },
  tanh: { forward: 'tanh_stable(x)', grad: 'g * (1.0 - tanh_stable(x) * tanh_stable(x))' },
  sigmoid: { forward: '1.0 / (1.0 + exp(-x))', grad: 'g * (1.0 / (1.0 + exp(-x))) * (1.0 - 1.0 / (1.0 + exp(-x)))' },
  relu: { forward: 'max(x, 0.0)', grad: 'select(0.0, g, x > 0.0)' },
  gelu: {
    forward: '0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752))',
    grad: 'g * (0.5 * (1.0 + erf_approx(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x))',
  },
  sin: { forward: 'sin_accurate(x)', grad: 'g * cos_accurate(x)' },
  cos: { forward: 'cos_accurate(x)', grad: '-g * sin_accurate(x)' },
};

const BINARY: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'pow_signed(a, b)',
  maximum: 'select(b, a, a >= b)',
  minimum: 'select(b, a, a <= b)',
  equal: 'select(0.0, 1.0, a == b)',
  greater: 'select(0.0, 1.0, a > b)',
};

/** pow with JavaScript's result for negative bases and integer exponents. */
const POW = /* wgsl */ `
fn pow_signed(a: f32, b: f32) -> f32 {
  if (a >= 0.0) { return pow(a, b); }
  if (fract(b) != 0.0) {
    var nanBits = 0x7fc00000u; // a runtime NaN: WGSL rejects NaN constants
    return bitcast<f32>(nanBits);
  }
  let magnitude = pow(-a, b);
  return select(magnitude, -magnitude, fract(b * 0.5) != 0.0);
}`;

/** A one-invocation-per-element kernel: `i` is the element index (< params.size) inside `body`. */
export function elementwise(name: string, body: string, bindings: string, extra = ''): KernelSource {
  return {
    name,
    code: /* wgsl */ `
${bindings}
${LINEAR_WORKGROUP}
${extra}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, groups) * ${WG}u + lid;
  if (i >= params.size) { return; }
  ${body}
}`,
  };
}

/** WGSL for a uniform holding a shape and strides of up to MAX_RANK axes (as vec4 arrays). */
const SHAPE_FIELDS = 'shape: array<vec4u, 2>, stridesA: array<vec4i, 2>, stridesB: array<vec4i, 2>,';
const STRIDED = /* wgsl */ `
fn axisOf(v: array<vec4u, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }
fn strideOf(v: array<vec4i, 2>, d: u32) -> i32 { return v[d / 4u][d % 4u]; }`;

function pushShape(params: Params, shape: readonly number[], stridesA: readonly number[], stridesB: readonly number[]): Params {
  const rank = shape.length;
  if (rank > MAX_RANK) throw new Error(`webgpu: tensors of rank ${rank} exceed the supported ${MAX_RANK} axes`);
  const pad = (v: readonly number[], fill: number) => [...Array(MAX_RANK - rank).fill(fill), ...v];
  for (const d of pad(shape, 1)) params.u32(d);
  for (const s of pad(stridesA, 0)) params.i32(s);
  for (const s of pad(stridesB, 0)) params.i32(s);
  return params;
}

function launch(size: number): [number, number] {
  return GpuContext.grid(Math.ceil(size / WG));
}

export function makeElementwiseKernels(ctx: GpuContext) {
  const fillKernel = elementwise('fill', 'out[i] = params.value;',
    '@group(0) @binding(0) var<storage, read_write> out: array<f32>;\nstruct P { size: u32, value: f32 }\n@group(0) @binding(1) var<uniform> params: P;');

  const unaryKernels = new Map<string, KernelSource>();
  function unaryKernel(op: UnaryOp, grad: boolean): KernelSource {
    const key = `${op}:${grad}`;
    let kernel = unaryKernels.get(key);
    if (!kernel) {
      const expression = grad ? UNARY[op].grad : UNARY[op].forward;
      kernel = grad
        ? elementwise(`${op}Grad`, `let x = xs[i]; let g = gy[i]; out[i] = ${expression};`,
          `@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { size: u32 }
@group(0) @binding(3) var<uniform> params: P;`, ERF)
        : elementwise(op, `let x = xs[i]; out[i] = ${expression};`,
          `@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { size: u32 }
@group(0) @binding(2) var<uniform> params: P;`, ERF);
      unaryKernels.set(key, kernel);
    }
    return kernel;
  }

  const binaryKernels = new Map<string, KernelSource>();
  /** mode: 'same' (both contiguous), 'repeatB' / 'repeatA' (one operand cycles with a period), 'strided'. */
  function binaryKernel(op: BinaryOp, mode: 'same' | 'repeatA' | 'repeatB' | 'strided'): KernelSource {
    const key = `${op}:${mode}`;
    let kernel = binaryKernels.get(key);
    if (!kernel) {
      const reads = {
        same: 'let a = as_[i]; let b = bs[i];',
        repeatB: 'let a = as_[i]; let b = bs[i % params.period];',
        repeatA: 'let a = as_[i % params.period]; let b = bs[i];',
        strided: `var rest = i; var offA = 0i; var offB = 0i;
  for (var d = ${MAX_RANK - 1}i; d >= 0; d--) {
    let extent = axisOf(params.shape, u32(d));
    let index = rest % extent;
    rest = rest / extent;
    offA += i32(index) * strideOf(params.stridesA, u32(d));
    offB += i32(index) * strideOf(params.stridesB, u32(d));
  }
  let a = as_[offA]; let b = bs[offB];`,
      }[mode];
      kernel = elementwise(`${op}:${mode}`, `${reads}\n  out[i] = ${BINARY[op]};`,
        `@group(0) @binding(0) var<storage, read> as_: array<f32>;
@group(0) @binding(1) var<storage, read> bs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { size: u32, period: u32, pad0: u32, pad1: u32, ${SHAPE_FIELDS} }
@group(0) @binding(3) var<uniform> params: P;`, `${STRIDED}\n${POW}`);
      binaryKernels.set(key, kernel);
    }
    return kernel;
  }

  const copyKernel = elementwise('copyStrided', `var rest = i; var off = params.offset;
  for (var d = ${MAX_RANK - 1}i; d >= 0; d--) {
    let extent = axisOf(params.shape, u32(d));
    off += i32(rest % extent) * strideOf(params.stridesA, u32(d));
    rest = rest / extent;
  }
  out[i] = xs[off];`, `@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { size: u32, offset: i32, pad0: u32, pad1: u32, ${SHAPE_FIELDS} }
@group(0) @binding(2) var<uniform> params: P;`, STRIDED);

  // Same counter-based hash as the CPU backend (random.ts): identical masks everywhere.
  const dropoutKernel = elementwise('dropout', `
  let h = mix32(params.seedMix ^ i);
  let u = f32(h >> 8u) / 16777216.0;
  out[i] = select(0.0, xs[i] * params.scale, u >= params.p);`, `@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { size: u32, seedMix: u32, p: f32, scale: f32 }
@group(0) @binding(2) var<uniform> params: P;`, /* wgsl */ `
fn mix32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u; h *= 0x85ebca6bu; h ^= h >> 13u; h *= 0xc2b2ae35u; h ^= h >> 16u;
  return h;
}`);

  const adamwKernel = elementwise('adamw', `
  let g = grad[i];
  let m = params.beta1 * m0[i] + (1.0 - params.beta1) * g;
  let v = params.beta2 * v0[i] + (1.0 - params.beta2) * g * g;
  mOut[i] = m;
  vOut[i] = v;
  pOut[i] = p0[i] * params.decay - params.stepSize * m / (sqrt(v) * params.vScale + params.eps);`,
  `@group(0) @binding(0) var<storage, read> p0: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> m0: array<f32>;
@group(0) @binding(3) var<storage, read> v0: array<f32>;
@group(0) @binding(4) var<storage, read_write> pOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> mOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> vOut: array<f32>;
struct P { size: u32, beta1: f32, beta2: f32, eps: f32, decay: f32, stepSize: f32, vScale: f32 }
@group(0) @binding(7) var<uniform> params: P;`);

  function fill(size: number, value: number): GpuBuffer {
    const out = ctx.alloc(size);
    if (size > 0) ctx.dispatch(fillKernel, [out], new Params().u32(size).f32(value), launch(size));
    return out;
  }

  function unary(op: UnaryOp, x: GpuBuffer, size: number): GpuBuffer {
    const out = ctx.alloc(size);
    if (size > 0) ctx.dispatch(unaryKernel(op, false), [x, out], new Params().u32(size), launch(size));
    return out;
  }

  function unaryGrad(op: UnaryOp, x: GpuBuffer, gy: GpuBuffer, size: number): GpuBuffer {
    const out = ctx.alloc(size);
    if (size > 0) ctx.dispatch(unaryKernel(op, true), [x, gy, out], new Params().u32(size), launch(size));
    return out;
  }

  function binary(op: BinaryOp, a: GpuBuffer, b: GpuBuffer, outShape: readonly number[], aStrides: readonly number[],
    bStrides: readonly number[]): GpuBuffer {
    const size = outShape.reduce((p, d) => p * d, 1);
    const out = ctx.alloc(size);
    if (size === 0) return out;
    const aFull = isContiguous(outShape, aStrides);
    const bFull = isContiguous(outShape, bStrides);
    const bPeriod = aFull && !bFull ? repeatPeriod(outShape, bStrides) : 0;
    const aPeriod = bFull && !aFull ? repeatPeriod(outShape, aStrides) : 0;
    const mode = aFull && bFull ? 'same' : bPeriod > 0 ? 'repeatB' : aPeriod > 0 ? 'repeatA' : 'strided';
    const params = new Params().u32(size).u32(Math.max(aPeriod, bPeriod, 1)).u32(0).u32(0);
    pushShape(params, outShape, aStrides, bStrides);
    ctx.dispatch(binaryKernel(op, mode), [a, b, out], params, launch(size));
    return out;
  }

  function copyStrided(x: GpuBuffer, outShape: readonly number[], strides: readonly number[], offset: number): GpuBuffer {
    const size = outShape.reduce((p, d) => p * d, 1);
    const out = ctx.alloc(size);
    if (size === 0) return out;
    const params = new Params().u32(size).i32(offset).u32(0).u32(0);
    pushShape(params, outShape, strides, strides.map(() => 0));
    ctx.dispatch(copyKernel, [x, out], params, launch(size));
    return out;
  }

  function dropout(x: GpuBuffer, size: number, p: number, seed: number): GpuBuffer {
    const out = ctx.alloc(size);
    if (size > 0) ctx.dispatch(dropoutKernel, [x, out], new Params().u32(size).u32(mix32(seed >>> 0)).f32(p).f32(1 / (1 - p)), launch(size));
    return out;
  }

  function adamw(param: GpuBuffer, grad: GpuBuffer, m: GpuBuffer, v: GpuBuffer, size: number, hyper: AdamWHyper): [GpuBuffer, GpuBuffer, GpuBuffer] {
    const outs: [GpuBuffer, GpuBuffer, GpuBuffer] = [ctx.alloc(size), ctx.alloc(size), ctx.alloc(size)];
    if (size > 0) {
      const params = new Params().u32(size).f32(hyper.beta1).f32(hyper.beta2).f32(hyper.eps).f32(1 - hyper.lr * hyper.weightDecay)
        .f32(hyper.lr / (1 - hyper.beta1 ** hyper.step)).f32(1 / Math.sqrt(1 - hyper.beta2 ** hyper.step));
      ctx.dispatch(adamwKernel, [param, grad, m, v, ...outs], params, launch(size));
    }
    return outs;
  }

  return { fill, unary, unaryGrad, binary, copyStrided, dropout, adamw };
}



