// Fused softmax attention in WGSL (ops/attention.ts): out = softmax(scale q k^T) v
// for each item of q, k, v [items, N, d], after FlashAttention-2 (Dao, 2023).
//
// Forward: one workgroup per (item, block of ROWS query rows), one invocation
// per query row holding its (pre-scaled) q row and output accumulator in
// registers. Key and value tiles of `bc` rows are staged in workgroup memory;
// each tile's scores are formed in registers, the running max m and sum l are
// updated once per tile (online softmax: the accumulator is rescaled by
// exp(m_old - m_new)), and the row ends as acc / l with its log-sum-exp
// m + log(l) stored for the backward. No N x N matrix exists.
//
// Backward: delta_i = rowsum(dO_i * O_i) in a first pass; then
//   dK/dV: one invocation per key row j, walking query tiles:
//          p = exp(s_ij - lse_i), dv_j += p dO_i, ds = p (dO_i . v_j - delta_i), dk_j += ds q_i scale;
//   dQ:    one invocation per query row i, walking key tiles: dq_i += ds k_j scale.
// Every sum runs in a fixed order inside one invocation: no atomics, the same
// bits every run. Scores are recomputed blockwise (twice: once per pass).
//
// Rows past N (ragged last blocks) still stage tiles and meet the barriers;
// they only skip their loads and stores.

import { GpuContext, kernelCache, LINEAR_WORKGROUP, Params, type GpuBuffer, type KernelSource } from '../context.js';

/** Query (or key) rows per workgroup: one invocation each. */
const ROWS = 64;
/** Most rows per staged tile. */
const MAX_TILE = 32;

const PARAMS = /* wgsl */ `
struct P { items: u32, tokens: u32, blocks: u32, scale: f32 }`;

function bindings(names: readonly [string, 'read' | 'read_write'][]): string {
  return names.map(([name, access], b) => `@group(0) @binding(${b}) var<storage, ${access}> ${name}: array<f32>;`).join('\n') +
    `\n${PARAMS}\n@group(0) @binding(${names.length}) var<uniform> params: P;`;
}

/** The start of every tiled kernel: `item`, `row` (this invocation's row), `valid`, `n` and `base` (the item's first element). */
const PROLOGUE = /* wgsl */ `
  let g = linearWorkgroup(wid, groups);
  if (g >= params.items * params.blocks) { return; }
  let item = g / params.blocks;
  let row = (g % params.blocks) * ${ROWS}u + lid;
  let n = params.tokens;
  let valid = row < n;
  let base = item * n * D;`;

/** Keys and values t0 .. t0 + count into the workgroup's kt / vt tiles (the forward and dQ passes walk all keys per query row). */
const LOAD_KEY_VALUE_TILE = /* wgsl */ `    workgroupBarrier();
    for (var e = lid; e < count * D; e += ${ROWS}u) {
      kt[e] = k[base + t0 * D + e];
      vt[e] = v[base + t0 * D + e];
    }
    workgroupBarrier();`;

function entry(d: number, bc: number, shared: string, body: string, names: readonly [string, 'read' | 'read_write'][]): string {
  return /* wgsl */ `
${bindings(names)}
${LINEAR_WORKGROUP}
const D = ${d}u;
const BC = ${bc}u;
${shared}
@compute @workgroup_size(${ROWS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
${PROLOGUE}
${body}
}`;
}

function forwardCode(d: number, bc: number): string {
  return entry(d, bc, /* wgsl */ `
var<workgroup> kt: array<f32, ${bc * d}>;
var<workgroup> vt: array<f32, ${bc * d}>;`, /* wgsl */ `
  var qr: array<f32, D>;
  var acc: array<f32, D>;
  if (valid) {
    for (var c = 0u; c < D; c++) { qr[c] = q[base + row * D + c] * params.scale; }
  }
  var m = -3.0e38;
  var l = 0.0;
  var s: array<f32, BC>;
  for (var t0 = 0u; t0 < n; t0 += BC) {
    let count = min(BC, n - t0);
${LOAD_KEY_VALUE_TILE}
    var top = m;
    for (var j = 0u; j < count; j++) {
      var dot = 0.0;
      for (var c = 0u; c < D; c++) { dot += qr[c] * kt[j * D + c]; }
      s[j] = dot;
      top = max(top, dot);
    }
    let correction = exp(m - top);
    l *= correction;
    for (var c = 0u; c < D; c++) { acc[c] *= correction; }
    for (var j = 0u; j < count; j++) {
      let p = exp(s[j] - top);
      l += p;
      for (var c = 0u; c < D; c++) { acc[c] += p * vt[j * D + c]; }
    }
    m = top;
  }
  if (valid) {
    let inv = 1.0 / l;
    for (var c = 0u; c < D; c++) { out[base + row * D + c] = acc[c] * inv; }
    lse[item * n + row] = m + log(l);
  }`, [['q', 'read'], ['k', 'read'], ['v', 'read'], ['out', 'read_write'], ['lse', 'read_write']]);
}

