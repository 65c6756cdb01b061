// Reductions in WGSL: sum / max / min over any axes, and argmax; plus the
// workgroup-reduction helpers the row kernels (rows.ts) share.
//
// Memory plan of `reduce`. The input's axes are first simplified: size-1 axes
// are dropped and neighbouring axes of the same kind (kept / reduced) merged,
// so [2, 3, 4, 5] over axes [1, 2] becomes [2, 12, 5] over the middle run. An
// output element is then at kept_offset(o), and its r-th reduced element at
// kept_offset(o) + red_offset(r), both by index decomposition over at most 4
// runs each (rank <= 8). Two kernels do the work:
//  - "threads": one invocation per output element walks its reduced elements
//    serially. Used when they are few (<= 64), or when the innermost run is
//    kept and long (>= 16): neighbouring invocations then read neighbouring
//    addresses, as in a column sum (a bias gradient).
//  - "groups": one workgroup per output element; its invocations stride over
//    the reduced elements, then combine their partials in the workgroup
//    (subgroup operations when the device has them, else a tree in workgroup
//    memory).
// When there are too few outputs to fill the device (or, for "threads", an
// invocation would sum more than 1024 values serially), either kernel splits
// the reduced range into chunks and writes one partial per chunk; a second pass
// (the same code, recursively) reduces the partials. Nothing uses atomics and
// every combination happens in an order fixed by the shapes, so results are
// reproducible bit for bit on a given device.
//
// max / min reduce order-preserving u32 keys of the floats: integer max/min is
// exact and defined for every input (WGSL's float max/min are not for NaN), and
// NaN gets the extreme key so that it propagates as on the CPU.

import type { ReduceOp } from '../../backend.js';
import { contiguousStrides } from '../../../util/shape.js';
import { GpuContext, LINEAR_WORKGROUP, Params, type GpuBuffer, type KernelSource, kernelCache } from '../context.js';

/** Invocations per workgroup of the one-invocation-per-output kernels. */
const THREADS_WG = 256;
/** Reduced elements an invocation may walk alone. */
const SERIAL_MAX = 64;
/** Longest chunk one invocation sums serially (float32 rounding grows with it): longer ones are split. */
const SERIAL_CHUNK_MAX = 1024;
/** A kept innermost run at least this long makes the one-invocation-per-output kernel read coalesced. */
const COALESCED_MIN = 16;
/** Aim for at least this many invocations (threads kernel) or workgroups (groups kernel) before splitting. */
const FILL_THREADS = 1 << 16;
const FILL_GROUPS = 1024;
/** Split chunks of the groups kernel hold at least this many elements per invocation. */
const ELEMENTS_PER_INVOCATION = 16;

// ---------------------------------------------------------------------------
// Shared WGSL helpers (also used by rows.ts)

/** Workgroup size for a row (or reduction) of `length` elements: 64, 128 or 256 invocations. */
export function workgroupSizeFor(length: number): number {
  return length > 128 ? 256 : length > 64 ? 128 : 64;
}

/** The first lines of a kernel's source: `enable subgroups;` must precede everything. */
export function enables(subgroups: boolean): string {
  return subgroups ? 'enable subgroups;\n' : '';
}

/**
 * The entry point's signature and first statements: the ids the reduction
 * helpers need are kept in private variables, so helpers take only values.
 * Provides `wid`, `groups` and `lid` to the body.
 */
export function entryPoint(wg: number, subgroups: boolean): string {
  const sg = subgroups ? ', @builtin(subgroup_invocation_id) sgLane: u32, @builtin(subgroup_size) sgSize: u32' : '';
  return /* wgsl */ `
var<private> local_id: u32;
var<private> sg_lane: u32;
var<private> sg_size: u32;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32${sg}) {
  local_id = lid;
  ${subgroups ? 'sg_lane = sgLane;\n  sg_size = sgSize;' : ''}`;
}

/** WGSL: NaN tests on bits (compilers may fold `v != v`), runtime infinities and NaN (WGSL rejects constant ones). */
export const FLOAT_BITS = /* wgsl */ `
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn nan_value() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
fn neg_infinity() -> f32 { var bits = 0xff800000u; return bitcast<f32>(bits); }
// A u32 whose unsigned order is the order of the floats (-inf < ... < -0 < +0 < ... < +inf); NaN is the caller's business.
fn order_key(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn from_order_key(k: u32) -> f32 { return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u)); }`;

