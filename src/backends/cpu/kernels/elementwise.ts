// Element-wise kernels: fill, unary math and its derivative, broadcasting
// binary ops, dropout. Plain loops over typed arrays; the arithmetic runs in
// float64 (JS numbers) and rounds once when stored. With `wasm` (float32 only),
// exp/tanh/sigmoid/gelu and their gradients, and add/sub/mul/div/maximum/minimum
// on equal shapes or with one operand repeating, run as WebAssembly SIMD
// (assembly/elementwise.ts); the loops below stay the reference (cpu-js).

import type { AdamWHyper, BinaryOp, HostArray, UnaryOp } from '../../backend.js';
import type { Alloc } from './alloc.js';
import { WASM_BINARY, WASM_REVERSED, WASM_UNARY, type WasmKernels } from '../wasm.js';
import { isContiguous, repeatPeriod } from '../../../util/shape.js';
import { erf as erfPrecise } from '../../../util/special.js';
import { dropoutKeep } from '../../../util/hash.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf to ~1.5e-7 absolute (Abramowitz & Stegun 7.1.26): plenty for float32 storage. */
function erfFast(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const z = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-z * z));
}

/** Below this many elements the TypeScript loop beats copying into wasm memory and back. */
const WASM_MIN_ELEMENTS = 64;

