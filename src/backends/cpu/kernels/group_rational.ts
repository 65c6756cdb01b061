// Group-rational activation (GR-KAN), fused.
//
//   P(x) = a0 + a1 x + ... + a5 x^5
//   Q(x) = 1 + |b0||x| + |b1||x|^2 + |b2||x|^3 + |b3||x|^4      (>= 1: never divides by 0)
//   y    = P / Q
//
// x is [rows, channels]; channel c belongs to group floor(c / (channels / groups)).
// Memory plan: one pass over x (and gy) in row order; each (row, group) run of
// channels reuses the group's coefficients from locals. The backward keeps the
// ten coefficient-gradient sums of the current run in float64 locals and folds
// them into per-group float64 totals in a fixed order: deterministic, and more
// accurate than float32 atomics.

import type { HostArray } from '../../backend.js';
import type { WasmKernels } from '../wasm.js';
import type { Alloc } from './alloc.js';

/** sign with sign(0) = +1, as the reference kernels define it. */
function signPositiveAtZero(v: number): number {
  return v < 0 ? -1 : 1;
}

/** Per group: a0..a5 (the shared row when sharedNumerator), then |b0|..|b3|. */
function unpackCoefficients(numerator: HostArray, denominator: HostArray, groups: number, sharedNumerator: boolean): Float64Array {
  const out = new Float64Array(groups * 10);
  for (let g = 0; g < groups; g++) {
    const n = sharedNumerator ? 0 : g * 6;
    for (let c = 0; c < 6; c++) out[g * 10 + c] = numerator[n + c]!;
    for (let j = 0; j < 4; j++) out[g * 10 + 6 + j] = Math.abs(denominator[g * 4 + j]!);
  }
  return out;
}

/** The reference backward loops: writes dx, returns per-group totals (d a0..a5, d|b0|..d|b3|) summed run by run in row order. */
function backwardLoops(x: HostArray, gy: HostArray, dx: HostArray, coefficients: Float64Array, rows: number, channels: number,
  groups: number, perGroup: number): Float64Array {
  const totals = new Float64Array(groups * 10);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const k = g * 10;
      const a0 = coefficients[k]!, a1 = coefficients[k + 1]!, a2 = coefficients[k + 2]!;
      const a3 = coefficients[k + 3]!, a4 = coefficients[k + 4]!, a5 = coefficients[k + 5]!;
      const b0 = coefficients[k + 6]!, b1 = coefficients[k + 7]!, b2 = coefficients[k + 8]!, b3 = coefficients[k + 9]!;
      let da0 = 0, da1 = 0, da2 = 0, da3 = 0, da4 = 0, da5 = 0;
      let db0 = 0, db1 = 0, db2 = 0, db3 = 0;
      const start = r * channels + g * perGroup;
      const end = start + perGroup;
      for (let i = start; i < end; i++) {
        const v = x[i]!;
        const gyi = gy[i]!;
        const av = Math.abs(v);
        const p = a0 + v * (a1 + v * (a2 + v * (a3 + v * (a4 + v * a5))));
        const dp = a1 + v * (2 * a2 + v * (3 * a3 + v * (4 * a4 + v * 5 * a5)));
        const q = 1 + av * (b0 + av * (b1 + av * (b2 + av * b3)));
        const dq = signPositiveAtZero(v) * (b0 + av * (2 * b1 + av * (3 * b2 + av * 4 * b3)));
        const invQ = 1 / q;
        dx[i] = gyi * (dp - p * dq * invQ) * invQ;
        // dy/da_i = x^i / Q;  dy/db_j = -sign(b_j) |x|^(j+1) P / Q^2 (the sign is applied once, below)
        const t = gyi * invQ;
        const v2 = v * v;
        da0 += t; da1 += t * v; da2 += t * v2; da3 += t * v2 * v; da4 += t * v2 * v2; da5 += t * v2 * v2 * v;
        const s = -t * p * invQ * av;
        const av2 = av * av;
        db0 += s; db1 += s * av; db2 += s * av2; db3 += s * av2 * av;
      }
      totals[k] += da0; totals[k + 1] += da1; totals[k + 2] += da2;
      totals[k + 3] += da3; totals[k + 4] += da4; totals[k + 5] += da5;
      totals[k + 6] += db0; totals[k + 7] += db1; totals[k + 8] += db2; totals[k + 9] += db3;
    }
  }
  return totals;
}

