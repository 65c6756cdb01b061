// KAN basis expansions: B-splines on a per-channel knot grid (efficient-kan)
// and Gaussian radial basis functions on uniform centres (FastKAN).
//
// B-spline. Channel c has knots t_0 <= ... <= t_{M-1} (row c of the grid) and
// K = M - order - 1 bases, defined by the Cox-de Boor recursion:
//   B_{j,0}(x) = 1 if t_j <= x < t_{j+1} else 0
//   B_{j,d}(x) = (x - t_j) / (t_{j+d} - t_j) B_{j,d-1}(x) + (t_{j+d+1} - x) / (t_{j+d+1} - t_{j+1}) B_{j+1,d-1}(x)
//   B'_{j,d}(x) = d B_{j,d-1}(x) / (t_{j+d} - t_j) - d B_{j+1,d-1}(x) / (t_{j+d+1} - t_{j+1})
// A term over a zero-width span counts as 0. Only bases j = s - order .. s are
// non-zero at x in span s (t_s <= x < t_{s+1}), so each element computes that
// window of order + 1 values (the triangle of the recursion, O(order^2)), found
// by a binary search of the knots. Outside [t_0, t_{M-1}) every basis is 0; a
// NaN x gives NaN bases (as the dense recursion would).
//
// Radial basis: phi_k(x) = exp(-((x - c_k) / h)^2), c_k = low + k * spacing;
// d phi_k / dx = -2 (x - c_k) / h^2 phi_k.
//
// Chebyshev (ChebyKAN): t = tanh x, T_0 = 1, T_1 = t, T_{k+1} = 2 t T_k - T_{k-1};
// dT_k/dt = k U_{k-1}(t) with U_0 = 1, U_1 = 2t, U_{k+1} = 2 t U_k - U_{k-1};
// dt/dx = 1 - t^2, computed as 4e / (1 + e)^2 with e = exp(-2|x|) so that it
// keeps its relative accuracy where t rounds to +-1. Both recurrences are
// stable on [-1, 1] (errors grow at most ~k^2 ulp, at |t| = 1), unlike
// cos(k acos t), whose derivative k sin(k theta) / sin(theta) is 0/0 at +-1.
// A NaN x gives NaN for every k (T_0 included) and a NaN dx.
//
// Memory plan: x is read once, the [rows, channels, K] expansion written once
// (forward); the backward reads x and the order + 1 window of the upstream
// gradient per element (B-spline) or its K entries (RBF, Chebyshev) and
// writes dx.
//
// With `wasm` (float32 only) all four run as WebAssembly (assembly/kan_bases.ts):
// the B-spline in f64 as here but multiplying by inverse knot widths (results
// within an f32 rounding of these); the RBF in f32x4 with the kernels' f32
// exp; the Chebyshev bases in f32x4 over four elements, with its f32 tanh. cpu-js keeps these loops as the parity reference.

import type { HostArray } from '../../backend.js';
import type { WasmKernels } from '../wasm.js';
import type { Alloc } from './alloc.js';

/**
 * The non-zero window of the B-splines of `order` at x over the knots
 * grid[base .. base + knots): values[m] = B_{first+m,order}(x), m = 0..order,
 * with bases past the valid range left 0. With `lower`, also the window one
 * order down aligned to the same indices: lower[m] = B_{first+m,order-1}(x)
 * (what the derivative needs). Returns first = s - order, or null when x is
 * outside [t_0, t_{M-1}) (every basis 0). Both arrays have order + 1 slots.
 */