/** delta[r] = sum_c gOut[r, c] out[r, c]: one invocation per row (params.items = rows here, blocks = 1). */
function deltaCode(d: number): string {
  return /* wgsl */ `
${bindings([['out', 'read'], ['gOut', 'read'], ['delta', 'read_write']])}
${LINEAR_WORKGROUP}
@compute @workgroup_size(${ROWS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = linearWorkgroup(wid, groups) * ${ROWS}u + lid;
  if (r >= params.items) { return; }
  var sum = 0.0;
  for (var c = 0u; c < ${d}u; c++) { sum += gOut[r * ${d}u + c] * out[r * ${d}u + c]; }
  delta[r] = sum;
}`;
}

/** dK and dV: one invocation per key row, query tiles staged (q pre-scaled, dO, lse, delta). */
function keyValueCode(d: number, bc: number): string {
  return entry(d, bc, /* wgsl */ `
var<workgroup> qt: array<f32, ${bc * d}>;
var<workgroup> gt: array<f32, ${bc * d}>;
var<workgroup> lt: array<f32, ${bc}>;
var<workgroup> dt: array<f32, ${bc}>;`, /* wgsl */ `
  var kr: array<f32, D>;
  var vr: array<f32, D>;
  var dk: array<f32, D>;
  var dv: array<f32, D>;
  if (valid) {
    for (var c = 0u; c < D; c++) { kr[c] = k[base + row * D + c]; vr[c] = v[base + row * D + c]; }
  }
  for (var t0 = 0u; t0 < n; t0 += BC) {
    let count = min(BC, n - t0);
    workgroupBarrier();
    for (var e = lid; e < count * D; e += ${ROWS}u) {
      qt[e] = q[base + t0 * D + e] * params.scale;
      gt[e] = gOut[base + t0 * D + e];
    }
    for (var e = lid; e < count; e += ${ROWS}u) {
      lt[e] = lse[item * n + t0 + e];
      dt[e] = delta[item * n + t0 + e];
    }
    workgroupBarrier();
    for (var i = 0u; i < count; i++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < D; c++) { s += qt[i * D + c] * kr[c]; dp += gt[i * D + c] * vr[c]; }
      let p = exp(s - lt[i]);
      let ds = p * (dp - dt[i]);
      for (var c = 0u; c < D; c++) {
        dv[c] += p * gt[i * D + c];
        dk[c] += ds * qt[i * D + c];
      }
    }
  }
  if (valid) {
    for (var c = 0u; c < D; c++) { dK[base + row * D + c] = dk[c]; dV[base + row * D + c] = dv[c]; }
  }`, [['q', 'read'], ['k', 'read'], ['v', 'read'], ['gOut', 'read'], ['lse', 'read'], ['delta', 'read'],
    ['dK', 'read_write'], ['dV', 'read_write']]);
}