/** order_key(-inf) and order_key(+inf). */
const KEY_NEG_INF = '0x007fffffu';
const KEY_POS_INF = '0xff800000u';

/**
 * WGSL for `fn name(value: type) -> type`: combines one value per invocation of
 * the workgroup and returns the result to every invocation. Must be called from
 * uniform control flow by all invocations (it holds barriers). With subgroups:
 * a subgroup operation, one partial per subgroup in workgroup memory (subgroups
 * are consecutive runs of local_invocation_index, as on every implementation
 * we know of), then every invocation folds those few partials in index order.
 * Without: a binary tree in workgroup memory. Both orders are fixed.
 */
export function workgroupReduce(name: string, type: string, combine: (a: string, b: string) => string, subgroupOp: string,
  wg: number, subgroups: boolean): string {
  const scratch = `${name}_scratch`;
  if (subgroups) {
    return /* wgsl */ `
var<workgroup> ${scratch}: array<${type}, ${wg}>;
fn ${name}(value: ${type}) -> ${type} {
  let partial = ${subgroupOp}(value);
  if (sg_lane == 0u) { ${scratch}[local_id / sg_size] = partial; }
  workgroupBarrier();
  var total = ${scratch}[0];
  let count = (${wg}u + sg_size - 1u) / sg_size;
  for (var i = 1u; i < count; i++) { total = ${combine('total', `${scratch}[i]`)}; }
  workgroupBarrier();
  return total;
}`;
  }
  return /* wgsl */ `
var<workgroup> ${scratch}: array<${type}, ${wg}>;
fn ${name}(value: ${type}) -> ${type} {
  ${scratch}[local_id] = value;
  workgroupBarrier();
  for (var half = ${wg / 2}u; half > 0u; half >>= 1u) {
    if (local_id < half) { ${scratch}[local_id] = ${combine(`${scratch}[local_id]`, `${scratch}[local_id + half]`)}; }
    workgroupBarrier();
  }
  let total = ${scratch}[0];
  workgroupBarrier();
  return total;
}`;
}

/** Common reduction helpers by name: sum and max of f32, sum of vec2f. */
export function reduceSumF32(wg: number, subgroups: boolean): string {
  return workgroupReduce('reduce_sum_f32', 'f32', (a, b) => `${a} + ${b}`, 'subgroupAdd', wg, subgroups);
}
export function reduceSumVec2(wg: number, subgroups: boolean): string {
  return workgroupReduce('reduce_sum_vec2', 'vec2f', (a, b) => `${a} + ${b}`, 'subgroupAdd', wg, subgroups);
}
/** Float max: which operand a NaN yields is unspecified (callers must not depend on it). */
export function reduceMaxF32(wg: number, subgroups: boolean): string {
  return workgroupReduce('reduce_max_f32', 'f32', (a, b) => `max(${a}, ${b})`, 'subgroupMax', wg, subgroups);
}

// ---------------------------------------------------------------------------
// reduce

interface OpCode {
  type: string;
  identity: string;
  /** WGSL expression of a loaded value `v` as the accumulator type. */
  load: string;
  combine: (a: string, b: string) => string;
  subgroup: string;
  /** WGSL expression of the accumulator `acc` as the stored float. */
  finish: string;
}

const OPS: Record<ReduceOp, OpCode> = {
  sum: { type: 'f32', identity: '0.0', load: 'v', combine: (a, b) => `${a} + ${b}`, subgroup: 'subgroupAdd', finish: 'acc' },
  // NaN takes the largest key for max and the smallest for min: it wins, as on the CPU.
  max: {
    type: 'u32', identity: KEY_NEG_INF, load: 'select(order_key(v), 0xffffffffu, is_nan(v))',
    combine: (a, b) => `max(${a}, ${b})`, subgroup: 'subgroupMax', finish: 'from_order_key(acc)',
  },
  min: {
    type: 'u32', identity: KEY_POS_INF, load: 'select(order_key(v), 0u, is_nan(v))',
    combine: (a, b) => `min(${a}, ${b})`, subgroup: 'subgroupMin', finish: 'from_order_key(acc)',
  },
};

