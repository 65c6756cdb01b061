// Fourier-KArAt attention (see ops/karat.ts for the math), fused.
//
// Per batch item (head h = item % heads), per query row k of the scores A:
//   features  c[q, m] = cos(m A[k, q]), s[q, m] = sin(m A[k, q])   (m = 0..G, angle-addition recurrence)
//   H[k, p]   = <coefCos[h, p], c> + <coefSin[h, p], s>             (rank r dot products of length N (G+1))
// then U = W^T V [r, d] and out = H U. Only one row's features ([N, G+1] twice)
// exist at a time: memory is O(N G) scratch, never O(N^2 G).
//
// Backward, with gH = gOut U^T and gU = H^T gOut:
//   dV = W gU, dW += V gU^T, dCoefCos[h, p] += gH[k, p] c, dCoefSin[h, p] += gH[k, p] s,
//   dA[k, q] = sum_m m (cos(m A) Sb[q, m] - sin(m A) Sa[q, m]) with Sa = sum_p gH[k, p] coefCos[h, p] (Sb likewise),
// the features recomputed row by row. Coefficient gradients are summed in item
// then row order into float64 totals: deterministic.

import type { HostArray } from '../../backend.js';
import type { WasmKernels } from '../wasm.js';
import type { Alloc } from './alloc.js';

/** cos(m x) and sin(m x), m = 0..terms-1, of one row of `tokens` scores starting at `at`, into c and s [tokens, terms]. */
export function fourierFeatures(scores: HostArray, at: number, tokens: number, terms: number, c: Float64Array, s: Float64Array): void {
  for (let q = 0; q < tokens; q++) {
    const x = scores[at + q]!;
    const c1 = Math.cos(x);
    const s1 = Math.sin(x);
    let cm = 1;
    let sm = 0;
    const o = q * terms;
    for (let m = 0; m < terms; m++) {
      c[o + m] = cm;
      s[o + m] = sm;
      const next = cm * c1 - sm * s1;
      sm = sm * c1 + cm * s1;
      cm = next;
    }
  }
}

/** U [rank, dim] = W_h^T V_i. */
function projectValues(weight: HostArray, values: HostArray, wAt: number, vAt: number, tokens: number, rank: number, dim: number): Float64Array {
  const u = new Float64Array(rank * dim);
  for (let n = 0; n < tokens; n++) {
    for (let p = 0; p < rank; p++) {
      const w = weight[wAt + n * rank + p]!;
      if (w === 0) continue;
      const uo = p * dim;
      const vo = vAt + n * dim;
      for (let j = 0; j < dim; j++) u[uo + j] += w * values[vo + j]!;
    }
  }
  return u;
}

