// Fourier-KArAt attention in WGSL (see ops/karat.ts and cpu/kernels/karat.ts for the math).
//
// Every pass is one invocation per output value, looping over its reduction
// axis in a fixed order: no atomics, no cross-invocation sums, so results are
// the same bits every run. The Fourier features cos(m A), sin(m A) are made on
// the fly by the angle-addition recurrence wherever they are needed (never
// stored), so memory stays O(B h N^2) + O(B h N r):
//   forward:  H [items, N, r] (per (i, k, p): loop over q and m), U = W^T V [items, r, d], out = H U
//   backward: U, gH = gOut U^T, gU = H^T gOut, dV = W gU, dW = sum_i V gU^T (per head),
//             dA (per (i, k, q): loop over p and m), dCos / dSin (per (h, p, q): loop over the head's items and rows k, m in registers).

import { GpuContext, kernelCache, LINEAR_WORKGROUP, Params, type GpuBuffer } from '../context.js';

const WG = 64;

const PARAMS = /* wgsl */ `
struct P { items: u32, heads: u32, tokens: u32, rank: u32, terms: u32, dim: u32, total: u32 }`;

/**
 * (cos x, sin x) to about float32 rounding: WGSL's built-in cos / sin only
 * promise an absolute error of 2^-11 (SwiftShader is that coarse), too rough
 * for parity with the CPU. Cody-Waite reduction by pi/2 in three parts, then
 * Cephes' sinf / cosf polynomials on [-pi/4, pi/4] and the quadrant's swap.
 */
const SINCOS = /* wgsl */ `
fn sincos(x: f32) -> vec2f {
  let k = round(x * 0.63661977236758134);
  let r = ((x - k * 1.5703125) - k * 4.837512969970703e-4) - k * 7.549789948768648e-8;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = i32(k) & 3;
  if (q == 0) { return vec2f(c, s); }
  if (q == 1) { return vec2f(-s, c); }
  if (q == 2) { return vec2f(-c, -s); }
  return vec2f(s, -c);
}`;

/** Header of a one-value-per-invocation kernel: `idx` is this invocation's output index (< params.total). */
function kernel(bindings: readonly [string, 'read' | 'read_write'][], body: string, extra = ''): string {
  const decls = bindings.map(([name, access], b) => `@group(0) @binding(${b}) var<storage, ${access}> ${name}: array<f32>;`).join('\n');
  return /* wgsl */ `
${decls}
${PARAMS}
@group(0) @binding(${bindings.length}) var<uniform> params: P;
${LINEAR_WORKGROUP}
${SINCOS}
${extra}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = linearWorkgroup(wid, groups) * ${WG}u + lid;
  if (idx >= params.total) { return; }
${body}
}`;
}

/** H[i, k, p] = sum_q sum_m cosC[h, p, q, m] cos(m A[i, k, q]) + sinC[h, p, q, m] sin(m A[i, k, q]). */
const HIDDEN = kernel([['scores', 'read'], ['cosC', 'read'], ['sinC', 'read'], ['hidden', 'read_write']], `
  let p = idx % params.rank;
  let ik = idx / params.rank;
  let i = ik / params.tokens;
  let h = i % params.heads;
  let row = ik * params.tokens;
  var sum = 0.0;
  for (var q = 0u; q < params.tokens; q++) {
    let x = scores[row + q];
    let cs = sincos(x); let c1 = cs.x; let s1 = cs.y;
    var cm = 1.0; var sm = 0.0;
    let o = ((h * params.rank + p) * params.tokens + q) * params.terms;
    for (var m = 0u; m < params.terms; m++) {
      sum += cosC[o + m] * cm + sinC[o + m] * sm;
      let next = cm * c1 - sm * s1;
      sm = sm * c1 + cm * s1;
      cm = next;
    }
  }
  hidden[idx] = sum;`);

/** U[i, p, j] = sum_n W[h, n, p] V[i, n, j]. */
const PROJECT = kernel([['weight', 'read'], ['values', 'read'], ['u', 'read_write']], `
  let j = idx % params.dim;
  let p = (idx / params.dim) % params.rank;
  let i = idx / (params.dim * params.rank);
  let h = i % params.heads;
  var sum = 0.0;
  for (var n = 0u; n < params.tokens; n++) {
    sum += weight[(h * params.tokens + n) * params.rank + p] * values[(i * params.tokens + n) * params.dim + j];
  }
  u[idx] = sum;`);