/** Runs of the simplified shape (outer to inner): extents and strides into the input. */
interface Runs {
  keptExtent: number[];
  keptStride: number[];
  redExtent: number[];
  redStride: number[];
  /** Extent of the innermost run if it is kept, else 1. */
  innerKept: number;
}

const MAX_RUNS = 4;

function simplify(shape: readonly number[], axes: readonly number[]): Runs {
  const strides = contiguousStrides(shape);
  const runs: { reduced: boolean; extent: number; stride: number }[] = [];
  shape.forEach((extent, axis) => {
    if (extent === 1) return;
    const reduced = axes.includes(axis);
    const last = runs[runs.length - 1];
    // Neighbouring axes of one kind form one run: its stride is that of its innermost axis.
    if (last && last.reduced === reduced) {
      last.extent *= extent;
      last.stride = strides[axis]!;
    } else {
      runs.push({ reduced, extent, stride: strides[axis]! });
    }
  });
  const kept = runs.filter((r) => !r.reduced);
  const reduced = runs.filter((r) => r.reduced);
  if (kept.length > MAX_RUNS || reduced.length > MAX_RUNS) {
    throw new Error(`webgpu: reduce over axes [${axes.join(', ')}] of shape [${shape.join(', ')}]: ` +
      `expected at most ${MAX_RUNS} runs of kept and of reduced axes (tensors of rank up to ${2 * MAX_RUNS})`);
  }
  const last = runs[runs.length - 1];
  return {
    keptExtent: kept.map((r) => r.extent), keptStride: kept.map((r) => r.stride),
    redExtent: reduced.map((r) => r.extent), redStride: reduced.map((r) => r.stride),
    innerKept: last && !last.reduced ? last.extent : 1,
  };
}

/** WGSL `fn name(i: u32) -> u32`: the input offset of index i decomposed over `runs` runs (extents/strides in params). */
function offsetFunction(name: string, runs: number, extent: string, stride: string): string {
  const lines: string[] = [];
  for (let j = runs - 1; j >= 1; j--) {
    lines.push(`off += (rest % params.${extent}[${j}]) * params.${stride}[${j}];`, `rest /= params.${extent}[${j}];`);
  }
  if (runs > 0) lines.push(`off += rest * params.${stride}[0];`);
  return `fn ${name}(i: u32) -> u32 {\n  var rest = i;\n  var off = 0u;\n  ${lines.join('\n  ')}\n  return off;\n}`;
}

const REDUCE_PARAMS = /* wgsl */ `
struct P { outSize: u32, count: u32, chunk: u32, splits: u32, keptExtent: vec4u, keptStride: vec4u, redExtent: vec4u, redStride: vec4u }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: P;`;

function reduceParams(runs: Runs, outSize: number, count: number, chunk: number, splits: number): Params {
  const params = new Params().u32(outSize).u32(count).u32(chunk).u32(splits);
  for (const v of [runs.keptExtent, runs.keptStride, runs.redExtent, runs.redStride]) {
    for (let j = 0; j < MAX_RUNS; j++) params.u32(v[j] ?? 1);
  }
  return params;
}

