// Layout kernels in WGSL: slice backward, concat, gather and its backward.
// One invocation per output element (256 per workgroup, a 2-D grid when
// large); each output element is written exactly once, so nothing needs a
// cleared buffer or atomics, and every result is deterministic.
//
// Indices are float values holding integers. A GPU kernel cannot throw: an
// index that is not an integer in [0, axisSize) makes gather write 0 for that
// output row, and gatherBackward ignore that row of g (the CPU backend throws
// instead; ops validate indices where they can). Indices are compared as f32,
// so axes longer than 2^24 are not supported.

import { shapeSize } from '../../../util/shape.js';
import { GpuContext, Params, type GpuBuffer, type KernelSource } from '../context.js';
import { elementwise, MAX_RANK } from './elementwise.js';

const WG = 256;

/** The element-wise kernel shape of elementwise.ts, with the shape accessor these kernels use. */
function elementKernel(name: string, bindings: string, body: string): KernelSource {
  return elementwise(name, body, bindings, 'fn axisOf(v: array<vec4u, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }');
}

function launch(size: number): [number, number] {
  return GpuContext.grid(Math.ceil(size / WG));
}

/** Output element i of inShape is g's element at (index - begin) when inside the slice, else 0. */
const sliceBackwardKernel = elementKernel('sliceBackward', /* wgsl */ `
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { size: u32, pad0: u32, pad1: u32, pad2: u32, shape: array<vec4u, 2>, begin: array<vec4u, 2>, extent: array<vec4u, 2> }
@group(0) @binding(2) var<uniform> params: P;`, /* wgsl */ `
  var rest = i;
  var offset = 0u;
  var stride = 1u;
  var inside = true;
  for (var d = ${MAX_RANK - 1}i; d >= 0; d--) {
    let axis = u32(d);
    let dim = axisOf(params.shape, axis);
    let relative = rest % dim - axisOf(params.begin, axis); // wraps to a huge value below begin
    rest = rest / dim;
    let extent = axisOf(params.extent, axis);
    inside = inside && relative < extent;
    offset += relative * stride;
    stride *= extent;
  }
  var value = 0.0;
  if (inside) { value = g[offset]; }
  out[i] = value;`);

/** One input block of a concat with outer > 1: out[o, offset + j] = x[o, j] for rows of `chunk` elements. */
const concatKernel = elementKernel('concat', /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { size: u32, chunk: u32, rowLength: u32, offset: u32 }
@group(0) @binding(2) var<uniform> params: P;`, /* wgsl */ `
  let o = i / params.chunk;
  out[o * params.rowLength + params.offset + (i - o * params.chunk)] = xs[i];`);

/** out[o, j, r] = x[o, indices[j], r]; 0 where the index is not an integer in [0, axisSize). */
const gatherKernel = elementKernel('gather', /* wgsl */ `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { size: u32, count: u32, inner: u32, axisSize: u32 }
@group(0) @binding(3) var<uniform> params: P;`, /* wgsl */ `
  let r = i % params.inner;
  let q = i / params.inner;
  let j = q % params.count;
  let o = q / params.count;
  let index = indices[j];
  var value = 0.0;
  if (index >= 0.0 && index < f32(params.axisSize) && floor(index) == index) {
    value = xs[(o * params.axisSize + u32(index)) * params.inner + r];
  }
  out[i] = value;`);

/**
 * out[o, a, r] = sum of g[o, j, r] over the j with indices[j] == a, in increasing j
 * (the CPU backend's order): each output element scans all `count` indices, so the
 * cost is outer * axisSize * inner * count comparisons (the indices are shared by
 * the whole workgroup and come from cache). No atomics, the same bits every run.
 */
const gatherBackwardKernel = elementKernel('gatherBackward', /* wgsl */ `
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { size: u32, count: u32, inner: u32, axisSize: u32 }
@group(0) @binding(3) var<uniform> params: P;`, /* wgsl */ `
  let r = i % params.inner;
  let q = i / params.inner;
  let a = f32(q % params.axisSize);
  let o = q / params.axisSize;
  var sum = 0.0;
  for (var j = 0u; j < params.count; j++) {
    if (indices[j] == a) { sum += g[(o * params.count + j) * params.inner + r]; }
  }
  out[i] = sum;`);

function padFront(values: readonly number[], fill: number): number[] {
  return [...Array<number>(MAX_RANK - values.length).fill(fill), ...values];
}

export function makeLayoutKernels(ctx: GpuContext) {
  function sliceBackward(g: GpuBuffer, inShape: readonly number[], begin: readonly number[], size: readonly number[]): GpuBuffer {
    const total = shapeSize(inShape);
    const out = ctx.alloc(total);
    if (total === 0) return out;
    if (inShape.length > MAX_RANK) throw new Error(`webgpu: sliceBackward of rank ${inShape.length} exceeds the supported ${MAX_RANK} axes`);
    const params = new Params().u32(total).u32(0).u32(0).u32(0);
    for (const d of padFront(inShape, 1)) params.u32(d);
    for (const b of padFront(begin, 0)) params.u32(b);
    for (const s of padFront(size, 1)) params.u32(s);
    ctx.dispatch(sliceBackwardKernel, [g, out], params, launch(total));
    return out;
  }

  function concat(xs: readonly GpuBuffer[], outer: number, sizes: readonly number[], inner: number): GpuBuffer {
    const rowLength = sizes.reduce((a, b) => a + b, 0) * inner;
    const out = ctx.alloc(outer * rowLength);
    let offset = 0;
    xs.forEach((x, t) => {
      const chunk = sizes[t]! * inner;
      if (chunk > 0 && outer > 0) {
        // One block per input: a plain copy when it is contiguous in the output, else a kernel.
        if (outer === 1) ctx.copy(x, 0, out, offset, chunk);
        else ctx.dispatch(concatKernel, [x, out], new Params().u32(outer * chunk).u32(chunk).u32(rowLength).u32(offset), launch(outer * chunk));
      }
      offset += chunk;
    });
    return out;
  }

  function gather(x: GpuBuffer, indices: GpuBuffer, outer: number, axisSize: number, inner: number, count: number): GpuBuffer {
    const total = outer * count * inner;
    const out = ctx.alloc(total);
    if (total > 0) ctx.dispatch(gatherKernel, [x, indices, out], new Params().u32(total).u32(count).u32(inner).u32(axisSize), launch(total));
    return out;
  }

  function gatherBackward(g: GpuBuffer, indices: GpuBuffer, outer: number, axisSize: number, inner: number, count: number): GpuBuffer {
    const total = outer * axisSize * inner;
    const out = ctx.alloc(total);
    if (total > 0) {
      ctx.dispatch(gatherBackwardKernel, [g, indices, out], new Params().u32(total).u32(count).u32(inner).u32(axisSize), launch(total));
    }
    return out;
  }

  return { sliceBackward, concat, gather, gatherBackward };
}