/** out[i, k, j] = sum_p H[i, k, p] U[i, p, j]. */
const OUTPUT = kernel([['hidden', 'read'], ['u', 'read'], ['out', 'read_write']], `
  let j = idx % params.dim;
  let ik = idx / params.dim;
  let i = ik / params.tokens;
  var sum = 0.0;
  for (var p = 0u; p < params.rank; p++) { sum += hidden[ik * params.rank + p] * u[(i * params.rank + p) * params.dim + j]; }
  out[idx] = sum;`);

/** gH[i, k, p] = sum_j gOut[i, k, j] U[i, p, j]. */
const GRAD_HIDDEN = kernel([['gOut', 'read'], ['u', 'read'], ['gH', 'read_write']], `
  let p = idx % params.rank;
  let ik = idx / params.rank;
  let i = ik / params.tokens;
  var sum = 0.0;
  for (var j = 0u; j < params.dim; j++) { sum += gOut[ik * params.dim + j] * u[(i * params.rank + p) * params.dim + j]; }
  gH[idx] = sum;`);

/** gU[i, p, j] = sum_k H[i, k, p] gOut[i, k, j]. */
const GRAD_U = kernel([['hidden', 'read'], ['gOut', 'read'], ['gU', 'read_write']], `
  let j = idx % params.dim;
  let p = (idx / params.dim) % params.rank;
  let i = idx / (params.dim * params.rank);
  var sum = 0.0;
  for (var k = 0u; k < params.tokens; k++) {
    let ik = i * params.tokens + k;
    sum += hidden[ik * params.rank + p] * gOut[ik * params.dim + j];
  }
  gU[idx] = sum;`);

/** dV[i, n, j] = sum_p W[h, n, p] gU[i, p, j]. */
const GRAD_VALUES = kernel([['weight', 'read'], ['gU', 'read'], ['dV', 'read_write']], `
  let j = idx % params.dim;
  let n = (idx / params.dim) % params.tokens;
  let i = idx / (params.dim * params.tokens);
  let h = i % params.heads;
  var sum = 0.0;
  for (var p = 0u; p < params.rank; p++) { sum += weight[(h * params.tokens + n) * params.rank + p] * gU[(i * params.rank + p) * params.dim + j]; }
  dV[idx] = sum;`);

/** dW[h, n, p] = sum over the head's items i (in order) of sum_j V[i, n, j] gU[i, p, j]. */
const GRAD_WEIGHT = kernel([['values', 'read'], ['gU', 'read'], ['dW', 'read_write']], `
  let p = idx % params.rank;
  let n = (idx / params.rank) % params.tokens;
  let h = idx / (params.rank * params.tokens);
  var sum = 0.0;
  for (var i = h; i < params.items; i += params.heads) {
    for (var j = 0u; j < params.dim; j++) {
      sum += values[(i * params.tokens + n) * params.dim + j] * gU[(i * params.rank + p) * params.dim + j];
    }
  }
  dW[idx] = sum;`);

/** dA[i, k, q] = sum_p gH[i, k, p] sum_m m (cos(m x) sinC[h, p, q, m] - sin(m x) cosC[h, p, q, m]), x = A[i, k, q]. */
const GRAD_SCORES = kernel([['scores', 'read'], ['cosC', 'read'], ['sinC', 'read'], ['gH', 'read'], ['dA', 'read_write']], `
  let q = idx % params.tokens;
  let ik = idx / params.tokens;
  let i = ik / params.tokens;
  let h = i % params.heads;
  let x = scores[idx];
  let cs = sincos(x); let c1 = cs.x; let s1 = cs.y;
  var sum = 0.0;
  for (var p = 0u; p < params.rank; p++) {
    let o = ((h * params.rank + p) * params.tokens + q) * params.terms;
    var cm = 1.0; var sm = 0.0;
    var inner = 0.0;
    for (var m = 0u; m < params.terms; m++) {
      inner += f32(m) * (cm * sinC[o + m] - sm * cosC[o + m]);
      let next = cm * c1 - sm * s1;
      sm = sm * c1 + cm * s1;
      cm = next;
    }
    sum += gH[ik * params.rank + p] * inner;
  }
  dA[idx] = sum;`);

