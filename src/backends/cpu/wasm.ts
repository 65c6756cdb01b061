// WebAssembly SIMD kernels of the CPU backend (sources in ./assembly). Where
// the memory is shared (Node, cross-origin-isolated pages) tensors live in it
// (heap.ts) and kernels run on them in place; an operand outside it (a plain
// memory, or a tensor allocated before it was full) is copied through scratch.
// Large calls are split by rows over every core (threads.ts). Each module
// comes with plain SIMD and with relaxed SIMD (fused multiply-add); the
// relaxed one is used wherever the engine accepts it.

import {
  KERNELS_RELAXED_SHARED_WASM_BASE64, KERNELS_RELAXED_WASM_BASE64, KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64, SHARED_MAXIMUM_PAGES,
} from './generated/kernels_wasm.js';
import type { MemoryPressure } from '../backend.js';
import { WasmHeap } from './heap.js';
import { MAX_SLICES, task, THREAD_TASKS, ThreadPool, type Slice, type ThreadTask } from './threads.js';
import { nodeBuiltin } from '../../util/node_builtin.js';
import { forEachOuterIndex } from '../../util/shape.js';

/** Multiply-adds per slice of a batched matmul (whole products), at least. */
const MATMUL_SLICE_WORK = 1 << 17;
/** Elements per slice of a row-wise or element-wise kernel (waking a worker costs microseconds; three slices fit in L2). */
const SLICE_ELEMENTS = 1 << 15;

/** Rows of `cols` values per slice of a row-wise kernel. */
function rowsPerSlice(cols: number): number {
  return Math.max(1, Math.ceil(SLICE_ELEMENTS / Math.max(cols, 1)));
}

/**
 * Row-block boundaries of one product's slices: about eight even blocks of
 * up to 120 rows (the kernel's A block). A large product's last two blocks
 * are cut four times finer, so that threads taking slices from the ticket
 * finish within a small slice of each other. Depends on the shape only (never the thread count): same bits on any.
 */
export function gemmRowBlocks(m: number, batch: number): number[] {
  const rowsPer = Math.max(Math.min(120, Math.max(12, Math.ceil(m / Math.ceil(8 / batch) / 6) * 6)),
    Math.ceil((m * batch) / MAX_SLICES / 6) * 6);
  const tailRows = Math.max(6, Math.ceil(rowsPer / 4 / 6) * 6);
  const fineSlices = Math.ceil(Math.min(m, 2 * rowsPer) / tailRows);
  // Only for large products (smaller ones come as about eight even slices already), within MAX_SLICES.
  const fine = rowsPer === 120 && m > 4 * rowsPer && (Math.ceil(m / rowsPer) + fineSlices) * batch <= MAX_SLICES;
  const starts = [0];
  const coarseEnd = fine ? m - 2 * rowsPer : m;
  for (let row = rowsPer; row < coarseEnd; row += rowsPer) starts.push(row);
  if (fine) for (let row = coarseEnd; row < m; row += tailRows) starts.push(row);
  starts.push(m);
  return starts;
}

/** `perSlice` grown (in multiples of `unit`) so that `count` items make at most MAX_SLICES slices. */
function sliceSize(count: number, perSlice: number, unit = 1): number {
  return Math.max(perSlice, Math.ceil(count / MAX_SLICES / unit) * unit);
}
/** Bytes kept free above the module's static data (and address 0 is never handed out). */
const HEAP_GAP = 1024;

interface KernelExports {
  gemm(a: number, b: number, c: number, m: number, k: number, n: number, aRow: number, aCol: number, bRow: number, bCol: number, ldc: number,
    batch: number, aBatch: number, bBatch: number, cBatch: number, scratch: number, packed: number, bias: number): void;
  gemmScratchFloats(): number;
  packedWholeFloats(k: number, n: number): number;
  packColumns(b: number, dst: number, k: number, n: number, bRow: number, bCol: number, first: number, count: number): void;
  staticDataEnd(): number;
  fmaPeak(iterations: number, seed: number): number;
  groupRationalForward(x: number, y: number, coefficients: number, rows: number, channels: number, groups: number): void;
  groupRationalBackward(x: number, gy: number, dx: number, coefficients: number, totals: number, rows: number, channels: number,
    groups: number): void;
  layerNormForward(x: number, weight: number, bias: number, y: number, mean: number, rstd: number, rows: number, cols: number,
    eps: number): void;
  layerNormBackward(x: number, weight: number, mean: number, rstd: number, gy: number, dx: number, dWeight: number, dBias: number,
    rows: number, cols: number): void;
  softmaxForward(x: number, y: number, rows: number, cols: number): void;
  softmaxBackward(y: number, gy: number, dx: number, rows: number, cols: number): void;
  expF32(src: number, dst: number, n: number): void;
  unaryF32(op: number, src: number, dst: number, n: number): void;
  unaryGradF32(op: number, x: number, gy: number, dst: number, n: number): void;
  binaryF32(op: number, a: number, b: number, dst: number, n: number, period: number): void;
  scatterStrided4(src: number, dst: number, n0: number, n1: number, n2: number, n3: number, t0: number, t1: number, t2: number,
    t3: number): void;
  sumRowsF64(x: number, acc: number, rows: number, cols: number): void;
  attentionForward(q: number, k: number, v: number, out: number, lse: number, tokens: number, dim: number, scale: number, first: number,
    count: number, scratch: number): void;
  attentionBackward(q: number, k: number, v: number, out: number, gOut: number, dq: number, dk: number, dv: number, tokens: number,
    dim: number, scale: number, scratch: number): void;
  attentionForwardScratch(rows: number, tokens: number): number;
  attentionBackwardScratch(tokens: number): number;
  adamwF32(param: number, grad: number, m: number, v: number, paramOut: number, mOut: number, vOut: number, n: number, beta1: number,
    beta2: number, decay: number, stepSize: number, vScale: number, eps: number): void;
  sumColsF32(x: number, out: number, rows: number, cols: number): void;
  copyStrided4(src: number, dst: number, n0: number, n1: number, n2: number, n3: number, t0: number, t1: number, t2: number, t3: number): void;
  bsplineBasisForward(x: number, grid: number, out: number, scratch: number, rows: number, channels: number, knots: number,
    order: number): void;
  bsplineBasisBackward(x: number, grid: number, gy: number, dx: number, scratch: number, rows: number, channels: number, knots: number,
    order: number): void;
  radialBasisForward(x: number, out: number, centres: number, size: number, count: number, low: number, spacing: number,
    inverseWidth: number): void;
  radialBasisBackward(x: number, gy: number, dx: number, centres: number, size: number, count: number, low: number, spacing: number,
    inverseWidth: number): void;
  chebyshevBasisForward(x: number, out: number, size: number, degree: number): void;
  chebyshevBasisBackward(x: number, gy: number, dx: number, size: number, degree: number): void;
  karatForward(scores: number, cosC: number, sinC: number, weight: number, values: number, out: number, hidden: number, scratch: number,
    u: number, tokens: number, rank: number, terms: number, dim: number, stride: number): void;
  karatBackward(scores: number, cosC: number, sinC: number, weight: number, values: number, hidden: number, gOut: number, dScores: number,
    dCos: number, dSin: number, dWeight: number, dValues: number, scratch: number, u: number, gH: number, gU: number, tokens: number,
    rank: number, terms: number, dim: number, stride: number): void;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  if (typeof atob === 'function') return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

/** Op codes of the element-wise kernels (assembly/elementwise.ts). */
export const WASM_UNARY: Partial<Record<string, number>> = { exp: 0, tanh: 1, sigmoid: 2, gelu: 3 };
export const WASM_ERF = 4;
export const WASM_BINARY: Partial<Record<string, number>> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 };
export const WASM_REVERSED = 10;

