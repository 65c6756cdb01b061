// Kernels that move or reduce data: reductions, argmax, strided copies (which
// cover transpose, slice and broadcast), slice backward, concat and gather.
// With `wasm` (float32 only), strided copies whose runs are short
// or strided (transposes, e.g. attention's head split) run as WebAssembly.

import type { HostArray, ReduceOp } from '../../backend.js';
import { contiguousStrides, forEachOuterIndex, shapeSize } from '../../../util/shape.js';
import type { Alloc } from './alloc.js';
import type { WasmKernels } from '../wasm.js';

/** Strided copies at least this large go to wasm... */
const WASM_MIN_ELEMENTS = 256;
/** ...unless their runs are contiguous and at least this long (one block copy each is as fast) and x must be staged into wasm memory first. */
const WASM_MAX_CONTIGUOUS_RUN = 64;

/**
 * Visits a contiguous walk over `shape`, calling `row(outStart, srcStart, length)`
 * for each run along the last axis, with `srcStart` following `strides`.
 * The caller reads the source with stride strides[last] inside the run.
 */
function forEachRun(shape: readonly number[], strides: readonly number[], offset: number,
  row: (outStart: number, srcStart: number, length: number) => void): void {
  const rank = shape.length;
  if (shapeSize(shape) === 0) return;
  const inner = rank === 0 ? 1 : shape[rank - 1]!;
  forEachOuterIndex(shape, strides, Math.max(rank - 1, 0), offset, (o, src) => row(o * inner, src, inner));
}