/** dCos[h, p, q, m] = sum over the head's items i and rows k (in order) of gH[i, k, p] cos(m A[i, k, q]); dSin likewise. */
function gradCoefficients(terms: number): string {
  return kernel([['scores', 'read'], ['gH', 'read'], ['dCos', 'read_write'], ['dSin', 'read_write']], `
  let q = idx % params.tokens;
  let p = (idx / params.tokens) % params.rank;
  let h = idx / (params.tokens * params.rank);
  var accC: array<f32, ${terms}>;
  var accS: array<f32, ${terms}>;
  for (var i = h; i < params.items; i += params.heads) {
    for (var k = 0u; k < params.tokens; k++) {
      let ik = i * params.tokens + k;
      let g = gH[ik * params.rank + p];
      let x = scores[ik * params.tokens + q];
      let cs = sincos(x); let c1 = cs.x; let s1 = cs.y;
      var cm = 1.0; var sm = 0.0;
      for (var m = 0u; m < ${terms}u; m++) {
        accC[m] += g * cm;
        accS[m] += g * sm;
        let next = cm * c1 - sm * s1;
        sm = sm * c1 + cm * s1;
        cm = next;
      }
    }
  }
  for (var m = 0u; m < ${terms}u; m++) {
    dCos[idx * ${terms}u + m] = accC[m];
    dSin[idx * ${terms}u + m] = accS[m];
  }`);
}

export function makeKaratKernels(ctx: GpuContext) {
  const cached = kernelCache();
  const source = (name: string, code: string) => cached(`karat:${name}`, () => code);

  function run(name: string, code: string, buffers: GpuBuffer[], total: number, dims: number[]): void {
    if (total === 0) return;
    const params = new Params();
    for (const d of dims) params.u32(d);
    params.u32(total);
    ctx.dispatch(source(name, code), buffers, params, GpuContext.grid(Math.ceil(total / WG)));
  }

  function karatAttention(scores: GpuBuffer, coefCos: GpuBuffer, coefSin: GpuBuffer, weight: GpuBuffer, values: GpuBuffer, items: number,
    heads: number, tokens: number, rank: number, terms: number, dim: number): [GpuBuffer, GpuBuffer] {
    const dims = [items, heads, tokens, rank, terms, dim];
    const hidden = ctx.alloc(items * tokens * rank);
    const u = ctx.alloc(items * rank * dim);
    const out = ctx.alloc(items * tokens * dim);
    run('hidden', HIDDEN, [scores, coefCos, coefSin, hidden], items * tokens * rank, dims);
    run('project', PROJECT, [weight, values, u], items * rank * dim, dims);
    run('output', OUTPUT, [hidden, u, out], items * tokens * dim, dims);
    ctx.free(u);
    return [out, hidden];
  }

  function karatAttentionBackward(scores: GpuBuffer, coefCos: GpuBuffer, coefSin: GpuBuffer, weight: GpuBuffer, values: GpuBuffer,
    hidden: GpuBuffer, gOut: GpuBuffer, items: number, heads: number, tokens: number, rank: number, terms: number,
    dim: number): [GpuBuffer, GpuBuffer, GpuBuffer, GpuBuffer, GpuBuffer] {
    const dims = [items, heads, tokens, rank, terms, dim];
    const u = ctx.alloc(items * rank * dim);
    const gH = ctx.alloc(items * tokens * rank);
    const gU = ctx.alloc(items * rank * dim);
    const dValues = ctx.alloc(items * tokens * dim);
    const dWeight = ctx.alloc(heads * tokens * rank);
    const dScores = ctx.alloc(items * tokens * tokens);
    const dCos = ctx.alloc(heads * rank * tokens * terms);
    const dSin = ctx.alloc(heads * rank * tokens * terms);
    run('project', PROJECT, [weight, values, u], items * rank * dim, dims);
    run('gradHidden', GRAD_HIDDEN, [gOut, u, gH], items * tokens * rank, dims);
    run('gradU', GRAD_U, [hidden, gOut, gU], items * rank * dim, dims);
    run('gradValues', GRAD_VALUES, [weight, gU, dValues], items * tokens * dim, dims);
    run('gradWeight', GRAD_WEIGHT, [values, gU, dWeight], heads * tokens * rank, dims);
    run('gradScores', GRAD_SCORES, [scores, coefCos, coefSin, gH, dScores], items * tokens * tokens, dims);
    run(`gradCoefficients:${terms}`, gradCoefficients(terms), [scores, gH, dCos, dSin], heads * rank * tokens, dims);
    ctx.free(u);
    ctx.free(gH);
    ctx.free(gU);
    return [dScores, dCos, dSin, dWeight, dValues];
  }

  return { karatAttention, karatAttentionBackward };
}
