// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Element-wise f32 kernels (see src/backends/cpu/kernels/elementwise.ts for the
// reference loops): the transcendental unary ops and their gradients, and the
// four-lane binary ops on equal shapes or with one operand repeating. Tails
// (n % 4) run one lane of the same vector code, so a value does not depend on
// its position. Op codes are shared with ../wasm.ts.

import { fma } from './simd';
import { expLanes } from './normalization';

// Unary op codes.
const EXP = 0;
const TANH = 1;
const SIGMOID = 2;
const GELU = 3;
const ERF = 4; // for accuracy tests only

// Binary op codes; REVERSED + op takes its operands the other way round.
const ADD = 0;
const SUB = 1;
const MUL = 2;
const DIV = 3;
const MAX = 4;
const MIN = 5;
const REVERSED = 10;
const RADD = REVERSED + ADD;
const RSUB = REVERSED + SUB;
const RMUL = REVERSED + MUL;
const RDIV = REVERSED + DIV;
const RMAX = REVERSED + MAX;
const RMIN = REVERSED + MIN;

const SIGN_MASK = 0x80000000;
const SQRT1_2: f32 = 0.707106781;
const INV_SQRT_2PI: f32 = 0.398942280;
const TWO_OVER_SQRT_PI: f32 = 1.12837917;
/** Below this |x| tanh comes from its Taylor series (1 - e)/(1 + e) would cancel. */
const TANH_SERIES_BELOW: f32 = 0.3;

// @ts-ignore: decorator
@inline function absLanes(x: v128): v128 {
  return v128.andnot(x, i32x4.splat(SIGN_MASK));
}

/** |magnitude| with the sign of `signOf`. */
// @ts-ignore: decorator
@inline function withSign(magnitude: v128, signOf: v128): v128 {
  return v128.or(absLanes(magnitude), v128.and(signOf, i32x4.splat(SIGN_MASK)));
}

/**
 * erfc(z) for z >= 0 with relative error ~1.2e-7 (the Chebyshev fit of
 * Numerical Recipes, 2nd ed., sec. 6.2): t e^(-z^2 + P(t)), t = 1 / (1 + z/2).
 * Relative accuracy keeps GELU's far negative tail, where erf(z) + 1 cancels, exact.
 */
// @ts-ignore: decorator
@inline function erfcPositive(z: v128, zSquared: v128): v128 {
  const t = f32x4.div(f32x4.splat(1), fma(z, f32x4.splat(0.5), f32x4.splat(1)));
  let p = fma(t, f32x4.splat(0.17087277), f32x4.splat(-0.82215223));
  p = fma(p, t, f32x4.splat(1.48851587));
  p = fma(p, t, f32x4.splat(-1.13520398));
  p = fma(p, t, f32x4.splat(0.27886807));
  p = fma(p, t, f32x4.splat(-0.18628806));
  p = fma(p, t, f32x4.splat(0.09678418));
  p = fma(p, t, f32x4.splat(0.37409196));
  p = fma(p, t, f32x4.splat(1.00002368));
  p = fma(p, t, f32x4.splat(-1.26551223));
  return f32x4.mul(t, expLanes(f32x4.sub(p, zSquared)));
}

/** Phi(x), the standard normal CDF: erfc(|x|/sqrt2)/2, or 1 minus that for x >= 0. */
// @ts-ignore: decorator
@inline function normalCdf(x: v128): v128 {
  // z^2 as x^2 / 2: one rounding fewer in the exponent, which sets the tail's relative error.
  const zSquared = f32x4.mul(f32x4.mul(x, x), f32x4.splat(0.5));
  const half = f32x4.mul(erfcPositive(f32x4.mul(absLanes(x), f32x4.splat(SQRT1_2)), zSquared), f32x4.splat(0.5));
  return v128.bitselect(f32x4.sub(f32x4.splat(1), half), half, f32x4.ge(x, f32x4.splat(0)));
}

