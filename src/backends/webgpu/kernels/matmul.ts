// Batched matmul in WGSL: C_i [m, n] = op(A_i) op(B_i), accumulated in f32.
//
// Memory plan. Each workgroup computes one BM x BN tile of one C_i. It walks k
// in steps of BK: the BK x BM slice of op(A) and the BK x BN slice of op(B) are
// copied into workgroup memory, k-major (As[p][r], Bs[p][c]), rows padded by 4
// floats so the transposing stores below spread over the banks while each row
// stays vec4-aligned. Every invocation owns TM x TN outputs in registers: TM/4
// groups of 4 rows and TN/4 groups of 4 columns, the groups BM/(TM/4) (resp.
// BN/(TN/4)) apart, so a warp's vec4 reads of a k row are consecutive (no bank
// conflicts) and each k step is TM/4 + TN/4 vec4 loads feeding TM * TN/4 vec4
// FMAs. Transposes cost nothing: they only decide which logical axis of the
// slice consecutive invocations walk while loading (the one contiguous in
// memory, so global reads coalesce); each invocation stores whole vec4s (4
// tile columns at one k). The next slice is read from global memory into
// registers while the current one is multiplied (one workgroup buffer, two
// barriers per step). Edges are bounds-checked: out-of-range loads are 0,
// out-of-range stores are skipped, so any m, k, n works (k = 0 gives zeros).
//
// Launch: one workgroup per (batch, tile row, tile column), the linear index
// folded into a 2-D grid (GpuContext.grid) so batch * tiles may exceed 65535;
// tile columns vary fastest, so neighbouring workgroups share A's row panel.
// All loops are unrolled while generating the source, so the accumulators and
// prefetch registers are plain variables (never dynamically indexed arrays).

import { GpuContext, Params, type GpuBuffer, type KernelSource } from '../context.js';
import { sizeClass, timeRecording } from '../tuner.js';

interface TileConfig {
  readonly name: string;
  /** Output tile rows and columns per workgroup. */
  readonly bm: number;
  readonly bn: number;
  /** k depth of one workgroup-memory slice. */
  readonly bk: number;
  /** Outputs per invocation: rows and columns (multiples of 4). */
  readonly tm: number;
  readonly tn: number;
}

/** Row padding (floats) of the workgroup tiles: keeps vec4 alignment, shifts banks by 4 per k row. */
const PAD = 4;

// 128 x 128 tiles of 8 x 8 outputs per invocation for big problems; 128 x 64
// (8 x 4) where n is a multiple of 64 but not 128 (KAT's 192, 576 ...); 64 x 64
// and 32 x 32 tiles of 4 x 4 where bigger tiles would leave the GPU idle or be
// mostly edge. Workgroup memory: 8.4, 12.5, 8.5 and 4.5 KiB. Two more shapes
// only the autotuner picks: 64 x 128 (4 x 8; the transpose of 'tall') and
// 128 x 128 with a k slice of 16 (16.5 KiB: only where the device allows more
// than WebGPU's default 16 KiB of workgroup memory).
const LARGE: TileConfig = { name: 'large', bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 };
const TALL: TileConfig = { name: 'tall', bm: 128, bn: 64, bk: 16, tm: 8, tn: 4 };
const MEDIUM: TileConfig = { name: 'medium', bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };
const SMALL: TileConfig = { name: 'small', bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 };
const WIDE: TileConfig = { name: 'wide', bm: 64, bn: 128, bk: 16, tm: 4, tn: 8 };
const DEEP: TileConfig = { name: 'deep', bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 };

/** The tile configurations by name (tests pin one with `makeMatmulKernel(ctx, { tile })`; the autotuner times them). */
export const MATMUL_TILES = { large: LARGE, tall: TALL, medium: MEDIUM, small: SMALL, wide: WIDE, deep: DEEP } as const;
export type MatmulTile = keyof typeof MATMUL_TILES;

/** Whether tile `tile` fits the device's workgroup limits. */
export function matmulTileFits(limits: GPUSupportedLimits, tile: MatmulTile): boolean {
  const c = MATMUL_TILES[tile];
  return workgroupBytes(c) <= limits.maxComputeWorkgroupStorageSize &&
    (c.bm / c.tm) * (c.bn / c.tn) <= limits.maxComputeInvocationsPerWorkgroup &&
    c.bn / c.tn <= limits.maxComputeWorkgroupSizeX && c.bm / c.tm <= limits.maxComputeWorkgroupSizeY;
}

