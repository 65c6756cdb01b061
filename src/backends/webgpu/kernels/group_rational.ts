// Group-rational activation (GR-KAN) in WGSL: a one-pass forward and a fused,
// deterministic backward (FlashKAT's bar without its atomics).
//
//   P(x) = a0 + a1 x + ... + a5 x^5
//   Q(x) = 1 + |b0||x| + |b1||x|^2 + |b2||x|^3 + |b3||x|^4     (>= 1)
//   y    = P / Q,  sign(0) = +1 for x and b (see docs/grkan.md)
//
// Work layout (forward and backward alike). x is [rows, channels] seen as
// [rows, cols] of V-wide vectors, V = 4 (vec4f loads) when the channels per
// group are a multiple of 4, else V = 1. A group's `perGroup` vector columns
// are cut into `chunks` column tiles of `tileCols` columns; a workgroup of WG
// invocations (256 by default; the autotuner may pick 64 or 128, see
// GROUP_RATIONAL_SHAPES) is a tileCols x tileRows block (tileCols * tileRows
// <= WG, the rest idle) sitting on ONE column tile of ONE group, and walks down the rows
// with a stride of rowBlocks * tileRows (a grid-stride loop). So every
// invocation always touches the same vector column: its 10 coefficients are
// loaded once into registers (all invocations of a workgroup read the same 10
// words), and in the backward its 10 coefficient-gradient sums stay in
// registers for its whole walk, for any number of groups.
// Workgroups = colTiles * rowBlocks, with rowBlocks chosen so that each
// invocation handles ~8 vectors or more, capped near 1024 workgroups in all
// (about one resident wave on a large GPU): the number of partials is bounded.
//
// Backward memory plan: read x and gy once, write dx once; each workgroup
// reduces its invocations' 10 sums (subgroupAdd then a short fixed-order sum
// over subgroups when the device has subgroups, else a workgroup-memory tree)
// and writes one [10] partial, so partials are [workgroups, 10] with each
// workgroup's group known from its index. A second pass (one 64-invocation
// workgroup per group) sums a group's partials in a fixed order (strided, then
// a tree) and applies sign(b_j); with a shared [1, 6] numerator of several
// groups a third tiny pass sums the per-group numerator gradients in group
// order. No atomics anywhere: the same inputs give the same bits every run
// (on the same device and driver).

import { GpuContext, LINEAR_WORKGROUP, Params, type GpuBuffer, type KernelSource } from '../context.js';
import { sizeClass, timeRecording } from '../tuner.js';

/** Invocations per workgroup of the partial-sum pass. */
const REDUCE_WG = 64;

/**
 * A work layout of the two main passes: `wg` invocations per workgroup (a
 * power of two), each handling at least `vectorsPerInvocation` vectors
 * before more workgroups are added, and about `maxWorkgroups` workgroups at
 * most (partials are bounded by it, unless there are more column tiles).
 */
export interface GroupRationalShape {
  readonly wg: 64 | 128 | 256;
  readonly vectorsPerInvocation: number;
  readonly maxWorkgroups: number;
}

/**
 * The layouts the autotuner times; 'default' is the fixed choice when tuning
 * is off. Smaller workgroups or more of them suit small row counts; longer
 * walks cut the partials of very large ones.
 */
export const GROUP_RATIONAL_SHAPES = {
  default: { wg: 256, vectorsPerInvocation: 8, maxWorkgroups: 1024 },
  wg128: { wg: 128, vectorsPerInvocation: 8, maxWorkgroups: 2048 },
  wg64: { wg: 64, vectorsPerInvocation: 8, maxWorkgroups: 4096 },
  long: { wg: 256, vectorsPerInvocation: 32, maxWorkgroups: 512 },
  wide: { wg: 256, vectorsPerInvocation: 4, maxWorkgroups: 4096 },
} as const satisfies Record<string, GroupRationalShape>;
export type GroupRationalShapeName = keyof typeof GROUP_RATIONAL_SHAPES;

