// WebAssembly SIMD kernels of the CPU backend (sources in ./assembly). Tensors
// stay in JS typed arrays; a kernel call packs its operands into the module's
// linear memory (an arena reused call after call), runs, and copies out. Where
// worker threads and shared memory exist, large matmuls are split by rows over
// every core (threads.ts). Each module comes with plain SIMD and with relaxed
// SIMD (fused multiply-add); the relaxed one is used wherever the engine accepts it.

import {
  KERNELS_RELAXED_SHARED_WASM_BASE64, KERNELS_RELAXED_WASM_BASE64, KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64, SHARED_MAXIMUM_PAGES,
} from './generated/kernels_wasm.js';
import { Task, ThreadPool } from './threads.js';
import { nodeBuiltin } from '../../util/node_builtin.js';
import { forEachOuterIndex } from '../../util/shape.js';

/** Below this many multiply-adds a matmul stays on one thread. */
const PARALLEL_MATMUL_WORK = 1 << 20;
/** Elements per chunk of the element-wise kernels: three float32 arrays of this size fit in L2. */
const CHUNK_ELEMENTS = 1 << 16;

interface KernelExports {
  matmulPacked(a: number, b: number, c: number, m4: number, k: number, n8: number): void;
  packPanels(src: number, dst: number, k: number, n: number, transposed: number, n8: number): void;
  packRowsTransposed(src: number, dst: number, m: number, k: number, m4: number): void;
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
  copyStrided4(src: number, dst: number, n0: number, n1: number, n2: number, n3: number, t0: number, t1: number, t2: number, t3: number): void;
  bsplineBasisForward(x: number, grid: number, out: number, scratch: number, rows: number, channels: number, knots: number,
    order: number): void;
  bsplineBasisBackward(x: number, grid: number, gy: number, dx: number, scratch: number, rows: number, channels: number, knots: number,
    order: number): void;
  radialBasisForward(x: number, out: number, centres: number, size: number, count: number, low: number, spacing: number,
    inverseWidth: number): void;
  radialBasisBackward(x: number, gy: number, dx: number, centres: number, size: number, count: number, low: number, spacing: number,
    inverseWidth: number): void;
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

/** Linear memory handed out from the start on each call (kernels are not re-entrant). */
class Arena {
  private views: Float32Array;
  private views64: Float64Array;
  constructor(private readonly memory: WebAssembly.Memory) {
    this.views = new Float32Array(memory.buffer);
    this.views64 = new Float64Array(memory.buffer);
  }

  /** A float32 view of the first `floats` values, growing memory if needed. */
  floats(floats: number): Float32Array {
    const bytes = floats * 4;
    if (bytes > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / 65536));
    }
    if (this.views.buffer !== this.memory.buffer) {
      this.views = new Float32Array(this.memory.buffer);
      this.views64 = new Float64Array(this.memory.buffer);
    }
    return this.views;
  }

  /** A float64 view of the same memory (valid until the next floats() call). */
  doubles(): Float64Array {
    return this.views64;
  }
}