function workgroupBytes(c: TileConfig): number {
  return 4 * c.bk * (c.bm + PAD + c.bn + PAD);
}

/**
 * WGSL loading one BK x `extent` slice of an operand into workgroup memory
 * `tile` (k-major, row stride `extent` + PAD floats). The slice is split in
 * units of 4 consecutive tile columns x at one k row p, so each invocation
 * stores whole vec4s: WGSL lets a write to one component of a vector touch
 * the whole vector, so invocations must never share one. Per unit, 4 scalar
 * global loads go into registers `${reg}${l}` (a vec4f) during the previous
 * step's multiply. `kContiguous`: the operand's stored rows run along k (A as
 * [m, k], B as [n, k]), so consecutive invocations take consecutive p;
 * otherwise consecutive x. `src` is the storage array, `offset` the batch
 * offset, `ld` its row length, `origin` the tile's first row or column,
 * `limit` the extent of that axis.
 */
function loader(c: TileConfig, threads: number, extent: number, kContiguous: boolean,
  src: string, reg: string, tile: string, offset: string, ld: string, origin: string, limit: string) {
  const quads = extent / 4;
  const count = (c.bk * quads) / threads;
  if (!Number.isInteger(count) || count < 1 || threads % (kContiguous ? c.bk : quads) !== 0) {
    throw new Error(`webgpu matmul: tile ${c.name} does not split over ${threads} invocations`);
  }
  const stride4 = (extent + PAD) / 4;
  // Unit u = lid + l * threads: (p, q) = (u % bk, u / bk) or (u / quads, u % quads); l only moves the slow coordinate.
  const coords = (l: number): [p: string, q: string] => kContiguous
    ? [`(lid % ${c.bk}u)`, `(lid / ${c.bk}u + ${(l * threads) / c.bk}u)`]
    : [`(lid / ${quads}u + ${(l * threads) / quads}u)`, `(lid % ${quads}u)`];
  const declare: string[] = [];
  const load: string[] = [];
  const store: string[] = [];
  for (let l = 0; l < count; l++) {
    const [p, q] = coords(l);
    const r = `${reg}${l}`;
    declare.push(`var ${r} = vec4f(0.0);`);
    const element = (j: number) => kContiguous ? `(x + ${j}u) * ${ld} + p` : `p * ${ld} + x + ${j}u`;
    const lanes = [0, 1, 2, 3].map((j) =>
      `if (x + ${j}u < ${limit}) { ${r}.${'xyzw'[j]} = ${src}[${offset} + ${element(j)}]; }`);
    load.push(`{
      let p = k0 + ${p}; let x = ${origin} + ${q} * 4u;
      ${r} = vec4f(0.0);
      if (p < params.k) {
        ${lanes.join('\n        ')}
      }
    }`);
    store.push(`${tile}[${p} * ${stride4}u + ${q}] = ${r};`);
  }
  return { declare: declare.join('\n  '), load: load.join('\n    '), store: store.join('\n    ') };
}