interface Tiling {
  vector: 1 | 4;
  /** Vector columns per row and per group. */
  cols: number;
  perGroup: number;
  tileCols: number;
  tileRows: number;
  chunks: number;
  colTiles: number;
  rowBlocks: number;
  workgroups: number;
}

/**
 * Splits a group's `perGroup` columns into equal column tiles so that a
 * workgroup of WG invocations is well filled: the fewest chunks reaching 93%
 * utilisation, else the best found (few chunks keep each row's run contiguous).
 */
function chooseTile(perGroup: number, WG: number): { tileCols: number; tileRows: number; chunks: number } {
  let best = { tileCols: 1, tileRows: WG, chunks: perGroup, efficiency: 0 };
  const first = Math.max(1, Math.ceil(perGroup / WG));
  for (let chunks = first; chunks <= perGroup && chunks < first + 64; chunks++) {
    const tileCols = Math.ceil(perGroup / chunks);
    const tileRows = Math.floor(WG / tileCols);
    const efficiency = (perGroup / (chunks * tileCols)) * ((tileCols * tileRows) / WG);
    if (efficiency > best.efficiency + 1e-9) best = { tileCols, tileRows, chunks, efficiency };
    if (efficiency >= 0.93) break;
  }
  return best;
}

function tiling(rows: number, channels: number, groups: number, shape: GroupRationalShape): Tiling {
  const WG = shape.wg;
  const perGroupChannels = channels / groups;
  const vector = perGroupChannels % 4 === 0 ? 4 : 1;
  const cols = channels / vector;
  const perGroup = perGroupChannels / vector;
  const { tileCols, tileRows, chunks } = chooseTile(perGroup, WG);
  const colTiles = groups * chunks;
  const target = Math.min(shape.maxWorkgroups, Math.max(1, Math.ceil((rows * cols) / (WG * shape.vectorsPerInvocation))));
  const rowBlocks = Math.max(1, Math.min(Math.ceil(target / colTiles), Math.ceil(rows / tileRows)));
  return { vector, cols, perGroup, tileCols, tileRows, chunks, colTiles, rowBlocks, workgroups: colTiles * rowBlocks };
}

function tileParams(t: Tiling, rows: number, shared: boolean): Params {
  return new Params().u32(rows).u32(t.cols).u32(t.perGroup).u32(t.tileCols).u32(t.tileRows).u32(t.chunks).u32(t.colTiles)
    .u32(t.rowBlocks).u32(shared ? 1 : 0);
}

const TILE_PARAMS = /* wgsl */ `
struct P { rows: u32, cols: u32, perGroup: u32, tileCols: u32, tileRows: u32, chunks: u32, colTiles: u32, rowBlocks: u32, sharedNum: u32 }`;

/**
 * WGSL shared by both main passes: finds this invocation's group and column,
 * loads the group's coefficients (a0..a5, |b0|..|b3|) and sets up the row walk.
 * Leaves: wg, g, inTile, col, rowStart, rowStride, a0..a5, b0..b3.
 */
const TILE_SETUP = /* wgsl */ `
  let wg = linearWorkgroup(wid, groups);
  if (wg >= params.colTiles * params.rowBlocks) { return; } // whole workgroup: uniform
  let colTile = wg % params.colTiles;
  let rowBlock = wg / params.colTiles;
  let g = colTile / params.chunks;
  let colInGroup = (colTile % params.chunks) * params.tileCols + lid % params.tileCols;
  let r = lid / params.tileCols;
  let inTile = r < params.tileRows && colInGroup < params.perGroup;
  let col = g * params.perGroup + colInGroup;
  let rowStride = params.rowBlocks * params.tileRows;
  let rowStart = select(params.rows, rowBlock * params.tileRows + r, inTile); // idle: no rows
  let na = select(g * 6u, 0u, params.sharedNum != 0u);
  let a0 = num[na]; let a1 = num[na + 1u]; let a2 = num[na + 2u];
  let a3 = num[na + 3u]; let a4 = num[na + 4u]; let a5 = num[na + 5u];
  let b0 = abs(den[g * 4u]); let b1 = abs(den[g * 4u + 1u]); let b2 = abs(den[g * 4u + 2u]); let b3 = abs(den[g * 4u + 3u]);`;

