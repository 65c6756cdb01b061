// KAN basis expansions in WGSL: B-splines on a per-channel knot grid
// (efficient-kan), Gaussian radial basis functions (FastKAN) and Chebyshev
// polynomials of tanh x (ChebyKAN). The math is
// the CPU kernel's (cpu/kernels/kan_bases.ts): per element, the order + 1
// non-zero B-splines of its knot span by the Cox-de Boor triangle; the spline
// order is baked into the WGSL (one pipeline per order).
//
// Memory plan.
//  - bsplineBasis: a workgroup takes 256 consecutive elements. Each invocation
//    computes its element's window (order + 1 values and where it starts) into
//    workgroup memory; then the workgroup writes the block's [256, K] outputs
//    with consecutive invocations on consecutive addresses (coalesced), each
//    output picking its value from the window or 0.
//  - bsplineBasisBackward: one invocation per element reads x, recomputes the
//    window one order down, and dots the derivative window with the order + 1
//    upstream gradients it touches (a contiguous run of gy).
//  - radialBasis: one invocation per output (coalesced writes; x re-read from
//    cache); radialBasisBackward: one per element, summing its K gradients.
//  - chebyshevBasis: one invocation per output T_k (coalesced writes), which
//    reads its element's x (cached across the degree + 1 neighbours) and runs
//    the recurrence up to k: at most 32 multiply-adds, cheaper than staging
//    the row through workgroup memory. chebyshevBasisBackward: one per
//    element, reading x and its degree + 1 upstream gradients, writing dx.
//    tanh and 1 - tanh^2 are computed here (cheby_tanh, cheby_slope) to f32
//    accuracy: a Taylor series near 0, e = exp(-2|x|) elsewhere, so that
//    1 - t^2 = 4e / (1 + e)^2 keeps its relative accuracy at large |x|.

import { GpuContext, LINEAR_WORKGROUP, Params, type GpuBuffer, type KernelSource, kernelCache } from '../context.js';
import { elementwise } from './elementwise.js';
import { FLOAT_BITS } from './reduce.js';

const WG = 256;
/** Returned by the window function when x is outside the knots. */
const OUTSIDE = -1 << 30;

/**
 * WGSL: bspline_window(x, base, vals) fills vals[m] = B_{first+m,ORDER}(x) and
 * returns first (or OUTSIDE); with `withLower` it also takes `lower` and
 * fills lower[m] = B_{first+m,ORDER-1}(x) for the derivative.
 */
function windowFunction(order: number, withLower: boolean): string {
  const size = order + 1;
  return /* wgsl */ `
const ORDER: i32 = ${order};
const OUTSIDE: i32 = ${OUTSIDE};
fn bspline_window(x: f32, base: u32, vals: ptr<function, array<f32, ${size}>>${withLower ? `, lower: ptr<function, array<f32, ${size}>>` : ''}) -> i32 {
  let knots = params.knots;
  if (!(x >= grid[base] && x < grid[base + knots - 1u])) { return OUTSIDE; }
  // Span s: t_s <= x < t_{s+1} (t_lo <= x < t_hi throughout).
  var lo = 0u;
  var hi = knots - 1u;
  loop {
    if (hi - lo <= 1u) { break; }
    let mid = (lo + hi) / 2u;
    if (grid[base + mid] <= x) { lo = mid; } else { hi = mid; }
  }
  let span = i32(lo);
  (*vals)[0] = 1.0;
  for (var d = 1; d <= ORDER; d++) {
${withLower ? `    if (d == ORDER) {
      for (var m = 0; m < ORDER; m++) { (*lower)[m + 1] = (*vals)[m]; }
    }` : ''}
    // Bases j = span - d + m of order d from those of order d - 1 (j = span - d + 1 + m').
    let maxValid = i32(knots) - 2 - d;
    for (var m = d; m >= 0; m--) {
      let j = span - d + m;
      var v = 0.0;
      if (j >= 0 && j <= maxValid) {
        let t = base + u32(j);
        let tj = grid[t];
        let tjd = grid[t + u32(d)];
        let tj1 = grid[t + 1u];
        let tjd1 = grid[t + u32(d) + 1u];
        if (m >= 1 && tjd > tj) { v += (x - tj) / (tjd - tj) * (*vals)[m - 1]; }
        if (m <= d - 1 && tjd1 > tj1) { v += (tjd1 - x) / (tjd1 - tj1) * (*vals)[m]; }
      }
      (*vals)[m] = v;
    }
  }
  return span - ORDER;
}`;
}

const BSPLINE_PARAMS = 'struct P { elements: u32, channels: u32, knots: u32, bases: u32 }';