function matmulSource(c: TileConfig, transA: boolean, transB: boolean): KernelSource {
  const wx = c.bn / c.tn;
  const wy = c.bm / c.tm;
  const threads = wx * wy;
  const ga = c.tm / 4; // row groups per invocation
  const gb = c.tn / 4; // column groups per invocation
  const rowGroupGap = c.bm / ga; // rows between an invocation's row groups
  const colGroupGap = c.bn / gb;
  const strideA4 = (c.bm + PAD) / 4; // vec4s per k row of As
  const strideB4 = (c.bn + PAD) / 4;

  // A_i stored [m, k] runs along k; [k, m] (transA) along m. B_i [k, n] along n; [n, k] (transB) along k.
  const aLoad = loader(c, threads, c.bm, !transA, 'A', 'ra', 'As', 'aOff', transA ? 'params.m' : 'params.k', 'tileRow', 'params.m');
  const bLoad = loader(c, threads, c.bn, transB, 'B', 'rb', 'Bs', 'bOff', transB ? 'params.k' : 'params.n', 'tileCol', 'params.n');

  const acc = (r: number, h: number) => `acc${r}_${h}`;
  const declareAcc: string[] = [];
  for (let r = 0; r < c.tm; r++) for (let h = 0; h < gb; h++) declareAcc.push(`var ${acc(r, h)} = vec4f(0.0);`);

  // One k step: TM/4 + TN/4 vec4 reads from workgroup memory, TM * TN/4 vec4 FMAs.
  const steps: string[] = [];
  for (let kk = 0; kk < c.bk; kk++) {
    const lines: string[] = [];
    for (let g = 0; g < ga; g++) lines.push(`let a${g} = As[${kk * strideA4 + (g * rowGroupGap) / 4}u + ty];`);
    for (let h = 0; h < gb; h++) lines.push(`let b${h} = Bs[${kk * strideB4 + (h * colGroupGap) / 4}u + tx];`);
    for (let r = 0; r < c.tm; r++) {
      const a = `a${Math.floor(r / 4)}.${'xyzw'[r % 4]}`;
      for (let h = 0; h < gb; h++) lines.push(`${acc(r, h)} = fma(vec4f(${a}), b${h}, ${acc(r, h)});`);
    }
    steps.push(`{\n      ${lines.join('\n      ')}\n    }`);
  }

  // Stores: row group g, row c of it; column group h, 4 columns from tx * 4.
  const stores: string[] = [];
  for (let r = 0; r < c.tm; r++) {
    const row = `tileRow + ${Math.floor(r / 4) * rowGroupGap + (r % 4)}u + ty * 4u`;
    const lines: string[] = [];
    for (let h = 0; h < gb; h++) {
      const v = acc(r, h);
      lines.push(`{
        let col = tileCol + ${h * colGroupGap}u + tx * 4u;
        let at = rowStart + col;
        if (col + 3u < params.n) {
          C[at] = ${v}.x; C[at + 1u] = ${v}.y; C[at + 2u] = ${v}.z; C[at + 3u] = ${v}.w;
        } else {
          if (col < params.n) { C[at] = ${v}.x; }
          if (col + 1u < params.n) { C[at + 1u] = ${v}.y; }
          if (col + 2u < params.n) { C[at + 2u] = ${v}.z; }
        }
      }`);
    }
    stores.push(`{
    let row = ${row};
    if (row < params.m) {
      let rowStart = cOff + row * params.n;
      ${lines.join('\n      ')}
    }
  }`);
  }

  const code = /* wgsl */ `
// matmul ${c.name} ${c.bm}x${c.bn}x${c.bk}, ${c.tm}x${c.tn} per invocation, transA=${transA}, transB=${transB}
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
struct P { m: u32, k: u32, n: u32, aStride: u32, bStride: u32, tilesN: u32, tilesPerBatch: u32, total: u32 }
@group(0) @binding(3) var<uniform> params: P;

var<workgroup> As: array<vec4f, ${c.bk * strideA4}>;
var<workgroup> Bs: array<vec4f, ${c.bk * strideB4}>;

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_id) local: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * groups.x;
  if (w >= params.total) { return; }
  let batch = w / params.tilesPerBatch;
  let tile = w - batch * params.tilesPerBatch;
  let tileRow = (tile / params.tilesN) * ${c.bm}u;
  let tileCol = (tile % params.tilesN) * ${c.bn}u;
  let aOff = batch * params.aStride;
  let bOff = batch * params.bStride;
  let cOff = batch * params.m * params.n;
  let tx = local.x;
  let ty = local.y;

  ${declareAcc.join('\n  ')}
  ${aLoad.declare}
  ${bLoad.declare}

  var k0 = 0u;
  ${aLoad.load}
  ${bLoad.load}
  while (k0 < params.k) {
    ${aLoad.store}
    ${bLoad.store}
    workgroupBarrier();
    k0 += ${c.bk}u;
    if (k0 < params.k) {
    ${aLoad.load}
    ${bLoad.load}
    }
    ${steps.join('\n    ')}
    workgroupBarrier();
  }

  ${stores.join('\n  ')}
}`;
  return { name: `matmul_${c.name}${transA ? '_tA' : ''}${transB ? '_tB' : ''}`, code };
}

/** Tiles needed to cover the problem with config `c`. */
function tileCount(c: TileConfig, batch: number, m: number, n: number): number {
  return batch * Math.ceil(m / c.bm) * Math.ceil(n / c.bn);
}

/** Fraction of the computed tile area that lies inside C. */
function coverage(c: TileConfig, m: number, n: number): number {
  return (m * n) / (Math.ceil(m / c.bm) * c.bm * Math.ceil(n / c.bn) * c.bn);
}

