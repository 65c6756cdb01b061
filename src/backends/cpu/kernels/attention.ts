// Fused softmax attention on the CPU: WebAssembly only (without it the
// attention op composes matmul, softmax and matmul itself).

import type { HostArray } from '../../backend.js';
import type { WasmKernels } from '../wasm.js';
import type { Alloc } from './alloc.js';

export function makeAttentionKernels(alloc: Alloc, wasm: WasmKernels | null) {
  if (!wasm) return {};
  return {
    attention(q: HostArray, k: HostArray, v: HostArray, items: number, tokens: number, dim: number, scale: number): [HostArray, HostArray] {
      const out = alloc(items * tokens * dim, true);
      const lse = alloc(items * tokens, true);
      wasm.attention(q as Float32Array, k as Float32Array, v as Float32Array, out as Float32Array, lse as Float32Array, items, tokens, dim,
        scale);
      return [out, lse];
    },
    attentionBackward(q: HostArray, k: HostArray, v: HostArray, out: HostArray, _logSumExp: HostArray, gOut: HostArray, items: number,
      tokens: number, dim: number, scale: number): [HostArray, HostArray, HostArray] {
      const [dq, dk, dv] = [0, 1, 2].map(() => alloc(items * tokens * dim, true)) as [HostArray, HostArray, HostArray];
      wasm.attentionBackward(q as Float32Array, k as Float32Array, v as Float32Array, out as Float32Array, gOut as Float32Array,
        dq as Float32Array, dk as Float32Array, dv as Float32Array, items, tokens, dim, scale);
      return [dq, dk, dv];
    },
  };
}