function bsplineForwardKernel(order: number): KernelSource {
  const size = order + 1;
  return {
    name: `bsplineBasis:order${order}`,
    code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> grid: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${BSPLINE_PARAMS}
@group(0) @binding(3) var<uniform> params: P;
${LINEAR_WORKGROUP}
${FLOAT_BITS}
${windowFunction(order, false)}
var<workgroup> windowValues: array<f32, ${WG * size}>;
var<workgroup> windowFirst: array<i32, ${WG}>;
var<workgroup> elsewhere: array<f32, ${WG}>; // the value of bases outside the window: 0, or NaN for NaN x
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = linearWorkgroup(wid, groups);
  let start = wg * ${WG}u;
  if (start >= params.elements) { return; } // whole workgroup: uniform
  let element = start + lid;
  if (element < params.elements) {
    let x = xs[element];
    var vals: array<f32, ${size}>;
    var first = OUTSIDE;
    var other = 0.0;
    if (is_nan(x)) {
      other = x;
    } else {
      first = bspline_window(x, (element % params.channels) * params.knots, &vals);
    }
    for (var m = 0u; m < ${size}u; m++) { windowValues[lid * ${size}u + m] = vals[m]; }
    windowFirst[lid] = first;
    elsewhere[lid] = other;
  }
  workgroupBarrier();
  let count = min(${WG}u, params.elements - start) * params.bases;
  let outStart = start * params.bases;
  for (var o = lid; o < count; o += ${WG}u) {
    let e = o / params.bases;
    let m = i32(o % params.bases) - windowFirst[e];
    var v = elsewhere[e];
    if (m >= 0 && m <= ORDER) { v = windowValues[e * ${size}u + u32(m)]; }
    out[outStart + o] = v;
  }
}`,
  };
}

function bsplineBackwardKernel(order: number): KernelSource {
  const size = order + 1;
  return elementwise(`bsplineBasisBackward:order${order}`, /* wgsl */ `
  let x = xs[i];
  if (is_nan(x)) { dx[i] = x; return; }
  let base = (i % params.channels) * params.knots;
  var vals: array<f32, ${size}>;
  var lower: array<f32, ${size}>;
  let first = bspline_window(x, base, &vals, &lower);
  var sum = 0.0;
  if (first != OUTSIDE) {
    for (var m = 0; m <= ORDER; m++) {
      let j = first + m;
      if (j < 0 || j >= i32(params.bases)) { continue; }
      // B'_{j,ORDER} = ORDER (B_{j,ORDER-1} / (t_{j+ORDER} - t_j) - B_{j+1,ORDER-1} / (t_{j+ORDER+1} - t_{j+1}))
      let t = base + u32(j);
      var derivative = 0.0;
      let left = grid[t + u32(ORDER)] - grid[t];
      if (left > 0.0) { derivative += f32(ORDER) * lower[m] / left; }
      if (m < ORDER) {
        let right = grid[t + u32(ORDER) + 1u] - grid[t + 1u];
        if (right > 0.0) { derivative -= f32(ORDER) * lower[m + 1] / right; }
      }
      sum += gy[i * params.bases + u32(j)] * derivative;
    }
  }
  dx[i] = sum;`, /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> grid: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
struct P { size: u32, channels: u32, knots: u32, bases: u32 }
@group(0) @binding(4) var<uniform> params: P;`, `${FLOAT_BITS}\n${windowFunction(order, true)}`);
}

const RBF_PARAMS = 'struct P { size: u32, centers: u32, low: f32, spacing: f32, inverseWidth: f32 }';

const radialForwardKernel = elementwise('radialBasis', /* wgsl */ `
  let z = (xs[i / params.centers] - (params.low + f32(i % params.centers) * params.spacing)) * params.inverseWidth;
  out[i] = exp(-z * z);`, /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${RBF_PARAMS}
@group(0) @binding(2) var<uniform> params: P;`);

const radialBackwardKernel = elementwise('radialBasisBackward', /* wgsl */ `
  let x = xs[i];
  var sum = 0.0;
  for (var k = 0u; k < params.centers; k++) {
    let z = (x - (params.low + f32(k) * params.spacing)) * params.inverseWidth;
    sum += gy[i * params.centers + k] * z * exp(-z * z);
  }
  dx[i] = -2.0 * params.inverseWidth * sum;`, /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
${RBF_PARAMS}
@group(0) @binding(3) var<uniform> params: P;`);

const CHEBY_PARAMS = 'struct P { size: u32, width: u32 }';
const CHEBY_MATH = /* wgsl */ `
${FLOAT_BITS}
fn cheby_tanh(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.3) {
    // x + x^3 (-1/3 + x^2 (2/15 + ...)): truncation < 1e-8 relative
    let x2 = a * a;
    let p = (((-1382.0 / 155925.0 * x2 + 62.0 / 2835.0) * x2 - 17.0 / 315.0) * x2 + 2.0 / 15.0) * x2 - 1.0 / 3.0;
    return x + x * x2 * p;
  }
  let e = exp(-2.0 * a);
  return sign(x) * (1.0 - e) / (1.0 + e);
}
// 1 - tanh^2 x
fn cheby_slope(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let d = 1.0 + e;
  return 4.0 * e / (d * d);
}`;