export function makeLayoutKernels(alloc: Alloc, wasm: WasmKernels | null = null) {
  /**
   * shape and strides without size-1 axes, padded to rank >= 4, when the wasm
   * strided copy should take this copy; else null.
   */
  function wasmCopyLayout(x: HostArray, outShape: readonly number[], strides: readonly number[]): [number[], number[]] | null {
    if (wasm === null || !(x instanceof Float32Array) || shapeSize(outShape) < WASM_MIN_ELEMENTS) return null;
    const shape: number[] = [];
    const steps: number[] = [];
    for (let axis = 0; axis < outShape.length; axis++) {
      if (outShape[axis] === 1) continue;
      if (strides[axis]! < 0) return null;
      shape.push(outShape[axis]!);
      steps.push(strides[axis]!);
    }
    const rank = shape.length;
    if (steps[rank - 1] === 1 && shape[rank - 1]! >= WASM_MAX_CONTIGUOUS_RUN && !wasm.inPlace(x)) return null;
    while (shape.length < 4) { shape.unshift(1); steps.unshift(0); }
    return [shape, steps];
  }

  /**
   * A sum the wasm kernels take: shape merged into runs of reduced / kept
   * axes, when that gives [reduced], [kept, reduced], [reduced, kept] or
   * [kept, reduced, kept] and x lives in wasm memory.
   */
  function wasmSum(x: HostArray, shape: readonly number[], axes: readonly number[]): HostArray | null {
    if (wasm === null || !(x instanceof Float32Array) || !wasm.inPlace(x) || shapeSize(shape) < WASM_MIN_ELEMENTS) return null;
    const runs: [boolean, number][] = [];
    shape.forEach((size, axis) => {
      if (size === 1) return;
      const reduced = axes.includes(axis);
      const last = runs[runs.length - 1];
      if (last && last[0] === reduced) last[1] *= size;
      else runs.push([reduced, size]);
    });
    const pattern = runs.map(([reduced]) => (reduced ? 'r' : 'k')).join('');
    const sizes = runs.map(([, size]) => size);
    const outSize = shape.reduce((n, size, axis) => (axes.includes(axis) ? n : n * size), 1);
    const out = alloc(outSize, true) as Float32Array;
    if (pattern === 'r') wasm.sumCols(x, out, 1, sizes[0]!);
    else if (pattern === 'kr') wasm.sumCols(x, out, sizes[0]!, sizes[1]!);
    else if (pattern === 'rk') wasm.sumRows(x, out, 1, sizes[0]!, sizes[1]!);
    else if (pattern === 'krk') wasm.sumRows(x, out, sizes[0]!, sizes[1]!, sizes[2]!);
    else {
      out.fill(0);
      return reduceLoops('sum', x, shape, axes, out);
    }
    return out;
  }

  function reduce(op: ReduceOp, x: HostArray, shape: readonly number[], axes: readonly number[]): HostArray {
    if (op === 'sum' && axes.length > 0) {
      const summed = wasmSum(x, shape, axes);
      if (summed) return summed;
    }
    return reduceLoops(op, x, shape, axes, null);
  }

  function reduceLoops(op: ReduceOp, x: HostArray, shape: readonly number[], axes: readonly number[], into: HostArray | null): HostArray {
    const outShape = shape.filter((_, axis) => !axes.includes(axis));
    const outSize = shapeSize(outShape);
    // Strides into the output for each input axis: 0 along reduced axes.
    const outStridesCompact = contiguousStrides(outShape);
    const strides: number[] = [];
    let next = 0;
    for (let axis = 0; axis < shape.length; axis++) {
      strides.push(axes.includes(axis) ? 0 : outStridesCompact[next++]!);
    }
    const acc = new Float64Array(outSize);
    if (op === 'max') acc.fill(-Infinity);
    if (op === 'min') acc.fill(Infinity);
    const innerStride = shape.length === 0 ? 0 : strides[shape.length - 1]!;
    forEachRun(shape, strides, 0, (inStart, outStart, length) => {
      if (op === 'sum') {
        if (innerStride === 0) {
          let s = 0;
          for (let j = 0; j < length; j++) s += x[inStart + j]!;
          acc[outStart] += s;
        } else {
          for (let j = 0; j < length; j++) acc[outStart + j] += x[inStart + j]!;
        }
      } else {
        const better = op === 'max' ? (a: number, b: number) => a > b || Number.isNaN(a) : (a: number, b: number) => a < b || Number.isNaN(a);
        for (let j = 0; j < length; j++) {
          const o = outStart + j * innerStride;
          const v = x[inStart + j]!;
          if (better(v, acc[o]!)) acc[o] = v;
        }
      }
    });
    const out = into ?? alloc(outSize);
    out.set(acc);
    return out;
  }

  function argmax(x: HostArray, outer: number, size: number, inner: number): HostArray {
    const out = alloc(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < inner; r++) {
        let best = -Infinity;
        let bestIndex = 0;
        for (let i = 0; i < size; i++) {
          const v = x[(o * size + i) * inner + r]!;
          if (v > best) { best = v; bestIndex = i; }
        }
        out[o * inner + r] = bestIndex;
      }
    }
    return out;
  }

  function copyStrided(x: HostArray, outShape: readonly number[], strides: readonly number[], offset: number): HostArray {
    const out = alloc(shapeSize(outShape), true);
    const layout = wasmCopyLayout(x, outShape, strides);
    if (layout) {
      wasm!.copyStrided(x as Float32Array, out as Float32Array, layout[0], layout[1], offset);
      return out;
    }
    const innerStride = outShape.length === 0 ? 0 : strides[outShape.length - 1]!;
    forEachRun(outShape, strides, offset, (outStart, srcStart, length) => {
      if (innerStride === 1) {
        out.set(x.subarray(srcStart, srcStart + length), outStart);
      } else {
        for (let j = 0; j < length; j++) out[outStart + j] = x[srcStart + j * innerStride]!;
      }
    });
    return out;
  }

  function sliceBackward(g: HostArray, inShape: readonly number[], begin: readonly number[], size: readonly number[]): HostArray {
    const out = alloc(shapeSize(inShape));
    const inStrides = contiguousStrides(inShape);
    let offset = 0;
    for (let axis = 0; axis < inShape.length; axis++) offset += begin[axis]! * inStrides[axis]!;
    const layout = wasm && g instanceof Float32Array && wasm.inPlace(g) ? wasmCopyLayout(g, size, inStrides) : null;
    if (layout) {
      wasm!.scatterStrided(g as Float32Array, out as Float32Array, layout[0], layout[1], offset);
      return out;
    }
    forEachRun(size, inStrides, offset, (gStart, outStart, length) => {
      out.set(g.subarray(gStart, gStart + length), outStart);
    });
    return out;
  }

  function concat(xs: readonly HostArray[], outer: number, sizes: readonly number[], inner: number): HostArray {
    const total = sizes.reduce((a, b) => a + b, 0);
    const out = alloc(outer * total * inner, true);
    for (let o = 0; o < outer; o++) {
      let dst = o * total * inner;
      for (let t = 0; t < xs.length; t++) {
        const chunk = sizes[t]! * inner;
        out.set(xs[t]!.subarray(o * chunk, (o + 1) * chunk), dst);
        dst += chunk;
      }
    }
    return out;
  }

  function checkedIndex(indices: HostArray, j: number, axisSize: number, op: string): number {
    const idx = indices[j]!;
    if (!Number.isInteger(idx) || idx < 0 || idx >= axisSize) {
      throw new Error(`${op}: index ${idx} at position ${j} is out of range: expected an integer in [0, ${axisSize})`);
    }
    return idx;
  }

  function gather(x: HostArray, indices: HostArray, outer: number, axisSize: number, inner: number, count: number): HostArray {
    const out = alloc(outer * count * inner);
    for (let j = 0; j < count; j++) {
      const idx = checkedIndex(indices, j, axisSize, 'gather');
      for (let o = 0; o < outer; o++) {
        const src = (o * axisSize + idx) * inner;
        out.set(x.subarray(src, src + inner), (o * count + j) * inner);
      }
    }
    return out;
  }

  function gatherBackward(g: HostArray, indices: HostArray, outer: number, axisSize: number, inner: number, count: number): HostArray {
    const out = alloc(outer * axisSize * inner);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) {
        const dst = (o * axisSize + checkedIndex(indices, j, axisSize, 'gather backward')) * inner;
        const src = (o * count + j) * inner;
        for (let r = 0; r < inner; r++) out[dst + r] += g[src + r]!;
      }
    }
    return out;
  }

  return { reduce, argmax, copyStrided, sliceBackward, concat, gather, gatherBackward };
}