/** Enough workgroups to give every streaming multiprocessor of a large GPU (132 on an H100) a couple. */
const BUSY_WORKGROUPS = 256;

/**
 * The biggest tiles that still give the GPU enough workgroups and waste little
 * on edges (bigger tiles do more FMAs per workgroup-memory read; the rules are
 * heuristics, tunable with `kat bench`).
 */
function chooseConfig(batch: number, m: number, n: number, fits: (c: TileConfig) => boolean): TileConfig {
  const usable = (c: TileConfig, minimum: number) => fits(c) && tileCount(c, batch, m, n) >= minimum;
  const best = Math.max(coverage(TALL, m, n), coverage(MEDIUM, m, n));
  if (usable(LARGE, BUSY_WORKGROUPS) && coverage(LARGE, m, n) >= 0.9 * best) return LARGE;
  if (usable(TALL, BUSY_WORKGROUPS) && coverage(TALL, m, n) >= 0.9 * coverage(MEDIUM, m, n)) return TALL;
  if (usable(MEDIUM, BUSY_WORKGROUPS / 2) && coverage(MEDIUM, m, n) >= 0.8 * coverage(SMALL, m, n)) return MEDIUM;
  return SMALL; // 64 invocations and 4.5 KiB: within WebGPU's default limits
}

/** The autotuner's shape class of a product: transposes and the size class of each extent. */
export function matmulShapeClass(batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean): string {
  return `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} b${sizeClass(batch)} m${sizeClass(m)} k${sizeClass(k)} n${sizeClass(n)}`;
}

export function makeMatmulKernel(ctx: GpuContext, options: { tile?: MatmulTile } = {}) {
  const kernels = new Map<string, KernelSource>();
  const limits = ctx.device.limits;
  const fitting = (Object.keys(MATMUL_TILES) as MatmulTile[]).filter((t) => matmulTileFits(limits, t));
  const fits = (c: TileConfig) => fitting.includes(c.name as MatmulTile);

  function kernel(c: TileConfig, transA: boolean, transB: boolean): KernelSource {
    const key = `${c.name}:${transA}:${transB}`;
    let k = kernels.get(key);
    if (!k) kernels.set(key, (k = matmulSource(c, transA, transB)));
    return k;
  }

  function run(c: TileConfig, a: GpuBuffer, b: GpuBuffer, out: GpuBuffer, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): void {
    const tilesN = Math.ceil(n / c.bn);
    const tilesPerBatch = Math.ceil(m / c.bm) * tilesN;
    const total = batch * tilesPerBatch;
    const params = new Params().u32(m).u32(k).u32(n).u32(aBatchStride).u32(bBatchStride).u32(tilesN).u32(tilesPerBatch).u32(total);
    ctx.dispatch(kernel(c, transA, transB), [a, b, out], params, GpuContext.grid(total));
  }

  /** Times candidate tiles on this shape (fresh operands of the same sizes; their values do not matter). */
  const measure = (batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean,
    aBatchStride: number, bBatchStride: number) => async (candidate: string): Promise<number> => {
    const a = ctx.alloc(Math.max(1, (batch - 1) * aBatchStride + m * k));
    const b = ctx.alloc(Math.max(1, (batch - 1) * bBatchStride + k * n));
    const out = ctx.alloc(batch * m * n);
    try {
      const c = MATMUL_TILES[candidate as MatmulTile];
      return await timeRecording(ctx, () => run(c, a, b, out, batch, m, k, n, transA, transB, aBatchStride, bBatchStride));
    } finally {
      for (const t of [a, b, out]) ctx.free(t);
    }
  };

  return function matmul(a: GpuBuffer, b: GpuBuffer, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): GpuBuffer {
    const out = ctx.alloc(batch * m * n);
    if (batch * m * n === 0) return out;
    let c: TileConfig;
    if (options.tile) {
      c = MATMUL_TILES[options.tile];
    } else {
      const tuned = ctx.tuner.choose('matmul', matmulShapeClass(batch, m, k, n, transA, transB), fitting,
        () => measure(batch, m, k, n, transA, transB, aBatchStride, bBatchStride));
      c = tuned ? MATMUL_TILES[tuned as MatmulTile] : chooseConfig(batch, m, n, fits);
    }
    run(c, a, b, out, batch, m, k, n, transA, transB, aBatchStride, bBatchStride);
    return out;
  };
}