/** Splits `count` items into at most `parts` contiguous ranges of multiples of `unit`: [start, length][]. */
function split(count: number, parts: number, unit: number): [number, number][] {
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

export class WasmKernels {
  private readonly exports: KernelExports;
  private readonly arena: Arena;
  private pool: ThreadPool | null = null;
  /** Resolves once the worker threads (if any) have started. */
  readonly ready: Promise<void>;

  private constructor(instance: WebAssembly.Instance, memory: WebAssembly.Memory, moduleBytes: Uint8Array, threads: number | 'auto',
    readonly relaxed: boolean) {
    this.exports = instance.exports as unknown as KernelExports;
    this.arena = new Arena(memory);
    // Workers start in the background; calls run on one thread until they are up.
    this.ready = threads === 1 ? Promise.resolve()
      : ThreadPool.start(threads, memory, moduleBytes).then((pool) => { this.pool = pool; }, () => {});
  }

  /** Threads a large call is split over (1 until the pool has started). */
  get threads(): number {
    return (this.pool?.size ?? 0) + 1;
  }

  /**
   * The kernels, or null where WebAssembly SIMD is unavailable (the TypeScript
   * kernels are used then). `threads` > 1 asks for worker threads on a shared memory;
   * `relaxed` false keeps plain SIMD where relaxed SIMD (FMA) would be available.
   */
  static load(threads: number | 'auto' = 1, relaxed = true): WasmKernels | null {
    const abort = () => { throw new Error('wasm kernel aborted'); };
    const useRelaxed = relaxed && relaxedSimdSupported();
    if (threads !== 1 && typeof SharedArrayBuffer !== 'undefined') {
      try {
        const memory = new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAXIMUM_PAGES, shared: true });
        const bytes = decodeBase64(useRelaxed ? KERNELS_RELAXED_SHARED_WASM_BASE64 : KERNELS_SHARED_WASM_BASE64);
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, abort } });
        return new WasmKernels(instance, memory, bytes, threads, useRelaxed);
      } catch {
        // no shared memory here: fall through to one thread
      }
    }
    try {
      const memory = new WebAssembly.Memory({ initial: 16 });
      const bytes = decodeBase64(useRelaxed ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, abort } });
      return new WasmKernels(instance, memory, bytes, 1, useRelaxed);
    } catch {
      return null;
    }
  }

  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }

  /**
   * Batched matmul with the same contract as the TypeScript kernel (see
   * Kernels.matmul), written into `out`.
   */
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): void {
    const m4 = Math.ceil(m / 4) * 4;
    const n8 = Math.ceil(n / 8) * 8;
    // Arena layout (floats): packed A [m4, k] | packed B panels [n8/8][k][8] | C [m4, n8] | raw operand.
    // A raw operand is block-copied in and packed by the module.
    const aAt = 0;
    const bAt = m4 * k;
    const cAt = bAt + k * n8;
    const rawAt = cAt + m4 * n8;
    const memory = this.arena.floats(rawAt + Math.max(m * k, k * n));
    let lastA = -1;
    let lastB = -1;
    for (let t = 0; t < batch; t++) {
      const aStart = t * aBatchStride;
      const bStart = t * bBatchStride;
      if (aStart !== lastA) {
        if (transA) {
          memory.set(a.subarray(aStart, aStart + m * k), rawAt);
          this.exports.packRowsTransposed(rawAt * 4, aAt * 4, m, k, m4);
        } else {
          memory.set(a.subarray(aStart, aStart + m * k), aAt);
          memory.fill(0, aAt + m * k, aAt + m4 * k);
        }
      }
      if (bStart !== lastB) {
        memory.set(b.subarray(bStart, bStart + k * n), rawAt);
        this.exports.packPanels(rawAt * 4, bAt * 4, k, n, transB ? 1 : 0, n8);
      }
      lastA = aStart;
      lastB = bStart;
      this.matmulRows(aAt * 4, bAt * 4, cAt * 4, m4, k, n8);
      const base = t * m * n;
      if (n === n8) {
        out.set(memory.subarray(cAt, cAt + m * n), base);
      } else {
        for (let i = 0; i < m; i++) out.set(memory.subarray(cAt + i * n8, cAt + i * n8 + n), base + i * n);
      }
    }
  }

  /** C rows [0, m4) of the packed product, split over threads in blocks of 4 rows. */
  private matmulRows(a: number, b: number, c: number, m4: number, k: number, n8: number): void {
    const pool = this.pool;
    if (!pool || m4 * k * n8 < PARALLEL_MATMUL_WORK || m4 < 8) {
      this.exports.matmulPacked(a, b, c, m4, k, n8);
      return;
    }
    const slices = split(m4, pool.size + 1, 4).map(([row, rows]) => [Task.Matmul, a + row * k * 4, b, c + row * n8 * 4, rows, k, n8]);
    pool.run(slices, (s) => this.exports.matmulPacked(s[1]!, s[2]!, s[3]!, s[4]!, s[5]!, s[6]!));
  }

  /** Rows per chunk so a chunk's operands stay in cache between the copy in, the kernel and the copy out. */
  private static chunkRows(channels: number): number {
    return Math.max(1, Math.floor(CHUNK_ELEMENTS / channels));
  }

  /**
   * Group-rational forward (see cpu/kernels/group_rational.ts), for
   * channels-per-group divisible by 4. `coefficients`: per group a0..a5, |b0|..|b3|.
   * One thread: the copies in and out dominate and only this thread can make them.
   */
  groupRational(x: Float32Array, coefficients: Float64Array, out: Float32Array, rows: number, channels: number, groups: number): void {
    const chunk = WasmKernels.chunkRows(channels);
    const chunkElements = Math.min(rows, chunk) * channels;
    // Arena layout (floats): coefficients [groups * 17] | x chunk | y chunk
    const cAt = 0;
    const xAt = Math.ceil((groups * RATIONAL_COEFFICIENTS) / 4) * 4;
    const yAt = xAt + chunkElements;
    const memory = this.arena.floats(yAt + chunkElements);
    writeRationalCoefficients(coefficients, groups, memory, cAt);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * channels;
      memory.set(x.subarray(first * channels, first * channels + n), xAt);
      this.exports.groupRationalForward(xAt * 4, yAt * 4, cAt * 4, count, channels, groups);
      out.set(memory.subarray(yAt, yAt + n), first * channels);
    }
  }

  /** Group-rational backward: writes dx and returns per-group float64 sums (d a0..a5, d|b0|..d|b3|), in row order. */
  groupRationalBackward(x: Float32Array, gy: Float32Array, coefficients: Float64Array, dx: Float32Array, rows: number, channels: number,
    groups: number): Float64Array {
    const chunk = WasmKernels.chunkRows(channels);
    const chunkElements = Math.min(rows, chunk) * channels;
    // Arena layout (floats): totals [groups * 10 f64] | coefficients [groups * 17] | x chunk | gy chunk | dx chunk
    const cAt = groups * 20;
    const xAt = cAt + Math.ceil((groups * RATIONAL_COEFFICIENTS) / 4) * 4;
    const gAt = xAt + chunkElements;
    const dAt = gAt + chunkElements;
    const memory = this.arena.floats(dAt + chunkElements);
    const doubles = this.arena.doubles();
    doubles.fill(0, 0, groups * 10);
    writeRationalCoefficients(coefficients, groups, memory, cAt);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * channels;
      memory.set(x.subarray(first * channels, first * channels + n), xAt);
      memory.set(gy.subarray(first * channels, first * channels + n), gAt);
      this.exports.groupRationalBackward(xAt * 4, gAt * 4, dAt * 4, cAt * 4, 0, count, channels, groups);
      dx.set(memory.subarray(dAt, dAt + n), first * channels);
    }
    return doubles.slice(0, groups * 10);
  }

  /** Row-wise layerNorm of row-major x [rows, cols] (see cpu/kernels/normalization.ts): writes y, mean and rstd. */
  layerNorm(x: Float32Array, weight: Float32Array, bias: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array,
    rows: number, cols: number, eps: number): void {
    const chunk = WasmKernels.chunkRows(cols);
    const chunkElements = Math.min(rows, chunk) * cols;
    const chunkRows = Math.min(rows, chunk);
    // Arena layout (floats): weight | bias | x chunk | y chunk | mean chunk | rstd chunk
    const wAt = 0;
    const bAt = cols;
    const xAt = 2 * cols;
    const yAt = xAt + chunkElements;
    const meanAt = yAt + chunkElements;
    const rstdAt = meanAt + chunkRows;
    const memory = this.arena.floats(rstdAt + chunkRows);
    memory.set(weight.subarray(0, cols), wAt);
    memory.set(bias.subarray(0, cols), bAt);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * cols;
      memory.set(x.subarray(first * cols, first * cols + n), xAt);
      this.exports.layerNormForward(xAt * 4, wAt * 4, bAt * 4, yAt * 4, meanAt * 4, rstdAt * 4, count, cols, eps);
      y.set(memory.subarray(yAt, yAt + n), first * cols);
      mean.set(memory.subarray(meanAt, meanAt + count), first);
      rstd.set(memory.subarray(rstdAt, rstdAt + count), first);
    }
  }

  /** LayerNorm backward: writes dx and returns the float64 sums dWeight, dBias (accumulated in row order). */
  layerNormBackward(x: Float32Array, weight: Float32Array, mean: Float32Array, rstd: Float32Array, gy: Float32Array, dx: Float32Array,
    rows: number, cols: number): [Float64Array, Float64Array] {
    const chunk = WasmKernels.chunkRows(cols);
    const chunkElements = Math.min(rows, chunk) * cols;
    const chunkRows = Math.min(rows, chunk);
    // Arena layout (floats): dWeight [cols f64] | dBias [cols f64] | weight | x chunk | gy chunk | dx chunk | mean chunk | rstd chunk
    const dwAt = 0;
    const dbAt = 2 * cols;
    const wAt = 4 * cols;
    const xAt = 5 * cols;
    const gAt = xAt + chunkElements;
    const dAt = gAt + chunkElements;
    const meanAt = dAt + chunkElements;
    const rstdAt = meanAt + chunkRows;
    const memory = this.arena.floats(rstdAt + chunkRows);
    const doubles = this.arena.doubles();
    doubles.fill(0, 0, 2 * cols);
    memory.set(weight.subarray(0, cols), wAt);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * cols;
      memory.set(x.subarray(first * cols, first * cols + n), xAt);
      memory.set(gy.subarray(first * cols, first * cols + n), gAt);
      memory.set(mean.subarray(first, first + count), meanAt);
      memory.set(rstd.subarray(first, first + count), rstdAt);
      this.exports.layerNormBackward(xAt * 4, wAt * 4, meanAt * 4, rstdAt * 4, gAt * 4, dAt * 4, dwAt * 4, dbAt * 4, count, cols);
      dx.set(memory.subarray(dAt, dAt + n), first * cols);
    }
    return [doubles.slice(0, cols), doubles.slice(cols, 2 * cols)];
  }

  /** Softmax over the rows of row-major x [rows, cols], written into `out`. */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    this.rowwise(x, null, out, rows, cols, (inAt, _, outAt, count) => this.exports.softmaxForward(inAt * 4, outAt * 4, count, cols));
  }

  /** Softmax backward from its output y and the upstream gradient gy, written into `out`. */
  softmaxBackward(y: Float32Array, gy: Float32Array, out: Float32Array, rows: number, cols: number): void {
    this.rowwise(y, gy, out, rows, cols, (inAt, gAt, outAt, count) => this.exports.softmaxBackward(inAt * 4, gAt * 4, outAt * 4, count, cols));
  }

  /**
   * B-spline bases of x [rows, channels] over grid [channels, knots] (see
   * cpu/kernels/kan_bases.ts), written into out [rows, channels, knots - order - 1].
   */
  bsplineBasis(x: Float32Array, grid: Float32Array, out: Float32Array, rows: number, channels: number, knots: number, order: number): void {
    const bases = knots - order - 1;
    const chunk = WasmKernels.chunkRows(channels * (bases + 1));
    const chunkRows = Math.min(rows, chunk);
    // Arena layout (floats): scratch [2 (order + 1) f64, inverse knot widths channels x order x knots f64] | grid | x chunk | out chunk
    const gridAt = 4 * (order + 1) + 2 * channels * order * knots;
    const xAt = gridAt + Math.ceil((channels * knots) / 4) * 4;
    const outAt = xAt + chunkRows * channels;
    const memory = this.arena.floats(outAt + chunkRows * channels * bases);
    memory.set(grid.subarray(0, channels * knots), gridAt);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * channels;
      memory.set(x.subarray(first * channels, first * channels + n), xAt);
      this.exports.bsplineBasisForward(xAt * 4, gridAt * 4, outAt * 4, 0, count, channels, knots, order);
      out.set(memory.subarray(outAt, outAt + n * bases), first * channels * bases);
    }
  }

  /** The x-gradient of bsplineBasis from the upstream gradient gy [rows, channels, bases], written into dx. */
  bsplineBasisBackward(x: Float32Array, grid: Float32Array, gy: Float32Array, dx: Float32Array, rows: number, channels: number,
    knots: number, order: number): void {
    const bases = knots - order - 1;
    const chunk = WasmKernels.chunkRows(channels * (bases + 2));
    const chunkRows = Math.min(rows, chunk);
    // Arena layout (floats): scratch (as in bsplineBasis) | grid | x chunk | gy chunk | dx chunk
    const gridAt = 4 * (order + 1) + 2 * channels * order * knots;
    const xAt = gridAt + Math.ceil((channels * knots) / 4) * 4;
    const gAt = xAt + chunkRows * channels;
    const dAt = gAt + chunkRows * channels * bases;
    const memory = this.arena.floats(dAt + chunkRows * channels);
    memory.set(grid.subarray(0, channels * knots), gridAt);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * channels;
      memory.set(x.subarray(first * channels, first * channels + n), xAt);
      memory.set(gy.subarray(first * channels * bases, (first * channels + n) * bases), gAt);
      this.exports.bsplineBasisBackward(xAt * 4, gridAt * 4, gAt * 4, dAt * 4, 0, count, channels, knots, order);
      dx.set(memory.subarray(dAt, dAt + n), first * channels);
    }
  }

  /** Gaussian radial bases of x [size] at `centers` centres low + k spacing, written into out [size, centers]. */
  radialBasis(x: Float32Array, out: Float32Array, size: number, centers: number, low: number, spacing: number, width: number): void {
    const chunk = WasmKernels.chunkRows(centers + 1);
    // Arena layout (floats): centres (padded to 4) | x chunk | out chunk
    const xAt = Math.ceil(centers / 4) * 4;
    const outAt = xAt + Math.min(size, chunk);
    const memory = this.arena.floats(outAt + Math.min(size, chunk) * centers);
    for (let first = 0; first < size; first += chunk) {
      const count = Math.min(chunk, size - first);
      memory.set(x.subarray(first, first + count), xAt);
      this.exports.radialBasisForward(xAt * 4, outAt * 4, 0, count, centers, low, spacing, 1 / width);
      out.set(memory.subarray(outAt, outAt + count * centers), first * centers);
    }
  }

  /** The x-gradient of radialBasis from the upstream gradient gy [size, centers], written into dx. */
  radialBasisBackward(x: Float32Array, gy: Float32Array, dx: Float32Array, size: number, centers: number, low: number, spacing: number,
    width: number): void {
    const chunk = WasmKernels.chunkRows(centers + 2);
    const chunkSize = Math.min(size, chunk);
    // Arena layout (floats): centres (padded to 4) | x chunk | gy chunk | dx chunk
    const xAt = Math.ceil(centers / 4) * 4;
    const gAt = xAt + chunkSize;
    const dAt = gAt + chunkSize * centers;
    const memory = this.arena.floats(dAt + chunkSize);
    for (let first = 0; first < size; first += chunk) {
      const count = Math.min(chunk, size - first);
      memory.set(x.subarray(first, first + count), xAt);
      memory.set(gy.subarray(first * centers, (first + count) * centers), gAt);
      this.exports.radialBasisBackward(xAt * 4, gAt * 4, dAt * 4, 0, count, centers, low, spacing, 1 / width);
      dx.set(memory.subarray(dAt, dAt + count), first);
    }
  }

  /** out = op(x) element-wise over n values (codes: WASM_UNARY, or WASM_ERF for tests). */
  unary(op: number, x: Float32Array, out: Float32Array, n: number): void {
    this.rowwise(x, null, out, n, 1, (inAt, _, outAt, count) => this.exports.unaryF32(op, inAt * 4, outAt * 4, count));
  }

  /** out = gy * op'(x) element-wise over n values. */
  unaryGrad(op: number, x: Float32Array, gy: Float32Array, out: Float32Array, n: number): void {
    this.rowwise(x, gy, out, n, 1, (inAt, gAt, outAt, count) => this.exports.unaryGradF32(op, inAt * 4, gAt * 4, outAt * 4, count));
  }

  /**
   * out[i] = op(a[i], b[i mod period]) over n values (period divides n; period n:
   * equal shapes). `op` from WASM_BINARY, plus WASM_REVERSED to swap the operands.
   */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, n: number, period: number): void {
    if (period === n) {
      this.rowwise(a, b, out, n, 1, (aAt, bAt, outAt, count) => this.exports.binaryF32(op, aAt * 4, bAt * 4, outAt * 4, count, count));
      return;
    }
    // Arena layout (floats): b [period, padded to 4] | a chunk | out chunk; chunks are whole periods.
    const chunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / period)) * period;
    const chunkElements = Math.min(n, chunk);
    const aAt = Math.ceil(period / 4) * 4;
    const outAt = aAt + chunkElements;
    const memory = this.arena.floats(outAt + chunkElements);
    memory.set(b.subarray(0, period), 0);
    for (let first = 0; first < n; first += chunk) {
      const count = Math.min(chunk, n - first);
      memory.set(a.subarray(first, first + count), aAt);
      this.exports.binaryF32(op, aAt * 4, 0, outAt * 4, count, period);
      out.set(memory.subarray(outAt, outAt + count), first);
    }
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
    // Arena layout (floats): the source span | out
    const outAt = Math.ceil(span / 4) * 4;
    const memory = this.arena.floats(outAt + outer * block);
    memory.set(x.subarray(offset, offset + span), 0);
    forEachOuterIndex(shape, strides, lead, 0, (o, src) => {
      this.exports.copyStrided4(src * 4, (outAt + o * block) * 4, n0, n1, n2, n3, t0, t1, t2, t3);
    });
    out.set(memory.subarray(outAt, outAt + outer * block));
  }

  /** The kernels' f32 exp, element-wise (for accuracy tests). */
  exp(x: Float32Array): Float32Array {
    const memory = this.arena.floats(2 * x.length);
    memory.set(x, 0);
    this.exports.expF32(0, x.length * 4, x.length);
    return memory.slice(x.length, 2 * x.length);
  }

  /** Runs `kernel` over row chunks of a (and b) in the arena, copying its output chunk into `out`. */
  private rowwise(a: Float32Array, b: Float32Array | null, out: Float32Array, rows: number, cols: number,
    kernel: (aAt: number, bAt: number, outAt: number, count: number) => void): void {
    const chunk = WasmKernels.chunkRows(cols);
    const chunkElements = Math.min(rows, chunk) * cols;
    // Arena layout (floats): a chunk | b chunk | out chunk
    const bAt = chunkElements;
    const outAt = 2 * chunkElements;
    const memory = this.arena.floats(3 * chunkElements);
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const n = count * cols;
      memory.set(a.subarray(first * cols, first * cols + n), 0);
      if (b) memory.set(b.subarray(first * cols, first * cols + n), bAt);
      kernel(0, bAt, outAt, count);
      out.set(memory.subarray(outAt, outAt + n), first * cols);
    }
  }
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