function vecType(vector: 1 | 4): string {
  return vector === 4 ? 'vec4f' : 'f32';
}

function forwardKernel(vector: 1 | 4, WG: number): KernelSource {
  const V = vecType(vector);
  return {
    name: `groupRational:v${vector}:wg${WG}`,
    code: /* wgsl */ `
alias V = ${V};
@group(0) @binding(0) var<storage, read> xs: array<V>;
@group(0) @binding(1) var<storage, read> num: array<f32>;
@group(0) @binding(2) var<storage, read> den: array<f32>;
@group(0) @binding(3) var<storage, read_write> ys: array<V>;
${TILE_PARAMS}
@group(0) @binding(4) var<uniform> params: P;
${LINEAR_WORKGROUP}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
${TILE_SETUP}
  for (var row = rowStart; row < params.rows; row += rowStride) {
    let i = row * params.cols + col;
    let x = xs[i];
    let ax = abs(x);
    let p = a0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * a5))));
    let q = 1.0 + ax * (b0 + ax * (b1 + ax * (b2 + ax * b3)));
    ys[i] = p / q;
  }
}`,
  };
}

/** The workgroup-wide sum of the 10 per-invocation sums, written as this workgroup's partial. */
function workgroupReduction(subgroups: boolean, WG: number): string {
  if (subgroups) {
    // Subgroup sums, then a fixed-order sum over the subgroups. Subgroup s is taken to
    // hold invocations [s * size, (s + 1) * size), as 1-D workgroups are laid out in practice.
    return /* wgsl */ `
  for (var k = 0u; k < 10u; k++) {
    let total = subgroupAdd(sums[k]);
    if (sgInvocation == 0u) { red[k * ${WG}u + lid / sgSize] = total; }
  }
  workgroupBarrier();
  if (lid < 10u) {
    var s = 0.0;
    let count = ${WG}u / sgSize;
    for (var i = 0u; i < count; i++) { s += red[lid * ${WG}u + i]; }
    partials[wg * 10u + lid] = s;
  }`;
  }
  return /* wgsl */ `
  for (var k = 0u; k < 10u; k++) { red[k * ${WG}u + lid] = sums[k]; }
  workgroupBarrier();
  for (var stride = ${WG / 2}u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      for (var k = 0u; k < 10u; k++) { red[k * ${WG}u + lid] += red[k * ${WG}u + lid + stride]; }
    }
    workgroupBarrier();
  }
  if (lid < 10u) { partials[wg * 10u + lid] = red[lid * ${WG}u]; }`;
}

