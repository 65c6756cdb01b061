// Row-wise fused kernels in WGSL: softmax, layerNorm and softmax-cross-entropy,
// forward and backward.
//
// Memory plan: one workgroup per row (64, 128 or 256 invocations by the row's
// length; a 2-D grid past 65535 rows). Invocation `lid` handles columns lid,
// lid + WG, ... and each statistic is a per-invocation partial combined in the
// workgroup (reduce.ts: subgroup operations when available, else a tree in
// workgroup memory), so every row's statistics are summed in a fixed order and
// results are reproducible. Rows are re-read for each pass (they stay in cache)
// rather than kept in workgroup memory, which would cap the row length.
// Statistics are float32 (the CPU reference keeps them in float64).
//
// layerNormBackward's dWeight / dBias sum over rows: G <= 512 workgroups each
// take rows g, g + G, ... and keep their columns' sums in registers (or, for
// rows longer than 8 * 256, in their own row of the partial buffer), writing
// one partial row each; a second pass sums the G partials of each column in a
// fixed order. No atomics.
//
// Labels are float values holding class indices. The CPU backend throws on a
// label that is not an integer in [0, classes); a GPU kernel cannot throw, so
// softmaxCrossEntropy gives NaN loss for such a row (its logSumExp is still
// computed) and softmaxCrossEntropyBackward gives a row of NaN gradients.

import { GpuContext, LINEAR_WORKGROUP, Params, type GpuBuffer, type KernelSource, kernelCache } from '../context.js';
import { entryPoint, enables, FLOAT_BITS, reduceMaxF32, reduceSumF32, reduceSumVec2, workgroupSizeFor } from './reduce.js';

/** Most workgroups layerNormBackward spreads rows over (the partials of dWeight / dBias are [G, cols]). */
const LAYERNORM_BACKWARD_GROUPS = 512;
/** Columns per invocation that layerNormBackward keeps in registers; longer rows accumulate in memory. */
const MAX_REGISTER_COLUMNS = 8;
const ELEMENTWISE_WG = 256;

/** Columns per tile and row slices of the partial-sum pass (a 32 x 8 workgroup). */
const PARTIAL_COLUMNS = 32;
const PARTIAL_SLICES = 8;

const LABEL = /* wgsl */ `
// A label is valid when it is an integer in [0, classes).
fn label_valid(label: f32, classes: u32) -> bool {
  return !is_nan(label) && label >= 0.0 && label < f32(classes) && fract(label) == 0.0;
}`;

