// The CPU backend: buffers are typed arrays (float32 ones inside the
// WebAssembly kernels' memory where it is shared, so kernels work on them in
// place), kernels are WebAssembly SIMD or plain TypeScript loops. `float64`
// precision gives the reference backend that gradient checks use.

import type { Backend, HostArray, Kernels, MemoryInfo, MemoryPressure } from '../backend.js';
import type { Alloc } from './kernels/alloc.js';
import { makeAttentionKernels } from './kernels/attention.js';
import { makeElementwiseKernels } from './kernels/elementwise.js';
import { makeGroupRationalKernels } from './kernels/group_rational.js';
import { makeKanBasisKernels } from './kernels/kan_bases.js';
import { makeKaratKernels } from './kernels/karat.js';
import { makeLayoutKernels } from './kernels/layout.js';
import { makeMatmulKernel } from './kernels/matmul.js';
import { makeNormalizationKernels } from './kernels/normalization.js';
import { enableRelaxedSimd, WasmKernels } from './wasm.js';

export type CpuPrecision = 'float32' | 'float64';

/** Threads for the SIMD kernels: KATJS_THREADS when set, else every core ('auto'). */
function defaultThreads(): number | 'auto' {
  const env = typeof process !== 'undefined' ? process.env?.KATJS_THREADS : undefined;
  return env !== undefined && Number.isInteger(Number(env)) && Number(env) >= 1 ? Number(env) : 'auto';
}

export interface CpuBackendOptions {
  /** false: the TypeScript kernels only ('cpu-js'). */
  wasm?: boolean;
  /** Threads for the SIMD kernels (default KATJS_THREADS, else every core). */
  threads?: number | 'auto';
  /** false: plain SIMD even where relaxed SIMD (fused multiply-add) is available (default: KATJS_RELAXED_SIMD=0 turns it off). */
  relaxedSimd?: boolean;
  /** false: a plain (unshared) WebAssembly memory, tensors in typed arrays copied through scratch, one thread (what a page without cross-origin isolation gets). */
  sharedMemory?: boolean;
}

function defaultRelaxedSimd(): boolean {
  return (typeof process !== 'undefined' ? process.env?.KATJS_RELAXED_SIMD : undefined) !== '0';
}

/** The CPU backend: WebAssembly SIMD kernels on tensors inside the WebAssembly memory, sliced over worker threads ('cpu'); TypeScript loops only ('cpu-js'); or float64, the gradient-check reference ('cpu-float64'). */
export class CpuBackend implements Backend<HostArray> {
  readonly name: string;
  readonly description: string;
  readonly bytesPerElement: number;
  readonly kernels: Kernels<HostArray>;
  // Counts only: holding the buffers would keep unscoped tensors from being collected.
  private readonly live = new WeakSet<HostArray>();
  private liveBuffers = 0;
  private liveBytes = 0;

  /** The WebAssembly SIMD kernels (float32 only; null where unavailable or disabled). */
  readonly wasm: WasmKernels | null;

  /**
   * A CPU backend whose SIMD kernels use fused multiply-add where the engine
   * allows it (on Node 20 this first turns on V8's relaxed-SIMD flag).
   */
  static async create(precision: CpuPrecision = 'float32', options: CpuBackendOptions = {}): Promise<CpuBackend> {
    if (precision === 'float32' && options.wasm !== false && (options.relaxedSimd ?? defaultRelaxedSimd())) await enableRelaxedSimd();
    return new CpuBackend(precision, options);
  }