function backwardKernel(vector: 1 | 4, subgroups: boolean, WG: number): KernelSource {
  const V = vecType(vector);
  // Lane sums folded in every step: 10 scalar accumulators instead of 10 vectors (fewer registers, more resident workgroups).
  const lanes = vector === 4
    ? 'fn hsum(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }\nfn hdot(u: vec4f, v: vec4f) -> f32 { return dot(u, v); }'
    : 'fn hsum(v: f32) -> f32 { return v; }\nfn hdot(u: f32, v: f32) -> f32 { return u * v; }';
  const sgBuiltins = subgroups ? ', @builtin(subgroup_invocation_id) sgInvocation: u32, @builtin(subgroup_size) sgSize: u32' : '';
  return {
    name: `groupRationalBackward:v${vector}:wg${WG}${subgroups ? ':subgroups' : ''}`,
    code: /* wgsl */ `${subgroups ? 'enable subgroups;' : ''}
alias V = ${V};
@group(0) @binding(0) var<storage, read> xs: array<V>;
@group(0) @binding(1) var<storage, read> num: array<f32>;
@group(0) @binding(2) var<storage, read> den: array<f32>;
@group(0) @binding(3) var<storage, read> gys: array<V>;
@group(0) @binding(4) var<storage, read_write> dxs: array<V>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;
${TILE_PARAMS}
@group(0) @binding(6) var<uniform> params: P;
${LINEAR_WORKGROUP}
${lanes}
var<workgroup> red: array<f32, ${10 * WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32${sgBuiltins}) {
${TILE_SETUP}
  let a2x2 = 2.0 * a2; let a3x3 = 3.0 * a3; let a4x4 = 4.0 * a4; let a5x5 = 5.0 * a5;
  let b1x2 = 2.0 * b1; let b2x3 = 3.0 * b2; let b3x4 = 4.0 * b3;
  // Sums of gy dy/da_k and gy dy/db_j / sign(b_j) over this invocation's column.
  var da0 = 0.0; var da1 = 0.0; var da2 = 0.0; var da3 = 0.0; var da4 = 0.0; var da5 = 0.0;
  var db0 = 0.0; var db1 = 0.0; var db2 = 0.0; var db3 = 0.0;
  for (var row = rowStart; row < params.rows; row += rowStride) {
    let i = row * params.cols + col;
    let x = xs[i];
    let gy = gys[i];
    let ax = abs(x);
    let p = a0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * a5))));
    let dp = a1 + x * (a2x2 + x * (a3x3 + x * (a4x4 + x * a5x5)));
    let q = 1.0 + ax * (b0 + ax * (b1 + ax * (b2 + ax * b3)));
    let dq = select(V(1.0), V(-1.0), x < V(0.0)) * (b0 + ax * (b1x2 + ax * (b2x3 + ax * b3x4)));
    let invQ = 1.0 / q;
    dxs[i] = gy * (dp - p * dq * invQ) * invQ;
    // dy/da_k = x^k / Q;  dy/db_j = -sign(b_j) |x|^(j+1) P / Q^2 (sign applied in the second pass)
    let t = gy * invQ;
    let x2 = x * x;
    let x4 = x2 * x2;
    da0 += hsum(t); da1 += hdot(t, x); da2 += hdot(t, x2); da3 += hdot(t, x2 * x); da4 += hdot(t, x4); da5 += hdot(t, x4 * x);
    let s = -t * p * invQ * ax;
    let ax2 = ax * ax;
    db0 += hsum(s); db1 += hdot(s, ax); db2 += hdot(s, ax2); db3 += hdot(s, ax2 * ax);
  }
  var sums = array<f32, 10>(da0, da1, da2, da3, da4, da5, db0, db1, db2, db3);
${workgroupReduction(subgroups, WG)}
}`,
  };
}