// @ts-ignore: decorator
@inline export function tanhLanes(x: v128): v128 {
  const a = absLanes(x);
  // |x| >= 0.3: (1 - e) / (1 + e) with e = e^(-2|x|) (no overflow; saturates to 1).
  const e = expLanes(f32x4.mul(a, f32x4.splat(-2)));
  const large = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  // |x| < 0.3: x + x^3 (-1/3 + x^2 (2/15 + ...)), truncation < 1e-8 relative.
  const x2 = f32x4.mul(a, a);
  let p = fma(x2, f32x4.splat(<f32>(-1382.0 / 155925)), f32x4.splat(<f32>(62.0 / 2835)));
  p = fma(p, x2, f32x4.splat(<f32>(-17.0 / 315)));
  p = fma(p, x2, f32x4.splat(<f32>(2.0 / 15)));
  p = fma(p, x2, f32x4.splat(<f32>(-1.0 / 3)));
  const small = fma(f32x4.mul(p, x2), a, a);
  return withSign(v128.bitselect(small, large, f32x4.lt(a, f32x4.splat(TANH_SERIES_BELOW))), x);
}

// @ts-ignore: decorator
@inline function unaryLanes(op: i32, x: v128): v128 {
  if (op == EXP) return expLanes(x);
  if (op == TANH) return tanhLanes(x);
  if (op == SIGMOID) {
    // 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: e^-|x| never overflows.
    const e = expLanes(f32x4.neg(absLanes(x)));
    const s = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
    return v128.bitselect(s, f32x4.mul(e, s), f32x4.ge(x, f32x4.splat(0)));
  }
  if (op == GELU) return f32x4.mul(x, normalCdf(x));
  // ERF: sign(z) (1 - erfc(|z|)), or below |z| = 0.5 (where that cancels) the Taylor
  // series 2/sqrt(pi) (z - z^3/3 + z^5/10 - ...), truncation < 2e-8 relative.
  const a = absLanes(x);
  const a2 = f32x4.mul(a, a);
  const fromErfc = f32x4.sub(f32x4.splat(1), erfcPositive(a, a2));
  let p = fma(a2, f32x4.splat(<f32>(-1.0 / 1320)), f32x4.splat(<f32>(1.0 / 216)));
  p = fma(p, a2, f32x4.splat(<f32>(-1.0 / 42)));
  p = fma(p, a2, f32x4.splat(<f32>(1.0 / 10)));
  p = fma(p, a2, f32x4.splat(<f32>(-1.0 / 3)));
  const series = f32x4.mul(fma(f32x4.mul(p, a2), a, a), f32x4.splat(TWO_OVER_SQRT_PI));
  return withSign(v128.bitselect(series, fromErfc, f32x4.lt(a, f32x4.splat(0.5))), x);
}

/** d op(x) / dx times gy. */
// @ts-ignore: decorator
@inline function unaryGradLanes(op: i32, x: v128, gy: v128): v128 {
  if (op == EXP) return f32x4.mul(gy, expLanes(x));
  if (op == TANH) {
    // 1 - tanh^2 = 4e / (1 + e)^2 with e = e^(-2|x|): no cancellation for large |x|.
    const e = expLanes(f32x4.mul(absLanes(x), f32x4.splat(-2)));
    const d = f32x4.add(f32x4.splat(1), e);
    return f32x4.mul(gy, f32x4.div(f32x4.mul(e, f32x4.splat(4)), f32x4.mul(d, d)));
  }
  if (op == SIGMOID) {
    // s (1 - s) = e / (1 + e)^2 with e = e^-|x| (symmetric in x).
    const e = expLanes(f32x4.neg(absLanes(x)));
    const s = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
    return f32x4.mul(gy, f32x4.mul(f32x4.mul(e, s), s));
  }
  // GELU: Phi(x) + x phi(x)
  const density = f32x4.mul(expLanes(f32x4.mul(f32x4.mul(x, x), f32x4.splat(-0.5))), f32x4.splat(INV_SQRT_2PI));
  return f32x4.mul(gy, fma(x, density, normalCdf(x)));
}