/** dQ: one invocation per query row, key and value tiles staged. */
function queryCode(d: number, bc: number): string {
  return entry(d, bc, /* wgsl */ `
var<workgroup> kt: array<f32, ${bc * d}>;
var<workgroup> vt: array<f32, ${bc * d}>;`, /* wgsl */ `
  var qr: array<f32, D>;
  var gr: array<f32, D>;
  var dq: array<f32, D>;
  var rowLse = 0.0;
  var rowDelta = 0.0;
  if (valid) {
    for (var c = 0u; c < D; c++) { qr[c] = q[base + row * D + c] * params.scale; gr[c] = gOut[base + row * D + c]; }
    rowLse = lse[item * n + row];
    rowDelta = delta[item * n + row];
  }
  for (var t0 = 0u; t0 < n; t0 += BC) {
    let count = min(BC, n - t0);
${LOAD_KEY_VALUE_TILE}
    for (var j = 0u; j < count; j++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < D; c++) { s += qr[c] * kt[j * D + c]; dp += gr[c] * vt[j * D + c]; }
      let ds = exp(s - rowLse) * (dp - rowDelta);
      for (var c = 0u; c < D; c++) { dq[c] += ds * kt[j * D + c]; }
    }
  }
  if (valid) {
    for (var c = 0u; c < D; c++) { dQ[base + row * D + c] = dq[c] * params.scale; }
  }`, [['q', 'read'], ['k', 'read'], ['v', 'read'], ['gOut', 'read'], ['lse', 'read'], ['delta', 'read'], ['dQ', 'read_write']]);
}

/** Largest power-of-two tile (<= MAX_TILE) whose `floatsPerRow` floats per staged row fit in workgroup memory. */
function tileRows(limitBytes: number, floatsPerRow: number): number {
  let bc = MAX_TILE;
  while (bc > 1 && bc * floatsPerRow * 4 > limitBytes) bc /= 2;
  if (bc * floatsPerRow * 4 > limitBytes) throw new Error(`webgpu attention: a head of this width does not fit workgroup memory`);
  return bc;
}

export function makeAttentionKernels(ctx: GpuContext) {
  const cached = kernelCache();
  const limit = ctx.device.limits.maxComputeWorkgroupStorageSize;
  const forward = (d: number): KernelSource => cached(`attention:d${d}`, () => forwardCode(d, tileRows(limit, 2 * d)));
  const delta = (d: number): KernelSource => cached(`attentionDelta:d${d}`, () => deltaCode(d));
  const keyValue = (d: number): KernelSource => cached(`attentionBackwardKV:d${d}`, () => keyValueCode(d, tileRows(limit, 2 * d + 2)));
  const query = (d: number): KernelSource => cached(`attentionBackwardQ:d${d}`, () => queryCode(d, tileRows(limit, 2 * d)));

  const params = (items: number, tokens: number, scale: number) =>
    new Params().u32(items).u32(tokens).u32(Math.ceil(tokens / ROWS)).f32(scale);
  const grid = (items: number, tokens: number) => GpuContext.grid(items * Math.ceil(tokens / ROWS));

  return {
    attention(q: GpuBuffer, k: GpuBuffer, v: GpuBuffer, items: number, tokens: number, dim: number, scale: number): [GpuBuffer, GpuBuffer] {
      const out = ctx.alloc(items * tokens * dim);
      const lse = ctx.alloc(items * tokens);
      if (items * tokens > 0) ctx.dispatch(forward(dim), [q, k, v, out, lse], params(items, tokens, scale), grid(items, tokens));
      return [out, lse];
    },

    attentionBackward(q: GpuBuffer, k: GpuBuffer, v: GpuBuffer, out: GpuBuffer, lse: GpuBuffer, gOut: GpuBuffer, items: number,
      tokens: number, dim: number, scale: number): [GpuBuffer, GpuBuffer, GpuBuffer] {
      const size = items * tokens * dim;
      const dq = ctx.alloc(size);
      const dk = ctx.alloc(size);
      const dv = ctx.alloc(size);
      if (items * tokens === 0) return [dq, dk, dv];
      const rows = items * tokens;
      const deltas = ctx.alloc(rows);
      ctx.dispatch(delta(dim), [out, gOut, deltas], new Params().u32(rows).u32(1).u32(1).f32(0), GpuContext.grid(Math.ceil(rows / ROWS)));
      ctx.dispatch(keyValue(dim), [q, k, v, gOut, lse, deltas, dk, dv], params(items, tokens, scale), grid(items, tokens));
      ctx.dispatch(query(dim), [q, k, v, gOut, lse, deltas, dq], params(items, tokens, scale), grid(items, tokens));
      ctx.free(deltas);
      return [dq, dk, dv];
    },
  };
}