/** Sums each group's partials in a fixed order; writes da [G, 6] and db [G, 4] with sign(b) applied. */
const partialsKernel: KernelSource = {
  name: 'groupRationalPartials',
  code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read> den: array<f32>;
@group(0) @binding(2) var<storage, read_write> da: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;
struct P { groups: u32, chunks: u32, colTiles: u32, rowBlocks: u32 }
@group(0) @binding(4) var<uniform> params: P;
${LINEAR_WORKGROUP}
var<workgroup> red: array<f32, ${10 * REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = linearWorkgroup(wid, groups);
  if (g >= params.groups) { return; } // whole workgroup: uniform
  var acc = array<f32, 10>();
  let count = params.chunks * params.rowBlocks;
  for (var p = lid; p < count; p += ${REDUCE_WG}u) {
    // Partial p of group g: row block p / chunks, column tile g * chunks + p % chunks.
    let w = (p / params.chunks) * params.colTiles + g * params.chunks + p % params.chunks;
    for (var k = 0u; k < 10u; k++) { acc[k] += partials[w * 10u + k]; }
  }
  for (var k = 0u; k < 10u; k++) { red[k * ${REDUCE_WG}u + lid] = acc[k]; }
  workgroupBarrier();
  for (var stride = ${REDUCE_WG / 2}u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      for (var k = 0u; k < 10u; k++) { red[k * ${REDUCE_WG}u + lid] += red[k * ${REDUCE_WG}u + lid + stride]; }
    }
    workgroupBarrier();
  }
  if (lid < 6u) {
    da[g * 6u + lid] = red[lid * ${REDUCE_WG}u];
  } else if (lid < 10u) {
    let j = lid - 6u;
    db[g * 4u + j] = red[lid * ${REDUCE_WG}u] * select(1.0, -1.0, den[g * 4u + j] < 0.0);
  }
}`,
};

/** Shared numerator: out[k] = sum over groups of perGroup[g, k], in group order. */
const sumGroupsKernel: KernelSource = {
  name: 'groupRationalSharedNumerator',
  code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> perGroup: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { groups: u32 }
@group(0) @binding(2) var<uniform> params: P;
@compute @workgroup_size(8)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid >= 6u) { return; }
  var s = 0.0;
  for (var g = 0u; g < params.groups; g++) { s += perGroup[g * 6u + lid]; }
  out[lid] = s;
}`,
};

/** The autotuner's shape class of a GR-KAN pass: rows by size class, channels and groups as they are. */
export function groupRationalShapeClass(pass: 'forward' | 'backward', rows: number, channels: number, groups: number, subgroups: boolean): string {
  return `${pass} r${sizeClass(rows)} c${channels} g${groups}${pass === 'backward' && subgroups ? ' sg' : ''}`;
}