export function makeRowKernels(ctx: GpuContext) {
  const subgroups = ctx.subgroups;
  const cached = kernelCache();

  /** A one-workgroup-per-row kernel: `row`, `cols` and `base` (the row's first element) are defined for `body`. */
  function rowKernel(name: string, wg: number, bindings: string, helpers: string, body: string): KernelSource {
    return cached(`${name}:${wg}:${subgroups}`, () => /* wgsl */ `${enables(subgroups)}
${bindings}
${LINEAR_WORKGROUP}
${FLOAT_BITS}
${helpers}
${entryPoint(wg, subgroups)}
  let row = linearWorkgroup(wid, groups);
  if (row >= params.rows) { return; }
  let cols = params.cols;
  let base = row * cols;
${body}
}`);
  }

  function softmaxKernel(wg: number): KernelSource {
    return rowKernel('softmax', wg, /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { rows: u32, cols: u32 }
@group(0) @binding(2) var<uniform> params: P;`, reduceMaxF32(wg, subgroups) + reduceSumF32(wg, subgroups), /* wgsl */ `
  // A NaN anywhere makes the row NaN through the sum, whichever max the reduction picked.
  var m = neg_infinity();
  for (var c = lid; c < cols; c += ${wg}u) { m = max(m, x[base + c]); }
  m = reduce_max_f32(m);
  var s = 0.0;
  for (var c = lid; c < cols; c += ${wg}u) { s += exp(x[base + c] - m); }
  let inv = 1.0 / reduce_sum_f32(s);
  for (var c = lid; c < cols; c += ${wg}u) { out[base + c] = exp(x[base + c] - m) * inv; }`);
  }

  function softmaxBackwardKernel(wg: number): KernelSource {
    return rowKernel('softmaxBackward', wg, /* wgsl */ `
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { rows: u32, cols: u32 }
@group(0) @binding(3) var<uniform> params: P;`, reduceSumF32(wg, subgroups), /* wgsl */ `
  var s = 0.0;
  for (var c = lid; c < cols; c += ${wg}u) { s += gy[base + c] * y[base + c]; }
  let dot = reduce_sum_f32(s);
  for (var c = lid; c < cols; c += ${wg}u) { out[base + c] = y[base + c] * (gy[base + c] - dot); }`);
  }

  function layerNormKernel(wg: number): KernelSource {
    return rowKernel('layerNorm', wg, /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstdOut: array<f32>;
struct P { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(6) var<uniform> params: P;`, reduceSumF32(wg, subgroups), /* wgsl */ `
  // Two passes, as on the CPU: the variance of centred values does not cancel catastrophically.
  var s = 0.0;
  for (var c = lid; c < cols; c += ${wg}u) { s += x[base + c]; }
  let mean = reduce_sum_f32(s) / f32(cols);
  var q = 0.0;
  for (var c = lid; c < cols; c += ${wg}u) { let d = x[base + c] - mean; q += d * d; }
  let rstd = 1.0 / sqrt(reduce_sum_f32(q) / f32(cols) + params.eps);
  for (var c = lid; c < cols; c += ${wg}u) { y[base + c] = (x[base + c] - mean) * rstd * weight[c] + bias[c]; }
  if (lid == 0u) {
    meanOut[row] = mean;
    rstdOut[row] = rstd;
  }`);
  }

  /**
   * dx per row, and each workgroup's partial dWeight / dBias over its rows:
   * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * weight.
   * `perThread` > 0 keeps that many columns per invocation in registers; 0
   * accumulates in the workgroup's own row of the partial buffers instead.
   */
  function layerNormBackwardKernel(wg: number, perThread: number): KernelSource {
    const bindings = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> meanIn: array<f32>;
@group(0) @binding(3) var<storage, read> rstdIn: array<f32>;
@group(0) @binding(4) var<storage, read> gy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> partialW: array<f32>;
@group(0) @binding(7) var<storage, read_write> partialB: array<f32>;
struct P { rows: u32, cols: u32, groupsUsed: u32 }
@group(0) @binding(8) var<uniform> params: P;`;
    const K = perThread;
    const body = K > 0 ? /* wgsl */ `
  var accW: array<f32, ${K}>;
  var accB: array<f32, ${K}>;
  var xhats: array<f32, ${K}>;
  var gs: array<f32, ${K}>;
  for (var row = g; row < params.rows; row += params.groupsUsed) {
    let base = row * cols;
    let mu = meanIn[row];
    let inv = rstdIn[row];
    var s = vec2f(0.0);
    for (var k = 0u; k < ${K}u; k++) {
      let c = lid + k * ${wg}u;
      if (c < cols) {
        let dy = gy[base + c];
        let xhat = (x[base + c] - mu) * inv;
        let gv = dy * weight[c];
        xhats[k] = xhat;
        gs[k] = gv;
        s += vec2f(gv, gv * xhat);
        accW[k] += dy * xhat;
        accB[k] += dy;
      }
    }
    let sums = reduce_sum_vec2(s) / f32(cols);
    for (var k = 0u; k < ${K}u; k++) {
      let c = lid + k * ${wg}u;
      if (c < cols) { dx[base + c] = inv * (gs[k] - sums.x - xhats[k] * sums.y); }
    }
  }
  for (var k = 0u; k < ${K}u; k++) {
    let c = lid + k * ${wg}u;
    if (c < cols) {
      partialW[g * cols + c] = accW[k];
      partialB[g * cols + c] = accB[k];
    }
  }` : /* wgsl */ `
  let own = g * cols;
  for (var c = lid; c < cols; c += ${wg}u) {
    partialW[own + c] = 0.0;
    partialB[own + c] = 0.0;
  }
  for (var row = g; row < params.rows; row += params.groupsUsed) {
    let base = row * cols;
    let mu = meanIn[row];
    let inv = rstdIn[row];
    var s = vec2f(0.0);
    for (var c = lid; c < cols; c += ${wg}u) {
      let dy = gy[base + c];
      let xhat = (x[base + c] - mu) * inv;
      let gv = dy * weight[c];
      s += vec2f(gv, gv * xhat);
      partialW[own + c] += dy * xhat;
      partialB[own + c] += dy;
    }
    let sums = reduce_sum_vec2(s) / f32(cols);
    for (var c = lid; c < cols; c += ${wg}u) {
      let xhat = (x[base + c] - mu) * inv;
      dx[base + c] = inv * (gy[base + c] * weight[c] - sums.x - xhat * sums.y);
    }
  }`;
    return cached(`layerNormBackward:${wg}:${K}:${subgroups}`, () => /* wgsl */ `${enables(subgroups)}
${bindings}
${LINEAR_WORKGROUP}
${reduceSumVec2(wg, subgroups)}
${entryPoint(wg, subgroups)}
  let g = linearWorkgroup(wid, groups);
  if (g >= params.groupsUsed) { return; }
  let cols = params.cols;
${body}
}`);
  }

  /** dWeight[c], dBias[c] = sums over the G partial rows, for 32 columns per workgroup in 8 slices. */
  const partialSumKernel: KernelSource = {
    name: 'layerNormPartialSums',
    code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> partialW: array<f32>;
@group(0) @binding(1) var<storage, read> partialB: array<f32>;
@group(0) @binding(2) var<storage, read_write> dWeight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dBias: array<f32>;
struct P { cols: u32, groupsUsed: u32 }
@group(0) @binding(4) var<uniform> params: P;
${LINEAR_WORKGROUP}
var<workgroup> slices: array<vec2f, ${PARTIAL_COLUMNS * PARTIAL_SLICES}>;
@compute @workgroup_size(${PARTIAL_COLUMNS}, ${PARTIAL_SLICES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) local: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let c = linearWorkgroup(wid, groups) * ${PARTIAL_COLUMNS}u + local.x;
  var s = vec2f(0.0);
  if (c < params.cols) {
    for (var r = local.y; r < params.groupsUsed; r += ${PARTIAL_SLICES}u) {
      s += vec2f(partialW[r * params.cols + c], partialB[r * params.cols + c]);
    }
  }
  slices[lid] = s;
  workgroupBarrier();
  if (local.y == 0u && c < params.cols) {
    var total = slices[local.x];
    for (var j = 1u; j < ${PARTIAL_SLICES}u; j++) { total += slices[j * ${PARTIAL_COLUMNS}u + local.x]; }
    dWeight[c] = total.x;
    dBias[c] = total.y;
  }
}`,
  };

  function crossEntropyKernel(wg: number): KernelSource {
    return rowKernel('softmaxCrossEntropy', wg, /* wgsl */ `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
struct P { rows: u32, cols: u32, smoothing: f32 }
@group(0) @binding(4) var<uniform> params: P;`, reduceMaxF32(wg, subgroups) + reduceSumVec2(wg, subgroups) + LABEL, /* wgsl */ `
  var m = neg_infinity();
  for (var c = lid; c < cols; c += ${wg}u) { m = max(m, logits[base + c]); }
  m = reduce_max_f32(m);
  // (sum of exp(z - max), sum of z): the second is the smoothing term's.
  var s = vec2f(0.0);
  for (var c = lid; c < cols; c += ${wg}u) {
    let z = logits[base + c];
    s += vec2f(exp(z - m), z);
  }
  let sums = reduce_sum_vec2(s);
  if (lid == 0u) {
    let logSumExp = m + log(sums.x);
    let label = labels[row];
    let valid = label_valid(label, cols);
    // -sum_c q_c log p_c with q = (1 - s) onehot(label) + s / C
    let value = logSumExp - (1.0 - params.smoothing) * logits[base + select(0u, u32(label), valid)]
      - (params.smoothing / f32(cols)) * sums.y;
    loss[row] = select(nan_value(), value, valid);
    lse[row] = logSumExp;
  }`);
  }

  const crossEntropyBackwardKernel: KernelSource = {
    name: 'softmaxCrossEntropyBackward',
    code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> gLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
struct P { size: u32, classes: u32, smoothing: f32 }
@group(0) @binding(5) var<uniform> params: P;
${LINEAR_WORKGROUP}
${FLOAT_BITS}
${LABEL}
@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, groups) * ${ELEMENTWISE_WG}u + lid;
  if (i >= params.size) { return; }
  let row = i / params.classes;
  let label = labels[row];
  let valid = label_valid(label, params.classes);
  let hit = valid && u32(label) == i % params.classes;
  let goal = select(0.0, 1.0 - params.smoothing, hit) + params.smoothing / f32(params.classes);
  let value = gLoss[row] * (exp(logits[i] - lse[row]) - goal);
  out[i] = select(nan_value(), value, valid);
}`,
  };

  function softmax(x: GpuBuffer, rows: number, cols: number): GpuBuffer {
    const out = ctx.alloc(rows * cols);
    if (rows * cols > 0) {
      ctx.dispatch(softmaxKernel(workgroupSizeFor(cols)), [x, out], new Params().u32(rows).u32(cols), GpuContext.grid(rows));
    }
    return out;
  }

  function softmaxBackward(y: GpuBuffer, gy: GpuBuffer, rows: number, cols: number): GpuBuffer {
    const out = ctx.alloc(rows * cols);
    if (rows * cols > 0) {
      ctx.dispatch(softmaxBackwardKernel(workgroupSizeFor(cols)), [y, gy, out], new Params().u32(rows).u32(cols), GpuContext.grid(rows));
    }
    return out;
  }

  function layerNorm(x: GpuBuffer, weight: GpuBuffer, bias: GpuBuffer, rows: number, cols: number, eps: number): [GpuBuffer, GpuBuffer, GpuBuffer] {
    const outs: [GpuBuffer, GpuBuffer, GpuBuffer] = [ctx.alloc(rows * cols), ctx.alloc(rows), ctx.alloc(rows)];
    if (rows > 0) {
      ctx.dispatch(layerNormKernel(workgroupSizeFor(cols)), [x, weight, bias, ...outs], new Params().u32(rows).u32(cols).f32(eps),
        GpuContext.grid(rows));
    }
    return outs;
  }

  function layerNormBackward(x: GpuBuffer, weight: GpuBuffer, mean: GpuBuffer, rstd: GpuBuffer, gy: GpuBuffer, rows: number,
    cols: number): [GpuBuffer, GpuBuffer, GpuBuffer] {
    const dx = ctx.alloc(rows * cols);
    if (rows === 0 || cols === 0) return [dx, ctx.allocZeroed(cols), ctx.allocZeroed(cols)];
    const wg = workgroupSizeFor(cols);
    const perThread = Math.ceil(cols / wg);
    const used = Math.min(rows, LAYERNORM_BACKWARD_GROUPS);
    const partialW = ctx.alloc(used * cols);
    const partialB = ctx.alloc(used * cols);
    ctx.dispatch(layerNormBackwardKernel(wg, perThread <= MAX_REGISTER_COLUMNS ? perThread : 0),
      [x, weight, mean, rstd, gy, dx, partialW, partialB], new Params().u32(rows).u32(cols).u32(used), GpuContext.grid(used));
    const dWeight = ctx.alloc(cols);
    const dBias = ctx.alloc(cols);
    ctx.dispatch(partialSumKernel, [partialW, partialB, dWeight, dBias], new Params().u32(cols).u32(used),
      GpuContext.grid(Math.ceil(cols / PARTIAL_COLUMNS)));
    ctx.free(partialW);
    ctx.free(partialB);
    return [dx, dWeight, dBias];
  }

  function softmaxCrossEntropy(logits: GpuBuffer, labels: GpuBuffer, rows: number, classes: number, smoothing: number): [GpuBuffer, GpuBuffer] {
    const outs: [GpuBuffer, GpuBuffer] = [ctx.alloc(rows), ctx.alloc(rows)];
    if (rows > 0) {
      ctx.dispatch(crossEntropyKernel(workgroupSizeFor(classes)), [logits, labels, ...outs],
        new Params().u32(rows).u32(classes).f32(smoothing), GpuContext.grid(rows));
    }
    return outs;
  }

  function softmaxCrossEntropyBackward(logits: GpuBuffer, labels: GpuBuffer, logSumExp: GpuBuffer, gLoss: GpuBuffer, rows: number,
    classes: number, smoothing: number): GpuBuffer {
    const size = rows * classes;
    const out = ctx.alloc(size);
    if (size > 0) {
      ctx.dispatch(crossEntropyBackwardKernel, [logits, labels, logSumExp, gLoss, out], new Params().u32(size).u32(classes).f32(smoothing),
        GpuContext.grid(Math.ceil(size / ELEMENTWISE_WG)));
    }
    return out;
  }

  return { softmax, softmaxBackward, layerNorm, layerNormBackward, softmaxCrossEntropy, softmaxCrossEntropyBackward };
}