export function makeKaratKernels(alloc: Alloc, wasm: WasmKernels | null) {
  function karatAttention(scores: HostArray, coefCos: HostArray, coefSin: HostArray, weight: HostArray, values: HostArray, items: number,
    heads: number, tokens: number, rank: number, terms: number, dim: number): [HostArray, HostArray] {
    const out = alloc(items * tokens * dim);
    const hidden = alloc(items * tokens * rank);
    if (wasm !== null && scores instanceof Float32Array) {
      wasm.karatAttention(scores, coefCos as Float32Array, coefSin as Float32Array, weight as Float32Array, values as Float32Array,
        out as Float32Array, hidden as Float32Array, items, heads, tokens, rank, terms, dim);
      return [out, hidden];
    }
    const width = tokens * terms;
    const c = new Float64Array(width);
    const s = new Float64Array(width);
    for (let i = 0; i < items; i++) {
      const h = i % heads;
      const coefAt = h * rank * width;
      const aAt = i * tokens * tokens;
      for (let k = 0; k < tokens; k++) {
        fourierFeatures(scores, aAt + k * tokens, tokens, terms, c, s);
        for (let p = 0; p < rank; p++) {
          const o = coefAt + p * width;
          let sum = 0;
          for (let e = 0; e < width; e++) sum += coefCos[o + e]! * c[e]! + coefSin[o + e]! * s[e]!;
          hidden[(i * tokens + k) * rank + p] = sum;
        }
      }
      const u = projectValues(weight, values, h * tokens * rank, i * tokens * dim, tokens, rank, dim);
      for (let k = 0; k < tokens; k++) {
        const ho = (i * tokens + k) * rank;
        const oo = (i * tokens + k) * dim;
        for (let j = 0; j < dim; j++) {
          let sum = 0;
          for (let p = 0; p < rank; p++) sum += hidden[ho + p]! * u[p * dim + j]!;
          out[oo + j] = sum;
        }
      }
    }
    return [out, hidden];
  }

  function karatAttentionBackward(scores: HostArray, coefCos: HostArray, coefSin: HostArray, weight: HostArray, values: HostArray,
    hidden: HostArray, gOut: HostArray, items: number, heads: number, tokens: number, rank: number, terms: number,
    dim: number): [HostArray, HostArray, HostArray, HostArray, HostArray] {
    const width = tokens * terms;
    const dScores = alloc(items * tokens * tokens);
    const dValues = alloc(items * tokens * dim);
    const dCos = alloc(heads * rank * width);
    const dSin = alloc(heads * rank * width);
    const dWeight = alloc(heads * tokens * rank);
    if (wasm !== null && scores instanceof Float32Array) {
      wasm.karatAttentionBackward(scores, coefCos as Float32Array, coefSin as Float32Array, weight as Float32Array, values as Float32Array,
        hidden as Float32Array, gOut as Float32Array, dScores as Float32Array, dCos as Float32Array, dSin as Float32Array,
        dWeight as Float32Array, dValues as Float32Array, items, heads, tokens, rank, terms, dim);
      return [dScores, dCos, dSin, dWeight, dValues];
    }
    const totalCos = new Float64Array(heads * rank * width);
    const totalSin = new Float64Array(heads * rank * width);
    const totalWeight = new Float64Array(heads * tokens * rank);
    const c = new Float64Array(width);
    const s = new Float64Array(width);
    const sa = new Float64Array(width);
    const sb = new Float64Array(width);
    const gH = new Float64Array(tokens * rank);
    const gU = new Float64Array(rank * dim);
    for (let i = 0; i < items; i++) {
      const h = i % heads;
      const coefAt = h * rank * width;
      const wAt = h * tokens * rank;
      const u = projectValues(weight, values, wAt, i * tokens * dim, tokens, rank, dim);
      gU.fill(0);
      for (let k = 0; k < tokens; k++) {
        const go = (i * tokens + k) * dim;
        const ho = (i * tokens + k) * rank;
        for (let p = 0; p < rank; p++) {
          let sum = 0;
          for (let j = 0; j < dim; j++) sum += gOut[go + j]! * u[p * dim + j]!;
          gH[k * rank + p] = sum;
          const hv = hidden[ho + p]!;
          for (let j = 0; j < dim; j++) gU[p * dim + j] += hv * gOut[go + j]!;
        }
      }
      for (let n = 0; n < tokens; n++) {
        const vo = (i * tokens + n) * dim;
        for (let p = 0; p < rank; p++) {
          const w = weight[wAt + n * rank + p]!;
          let sum = 0;
          for (let j = 0; j < dim; j++) {
            dValues[vo + j] += w * gU[p * dim + j]!;
            sum += values[vo + j]! * gU[p * dim + j]!;
          }
          totalWeight[wAt + n * rank + p] += sum;
        }
      }
      const aAt = i * tokens * tokens;
      for (let k = 0; k < tokens; k++) {
        fourierFeatures(scores, aAt + k * tokens, tokens, terms, c, s);
        sa.fill(0);
        sb.fill(0);
        for (let p = 0; p < rank; p++) {
          const g = gH[k * rank + p]!;
          const o = coefAt + p * width;
          for (let e = 0; e < width; e++) {
            totalCos[o + e] += g * c[e]!;
            totalSin[o + e] += g * s[e]!;
            sa[e] += g * coefCos[o + e]!;
            sb[e] += g * coefSin[o + e]!;
          }
        }
        const ro = aAt + k * tokens;
        for (let q = 0; q < tokens; q++) {
          let sum = 0;
          for (let m = 1; m < terms; m++) {
            const e = q * terms + m;
            sum += m * (c[e]! * sb[e]! - s[e]! * sa[e]!);
          }
          dScores[ro + q] = sum;
        }
      }
    }
    dCos.set(totalCos);
    dSin.set(totalSin);
    dWeight.set(totalWeight);
    return [dScores, dCos, dSin, dWeight, dValues];
  }

  return { karatAttention, karatAttentionBackward };
}
