// Row-wise fused kernels: softmax, layernorm and softmax-cross-entropy. Each
// row is read a few times while it is hot in cache; statistics are float64.
// With `wasm` (float32 only), softmax and layerNorm forward and backward run
// as WebAssembly SIMD (assembly/normalization.ts); the loops below remain the
// reference (cpu-js, cpu-float64) and the fallback.

import type { HostArray } from '../../backend.js';
import type { WasmKernels } from '../wasm.js';
import type { Alloc } from './alloc.js';

export function makeNormalizationKernels(alloc: Alloc, wasm: WasmKernels | null = null) {
  const useWasm = (x: HostArray): x is Float32Array => wasm !== null && x instanceof Float32Array;

  function softmax(x: HostArray, rows: number, cols: number): HostArray {
    const out = alloc(rows * cols, true);
    if (useWasm(x)) {
      wasm!.softmax(x, out as Float32Array, rows, cols);
      return out;
    }
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, x[base + c]!);
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(x[base + c]! - max);
        out[base + c] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let c = 0; c < cols; c++) out[base + c]! *= inv;
    }
    return out;
  }

  function softmaxBackward(y: HostArray, gy: HostArray, rows: number, cols: number): HostArray {
    const out = alloc(rows * cols, true);
    if (useWasm(y)) {
      wasm!.softmaxBackward(y, gy as Float32Array, out as Float32Array, rows, cols);
      return out;
    }
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += gy[base + c]! * y[base + c]!;
      for (let c = 0; c < cols; c++) out[base + c] = y[base + c]! * (gy[base + c]! - dot);
    }
    return out;
  }

  function layerNorm(x: HostArray, weight: HostArray, bias: HostArray, rows: number, cols: number, eps: number): [HostArray, HostArray, HostArray] {
    const y = alloc(rows * cols, true);
    const mean = alloc(rows, true);
    const rstd = alloc(rows, true);
    if (useWasm(x)) {
      wasm!.layerNorm(x, weight as Float32Array, bias as Float32Array, y as Float32Array, mean as Float32Array, rstd as Float32Array,
        rows, cols, eps);
      return [y, mean, rstd];
    }
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += x[base + c]!;
      const mu = sum / cols;
      // Two passes: the variance of centred values does not cancel catastrophically.
      let sq = 0;
      for (let c = 0; c < cols; c++) { const d = x[base + c]! - mu; sq += d * d; }
      const inv = 1 / Math.sqrt(sq / cols + eps);
      for (let c = 0; c < cols; c++) y[base + c] = (x[base + c]! - mu) * inv * weight[c]! + bias[c]!;
      mean[r] = mu;
      rstd[r] = inv;
    }
    return [y, mean, rstd];
  }

  function layerNormBackward(x: HostArray, weight: HostArray, mean: HostArray, rstd: HostArray, gy: HostArray,
    rows: number, cols: number): [HostArray, HostArray, HostArray] {
    const dx = alloc(rows * cols, true);
    const dw = alloc(cols);
    const db = alloc(cols);
    if (useWasm(x)) {
      const [dWeight, dBias] = wasm!.layerNormBackward(x, weight as Float32Array, mean as Float32Array, rstd as Float32Array,
        gy as Float32Array, dx as Float32Array, rows, cols);
      dw.set(dWeight);
      db.set(dBias);
      return [dx, dw, db];
    }
    const dWeight = new Float64Array(cols);
    const dBias = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      const mu = mean[r]!;
      const inv = rstd[r]!;
      // dx = inv * (g - mean(g) - xhat * mean(g * xhat)), with g = gy * weight
      let sumG = 0;
      let sumGX = 0;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[base + c]! - mu) * inv;
        const g = gy[base + c]! * weight[c]!;
        sumG += g;
        sumGX += g * xhat;
        dWeight[c] += gy[base + c]! * xhat;
        dBias[c] += gy[base + c]!;
      }
      const meanG = sumG / cols;
      const meanGX = sumGX / cols;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[base + c]! - mu) * inv;
        dx[base + c] = inv * (gy[base + c]! * weight[c]! - meanG - xhat * meanGX);
      }
    }
    dw.set(dWeight);
    db.set(dBias);
    return [dx, dw, db];
  }

  function checkedLabel(labels: HostArray, r: number, classes: number): number {
    const label = labels[r]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new Error(`softmaxCrossEntropy: label ${label} of row ${r} is out of range: expected an integer in [0, ${classes})`);
    }
    return label;
  }

  function softmaxCrossEntropy(logits: HostArray, labels: HostArray, rows: number, classes: number,
    smoothing: number): [HostArray, HostArray] {
    const loss = alloc(rows);
    const lse = alloc(rows);
    for (let r = 0; r < rows; r++) {
      const base = r * classes;
      const label = checkedLabel(labels, r, classes);
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c]!);
      let sum = 0;
      let sumLogits = 0;
      for (let c = 0; c < classes; c++) {
        const z = logits[base + c]!;
        sum += Math.exp(z - max);
        sumLogits += z;
      }
      const logSumExp = max + Math.log(sum);
      // -sum_c q_c log p_c with q = (1 - s) onehot + s / C
      loss[r] = logSumExp - (1 - smoothing) * logits[base + label]! - (smoothing / classes) * sumLogits;
      lse[r] = logSumExp;
    }
    return [loss, lse];
  }

  function softmaxCrossEntropyBackward(logits: HostArray, labels: HostArray, logSumExp: HostArray, gLoss: HostArray,
    rows: number, classes: number, smoothing: number): HostArray {
    const out = alloc(rows * classes);
    const uniform = smoothing / classes;
    for (let r = 0; r < rows; r++) {
      const base = r * classes;
      const label = checkedLabel(labels, r, classes);
      const g = gLoss[r]!;
      const lse = logSumExp[r]!;
      for (let c = 0; c < classes; c++) {
        const target = (c === label ? 1 - smoothing : 0) + uniform;
        out[base + c] = g * (Math.exp(logits[base + c]! - lse) - target);
      }
    }
    return out;
  }

  return { softmax, softmaxBackward, layerNorm, layerNormBackward, softmaxCrossEntropy, softmaxCrossEntropyBackward };
}