/** f32 values per group in the group-rational kernels' coefficient block (see assembly/group_rational.ts). */
const RATIONAL_COEFFICIENTS = 17;

/** Whether this engine compiles relaxed SIMD (Chrome >= 114, Node >= 22, or Node 20 after enableRelaxedSimd). */
export function relaxedSimdSupported(): boolean {
  // A yes is final; a no can turn into a yes once enableRelaxedSimd has set the flag.
  relaxedSimdKnown ||= WebAssembly.validate(decodeBase64(KERNELS_RELAXED_WASM_BASE64));
  return relaxedSimdKnown;
}
let relaxedSimdKnown = false;

/**
 * Node 20's V8 has relaxed SIMD (a finished WebAssembly standard, on by default
 * from Node 22) behind a flag: turn the flag on before the kernels compile.
 * Elsewhere this only reports whether relaxed SIMD is there.
 */
export async function enableRelaxedSimd(): Promise<boolean> {
  if (relaxedSimdSupported()) return true;
  if (typeof process !== 'undefined' && process.versions?.node) {
    try {
      const v8 = await nodeBuiltin<typeof import('node:v8')>('v8');
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // not a V8 that knows the flag: plain SIMD
    }
  }
  return relaxedSimdSupported();
}

/** Splits `count` items into at most `parts` contiguous ranges of multiples of `unit`: [start, length][]. */
export function split(count: number, parts: number, unit: number): [number, number][] {
  const units = Math.ceil(count / unit);
  const ranges: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts && start < count; p++) {
    const take = Math.min(count - start, Math.ceil((units - start / unit) / (parts - p)) * unit);
    ranges.push([start, take]);
    start += take;
  }
  return ranges;
}

/** Rounds a float count up to whole 64-byte lines (so staged operands stay aligned). */
function lines(floats: number): number {
  return Math.ceil(floats / 16) * 16;
}

export class WasmKernels {
  private readonly exports: KernelExports;
  /** Where tensors and scratch live. */
  readonly heap: WasmHeap;
  private pool: ThreadPool | null = null;
  /** Scratch for staged operands and kernel temporaries, reallocated larger when a call needs more. */
  private scratch: Float32Array | null = null;
  private readonly gemmScratch: number;
  /** Resolves once the worker threads (if any) have started. */
  readonly ready: Promise<void>;
  /** Asked to free memory (and to describe what is alive) when the heap is full; set by the CPU backend. */
  pressure: MemoryPressure | null = null;

  private constructor(instance: WebAssembly.Instance, memory: WebAssembly.Memory, moduleBytes: Uint8Array, threads: number | 'auto',
    readonly relaxed: boolean, maxBytes: number) {
    this.exports = instance.exports as unknown as KernelExports;
    // Every instance (one per worker thread) writes the module's static data when it starts: the heap starts above it.
    this.heap = new WasmHeap(memory, this.exports.staticDataEnd() + HEAP_GAP, maxBytes);
    this.gemmScratch = lines(this.exports.gemmScratchFloats());
    // Workers start in the background; calls run on one thread until they are up.
    this.ready = threads === 1 || !this.heap.shared ? Promise.resolve()
      : ThreadPool.start(threads, memory, moduleBytes).then((pool) => { this.pool = pool; }, () => {});
  }

  /** Threads a large call is split over (1 until the pool has started). */
  get threads(): number {
    return (this.pool?.size ?? 0) + 1;
  }

  /** The end of the module's static data: the heap starts above it. */
  get staticDataEnd(): number {
    return this.exports.staticDataEnd();
  }

  /** Whether tensors can live in this module's memory (it is shared, so views survive growth). */
  get holdsTensors(): boolean {
    return this.heap.shared;
  }