export function makeElementwiseKernels(alloc: Alloc, precise: boolean, wasm: WasmKernels | null = null) {
  const erf = precise ? erfPrecise : erfFast;
  const useWasm = (x: HostArray, size: number): x is Float32Array => wasm !== null && size >= WASM_MIN_ELEMENTS && x instanceof Float32Array;

  function fill(size: number, value: number): HostArray {
    const out = alloc(size);
    if (value !== 0) out.fill(value);
    return out;
  }

  function unary(op: UnaryOp, x: HostArray, size: number): HostArray {
    const out = alloc(size, true);
    const code = WASM_UNARY[op];
    if (code !== undefined && useWasm(x, size)) {
      wasm!.unary(code, x, out as Float32Array, size);
      return out;
    }
    switch (op) {
      case 'neg': for (let i = 0; i < size; i++) out[i] = -x[i]!; break;
      case 'exp': for (let i = 0; i < size; i++) out[i] = Math.exp(x[i]!); break;
      case 'log': for (let i = 0; i < size; i++) out[i] = Math.log(x[i]!); break;
      case 'sqrt': for (let i = 0; i < size; i++) out[i] = Math.sqrt(x[i]!); break;
      case 'rsqrt': for (let i = 0; i < size; i++) out[i] = 1 / Math.sqrt(x[i]!); break;
      case 'abs': for (let i = 0; i < size; i++) out[i] = Math.abs(x[i]!); break;
      case 'sign': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = v > 0 ? 1 : v < 0 ? -1 : 0; } break;
      case 'square': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = v * v; } break;
      case 'reciprocal': for (let i = 0; i < size; i++) out[i] = 1 / x[i]!; break;
      case 'tanh': for (let i = 0; i < size; i++) out[i] = Math.tanh(x[i]!); break;
      case 'sigmoid': for (let i = 0; i < size; i++) out[i] = 1 / (1 + Math.exp(-x[i]!)); break;
      case 'relu': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = v > 0 ? v : 0; } break;
      case 'gelu': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + erf(v * SQRT1_2)); } break;
      case 'sin': for (let i = 0; i < size; i++) out[i] = Math.sin(x[i]!); break;
      case 'cos': for (let i = 0; i < size; i++) out[i] = Math.cos(x[i]!); break;
      default: throw new Error(`cpu: unary op '${op as string}' has no kernel`);
    }
    return out;
  }

  function unaryGrad(op: UnaryOp, x: HostArray, gy: HostArray, size: number): HostArray {
    const out = alloc(size, true);
    const code = WASM_UNARY[op];
    if (code !== undefined && useWasm(x, size)) {
      wasm!.unaryGrad(code, x, gy as Float32Array, out as Float32Array, size);
      return out;
    }
    switch (op) {
      case 'neg': for (let i = 0; i < size; i++) out[i] = -gy[i]!; break;
      case 'exp': for (let i = 0; i < size; i++) out[i] = gy[i]! * Math.exp(x[i]!); break;
      case 'log': for (let i = 0; i < size; i++) out[i] = gy[i]! / x[i]!; break;
      case 'sqrt': for (let i = 0; i < size; i++) out[i] = gy[i]! * 0.5 / Math.sqrt(x[i]!); break;
      case 'rsqrt': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = -0.5 * gy[i]! / (v * Math.sqrt(v)); } break;
      case 'abs': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = v > 0 ? gy[i]! : v < 0 ? -gy[i]! : 0; } break;
      case 'sign': out.fill(0); break; // zero almost everywhere
      case 'square': for (let i = 0; i < size; i++) out[i] = 2 * x[i]! * gy[i]!; break;
      case 'reciprocal': for (let i = 0; i < size; i++) { const v = x[i]!; out[i] = -gy[i]! / (v * v); } break;
      case 'tanh': for (let i = 0; i < size; i++) { const t = Math.tanh(x[i]!); out[i] = gy[i]! * (1 - t * t); } break;
      case 'sigmoid': for (let i = 0; i < size; i++) { const s = 1 / (1 + Math.exp(-x[i]!)); out[i] = gy[i]! * s * (1 - s); } break;
      case 'relu': for (let i = 0; i < size; i++) out[i] = x[i]! > 0 ? gy[i]! : 0; break;
      case 'gelu':
        // d/dx [x Phi(x)] = Phi(x) + x phi(x)
        for (let i = 0; i < size; i++) {
          const v = x[i]!;
          const cdf = 0.5 * (1 + erf(v * SQRT1_2));
          out[i] = gy[i]! * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
        }
        break;
      case 'sin': for (let i = 0; i < size; i++) out[i] = gy[i]! * Math.cos(x[i]!); break;
      case 'cos': for (let i = 0; i < size; i++) out[i] = -gy[i]! * Math.sin(x[i]!); break;
      default: throw new Error(`cpu: unary op '${op as string}' has no gradient kernel`);
    }
    return out;
  }

  function binary(op: BinaryOp, a: HostArray, b: HostArray, outShape: readonly number[],
    aStrides: readonly number[], bStrides: readonly number[]): HostArray {
    const rank = outShape.length;
    let size = 1;
    for (const d of outShape) size *= d;
    const out = alloc(size, true);
    if (size === 0) return out;
    const aFull = isContiguous(outShape, aStrides);
    const bFull = isContiguous(outShape, bStrides);
    const code = WASM_BINARY[op];
    const simd = code !== undefined && useWasm(a, size);
    if (aFull && bFull) {
      if (simd) wasm!.binary(code, a, b as Float32Array, out as Float32Array, size, size);
      else binarySameShape(op, a, b, out, size);
      return out;
    }
    // One operand repeats along leading axes (a bias, a position embedding, a scalar).
    const bPeriod = aFull ? repeatPeriod(outShape, bStrides) : 0;
    if (bPeriod > 0) {
      if (simd) wasm!.binary(code, a, b as Float32Array, out as Float32Array, size, bPeriod);
      else binaryRepeating(op, a, b, out, size, bPeriod, false);
      return out;
    }
    const aPeriod = bFull ? repeatPeriod(outShape, aStrides) : 0;
    if (aPeriod > 0) {
      if (simd) wasm!.binary(code + WASM_REVERSED, b as Float32Array, a, out as Float32Array, size, aPeriod);
      else binaryRepeating(op, b, a, out, size, aPeriod, true);
      return out;
    }
    const f = binaryFunction(op);
    // Walk the output in order; the innermost axis is a tight loop, outer axes an odometer.
    const inner = rank === 0 ? 1 : outShape[rank - 1]!;
    const aInner = rank === 0 ? 0 : aStrides[rank - 1]!;
    const bInner = rank === 0 ? 0 : bStrides[rank - 1]!;
    const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    let aOff = 0;
    let bOff = 0;
    for (let o = 0; o < size; o += inner) {
      let ai = aOff;
      let bi = bOff;
      for (let j = 0; j < inner; j++) {
        out[o + j] = f(a[ai]!, b[bi]!);
        ai += aInner;
        bi += bInner;
      }
      for (let axis = rank - 2; axis >= 0; axis--) {
        index[axis]!++;
        aOff += aStrides[axis]!;
        bOff += bStrides[axis]!;
        if (index[axis]! < outShape[axis]!) break;
        aOff -= aStrides[axis]! * outShape[axis]!;
        bOff -= bStrides[axis]! * outShape[axis]!;
        index[axis] = 0;
      }
    }
    return out;
  }

  function dropout(x: HostArray, size: number, p: number, seed: number): HostArray {
    const out = alloc(size);
    const scale = 1 / (1 - p);
    for (let i = 0; i < size; i++) out[i] = dropoutKeep(seed, i, p) ? x[i]! * scale : 0;
    return out;
  }

  function adamw(param: HostArray, grad: HostArray, m: HostArray, v: HostArray, size: number, hyper: AdamWHyper): [HostArray, HostArray, HostArray] {
    const p2 = alloc(size, true);
    const m2 = alloc(size, true);
    const v2 = alloc(size, true);
    const { lr, beta1, beta2, eps } = hyper;
    const decay = 1 - lr * hyper.weightDecay;
    const stepSize = lr / (1 - beta1 ** hyper.step);
    const vScale = 1 / Math.sqrt(1 - beta2 ** hyper.step);
    if (wasm && param instanceof Float32Array && wasm.inPlace(param)) {
      wasm.adamw(param, grad as Float32Array, m as Float32Array, v as Float32Array, p2 as Float32Array, m2 as Float32Array,
        v2 as Float32Array, size, beta1, beta2, decay, stepSize, vScale, eps);
      return [p2, m2, v2];
    }
    for (let i = 0; i < size; i++) {
      const g = grad[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * g;
      const vi = beta2 * v[i]! + (1 - beta2) * g * g;
      m2[i] = mi;
      v2[i] = vi;
      p2[i] = param[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) * vScale + eps);
    }
    return [p2, m2, v2];
  }

  return { fill, unary, unaryGrad, binary, dropout, adamw };
}