export function makeReduceKernels(ctx: GpuContext) {
  const cached = kernelCache();

  /** One invocation per (chunk, output): out[chunk * outSize + o]. */
  function threadsKernel(op: ReduceOp, kept: number, reduced: number): KernelSource {
    const c = OPS[op];
    return cached(`reduce-threads:${op}:${kept}:${reduced}`, () => /* wgsl */ `
${REDUCE_PARAMS}
${LINEAR_WORKGROUP}
${FLOAT_BITS}
${offsetFunction('kept_offset', kept, 'keptExtent', 'keptStride')}
${offsetFunction('red_offset', reduced, 'redExtent', 'redStride')}
@compute @workgroup_size(${THREADS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linearWorkgroup(wid, groups) * ${THREADS_WG}u + lid;
  if (t >= params.outSize * params.splits) { return; }
  let o = t % params.outSize;
  let first = (t / params.outSize) * params.chunk;
  let last = min(params.count, first + params.chunk);
  let base = kept_offset(o);
  var acc: ${c.type} = ${c.identity};
  for (var r = first; r < last; r++) {
    let v = x[base + red_offset(r)];
    acc = ${c.combine('acc', c.load)};
  }
  out[t] = ${c.finish};
}`);
  }

  /** One workgroup per (output, chunk): out[o * splits + chunk]. */
  function groupsKernel(op: ReduceOp, kept: number, reduced: number, wg: number): KernelSource {
    const c = OPS[op];
    const subgroups = ctx.subgroups;
    return cached(`reduce-groups:${op}:${kept}:${reduced}:${wg}:${subgroups}`, () => /* wgsl */ `${enables(subgroups)}
${REDUCE_PARAMS}
${LINEAR_WORKGROUP}
${FLOAT_BITS}
${offsetFunction('kept_offset', kept, 'keptExtent', 'keptStride')}
${offsetFunction('red_offset', reduced, 'redExtent', 'redStride')}
${workgroupReduce('reduce_acc', c.type, c.combine, c.subgroup, wg, subgroups)}
${entryPoint(wg, subgroups)}
  let w = linearWorkgroup(wid, groups);
  if (w >= params.outSize * params.splits) { return; }
  let first = (w % params.splits) * params.chunk;
  let last = min(params.count, first + params.chunk);
  let base = kept_offset(w / params.splits);
  var acc: ${c.type} = ${c.identity};
  for (var r = first + lid; r < last; r += ${wg}u) {
    let v = x[base + red_offset(r)];
    acc = ${c.combine('acc', c.load)};
  }
  acc = reduce_acc(acc);
  if (lid == 0u) { out[w] = ${c.finish}; }
}`);
  }

  function reduce(op: ReduceOp, x: GpuBuffer, shape: readonly number[], axes: readonly number[]): GpuBuffer {
    const runs = simplify(shape, axes);
    const outSize = runs.keptExtent.reduce((a, b) => a * b, 1);
    const count = runs.redExtent.reduce((a, b) => a * b, 1);
    if (outSize === 0) return ctx.alloc(0);
    const kept = runs.keptExtent.length;
    const reduced = runs.redExtent.length;

    if (count <= SERIAL_MAX || runs.innerKept >= COALESCED_MIN) {
      let splits = count <= SERIAL_MAX ? 1 : Math.max(Math.ceil(count / SERIAL_CHUNK_MAX),
        Math.min(Math.ceil(count / SERIAL_MAX), Math.floor(FILL_THREADS / outSize)));
      const chunk = Math.max(1, Math.ceil(count / splits));
      splits = Math.max(1, Math.ceil(count / chunk));
      const out = ctx.alloc(outSize * splits);
      ctx.dispatch(threadsKernel(op, kept, reduced), [x, out], reduceParams(runs, outSize, count, chunk, splits),
        GpuContext.grid(Math.ceil((outSize * splits) / THREADS_WG)));
      if (splits === 1) return out;
      // Partials are [splits, outSize]: reduce the leading axis.
      const result = reduce(op, out, [splits, outSize], [0]);
      ctx.free(out);
      return result;
    }

    const wg = workgroupSizeFor(count);
    let splits = outSize >= FILL_GROUPS ? 1
      : Math.max(1, Math.min(Math.ceil(count / (wg * ELEMENTS_PER_INVOCATION)), Math.ceil(FILL_GROUPS / outSize)));
    const chunk = Math.ceil(count / splits);
    splits = Math.ceil(count / chunk);
    const out = ctx.alloc(outSize * splits);
    ctx.dispatch(groupsKernel(op, kept, reduced, wg), [x, out], reduceParams(runs, outSize, count, chunk, splits),
      GpuContext.grid(outSize * splits));
    if (splits === 1) return out;
    // Partials are [outSize, splits]: reduce the trailing axis.
    const result = reduce(op, out, [outSize, splits], [1]);
    ctx.free(out);
    return result;
  }

  // -------------------------------------------------------------------------
  // argmax over the middle axis of [outer, size, inner]: the first index of the
  // largest value. As on the CPU (`v > best` from -Infinity), NaN is never
  // chosen and a row of NaN / -Infinity gives 0; -0 and +0 tie.

  const ARGMAX = /* wgsl */ `
struct P { outer: u32, size: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: P;
${LINEAR_WORKGROUP}
${FLOAT_BITS}
// Keys above 0 for every value, so the first element always beats the start (0, none).
fn argmax_key(v: f32) -> u32 {
  if (is_nan(v)) { return ${KEY_NEG_INF}; }
  if (bitcast<u32>(v) == 0x80000000u) { return 0x80000000u; }
  return order_key(v);
}`;

  const argmaxThreads: KernelSource = {
    name: 'argmax-threads',
    code: /* wgsl */ `${ARGMAX}
@compute @workgroup_size(${THREADS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linearWorkgroup(wid, groups) * ${THREADS_WG}u + lid;
  if (t >= params.outer * params.inner) { return; }
  let base = (t / params.inner) * params.size * params.inner + t % params.inner;
  var best = 0u;
  var bestIndex = 0u;
  for (var i = 0u; i < params.size; i++) {
    let k = argmax_key(x[base + i * params.inner]);
    if (k > best) { best = k; bestIndex = i; }
  }
  out[t] = f32(bestIndex);
}`,
  };

  function argmaxGroups(wg: number): KernelSource {
    const subgroups = ctx.subgroups;
    const better = (k: string, i: string, bk: string, bi: string) => `${k} > ${bk} || (${k} == ${bk} && ${i} < ${bi})`;
    const fold = subgroups ? /* wgsl */ `
  let top = subgroupMax(key);
  let first = subgroupMin(select(0xffffffffu, index, key == top));
  if (sg_lane == 0u) { keys[local_id / sg_size] = top; indices[local_id / sg_size] = first; }
  workgroupBarrier();
  var bk = keys[0];
  var bi = indices[0];
  let count = (${wg}u + sg_size - 1u) / sg_size;
  for (var j = 1u; j < count; j++) {
    let k = keys[j];
    let i = indices[j];
    if (${better('k', 'i', 'bk', 'bi')}) { bk = k; bi = i; }
  }
  workgroupBarrier();
  return bi;` : /* wgsl */ `
  keys[local_id] = key;
  indices[local_id] = index;
  workgroupBarrier();
  for (var half = ${wg / 2}u; half > 0u; half >>= 1u) {
    if (local_id < half) {
      let k = keys[local_id + half];
      let i = indices[local_id + half];
      if (${better('k', 'i', 'keys[local_id]', 'indices[local_id]')}) { keys[local_id] = k; indices[local_id] = i; }
    }
    workgroupBarrier();
  }
  let bi = indices[0];
  workgroupBarrier();
  return bi;`;
    return cached(`argmax-groups:${wg}:${subgroups}`, () => /* wgsl */ `${enables(subgroups)}
${ARGMAX}
var<workgroup> keys: array<u32, ${wg}>;
var<workgroup> indices: array<u32, ${wg}>;
/** The index of the largest key, the smallest index on ties. */
fn reduce_argmax(key: u32, index: u32) -> u32 {${fold}
}
${entryPoint(wg, subgroups)}
  let w = linearWorkgroup(wid, groups);
  if (w >= params.outer * params.inner) { return; }
  let base = (w / params.inner) * params.size * params.inner + w % params.inner;
  var best = 0u;
  var bestIndex = 0xffffffffu;
  for (var i = lid; i < params.size; i += ${wg}u) {
    let k = argmax_key(x[base + i * params.inner]);
    if (k > best) { best = k; bestIndex = i; }
  }
  let index = reduce_argmax(best, bestIndex);
  if (lid == 0u) { out[w] = f32(select(index, 0u, index == 0xffffffffu)); }
}`);
  }

  function argmax(x: GpuBuffer, outer: number, size: number, inner: number): GpuBuffer {
    const total = outer * inner;
    const out = ctx.alloc(total);
    if (total === 0) return out;
    const params = new Params().u32(outer).u32(size).u32(inner);
    if (size <= SERIAL_MAX || inner >= COALESCED_MIN) {
      ctx.dispatch(argmaxThreads, [x, out], params, GpuContext.grid(Math.ceil(total / THREADS_WG)));
    } else {
      ctx.dispatch(argmaxGroups(workgroupSizeFor(size)), [x, out], params, GpuContext.grid(total));
    }
    return out;
  }

  return { reduce, argmax };
}