export function bsplineWindow(x: number, grid: HostArray, base: number, knots: number, order: number,
  values: Float64Array, lower: Float64Array | null): number | null {
  if (!(x >= grid[base]! && x < grid[base + knots - 1]!)) return null;
  // Span s: t_s <= x < t_{s+1}, by bisection (t_lo <= x < t_hi throughout).
  let lo = 0;
  let hi = knots - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (grid[base + mid]! <= x) lo = mid;
    else hi = mid;
  }
  const span = lo;
  values.fill(0);
  values[0] = 1; // order 0: basis `span`
  for (let d = 1; d <= order; d++) {
    if (d === order && lower) {
      // Basis span - (order - 1) + m of order - 1 sits in values[m]; the derivative reads it at first + m + 1.
      lower[0] = 0;
      for (let m = 0; m < order; m++) lower[m + 1] = values[m]!;
    }
    // Window of order d: bases j = span - d + m, m = 0..d, from order d - 1's window (j = span - d + 1 + m').
    const maxValid = knots - 2 - d;
    for (let m = d; m >= 0; m--) {
      const j = span - d + m;
      let v = 0;
      if (j >= 0 && j <= maxValid) {
        const fromJ = m >= 1 ? values[m - 1]! : 0; // B_{j,d-1}
        const fromNext = m <= d - 1 ? values[m]! : 0; // B_{j+1,d-1}
        if (fromJ !== 0) {
          const width = grid[base + j + d]! - grid[base + j]!;
          if (width > 0) v += ((x - grid[base + j]!) / width) * fromJ;
        }
        if (fromNext !== 0) {
          const width = grid[base + j + d + 1]! - grid[base + j + 1]!;
          if (width > 0) v += ((grid[base + j + d + 1]! - x) / width) * fromNext;
        }
      }
      values[m] = v;
    }
  }
  return span - order;
}