const chebyshevForwardKernel = elementwise('chebyshevBasis', /* wgsl */ `
  let x = xs[i / params.width];
  if (is_nan(x)) { out[i] = x; return; }
  let k = i % params.width;
  let t = cheby_tanh(x);
  // T_0 = 1, T_1 = t, T_{j+1} = 2 t T_j - T_{j-1}, up to T_k
  var previous = 1.0;
  var current = t;
  for (var j = 1u; j < k; j++) {
    let next = 2.0 * t * current - previous;
    previous = current;
    current = next;
  }
  out[i] = select(current, 1.0, k == 0u);`, /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${CHEBY_PARAMS}
@group(0) @binding(2) var<uniform> params: P;`, CHEBY_MATH);

const chebyshevBackwardKernel = elementwise('chebyshevBasisBackward', /* wgsl */ `
  let x = xs[i];
  if (is_nan(x)) { dx[i] = x; return; }
  let t = cheby_tanh(x);
  // sum_k gy_k k U_{k-1}(t); U_{-1} = 0, U_0 = 1, U_{k+1} = 2 t U_k - U_{k-1}
  var previous = 0.0;
  var current = 1.0;
  var sum = 0.0;
  let row = i * params.width;
  for (var k = 1u; k < params.width; k++) {
    sum += gy[row + k] * f32(k) * current;
    let next = 2.0 * t * current - previous;
    previous = current;
    current = next;
  }
  dx[i] = cheby_slope(x) * sum;`, /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
${CHEBY_PARAMS}
@group(0) @binding(3) var<uniform> params: P;`, CHEBY_MATH);

function launch(size: number): [number, number] {
  return GpuContext.grid(Math.ceil(size / WG));
}

export function makeKanBasisKernels(ctx: GpuContext) {
  const cached = kernelCache();
  const forwardFor = (order: number) => cached(`bsplineBasis:${order}`, () => bsplineForwardKernel(order).code);
  const backwardFor = (order: number) => cached(`bsplineBasisBackward:${order}`, () => bsplineBackwardKernel(order).code);

  function bsplineBasis(x: GpuBuffer, grid: GpuBuffer, rows: number, channels: number, knots: number, order: number): GpuBuffer {
    const elements = rows * channels;
    const bases = knots - order - 1;
    const out = ctx.alloc(elements * bases);
    if (elements * bases === 0) return out;
    ctx.dispatch(forwardFor(order), [x, grid, out], new Params().u32(elements).u32(channels).u32(knots).u32(bases), launch(elements));
    return out;
  }

  function bsplineBasisBackward(x: GpuBuffer, grid: GpuBuffer, gy: GpuBuffer, rows: number, channels: number, knots: number,
    order: number): GpuBuffer {
    const elements = rows * channels;
    const dx = ctx.alloc(elements);
    if (elements === 0) return dx;
    ctx.dispatch(backwardFor(order), [x, grid, gy, dx], new Params().u32(elements).u32(channels).u32(knots).u32(knots - order - 1),
      launch(elements));
    return dx;
  }

  function rbfParams(size: number, centers: number, low: number, spacing: number, width: number): Params {
    return new Params().u32(size).u32(centers).f32(low).f32(spacing).f32(1 / width);
  }

  function radialBasis(x: GpuBuffer, size: number, centers: number, low: number, spacing: number, width: number): GpuBuffer {
    const out = ctx.alloc(size * centers);
    if (size * centers > 0) ctx.dispatch(radialForwardKernel, [x, out], rbfParams(size * centers, centers, low, spacing, width), launch(size * centers));
    return out;
  }

  function radialBasisBackward(x: GpuBuffer, gy: GpuBuffer, size: number, centers: number, low: number, spacing: number,
    width: number): GpuBuffer {
    const dx = ctx.alloc(size);
    if (size > 0) ctx.dispatch(radialBackwardKernel, [x, gy, dx], rbfParams(size, centers, low, spacing, width), launch(size));
    return dx;
  }

  function chebyshevBasis(x: GpuBuffer, size: number, degree: number): GpuBuffer {
    const outputs = size * (degree + 1);
    const out = ctx.alloc(outputs);
    if (outputs > 0) ctx.dispatch(chebyshevForwardKernel, [x, out], new Params().u32(outputs).u32(degree + 1), launch(outputs));
    return out;
  }

  function chebyshevBasisBackward(x: GpuBuffer, gy: GpuBuffer, size: number, degree: number): GpuBuffer {
    const dx = ctx.alloc(size);
    if (size > 0) ctx.dispatch(chebyshevBackwardKernel, [x, gy, dx], new Params().u32(size).u32(degree + 1), launch(size));
    return dx;
  }

  return { bsplineBasis, bsplineBasisBackward, radialBasis, radialBasisBackward, chebyshevBasis, chebyshevBasisBackward };
}