  constructor(readonly precision: CpuPrecision = 'float32', options: CpuBackendOptions = {}) {
    this.name = precision === 'float32' ? (options.wasm === false ? 'cpu-js' : 'cpu') : 'cpu-float64';
    this.wasm = precision === 'float32' && options.wasm !== false
      ? WasmKernels.load(options.threads ?? defaultThreads(), options.relaxedSimd ?? defaultRelaxedSimd(), options.sharedMemory ?? true) : null;
    this.description = this.wasm ? `WebAssembly SIMD${this.wasm.relaxed ? ' (relaxed: FMA)' : ''} + TypeScript, float32` : `TypeScript loops, ${precision}`;
    this.bytesPerElement = precision === 'float32' ? 4 : 8;
    const Arr = precision === 'float32' ? Float32Array : Float64Array;
    const alloc: Alloc = (size, overwritten = false) => this.track(this.allocate(size, !overwritten));
    const outputs = {
      ...makeElementwiseKernels(alloc, precision === 'float64', this.wasm),
      ...makeMatmulKernel(alloc, (size) => new Arr(size), this.wasm),
      ...makeLayoutKernels(alloc, this.wasm),
      ...makeNormalizationKernels(alloc, this.wasm),
      ...makeGroupRationalKernels(alloc, this.wasm),
      ...makeKanBasisKernels(alloc, this.wasm),
      ...makeAttentionKernels(alloc, this.wasm),
      ...makeKaratKernels(alloc, this.wasm),
    };
    this.kernels = outputs satisfies Kernels<HostArray>;
  }

  // Freed buffers by length, reused (zeroed) by later allocations: training
  // repeats the same shapes every step, so this replaces most garbage collection.
  private readonly pool = new Map<number, HostArray[]>();
  private pooledBytes = 0;
  private static readonly MAX_POOLED_BYTES = 512 * 1024 * 1024;

  private pressure: MemoryPressure | undefined;

  /** Set by the tensor layer: asked to free what nothing reaches when the WebAssembly memory is full. */
  get memoryPressure(): MemoryPressure | undefined {
    return this.pressure;
  }

  set memoryPressure(pressure: MemoryPressure | undefined) {
    this.pressure = pressure;
    if (this.wasm) this.wasm.pressure = pressure ?? null;
  }

  /** A buffer of `size` values: in the WebAssembly memory when it holds tensors, else a (pooled) typed array. */
  private allocate(size: number, zero: boolean): HostArray {
    let inWasm = this.wasm?.allocTensor(size, zero);
    if (inWasm === null && this.wasm!.holdsTensors && this.pressure?.reclaim(size * 4)) inWasm = this.wasm?.allocTensor(size, zero);
    if (inWasm) return inWasm;
    return this.takePooled(size, zero) ?? (this.precision === 'float32' ? new Float32Array(size) : new Float64Array(size));
  }

  private takePooled(size: number, zero = true): HostArray | undefined {
    const buffer = this.pool.get(size)?.pop();
    if (!buffer) return undefined;
    this.pooledBytes -= buffer.byteLength;
    if (zero) buffer.fill(0);
    return buffer;
  }

  private track(buffer: HostArray): HostArray {
    this.live.add(buffer);
    this.liveBuffers++;
    this.liveBytes += buffer.byteLength;
    return buffer;
  }

  upload(values: ArrayLike<number>): HostArray {
    // From the pool too: a batch uploaded every step would otherwise fill the pool with copies of itself.
    const buffer = this.allocate(values.length, false);
    if (values instanceof Float32Array || values instanceof Float64Array) buffer.set(values);
    else for (let i = 0; i < values.length; i++) buffer[i] = values[i]!;
    return this.track(buffer);
  }

  readSync(buffer: HostArray): HostArray {
    return buffer.slice();
  }

  async read(buffer: HostArray): Promise<HostArray> {
    return buffer.slice();
  }

  free(buffer: HostArray): void {
    if (!this.live.delete(buffer)) return;
    this.liveBuffers--;
    this.liveBytes -= buffer.byteLength;
    if (buffer instanceof Float32Array && this.wasm?.freeTensor(buffer)) return;
    if (buffer.length > 0 && this.pooledBytes + buffer.byteLength <= CpuBackend.MAX_POOLED_BYTES) {
      let list = this.pool.get(buffer.length);
      if (!list) this.pool.set(buffer.length, (list = []));
      list.push(buffer);
      this.pooledBytes += buffer.byteLength;
    }
  }

  sizeOf(buffer: HostArray): number {
    return buffer.length;
  }

  memory(): MemoryInfo {
    return { buffers: this.liveBuffers, bytes: this.liveBytes };
  }

  async sync(): Promise<void> {}

  dispose(): void {
    this.wasm?.dispose();
  }
}