function binaryFunction(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    case 'pow': return (a, b) => Math.pow(a, b);
    case 'maximum': return (a, b) => (a >= b ? a : b);
    case 'minimum': return (a, b) => (a <= b ? a : b);
    case 'equal': return (a, b) => (a === b ? 1 : 0);
    case 'greater': return (a, b) => (a > b ? 1 : 0);
    default: throw new Error(`cpu: binary op '${op as string}' has no kernel`);
  }
}



/** out = f(full, repeated) (or f(repeated, full) when `swapped`), where `repeated` has period `period`. */
function binaryRepeating(op: BinaryOp, full: HostArray, repeated: HostArray, out: HostArray, size: number, period: number,
  swapped: boolean): void {
  if (period === 1) {
    const r = repeated[0]!;
    if (op === 'mul') { for (let i = 0; i < size; i++) out[i] = full[i]! * r; return; }
    if (op === 'add') { for (let i = 0; i < size; i++) out[i] = full[i]! + r; return; }
  }
  if (!swapped && op === 'add') {
    for (let o = 0; o < size; o += period) for (let j = 0; j < period; j++) out[o + j] = full[o + j]! + repeated[j]!;
    return;
  }
  if (op === 'mul') {
    for (let o = 0; o < size; o += period) for (let j = 0; j < period; j++) out[o + j] = full[o + j]! * repeated[j]!;
    return;
  }
  const f = binaryFunction(op);
  if (swapped) for (let o = 0; o < size; o += period) for (let j = 0; j < period; j++) out[o + j] = f(repeated[j]!, full[o + j]!);
  else for (let o = 0; o < size; o += period) for (let j = 0; j < period; j++) out[o + j] = f(full[o + j]!, repeated[j]!);
}

/** The common case (same shapes) with one monomorphic loop per op. */
function binarySameShape(op: BinaryOp, a: HostArray, b: HostArray, out: HostArray, size: number): void {
  switch (op) {
    case 'add': for (let i = 0; i < size; i++) out[i] = a[i]! + b[i]!; return;
    case 'sub': for (let i = 0; i < size; i++) out[i] = a[i]! - b[i]!; return;
    case 'mul': for (let i = 0; i < size; i++) out[i] = a[i]! * b[i]!; return;
    case 'div': for (let i = 0; i < size; i++) out[i] = a[i]! / b[i]!; return;
    default: {
      const f = binaryFunction(op);
      for (let i = 0; i < size; i++) out[i] = f(a[i]!, b[i]!);
    }
  }
}