// @ts-ignore: decorator
@inline function unaryLoop(op: i32, src: usize, dst: usize, n: i32): void {
  const full = <usize>(n & ~3) << 2;
  let i: usize = 0;
  for (; i < full; i += 16) v128.store(dst + i, unaryLanes(op, v128.load(src + i)));
  for (; i < (<usize>n << 2); i += 4) {
    store<f32>(dst + i, f32x4.extract_lane(unaryLanes(op, f32x4.splat(load<f32>(src + i))), 0));
  }
}

// @ts-ignore: decorator
@inline function unaryGradLoop(op: i32, x: usize, gy: usize, dst: usize, n: i32): void {
  const full = <usize>(n & ~3) << 2;
  let i: usize = 0;
  for (; i < full; i += 16) v128.store(dst + i, unaryGradLanes(op, v128.load(x + i), v128.load(gy + i)));
  for (; i < (<usize>n << 2); i += 4) {
    const v = unaryGradLanes(op, f32x4.splat(load<f32>(x + i)), f32x4.splat(load<f32>(gy + i)));
    store<f32>(dst + i, f32x4.extract_lane(v, 0));
  }
}

/** dst[i] = op(src[i]) for the unary op codes above. */
export function unaryF32(op: i32, src: usize, dst: usize, n: i32): void {
  switch (op) {
    case EXP: unaryLoop(EXP, src, dst, n); break;
    case TANH: unaryLoop(TANH, src, dst, n); break;
    case SIGMOID: unaryLoop(SIGMOID, src, dst, n); break;
    case GELU: unaryLoop(GELU, src, dst, n); break;
    default: unaryLoop(ERF, src, dst, n);
  }
}

/** dst[i] = gy[i] * op'(x[i]) (EXP, TANH, SIGMOID, GELU). */
export function unaryGradF32(op: i32, x: usize, gy: usize, dst: usize, n: i32): void {
  switch (op) {
    case EXP: unaryGradLoop(EXP, x, gy, dst, n); break;
    case TANH: unaryGradLoop(TANH, x, gy, dst, n); break;
    case SIGMOID: unaryGradLoop(SIGMOID, x, gy, dst, n); break;
    default: unaryGradLoop(GELU, x, gy, dst, n);
  }
}

// --- binary ------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function binaryLanes(op: i32, x: v128, y: v128): v128 {
  const swapped = op >= REVERSED;
  const a = swapped ? y : x;
  const b = swapped ? x : y;
  if (swapped) op -= REVERSED;
  if (op == ADD) return f32x4.add(a, b);
  if (op == SUB) return f32x4.sub(a, b);
  if (op == MUL) return f32x4.mul(a, b);
  if (op == DIV) return f32x4.div(a, b);
  // As the reference: a >= b ? a : b (NaN in a gives b), a <= b ? a : b.
  if (op == MAX) return v128.bitselect(a, b, f32x4.ge(a, b));
  return v128.bitselect(a, b, f32x4.le(a, b));
}

/** dst[i] = op(a[i], b[i]) for i < n. */
// @ts-ignore: decorator
@inline function binaryRun(op: i32, a: usize, b: usize, dst: usize, n: i32): void {
  const full = <usize>(n & ~3) << 2;
  let i: usize = 0;
  for (; i < full; i += 16) v128.store(dst + i, binaryLanes(op, v128.load(a + i), v128.load(b + i)));
  for (; i < (<usize>n << 2); i += 4) {
    store<f32>(dst + i, f32x4.extract_lane(binaryLanes(op, f32x4.splat(load<f32>(a + i)), f32x4.splat(load<f32>(b + i))), 0));
  }
}

/** op(a[i], b[i mod period]) over n elements (period == n: equal shapes; period divides n). */
// @ts-ignore: decorator
@inline function binaryLoop(op: i32, a: usize, b: usize, dst: usize, n: i32, period: i32): void {
  if (period == 1) {
    // A scalar operand: one vector of it.
    const s = v128.load32_splat(b);
    const full = <usize>(n & ~3) << 2;
    let i: usize = 0;
    for (; i < full; i += 16) v128.store(dst + i, binaryLanes(op, v128.load(a + i), s));
    for (; i < (<usize>n << 2); i += 4) store<f32>(dst + i, f32x4.extract_lane(binaryLanes(op, f32x4.splat(load<f32>(a + i)), s), 0));
    return;
  }
  const rowBytes = <usize>period << 2;
  for (let o: usize = 0; o < (<usize>n << 2); o += rowBytes) binaryRun(op, a + o, b, dst + o, period);
}