export function makeGroupRationalKernels(ctx: GpuContext, options: { shape?: GroupRationalShapeName } = {}) {
  const forwardKernels = new Map<string, KernelSource>();
  const backwardKernels = new Map<string, KernelSource>();
  const limits = ctx.device.limits;
  // Workgroup memory of the backward's reduction: 10 floats per invocation.
  const candidates = (Object.keys(GROUP_RATIONAL_SHAPES) as GroupRationalShapeName[]).filter((name) => {
    const wg = GROUP_RATIONAL_SHAPES[name].wg;
    return wg <= limits.maxComputeInvocationsPerWorkgroup && wg <= limits.maxComputeWorkgroupSizeX &&
      40 * wg <= limits.maxComputeWorkgroupStorageSize;
  });

  function forward(shape: GroupRationalShape, x: GpuBuffer, numerator: GpuBuffer, denominator: GpuBuffer, out: GpuBuffer, rows: number,
    channels: number, groups: number, sharedNumerator: boolean): void {
    const t = tiling(rows, channels, groups, shape);
    const key = `${t.vector}:${shape.wg}`;
    let kernel = forwardKernels.get(key);
    if (!kernel) forwardKernels.set(key, (kernel = forwardKernel(t.vector, shape.wg)));
    ctx.dispatch(kernel, [x, numerator, denominator, out], tileParams(t, rows, sharedNumerator), GpuContext.grid(t.workgroups));
  }

  function backward(shape: GroupRationalShape, x: GpuBuffer, numerator: GpuBuffer, denominator: GpuBuffer, gy: GpuBuffer, dx: GpuBuffer,
    rows: number, channels: number, groups: number, sharedNumerator: boolean): [GpuBuffer, GpuBuffer] {
    const t = tiling(rows, channels, groups, shape);
    const key = `${t.vector}:${shape.wg}:${ctx.subgroups}`;
    let kernel = backwardKernels.get(key);
    if (!kernel) backwardKernels.set(key, (kernel = backwardKernel(t.vector, ctx.subgroups, shape.wg)));
    const partials = ctx.alloc(t.workgroups * 10);
    ctx.dispatch(kernel, [x, numerator, denominator, gy, dx, partials], tileParams(t, rows, sharedNumerator), GpuContext.grid(t.workgroups));

    const sumGroups = sharedNumerator && groups > 1;
    const daPerGroup = ctx.alloc(groups * 6);
    const dDenominator = ctx.alloc(groups * 4);
    ctx.dispatch(partialsKernel, [partials, denominator, daPerGroup, dDenominator],
      new Params().u32(groups).u32(t.chunks).u32(t.colTiles).u32(t.rowBlocks), GpuContext.grid(groups));
    ctx.free(partials);
    if (!sumGroups) return [daPerGroup, dDenominator];
    const dNumerator = ctx.alloc(6);
    ctx.dispatch(sumGroupsKernel, [daPerGroup, dNumerator], new Params().u32(groups), [1]);
    ctx.free(daPerGroup);
    return [dNumerator, dDenominator];
  }

  /** The pinned, tuned or default layout of a pass. */
  function shapeFor(pass: 'forward' | 'backward', rows: number, channels: number, groups: number, sharedNumerator: boolean): GroupRationalShape {
    if (options.shape) return GROUP_RATIONAL_SHAPES[options.shape];
    const tuned = ctx.tuner.choose('groupRational', groupRationalShapeClass(pass, rows, channels, groups, ctx.subgroups), candidates,
      () => measure(pass, rows, channels, groups, sharedNumerator));
    return GROUP_RATIONAL_SHAPES[(tuned ?? 'default') as GroupRationalShapeName];
  }

  /** Times candidate layouts on this shape (fresh buffers of the same sizes; the coefficients are zeros: Q = 1). */
  const measure = (pass: 'forward' | 'backward', rows: number, channels: number, groups: number, sharedNumerator: boolean) =>
    async (candidate: string): Promise<number> => {
      const shape = GROUP_RATIONAL_SHAPES[candidate as GroupRationalShapeName];
      const size = rows * channels;
      const x = ctx.alloc(size);
      const y = ctx.alloc(size);
      const numerator = ctx.upload(new Float32Array(sharedNumerator ? 6 : groups * 6));
      const denominator = ctx.upload(new Float32Array(groups * 4));
      try {
        return await timeRecording(ctx, () => {
          if (pass === 'forward') {
            forward(shape, x, numerator, denominator, y, rows, channels, groups, sharedNumerator);
          } else {
            for (const g of backward(shape, x, numerator, denominator, x, y, rows, channels, groups, sharedNumerator)) ctx.free(g);
          }
        });
      } finally {
        for (const t of [x, y, numerator, denominator]) ctx.free(t);
      }
    };

  function groupRational(x: GpuBuffer, numerator: GpuBuffer, denominator: GpuBuffer, rows: number, channels: number, groups: number,
    sharedNumerator: boolean): GpuBuffer {
    const out = ctx.alloc(rows * channels);
    if (rows * channels === 0) return out;
    forward(shapeFor('forward', rows, channels, groups, sharedNumerator), x, numerator, denominator, out, rows, channels, groups, sharedNumerator);
    return out;
  }

  function groupRationalBackward(x: GpuBuffer, numerator: GpuBuffer, denominator: GpuBuffer, gy: GpuBuffer, rows: number, channels: number,
    groups: number, sharedNumerator: boolean): [GpuBuffer, GpuBuffer, GpuBuffer] {
    const size = rows * channels;
    const dx = ctx.alloc(size);
    if (size === 0) return [dx, ctx.allocZeroed(sharedNumerator ? 6 : groups * 6), ctx.allocZeroed(groups * 4)];
    const shape = shapeFor('backward', rows, channels, groups, sharedNumerator);
    const [dNumerator, dDenominator] = backward(shape, x, numerator, denominator, gy, dx, rows, channels, groups, sharedNumerator);
    return [dx, dNumerator, dDenominator];
  }

  return { groupRational, groupRationalBackward };
}