export function makeKanBasisKernels(alloc: Alloc, wasm: WasmKernels | null = null) {
  const useWasm = (x: HostArray): x is Float32Array => wasm !== null && x instanceof Float32Array;

  function bsplineBasis(x: HostArray, grid: HostArray, rows: number, channels: number, knots: number, order: number): HostArray {
    const bases = knots - order - 1;
    const out = alloc(rows * channels * bases);
    if (useWasm(x) && rows * channels > 0) {
      wasm!.bsplineBasis(x, grid as Float32Array, out as Float32Array, rows, channels, knots, order);
      return out;
    }
    const values = new Float64Array(order + 1);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++) {
        const element = r * channels + c;
        const v = x[element]!;
        const at = element * bases;
        if (Number.isNaN(v)) {
          out.fill(NaN, at, at + bases);
          continue;
        }
        const first = bsplineWindow(v, grid, c * knots, knots, order, values, null);
        if (first === null) continue; // outputs start at zero
        for (let m = 0; m <= order; m++) {
          const j = first + m;
          if (j >= 0 && j < bases) out[at + j] = values[m]!;
        }
      }
    }
    return out;
  }

  function bsplineBasisBackward(x: HostArray, grid: HostArray, gy: HostArray, rows: number, channels: number, knots: number,
    order: number): HostArray {
    const bases = knots - order - 1;
    const dx = alloc(rows * channels);
    if (useWasm(x) && rows * channels > 0) {
      wasm!.bsplineBasisBackward(x, grid as Float32Array, gy as Float32Array, dx as Float32Array, rows, channels, knots, order);
      return dx;
    }
    const values = new Float64Array(order + 1);
    const lower = new Float64Array(order + 1);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++) {
        const element = r * channels + c;
        const v = x[element]!;
        if (Number.isNaN(v)) {
          dx[element] = NaN;
          continue;
        }
        if (order === 0) continue; // piecewise constant: zero derivative
        const base = c * knots;
        const first = bsplineWindow(v, grid, base, knots, order, values, lower);
        if (first === null) continue;
        let sum = 0;
        for (let m = 0; m <= order; m++) {
          const j = first + m;
          if (j < 0 || j >= bases) continue;
          // B'_{j,order} from B_{j,order-1} (lower[m]) and B_{j+1,order-1} (lower[m + 1]).
          let derivative = 0;
          const left = grid[base + j + order]! - grid[base + j]!;
          if (left > 0 && lower[m] !== 0) derivative += (order * lower[m]!) / left;
          const right = grid[base + j + order + 1]! - grid[base + j + 1]!;
          if (m < order && right > 0 && lower[m + 1] !== 0) derivative -= (order * lower[m + 1]!) / right;
          sum += gy[element * bases + j]! * derivative;
        }
        dx[element] = sum;
      }
    }
    return dx;
  }

  function radialBasis(x: HostArray, size: number, centers: number, low: number, spacing: number, width: number): HostArray {
    const out = alloc(size * centers);
    if (useWasm(x) && size > 0) {
      wasm!.radialBasis(x, out as Float32Array, size, centers, low, spacing, width);
      return out;
    }
    const inverseWidth = 1 / width;
    for (let i = 0; i < size; i++) {
      const v = x[i]!;
      for (let k = 0; k < centers; k++) {
        const z = (v - (low + k * spacing)) * inverseWidth;
        out[i * centers + k] = Math.exp(-z * z);
      }
    }
    return out;
  }

  function radialBasisBackward(x: HostArray, gy: HostArray, size: number, centers: number, low: number, spacing: number,
    width: number): HostArray {
    const dx = alloc(size);
    if (useWasm(x) && size > 0) {
      wasm!.radialBasisBackward(x, gy as Float32Array, dx as Float32Array, size, centers, low, spacing, width);
      return dx;
    }
    const inverseWidth = 1 / width;
    for (let i = 0; i < size; i++) {
      const v = x[i]!;
      let sum = 0;
      for (let k = 0; k < centers; k++) {
        const z = (v - (low + k * spacing)) * inverseWidth;
        sum += gy[i * centers + k]! * z * Math.exp(-z * z);
      }
      dx[i] = -2 * inverseWidth * sum;
    }
    return dx;
  }

  function chebyshevBasis(x: HostArray, size: number, degree: number): HostArray {
    const width = degree + 1;
    const out = alloc(size * width);
    if (useWasm(x) && size > 0) {
      wasm!.chebyshevBasis(x, out as Float32Array, size, degree);
      return out;
    }
    for (let i = 0; i < size; i++) {
      const v = x[i]!;
      const at = i * width;
      if (Number.isNaN(v)) {
        out.fill(NaN, at, at + width);
        continue;
      }
      const t = Math.tanh(v);
      let previous = 1;
      let current = t;
      out[at] = 1;
      if (degree >= 1) out[at + 1] = t;
      for (let k = 2; k <= degree; k++) {
        const next = 2 * t * current - previous;
        out[at + k] = next;
        previous = current;
        current = next;
      }
    }
    return out;
  }

  function chebyshevBasisBackward(x: HostArray, gy: HostArray, size: number, degree: number): HostArray {
    const width = degree + 1;
    const dx = alloc(size);
    if (useWasm(x) && size > 0) {
      wasm!.chebyshevBasisBackward(x, gy as Float32Array, dx as Float32Array, size, degree);
      return dx;
    }
    for (let i = 0; i < size; i++) {
      const v = x[i]!;
      if (Number.isNaN(v)) {
        dx[i] = NaN;
        continue;
      }
      const t = Math.tanh(v);
      const e = Math.exp(-2 * Math.abs(v));
      const slope = (4 * e) / ((1 + e) * (1 + e)); // 1 - t^2
      // sum_k gy_k k U_{k-1}(t), k = 1..degree
      const g = i * width;
      let previous = 0; // U_{-1}
      let current = 1; // U_0
      let sum = 0;
      for (let k = 1; k <= degree; k++) {
        sum += gy[g + k]! * k * current;
        const next = 2 * t * current - previous;
        previous = current;
        current = next;
      }
      dx[i] = slope * sum;
    }
    return dx;
  }

  return { bsplineBasis, bsplineBasisBackward, radialBasis, radialBasisBackward, chebyshevBasis, chebyshevBasisBackward };
}