/** dst[i] = op(a[i], b[i mod period]) for the binary op codes above. */
export function binaryF32(op: i32, a: usize, b: usize, dst: usize, n: i32, period: i32): void {
  switch (op) {
    case ADD: binaryLoop(ADD, a, b, dst, n, period); break;
    case SUB: binaryLoop(SUB, a, b, dst, n, period); break;
    case MUL: binaryLoop(MUL, a, b, dst, n, period); break;
    case DIV: binaryLoop(DIV, a, b, dst, n, period); break;
    case MAX: binaryLoop(MAX, a, b, dst, n, period); break;
    case MIN: binaryLoop(MIN, a, b, dst, n, period); break;
    case RADD: binaryLoop(RADD, a, b, dst, n, period); break;
    case RSUB: binaryLoop(RSUB, a, b, dst, n, period); break;
    case RMUL: binaryLoop(RMUL, a, b, dst, n, period); break;
    case RDIV: binaryLoop(RDIV, a, b, dst, n, period); break;
    case RMAX: binaryLoop(RMAX, a, b, dst, n, period); break;
    default: binaryLoop(RMIN, a, b, dst, n, period);
  }
}

// --- layout ------------------------------------------------------------------------

/**
 * dst (contiguous [n0, n1, n2, n3]) = src read with element strides t0..t3:
 * the strided copy behind transposes of rank <= 4 (callers pad with size-1 axes).
 */
export function copyStrided4(src: usize, dst: usize, n0: i32, n1: i32, n2: i32, n3: i32, t0: i32, t1: i32, t2: i32, t3: i32): void {
  const runBytes = <usize>n3 << 2;
  const full = <usize>(n3 & ~3) << 2;
  const step = <usize>t3 << 2;
  let out = dst;
  for (let i0 = 0; i0 < n0; i0++) {
    for (let i1 = 0; i1 < n1; i1++) {
      for (let i2 = 0; i2 < n2; i2++) {
        const from = src + ((<usize>(i0 * t0 + i1 * t1 + i2 * t2)) << 2);
        if (t3 == 1) {
          let j: usize = 0;
          for (; j < full; j += 16) v128.store(out + j, v128.load(from + j));
          for (; j < runBytes; j += 4) store<f32>(out + j, load<f32>(from + j));
        } else {
          let at = from;
          for (let j: usize = 0; j < runBytes; j += 4) {
            store<f32>(out + j, load<f32>(at));
            at += step;
          }
        }
        out += runBytes;
      }
    }
  }
}

/**
 * dst read with element strides t0..t3 = src (contiguous [n0, n1, n2, n3]): the
 * strided write behind slice gradients (the caller zeroes dst first).
 */
export function scatterStrided4(src: usize, dst: usize, n0: i32, n1: i32, n2: i32, n3: i32, t0: i32, t1: i32, t2: i32, t3: i32): void {
  const runBytes = <usize>n3 << 2;
  const full = <usize>(n3 & ~3) << 2;
  const step = <usize>t3 << 2;
  let from = src;
  for (let i0 = 0; i0 < n0; i0++) {
    for (let i1 = 0; i1 < n1; i1++) {
      for (let i2 = 0; i2 < n2; i2++) {
        const to = dst + ((<usize>(i0 * t0 + i1 * t1 + i2 * t2)) << 2);
        if (t3 == 1) {
          let j: usize = 0;
          for (; j < full; j += 16) v128.store(to + j, v128.load(from + j));
          for (; j < runBytes; j += 4) store<f32>(to + j, load<f32>(from + j));
        } else {
          let at = to;
          for (let j: usize = 0; j < runBytes; j += 4) {
            store<f32>(at, load<f32>(from + j));
            at += step;
          }
        }
        from += runBytes;
      }
    }
  }
}

// --- reductions ----------------------------------------------------------------------