  /**
   * The kernels, or null where WebAssembly SIMD is unavailable (the TypeScript
   * kernels are used then). A shared memory is taken wherever the engine has
   * one (tensors then live in it); `threads` > 1 adds worker threads on it.
   * `relaxed` false keeps plain SIMD where relaxed SIMD (FMA) would be available;
   * `shared` false takes a plain memory as a page without cross-origin isolation does.
   */
  static load(threads: number | 'auto' = 1, relaxed = true, shared = true): WasmKernels | null {
    const abort = () => { throw new Error('wasm kernel aborted'); };
    const useRelaxed = relaxed && relaxedSimdSupported();
    if (shared && typeof SharedArrayBuffer !== 'undefined') {
      try {
        const memory = new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAXIMUM_PAGES, shared: true });
        const bytes = decodeBase64(useRelaxed ? KERNELS_RELAXED_SHARED_WASM_BASE64 : KERNELS_SHARED_WASM_BASE64);
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, abort } });
        return new WasmKernels(instance, memory, bytes, threads, useRelaxed, SHARED_MAXIMUM_PAGES * 65536 - 65536);
      } catch {
        // no shared memory here: fall through to a plain one
      }
    }
    try {
      const memory = new WebAssembly.Memory({ initial: 16 });
      const bytes = decodeBase64(useRelaxed ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, abort } });
      return new WasmKernels(instance, memory, bytes, 1, useRelaxed, 2 ** 31);
    } catch {
      return null;
    }
  }

  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }

  /** A float32 tensor buffer in the module's memory (zeroed unless `zero` is false), or null where tensors cannot live there. */
  allocTensor(size: number, zero = true): Float32Array | null {
    return this.holdsTensors ? this.heap.alloc(size, zero) : null;
  }

  /** Whether `array` lives in the module's memory (kernels use it without copying). */
  inPlace(array: ArrayBufferView): boolean {
    return this.heap.addressOf(array) >= 0;
  }

  /** Frees a buffer allocTensor gave; false if it did not come from there. */
  freeTensor(buffer: Float32Array): boolean {
    return this.heap.free(buffer);
  }

  /**
   * Runs `body` with the byte addresses of `inputs` and `outputs` and of
   * `extraFloats` floats of scratch. Arrays in the heap are used in place;
   * others are copied into scratch (inputs) or out of it afterwards (outputs).
   */
  private run(inputs: readonly Float32Array[], outputs: readonly Float32Array[], extraFloats: number,
    body: (addresses: number[], extra: number) => void): void {
    const heap = this.heap;
    let staged = 0;
    for (const array of [...inputs, ...outputs]) if (heap.addressOf(array) < 0) staged += lines(array.length);
    const scratchAt = this.scratchAddress(staged + extraFloats);
    const memory = heap.floats();
    const addresses: number[] = [];
    let at = scratchAt;
    const copyOut: [Float32Array, number][] = [];
    inputs.forEach((array) => {
      const address = heap.addressOf(array);
      if (address >= 0) return addresses.push(address);
      memory.set(array, at / 4);
      addresses.push(at);
      at += lines(array.length) * 4;
    });
    outputs.forEach((array) => {
      const address = heap.addressOf(array);
      if (address >= 0) return addresses.push(address);
      copyOut.push([array, at]);
      addresses.push(at);
      at += lines(array.length) * 4;
    });
    body(addresses, at);
    for (const [array, address] of copyOut) array.set(memory.subarray(address / 4, address / 4 + array.length));
  }

  /** The address of at least `floats` floats of scratch (valid until the next call). */
  private scratchAddress(floats: number): number {
    if (!this.scratch || this.scratch.length < floats) {
      if (this.scratch) this.heap.free(this.scratch);
      this.scratch = null;
      const request = Math.max(floats, 1 << 16);
      let scratch = this.heap.alloc(request, false);
      if (!scratch && this.pressure?.reclaim(request * 4)) scratch = this.heap.alloc(request, false);
      if (!scratch) {
        const heap = this.heap.stats();
        throw new Error(`CPU backend: out of WebAssembly memory for ${floats * 4} bytes of scratch ` +
          `(the memory holds ${heap.memoryBytes} bytes, ${heap.liveBytes} of them in live blocks)` +
          `${this.pressure ? `: ${this.pressure.describe()}` : ''}`);
      }
      this.scratch = scratch;
    }
    return this.heap.addressOf(this.scratch);
  }

  /**
   * Runs `count` items as slices of `perSlice` (sizes that do not depend on
   * the thread count, so results do not either): on every thread when there
   * is a pool, else one after another. `args(start, length, slice)` gives each
   * slice's arguments for `kernel`; `scratchArgument` names the argument that
   * is offset by thread index x `scratchStride` bytes (per-thread scratch).
   */
  private parallel(kernel: ThreadTask, count: number, perSlice: number,
    args: (start: number, length: number, slice: number) => number[], scratchArgument = -1, scratchStride = 0): void {
    const slices: Slice[] = [];
    const id = task(kernel);
    for (let start = 0, slice = 0; start < count; start += perSlice, slice++) {
      slices.push({ task: id, scratchArgument, args: args(start, Math.min(perSlice, count - start), slice) });
    }
    if (this.pool && slices.length > 1) {
      this.pool.run(slices, this.threadKernels, scratchStride);
      return;
    }
    const fn = this.exports[kernel] as (...values: number[]) => void;
    for (const slice of slices) fn(...slice.args);
  }

  /** The kernels threads run, by task id. */
  private get threadKernels(): ((...values: number[]) => void)[] {
    return this.threadKernelList ??= THREAD_TASKS.map((name) => this.exports[name] as (...values: number[]) => void);
  }
  private threadKernelList: ((...values: number[]) => void)[] | null = null;

  /** The SIMD peak of one thread in GFLOP/s: a register-only FMA loop (the ceiling gemm's rate is compared with). */
  fmaPeakGflops(milliseconds = 200): number {
    let iterations = 1 << 16;
    for (;;) {
      const started = performance.now();
      this.exports.fmaPeak(iterations, 1);
      const elapsed = performance.now() - started;
      if (elapsed >= milliseconds) return (iterations * 96) / (elapsed * 1e6);
      iterations = Math.min(2 ** 30, Math.ceil(iterations * Math.max(2, (1.2 * milliseconds) / Math.max(elapsed, 0.01))));
    }
  }

  /**
   * Batched matmul with the same contract as the TypeScript kernel (see
   * Kernels.matmul), written into `out`: transposes are read through strides
   * in the packing, the batch loop runs inside the module. `bias` (n values,
   * or null) is added to every row as the product is stored.
   */
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number, bias: Float32Array | null = null): void {
    const threads = this.threads;
    const aRow = transA ? 1 : k;
    const aCol = transA ? m : 1;
    const bRow = transB ? 1 : n;
    const bCol = transB ? k : 1;
    const aLength = (batch - 1) * aBatchStride + m * k;
    const bLength = (batch - 1) * bBatchStride + k * n;
    const scratchBytes = 4 * this.gemmScratch;
    const product = m * k * n;
    const sliced = batch * product >= 2 * MATMUL_SLICE_WORK;
    // One B for every row block: packed once, before the slices (else each slice would pack all of it).
    const packedFloats = sliced && batch === 1 && n <= 512 * MAX_SLICES ? lines(this.exports.packedWholeFloats(k, n)) : 0;
    const operands = [a.length === aLength ? a : a.subarray(0, aLength), b.length === bLength ? b : b.subarray(0, bLength)];
    if (bias) operands.push(bias.subarray(0, n));
    this.run(operands, [out], threads * this.gemmScratch + packedFloats, (addresses, scratch) => {
        const [aAt, bAt] = addresses;
        const cAt = addresses[addresses.length - 1];
        const biasAt = bias ? addresses[2]! : 0;
        const packedAt = packedFloats > 0 ? scratch + threads * scratchBytes : 0;
        const gemm = (start: number, rows: number, batchStart: number, batches: number) => [
          aAt! + 4 * (batchStart * aBatchStride + start * aRow), bAt! + 4 * batchStart * bBatchStride, cAt! + 4 * (batchStart * m * n + start * n),
          rows, k, n, aRow, aCol, bRow, bCol, n, batches, aBatchStride, bBatchStride, m * n, scratch, packedAt, biasAt,
        ];
        if (!sliced) {
          this.exports.gemm(...(gemm(0, m, 0, batch) as Parameters<KernelExports['gemm']>));
        } else if (batch >= 8) {
          // Many products (attention heads of a batch): whole products, grouped to a minimum of work per slice.
          const per = sliceSize(batch, Math.ceil(MATMUL_SLICE_WORK / Math.max(product, 1)));
          this.parallel('gemm', batch, per, (start, length) => gemm(0, m, start, length), 15, scratchBytes);
        } else {
          // Row blocks, about eight slices in all, so that threads finish together.
          if (packedAt) {
            // 64 to 512 columns per slice: multiples of 8 that divide the kernel's 512-column blocks.
            let columns = 64;
            while (n / columns > MAX_SLICES) columns *= 2;
            this.parallel('packColumns', n, columns, (first, count) => [bAt!, packedAt, k, n, bRow, bCol, first, count]);
          }
          const starts = gemmRowBlocks(m, batch);
          const blocks = starts.length - 1;
          this.parallel('gemm', batch * blocks, 1, (index) => {
            const block = index % blocks;
            return gemm(starts[block]!, starts[block + 1]! - starts[block]!, Math.floor(index / blocks), 1);
          }, 15, scratchBytes);
        }
      });
  }

  /**
   * Group-rational forward (see cpu/kernels/group_rational.ts), for
   * channels-per-group divisible by 4. `coefficients`: per group a0..a5, |b0|..|b3|.
   */
  groupRational(x: Float32Array, coefficients: Float64Array, out: Float32Array, rows: number, channels: number, groups: number): void {
    this.run([x], [out], lines(groups * RATIONAL_COEFFICIENTS), ([xAt, yAt], cAt) => {
      writeRationalCoefficients(coefficients, groups, this.heap.floats(), cAt / 4);
      this.parallel('groupRationalForward', rows, sliceSize(rows, rowsPerSlice(channels)),
        (start, length) => [xAt! + 4 * start * channels, yAt! + 4 * start * channels, cAt, length, channels, groups]);
    });
  }

  /** Group-rational backward: writes dx and returns per-group float64 sums (d a0..a5, d|b0|..d|b3|), in row order per thread. */
  groupRationalBackward(x: Float32Array, gy: Float32Array, coefficients: Float64Array, dx: Float32Array, rows: number, channels: number,
    groups: number): Float64Array {
    const totalsFloats = lines(groups * 20);
    const per = sliceSize(rows, rowsPerSlice(channels));
    const slices = Math.ceil(rows / per);
    let totals: Float64Array = new Float64Array(0);
    // Scratch: totals per slice [groups * 10 f64] | coefficients
    this.run([x, gy], [dx], slices * totalsFloats + lines(groups * RATIONAL_COEFFICIENTS), ([xAt, gAt, dAt], extra) => {
      const cAt = extra + 4 * slices * totalsFloats;
      const memory = this.heap.floats();
      writeRationalCoefficients(coefficients, groups, memory, cAt / 4);
      const doubles = new Float64Array(memory.buffer as ArrayBuffer, extra, (slices * totalsFloats) / 2);
      doubles.fill(0);
      this.parallel('groupRationalBackward', rows, per, (start, length, slice) => [xAt! + 4 * start * channels, gAt! + 4 * start * channels,
        dAt! + 4 * start * channels, cAt, extra + 4 * slice * totalsFloats, length, channels, groups]);
      totals = sumSlices(doubles, slices, totalsFloats / 2, groups * 10);
    });
    return totals;
  }

  /** Row-wise layerNorm of row-major x [rows, cols] (see cpu/kernels/normalization.ts): writes y, mean and rstd. */
  layerNorm(x: Float32Array, weight: Float32Array, bias: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array,
    rows: number, cols: number, eps: number): void {
    this.run([x, weight.subarray(0, cols), bias.subarray(0, cols)], [y, mean, rstd], 0, ([xAt, wAt, bAt, yAt, meanAt, rstdAt]) => {
      this.parallel('layerNormForward', rows, sliceSize(rows, rowsPerSlice(cols)), (start, length) => [
        xAt! + 4 * start * cols, wAt!, bAt!, yAt! + 4 * start * cols, meanAt! + 4 * start, rstdAt! + 4 * start, length, cols, eps,
      ]);
    });
  }

  /** LayerNorm backward: writes dx and returns the float64 sums dWeight, dBias (accumulated in row order per thread). */
  layerNormBackward(x: Float32Array, weight: Float32Array, mean: Float32Array, rstd: Float32Array, gy: Float32Array, dx: Float32Array,
    rows: number, cols: number): [Float64Array, Float64Array] {
    const perSlice = lines(4 * cols); // dWeight and dBias, cols f64 each
    const per = sliceSize(rows, rowsPerSlice(cols));
    const slices = Math.ceil(rows / per);
    let result: [Float64Array, Float64Array] = [new Float64Array(0), new Float64Array(0)];
    this.run([x, weight.subarray(0, cols), mean, rstd, gy], [dx], slices * perSlice, ([xAt, wAt, meanAt, rstdAt, gAt, dAt], extra) => {
      const doubles = new Float64Array(this.heap.floats().buffer as ArrayBuffer, extra, (slices * perSlice) / 2);
      doubles.fill(0);
      this.parallel('layerNormBackward', rows, per, (start, length, slice) => {
        const totals = extra + 4 * slice * perSlice;
        return [xAt! + 4 * start * cols, wAt!, meanAt! + 4 * start, rstdAt! + 4 * start, gAt! + 4 * start * cols, dAt! + 4 * start * cols,
          totals, totals + 8 * cols, length, cols];
      });
      const sums = sumSlices(doubles, slices, perSlice / 2, 2 * cols);
      result = [sums.slice(0, cols), sums.slice(cols, 2 * cols)];
    });
    return result;
  }

  /** Softmax over the rows of row-major x [rows, cols], written into `out`. */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    this.run([x], [out], 0, ([xAt, yAt]) => this.parallel('softmaxForward', rows, sliceSize(rows, rowsPerSlice(cols)),
      (start, length) => [xAt! + 4 * start * cols, yAt! + 4 * start * cols, length, cols]));
  }

  /** Softmax backward from its output y and the upstream gradient gy, written into `out`. */
  softmaxBackward(y: Float32Array, gy: Float32Array, out: Float32Array, rows: number, cols: number): void {
    this.run([y, gy], [out], 0, ([yAt, gAt, dAt]) => this.parallel('softmaxBackward', rows, sliceSize(rows, rowsPerSlice(cols)),
      (start, length) => [yAt! + 4 * start * cols, gAt! + 4 * start * cols, dAt! + 4 * start * cols, length, cols]));
  }

  /**
   * B-spline bases of x [rows, channels] over grid [channels, knots] (see
   * cpu/kernels/kan_bases.ts), written into out [rows, channels, knots - order - 1].
   */
  bsplineBasis(x: Float32Array, grid: Float32Array, out: Float32Array, rows: number, channels: number, knots: number, order: number): void {
    // Scratch: 2 (order + 1) f64, inverse knot widths channels x order x knots f64
    this.run([x.subarray(0, rows * channels), grid.subarray(0, channels * knots)], [out], lines(4 * (order + 1) + 2 * channels * order * knots),
      ([xAt, gridAt, outAt], scratch) => this.exports.bsplineBasisForward(xAt!, gridAt!, outAt!, scratch, rows, channels, knots, order));
  }

  /** The x-gradient of bsplineBasis from the upstream gradient gy [rows, channels, bases], written into dx. */
  bsplineBasisBackward(x: Float32Array, grid: Float32Array, gy: Float32Array, dx: Float32Array, rows: number, channels: number,
    knots: number, order: number): void {
    this.run([x.subarray(0, rows * channels), grid.subarray(0, channels * knots), gy], [dx],
      lines(4 * (order + 1) + 2 * channels * order * knots),
      ([xAt, gridAt, gAt, dAt], scratch) => this.exports.bsplineBasisBackward(xAt!, gridAt!, gAt!, dAt!, scratch, rows, channels, knots, order));
  }

  /** Gaussian radial bases of x [size] at `centers` centres low + k spacing, written into out [size, centers]. */
  radialBasis(x: Float32Array, out: Float32Array, size: number, centers: number, low: number, spacing: number, width: number): void {
    this.run([x.subarray(0, size)], [out], lines(centers),
      ([xAt, outAt], centresAt) => this.exports.radialBasisForward(xAt!, outAt!, centresAt, size, centers, low, spacing, 1 / width));
  }

  /** The x-gradient of radialBasis from the upstream gradient gy [size, centers], written into dx. */
  radialBasisBackward(x: Float32Array, gy: Float32Array, dx: Float32Array, size: number, centers: number, low: number, spacing: number,
    width: number): void {
    this.run([x.subarray(0, size), gy], [dx], lines(centers),
      ([xAt, gAt, dAt], centresAt) => this.exports.radialBasisBackward(xAt!, gAt!, dAt!, centresAt, size, centers, low, spacing, 1 / width));
  }

  /** Chebyshev bases T_k(tanh x), k = 0..degree, of x [size], written into out [size, degree + 1]; slices of whole elements. */
  chebyshevBasis(x: Float32Array, out: Float32Array, size: number, degree: number): void {
    const width = degree + 1;
    this.run([x.subarray(0, size)], [out], 0, ([xAt, outAt]) => this.parallel('chebyshevBasisForward', size,
      sliceSize(size, rowsPerSlice(width), 4), (start, length) => [xAt! + 4 * start, outAt! + 4 * start * width, length, degree]));
  }

  /** The x-gradient of chebyshevBasis from the upstream gradient gy [size, degree + 1], written into dx. */
  chebyshevBasisBackward(x: Float32Array, gy: Float32Array, dx: Float32Array, size: number, degree: number): void {
    const width = degree + 1;
    this.run([x.subarray(0, size), gy], [dx], 0, ([xAt, gAt, dAt]) => this.parallel('chebyshevBasisBackward', size,
      sliceSize(size, rowsPerSlice(width), 4), (start, length) => [xAt! + 4 * start, gAt! + 4 * start * width, dAt! + 4 * start, length,
        degree]));
  }

  // --- Fourier-KArAt attention (assembly/karat.ts; math in cpu/kernels/karat.ts). One item per call, one thread. ---

  /** Copies coefCos and coefSin [heads * rank rows of width] into memory at float indices cosAt, sinAt, each row zero-padded to `stride`. */
  private static putKaratCoefficients(memory: Float32Array, coefCos: Float32Array, coefSin: Float32Array, rows: number, width: number,
    stride: number, cosAt: number, sinAt: number): void {
    for (let row = 0; row < rows; row++) {
      memory.set(coefCos.subarray(row * width, (row + 1) * width), cosAt + row * stride);
      memory.fill(0, cosAt + row * stride + width, cosAt + (row + 1) * stride);
      memory.set(coefSin.subarray(row * width, (row + 1) * width), sinAt + row * stride);
      memory.fill(0, sinAt + row * stride + width, sinAt + (row + 1) * stride);
    }
  }

  /** Fourier-KArAt forward over `items` items (head = item % heads): writes out [items, N, d] and hidden [items, N, r]. */
  karatAttention(scores: Float32Array, coefCos: Float32Array, coefSin: Float32Array, weight: Float32Array, values: Float32Array,
    out: Float32Array, hidden: Float32Array, items: number, heads: number, tokens: number, rank: number, terms: number, dim: number): void {
    const width = tokens * terms;
    const stride = Math.ceil(width / 4) * 4;
    // Scratch (floats): cos [heads, r, stride] | sin | kernel scratch [2 stride] | u [r, d]
    const sinAt = heads * rank * stride;
    const scratchAt = 2 * sinAt;
    const uAt = scratchAt + 2 * stride;
    const [square, perValues, perHidden] = [tokens * tokens, tokens * dim, tokens * rank];
    this.run([scores, values, weight.subarray(0, heads * perHidden)], [out, hidden], lines(uAt + rank * dim),
      ([aAt, vAt, wAt, outAt, hAt], extra) => {
        const base = extra / 4;
        WasmKernels.putKaratCoefficients(this.heap.floats(), coefCos, coefSin, heads * rank, width, stride, base, base + sinAt);
        for (let i = 0; i < items; i++) {
          const h = i % heads;
          this.exports.karatForward(aAt! + 4 * i * square, extra + 4 * h * rank * stride, extra + 4 * (sinAt + h * rank * stride),
            wAt! + 4 * h * perHidden, vAt! + 4 * i * perValues, outAt! + 4 * i * perValues, hAt! + 4 * i * perHidden, extra + 4 * scratchAt,
            extra + 4 * uAt, tokens, rank, terms, dim, stride);
        }
      });
  }

  /** Fourier-KArAt backward: writes every gradient; coefficient and weight gradients are summed over items in float64, in order. */
  karatAttentionBackward(scores: Float32Array, coefCos: Float32Array, coefSin: Float32Array, weight: Float32Array, values: Float32Array,
    hidden: Float32Array, gOut: Float32Array, dScores: Float32Array, dCos: Float32Array, dSin: Float32Array, dWeight: Float32Array,
    dValues: Float32Array, items: number, heads: number, tokens: number, rank: number, terms: number, dim: number): void {
    const width = tokens * terms;
    const stride = Math.ceil(width / 4) * 4;
    // Scratch (floats): cos [heads, r, stride] | sin | dCos [r, stride] | dSin | kernel scratch [5 stride] | u [r, d] | gU | gH [N, r]
    //   | dWeight [N, r]: the item's coefficient and weight gradients, summed into float64 totals here
    const sinAt = heads * rank * stride;
    const dCosAt = 2 * sinAt;
    const dSinAt = dCosAt + rank * stride;
    const scratchAt = dSinAt + rank * stride;
    const uAt = scratchAt + 5 * stride;
    const guAt = uAt + rank * dim;
    const ghAt = guAt + rank * dim;
    const dwAt = ghAt + tokens * rank;
    const [square, perValues, perHidden] = [tokens * tokens, tokens * dim, tokens * rank];
    const totalCos = new Float64Array(heads * rank * width);
    const totalSin = new Float64Array(heads * rank * width);
    const totalWeight = new Float64Array(heads * perHidden);
    this.run([scores, values, hidden, gOut, weight.subarray(0, heads * perHidden)], [dScores, dValues], lines(dwAt + perHidden),
      ([aAt, vAt, hAt, gAt, wAt, daAt, dvAt], extra) => {
        const base = extra / 4;
        const memory = this.heap.floats();
        WasmKernels.putKaratCoefficients(memory, coefCos, coefSin, heads * rank, width, stride, base, base + sinAt);
        const at = (offset: number) => extra + 4 * offset;
        for (let i = 0; i < items; i++) {
          const h = i % heads;
          this.exports.karatBackward(aAt! + 4 * i * square, at(h * rank * stride), at(sinAt + h * rank * stride), wAt! + 4 * h * perHidden,
            vAt! + 4 * i * perValues, hAt! + 4 * i * perHidden, gAt! + 4 * i * perValues, daAt! + 4 * i * square, at(dCosAt), at(dSinAt),
            at(dwAt), dvAt! + 4 * i * perValues, at(scratchAt), at(uAt), at(ghAt), at(guAt), tokens, rank, terms, dim, stride);
          for (let p = 0; p < rank; p++) {
            const to = (h * rank + p) * width;
            const from = base + p * stride;
            for (let e = 0; e < width; e++) {
              totalCos[to + e] += memory[dCosAt + from + e]!;
              totalSin[to + e] += memory[dSinAt + from + e]!;
            }
          }
          const wo = h * perHidden;
          for (let e = 0; e < perHidden; e++) totalWeight[wo + e] += memory[base + dwAt + e]!;
        }
      });
    dCos.set(totalCos);
    dSin.set(totalSin);
    dWeight.set(totalWeight);
  }

  /** out = op(x) element-wise over n values (codes: WASM_UNARY, or WASM_ERF for tests). */
  unary(op: number, x: Float32Array, out: Float32Array, n: number): void {
    this.run([x.subarray(0, n)], [out.subarray(0, n)], 0, ([xAt, yAt]) => this.parallel('unaryF32', n, sliceSize(n, SLICE_ELEMENTS, 16),
      (start, length) => [op, xAt! + 4 * start, yAt! + 4 * start, length]));
  }

  /** out = gy * op'(x) element-wise over n values. */
  unaryGrad(op: number, x: Float32Array, gy: Float32Array, out: Float32Array, n: number): void {
    this.run([x.subarray(0, n), gy.subarray(0, n)], [out.subarray(0, n)], 0, ([xAt, gAt, dAt]) => this.parallel('unaryGradF32', n,
      sliceSize(n, SLICE_ELEMENTS, 16), (start, length) => [op, xAt! + 4 * start, gAt! + 4 * start, dAt! + 4 * start, length]));
  }

  /**
   * out[i] = op(a[i], b[i mod period]) over n values (period divides n; period n:
   * equal shapes). `op` from WASM_BINARY, plus WASM_REVERSED to swap the operands.
   */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, n: number, period: number): void {
    this.run([a.subarray(0, n), b.subarray(0, period)], [out.subarray(0, n)], 0, ([aAt, bAt, outAt]) => {
      if (period === n) {
        this.parallel('binaryF32', n, sliceSize(n, SLICE_ELEMENTS, 16),
          (start, length) => [op, aAt! + 4 * start, bAt! + 4 * start, outAt! + 4 * start, length, length]);
      } else {
        this.parallel('binaryF32', n / period, sliceSize(n / period, rowsPerSlice(period)),
          (start, length) => [op, aAt! + 4 * start * period, bAt!, outAt! + 4 * start * period, length * period, period]);
      }
    });
  }

  /**
   * out (contiguous, `shape` of rank >= 4) = x read from `offset` with non-negative
   * element strides (a transpose, slice or broadcast). The last four axes run in
   * the kernel; any axes before them are walked here.
   */
  copyStrided(x: Float32Array, out: Float32Array, shape: readonly number[], strides: readonly number[], offset: number): void {
    const rank = shape.length;
    const lead = rank - 4;
    let span = 1;
    for (let axis = 0; axis < rank; axis++) span += (shape[axis]! - 1) * strides[axis]!;
    const [n0, n1, n2, n3] = shape.slice(lead) as [number, number, number, number];
    const [t0, t1, t2, t3] = strides.slice(lead) as [number, number, number, number];
    const block = n0 * n1 * n2 * n3;
    let outer = 1;
    for (let axis = 0; axis < lead; axis++) outer *= shape[axis]!;
    this.run([x.subarray(offset, offset + span)], [out.subarray(0, outer * block)], 0, ([srcAt, outAt]) => {
      forEachOuterIndex(shape, strides, lead, 0, (o, src) => {
        this.exports.copyStrided4(srcAt! + src * 4, outAt! + o * block * 4, n0, n1, n2, n3, t0, t1, t2, t3);
      });
    });
  }

  /**
   * The slice gradient: out (zeroed, contiguous) read with non-negative element
   * strides from `offset` = g (contiguous, `shape` of rank >= 4).
   */
  scatterStrided(g: Float32Array, out: Float32Array, shape: readonly number[], strides: readonly number[], offset: number): void {
    const lead = shape.length - 4;
    const [n0, n1, n2, n3] = shape.slice(lead) as [number, number, number, number];
    const [t0, t1, t2, t3] = strides.slice(lead) as [number, number, number, number];
    const block = n0 * n1 * n2 * n3;
    this.run([g], [out], 0, ([gAt, outAt]) => {
      // Staged outputs start as scratch, not zeros: the caller's zeros come along only when out is in place.
      if (!this.inPlace(out)) this.heap.floats().fill(0, outAt! / 4, outAt! / 4 + out.length);
      forEachOuterIndex(shape, strides, lead, offset, (o, dst) => {
        this.exports.scatterStrided4(gAt! + o * block * 4, outAt! + dst * 4, n0, n1, n2, n3, t0, t1, t2, t3);
      });
    });
  }

  /** out [outer, cols] = x [outer, rows, cols] summed over rows, in float64. */
  sumRows(x: Float32Array, out: Float32Array, outer: number, rows: number, cols: number): void {
    this.run([x], [out], lines(2 * cols), ([xAt, outAt], accAt) => {
      const acc = new Float64Array(this.heap.floats().buffer as ArrayBuffer, accAt, cols);
      const memory = this.heap.floats();
      for (let o = 0; o < outer; o++) {
        acc.fill(0);
        this.exports.sumRowsF64(xAt! + 4 * o * rows * cols, accAt, rows, cols);
        memory.set(acc, outAt! / 4 + o * cols);
      }
    });
  }

  /** out [rows] = x [rows, cols] summed over cols, in float64. */
  sumCols(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    this.run([x], [out], 0, ([xAt, outAt]) => this.exports.sumColsF32(xAt!, outAt!, rows, cols));
  }

  /** One AdamW step (see the TypeScript kernel; the same bits), written into paramOut, mOut, vOut. */
  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, paramOut: Float32Array, mOut: Float32Array,
    vOut: Float32Array, n: number, beta1: number, beta2: number, decay: number, stepSize: number, vScale: number, eps: number): void {
    const take = (array: Float32Array) => array.subarray(0, n);
    this.run([param, grad, m, v].map(take), [paramOut, mOut, vOut].map(take), 0, ([pAt, gAt, mAt, vAt, p2, m2, v2]) => {
      this.parallel('adamwF32', n, sliceSize(n, SLICE_ELEMENTS, 16), (start, length) => [pAt! + 4 * start, gAt! + 4 * start, mAt! + 4 * start,
        vAt! + 4 * start, p2! + 4 * start, m2! + 4 * start, v2! + 4 * start, length, beta1, beta2, decay, stepSize, vScale, eps]);
    });
  }

  /**
   * Fused softmax attention over `items` items of q, k, v [N, d] (see
   * assembly/attention.ts): out, and each row's log-sum-exp. Slices are row
   * blocks of items (about eight slices in all when items are few).
   */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, items: number, tokens: number,
    dim: number, scale: number): void {
    const blocksPerItem = items >= 8 ? 1 : Math.ceil(8 / items);
    const rowsPer = Math.min(tokens, Math.max(6, Math.ceil(tokens / blocksPerItem / 6) * 6));
    const blocks = Math.ceil(tokens / rowsPer);
    const perThread = lines(this.exports.attentionForwardScratch(rowsPer, tokens));
    const itemFloats = tokens * dim;
    this.run([q, k, v], [out, lse], this.threads * perThread, ([qAt, kAt, vAt, outAt, lseAt], scratch) => {
      const slice = (index: number) => {
        const item = Math.floor(index / blocks);
        const first = (index % blocks) * rowsPer;
        const at = 4 * item * itemFloats;
        return [qAt! + at, kAt! + at, vAt! + at, outAt! + at, lseAt! + 4 * item * tokens, tokens, dim, scale, first,
          Math.min(rowsPer, tokens - first), scratch];
      };
      for (let base = 0; base < items * blocks; base += MAX_SLICES) {
        this.parallel('attentionForward', Math.min(MAX_SLICES, items * blocks - base), 1, (start) => slice(base + start), 10, 4 * perThread);
      }
    });
  }

  /** The gradients of `attention` (items in parallel, each recomputing its scores). */
  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, gOut: Float32Array, dq: Float32Array,
    dk: Float32Array, dv: Float32Array, items: number, tokens: number, dim: number, scale: number): void {
    const perThread = lines(this.exports.attentionBackwardScratch(tokens));
    const itemFloats = tokens * dim;
    this.run([q, k, v, out, gOut], [dq, dk, dv], this.threads * perThread, ([qAt, kAt, vAt, oAt, gAt, dqAt, dkAt, dvAt], scratch) => {
      for (let base = 0; base < items; base += MAX_SLICES) {
        this.parallel('attentionBackward', Math.min(MAX_SLICES, items - base), 1, (start) => {
          const at = 4 * (base + start) * itemFloats;
          return [qAt! + at, kAt! + at, vAt! + at, oAt! + at, gAt! + at, dqAt! + at, dkAt! + at, dvAt! + at, tokens, dim, scale, scratch];
        }, 11, 4 * perThread);
      }
    });
  }

  /** The kernels' f32 exp, element-wise (for accuracy tests). */
  exp(x: Float32Array): Float32Array {
    const out = new Float32Array(x.length);
    this.run([x], [out], 0, ([xAt, yAt]) => this.exports.expF32(xAt!, yAt!, x.length));
    return out;
  }
}

/** Sums `used` consecutive f64 blocks of `stride` values (the slices' partial sums, in slice order): the first `count` values. */
function sumSlices(doubles: Float64Array, used: number, stride: number, count: number): Float64Array {
  const out = doubles.slice(0, count);
  for (let s = 1; s < used; s++) for (let i = 0; i < count; i++) out[i]! += doubles[s * stride + i]!;
  return out;
}

/**
 * The kernels' per-group block: a0..a5, |b0|..|b3| (as given, 10 per group),
 * then the derivative coefficients 2a2 3a3 4a4 5a5 2|b1| 3|b2| 4|b3|.
 */
function writeRationalCoefficients(coefficients: Float64Array, groups: number, dst: Float32Array, at: number): void {
  for (let g = 0; g < groups; g++) {
    const src = g * 10;
    const o = at + g * RATIONAL_COEFFICIENTS;
    for (let i = 0; i < 10; i++) dst[o + i] = coefficients[src + i]!;
    for (let i = 2; i <= 5; i++) dst[o + 8 + i] = i * coefficients[src + i]!;
    for (let j = 1; j <= 3; j++) dst[o + 13 + j] = (j + 1) * coefficients[src + 6 + j]!;
  }
}