/**
 * With `wasm` (float32 only), runs of channels divisible by 4 go to the SIMD
 * kernels; the loops below remain the float64 reference and the fallback.
 */
export function makeGroupRationalKernels(alloc: Alloc, wasm: WasmKernels | null) {
  const useWasm = (x: HostArray, channels: number, groups: number): x is Float32Array =>
    wasm !== null && x instanceof Float32Array && (channels / groups) % 4 === 0;

  function groupRational(x: HostArray, numerator: HostArray, denominator: HostArray, rows: number, channels: number,
    groups: number, sharedNumerator: boolean): HostArray {
    const out = alloc(rows * channels, true);
    const perGroup = channels / groups;
    const coefficients = unpackCoefficients(numerator, denominator, groups, sharedNumerator);
    if (useWasm(x, channels, groups)) {
      wasm!.groupRational(x, coefficients, out as Float32Array, rows, channels, groups);
      return out;
    }
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const k = g * 10;
        const a0 = coefficients[k]!, a1 = coefficients[k + 1]!, a2 = coefficients[k + 2]!;
        const a3 = coefficients[k + 3]!, a4 = coefficients[k + 4]!, a5 = coefficients[k + 5]!;
        const b0 = coefficients[k + 6]!, b1 = coefficients[k + 7]!, b2 = coefficients[k + 8]!, b3 = coefficients[k + 9]!;
        const start = r * channels + g * perGroup;
        const end = start + perGroup;
        for (let i = start; i < end; i++) {
          const v = x[i]!;
          const av = Math.abs(v);
          const p = a0 + v * (a1 + v * (a2 + v * (a3 + v * (a4 + v * a5))));
          const q = 1 + av * (b0 + av * (b1 + av * (b2 + av * b3)));
          out[i] = p / q;
        }
      }
    }
    return out;
  }

  function groupRationalBackward(x: HostArray, numerator: HostArray, denominator: HostArray, gy: HostArray,
    rows: number, channels: number, groups: number, sharedNumerator: boolean): [HostArray, HostArray, HostArray] {
    const dx = alloc(rows * channels, true);
    const perGroup = channels / groups;
    const coefficients = unpackCoefficients(numerator, denominator, groups, sharedNumerator);
    const totals = useWasm(x, channels, groups)
      ? wasm!.groupRationalBackward(x, gy as Float32Array, coefficients, dx as Float32Array, rows, channels, groups)
      : backwardLoops(x, gy, dx, coefficients, rows, channels, groups, perGroup);
    const dNumeratorPerGroup = new Float64Array(groups * 6);
    const dDenominator = new Float64Array(groups * 4);
    for (let g = 0; g < groups; g++) {
      for (let c = 0; c < 6; c++) dNumeratorPerGroup[g * 6 + c] = totals[g * 10 + c]!;
      for (let j = 0; j < 4; j++) dDenominator[g * 4 + j] = totals[g * 10 + 6 + j]! * signPositiveAtZero(denominator[g * 4 + j]!);
    }
    const dNumerator = alloc(sharedNumerator ? 6 : groups * 6);
    if (sharedNumerator) {
      // Shared coefficients: the gradient is the sum over groups, in group order.
      for (let c = 0; c < 6; c++) {
        let sum = 0;
        for (let g = 0; g < groups; g++) sum += dNumeratorPerGroup[g * 6 + c]!;
        dNumerator[c] = sum;
      }
    } else {
      dNumerator.set(dNumeratorPerGroup);
    }
    const dDen = alloc(groups * 4);
    dDen.set(dDenominator);
    return [dx, dNumerator, dDen];
  }

  return { groupRational, groupRationalBackward };
}