/** acc[c] += sum over r of x[r, c] (f64 accumulators, rows in order): sums over leading axes, e.g. bias gradients. */
export function sumRowsF64(x: usize, acc: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const pairs = cols & ~1;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    let c = 0;
    for (; c < pairs; c += 2) {
      const at = acc + (<usize>c << 3);
      const v = v128.load64_zero(row + (<usize>c << 2));
      v128.store(at, f64x2.add(v128.load(at), f64x2.promote_low_f32x4(v)));
    }
    for (; c < cols; c++) {
      const at = acc + (<usize>c << 3);
      store<f64>(at, load<f64>(at) + <f64>load<f32>(row + (<usize>c << 2)));
    }
  }
}

/** out[r] = sum over c of x[r, c] (f64 lanes, then f32): sums over trailing axes. */
export function sumColsF32(x: usize, out: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const quads = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    let low = f64x2.splat(0), high = f64x2.splat(0);
    let c = 0;
    for (; c < quads; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      low = f64x2.add(low, f64x2.promote_low_f32x4(v));
      high = f64x2.add(high, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
    }
    let sum = (f64x2.extract_lane(low, 0) + f64x2.extract_lane(high, 0)) + (f64x2.extract_lane(low, 1) + f64x2.extract_lane(high, 1));
    for (; c < cols; c++) sum += <f64>load<f32>(row + (<usize>c << 2));
    store<f32>(out + (<usize>r << 2), <f32>sum);
  }
}

// --- optimizer ----------------------------------------------------------------------

/**
 * One AdamW step over n values, in f64 exactly as the TypeScript kernel
 * computes it (the same bits): m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g^2,
 * p' = p decay - stepSize m' / (sqrt(v') vScale + eps).
 */
export function adamwF32(param: usize, grad: usize, m: usize, v: usize, paramOut: usize, mOut: usize, vOut: usize, n: i32,
  beta1: f64, beta2: f64, decay: f64, stepSize: f64, vScale: f64, eps: f64): void {
  const b1 = f64x2.splat(beta1), c1 = f64x2.splat(1 - beta1);
  const b2 = f64x2.splat(beta2), c2 = f64x2.splat(1 - beta2);
  const d = f64x2.splat(decay), s = f64x2.splat(stepSize), vs = f64x2.splat(vScale), e = f64x2.splat(eps);
  const pairs = <usize>(n & ~1) << 2;
  let o: usize = 0;
  for (; o < pairs; o += 8) {
    const g = f64x2.promote_low_f32x4(v128.load64_zero(grad + o));
    const mi = f64x2.add(f64x2.mul(b1, f64x2.promote_low_f32x4(v128.load64_zero(m + o))), f64x2.mul(c1, g));
    const vi = f64x2.add(f64x2.mul(b2, f64x2.promote_low_f32x4(v128.load64_zero(v + o))), f64x2.mul(f64x2.mul(c2, g), g));
    const p = f64x2.promote_low_f32x4(v128.load64_zero(param + o));
    const step = f64x2.div(f64x2.mul(s, mi), f64x2.add(f64x2.mul(f64x2.sqrt(vi), vs), e));
    v128.store64_lane(mOut + o, f32x4.demote_f64x2_zero(mi), 0);
    v128.store64_lane(vOut + o, f32x4.demote_f64x2_zero(vi), 0);
    v128.store64_lane(paramOut + o, f32x4.demote_f64x2_zero(f64x2.sub(f64x2.mul(p, d), step)), 0);
  }
  for (; o < (<usize>n << 2); o += 4) {
    const g = <f64>load<f32>(grad + o);
    const mi = beta1 * <f64>load<f32>(m + o) + (1 - beta1) * g;
    const vi = beta2 * <f64>load<f32>(v + o) + (1 - beta2) * g * g;
    store<f32>(mOut + o, <f32>mi);
    store<f32>(vOut + o, <f32>vi);
    store<f32>(paramOut + o, <f32>(<f64>load<f32>(param + o) * decay - (stepSize * mi) / (Math.sqrt(vi) * vScale + eps)));
  }
}
