// The contract between katjs and a runtime. A backend owns memory (buffers of
// float values it allocates, fills, reads back and frees) and a table of kernels
// named after the ops. Everything above this file speaks only this interface.

/** The element-wise unary kernels every backend implements. */
export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sign' | 'square' | 'reciprocal'
  | 'tanh' | 'sigmoid' | 'relu' | 'gelu' | 'sin' | 'cos';

/** The element-wise binary kernels every backend implements (broadcasting is resolved by the op before the kernel runs). */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'equal' | 'greater';

/** The reductions every backend implements over chosen axes. */
export type ReduceOp = 'sum' | 'max' | 'min';

/** Host-side values: the CPU backend may run in float64 (the gradient-check reference). */
export type HostArray = Float32Array | Float64Array;

/**
 * Kernels take and return backend buffers (`B`) plus plain numbers describing
 * the shapes; they never see Tensors and never keep a reference to their inputs.
 * Every returned buffer is new and owned by the caller.
 */
export interface Kernels<B> {
  /** A buffer of `size` elements all equal to `value`. */
  fill(size: number, value: number): B;
  /** out[i] = f(x[i]). */
  unary(op: UnaryOp, x: B, size: number): B;
  /** out[i] = gy[i] * f'(x[i]): the backward of `unary` in one pass. */
  unaryGrad(op: UnaryOp, x: B, gy: B, size: number): B;
  /** Broadcasting binary op; strides are 0 along broadcast axes, `outShape` is the result's. */
  binary(op: BinaryOp, a: B, b: B, outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): B;
  /**
   * Batched matmul: for each batch index i, C_i [m, n] = op(A_i) op(B_i), where
   * op transposes when asked. A_i starts at i * aBatchStride (0 broadcasts it).
   * A_i is stored [m, k] ([k, m] if transA), B_i [k, n] ([n, k] if transB).
   */
  matmul(a: B, b: B, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): B;
  /**
   * matmul with `bias` [n] added to every row in the same pass (optional: a
   * backend without it gets matmul and a broadcast add; the results are the same bits).
   */
  matmulBias?(a: B, b: B, bias: B, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): B;
  /** Reduce `x` of `shape` over `axes` (sorted, unique); the result is contiguous without those axes. */
  reduce(op: ReduceOp, x: B, shape: readonly number[], axes: readonly number[]): B;
  /** Index of the largest value along the middle axis of [outer, size, inner] (first one on ties). */
  argmax(x: B, outer: number, size: number, inner: number): B;
  /**
   * Strided gather: out (contiguous, `outShape`) at index (i0..ik) reads
   * x[offset + sum(ij * strides[j])]. Covers transpose, slice and broadcastTo.
   */
  copyStrided(x: B, outShape: readonly number[], strides: readonly number[], offset: number): B;
  /** Backward of slice: zeros of `inShape` with `g` (shape `size`) written at `begin`. */
  sliceBackward(g: B, inShape: readonly number[], begin: readonly number[], size: readonly number[]): B;
  /** Concatenate [outer, sizes[i], inner] blocks along the middle axis. */
  concat(xs: readonly B[], outer: number, sizes: readonly number[], inner: number): B;
  /** out[o, j, r] = x[o, indices[j], r] with x [outer, axisSize, inner]; indices hold integers. */
  gather(x: B, indices: B, outer: number, axisSize: number, inner: number, count: number): B;
  /** Backward of gather: zeros [outer, axisSize, inner] with g rows added at their indices, in order. */
  gatherBackward(g: B, indices: B, outer: number, axisSize: number, inner: number, count: number): B;
  /**
   * Fused softmax attention (optional: without it the attention op composes
   * matmul, softmax and matmul). For each of `items` independent (batch, head)
   * items of q, k, v [items, tokens, dim]: out = softmax(scale q k^T) v, never
   * forming the [tokens, tokens] matrix. Also returns the log-sum-exp of each
   * row of scale q k^T [items, tokens], which the backward reads.
   */
  attention?(q: B, k: B, v: B, items: number, tokens: number, dim: number, scale: number): [out: B, logSumExp: B];
  /** dq, dk, dv of `attention` from its output, log-sum-exp and gOut (scores recomputed blockwise); deterministic. */
  attentionBackward?(q: B, k: B, v: B, out: B, logSumExp: B, gOut: B, items: number, tokens: number, dim: number,
    scale: number): [dq: B, dk: B, dv: B];
  /** Softmax over the last axis of [rows, cols]. */
  softmax(x: B, rows: number, cols: number): B;
  /** dx = y * (gy - sum(gy * y)) per row. */
  softmaxBackward(y: B, gy: B, rows: number, cols: number): B;
  /** LayerNorm over the last axis; also returns each row's mean and 1/std for the backward. */
  layerNorm(x: B, weight: B, bias: B, rows: number, cols: number, eps: number): [y: B, mean: B, rstd: B];
  layerNormBackward(x: B, weight: B, mean: B, rstd: B, gy: B, rows: number, cols: number): [dx: B, dWeight: B, dBias: B];
  /**
   * Inverted dropout with a counter-based mask: element i is kept when
   * hash(seed, i) >= p and scaled by 1 / (1 - p). The same call is its own backward.
   */
  dropout(x: B, size: number, p: number, seed: number): B;
  /**
   * Softmax cross-entropy per row with label smoothing: the target is
   * (1 - s) one-hot(label) + s / classes. Returns the loss per row and the
   * log-sum-exp per row (kept for the backward).
   */
  softmaxCrossEntropy(logits: B, labels: B, rows: number, classes: number, smoothing: number): [loss: B, logSumExp: B];
  /** dlogits = gLoss[row] * (softmax(logits) - target). */
  softmaxCrossEntropyBackward(logits: B, labels: B, logSumExp: B, gLoss: B, rows: number, classes: number, smoothing: number): B;
  /**
   * Group-rational activation y = P(x) / Q(x) over [rows, channels] with
   * `groups` contiguous channel blocks. numerator is [groups, 6], or [1, 6]
   * shared by all groups (sharedNumerator); denominator is [groups, 4].
   */
  groupRational(x: B, numerator: B, denominator: B, rows: number, channels: number, groups: number, sharedNumerator: boolean): B;
  /** One fused pass: dx and the coefficient gradients (summed over groups when the numerator is shared). */
  groupRationalBackward(x: B, numerator: B, denominator: B, gy: B, rows: number, channels: number, groups: number,
    sharedNumerator: boolean): [dx: B, dNumerator: B, dDenominator: B];
  /**
   * B-spline bases (Cox-de Boor, as efficient-kan) of x [rows, channels] over
   * per-channel knots grid [channels, knots] (non-decreasing): out [rows,
   * channels, knots - order - 1]; 0 outside [t_0, t_last), NaN for NaN x.
   */
  bsplineBasis(x: B, grid: B, rows: number, channels: number, knots: number, order: number): B;
  /** dx [rows, channels] = sum over bases of gy * dB/dx (the grid gets no gradient). */
  bsplineBasisBackward(x: B, grid: B, gy: B, rows: number, channels: number, knots: number, order: number): B;
  /** Gaussian RBF (FastKAN): out [size, centers] = exp(-((x - low - k spacing) / width)^2). */
  radialBasis(x: B, size: number, centers: number, low: number, spacing: number, width: number): B;
  /** dx [size] = sum over centres of gy * d/dx exp(-((x - c_k) / width)^2). */
  radialBasisBackward(x: B, gy: B, size: number, centers: number, low: number, spacing: number, width: number): B;
  /** Chebyshev bases of tanh x (ChebyKAN): out [size, degree + 1] = T_k(tanh x), k = 0..degree; NaN x gives a NaN row. */
  chebyshevBasis(x: B, size: number, degree: number): B;
  /** dx [size] = (1 - tanh^2 x) sum_k gy_k k U_{k-1}(tanh x), U the second-kind Chebyshev polynomials. */
  chebyshevBasisBackward(x: B, gy: B, size: number, degree: number): B;
  /**
   * Fourier-KArAt attention (see ops/karat.ts) over `items` batch items of
   * scores [items, tokens, tokens] and values [items, tokens, dim]; item i uses
   * head i % heads of coefCos / coefSin [heads, rank, tokens, terms] (terms = G + 1)
   * and weight [heads, tokens, rank]. Returns out [items, tokens, dim] and the
   * hidden H [items, tokens, rank] that the backward reads.
   */
  karatAttention(scores: B, coefCos: B, coefSin: B, weight: B, values: B, items: number, heads: number, tokens: number, rank: number,
    terms: number, dim: number): [out: B, hidden: B];
  /** Gradients for scores, coefCos, coefSin, weight (summed over items in order) and values; deterministic. */
  karatAttentionBackward(scores: B, coefCos: B, coefSin: B, weight: B, values: B, hidden: B, gOut: B, items: number, heads: number,
    tokens: number, rank: number, terms: number, dim: number): [dScores: B, dCoefCos: B, dCoefSin: B, dWeight: B, dValues: B];
  /**
   * One fused AdamW step (decoupled weight decay, bias-corrected moments):
   * p' = p (1 - lr wd) - lr / (1 - b1^t) * m' / (sqrt(v') / sqrt(1 - b2^t) + eps),
   * m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g^2. Returns new buffers.
   */
  adamw(param: B, grad: B, m: B, v: B, size: number, hyper: AdamWHyper): [param: B, m: B, v: B];
}

/** The name of one kernel in a backend's kernel table. */
export type KernelName = keyof Kernels<unknown>;

/** Hyper-parameters of one AdamW step; `step` counts from 1 (bias correction). */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/**
 * What a backend may ask of the tensor layer when memory runs out (the tensor
 * layer sets it; the backend only calls it). `reclaim` frees what it can and
 * says whether it freed anything, after which the backend retries once;
 * `describe` says what is alive, for the out-of-memory error.
 */
export interface MemoryPressure {
  reclaim(bytes: number): boolean;
  describe(): string;
}

/** What a backend holds: live buffers and their bytes (see memory()). */
export interface MemoryInfo {
  /** Buffers currently allocated and not freed. */
  buffers: number;
  /** Bytes held by those buffers. */
  bytes: number;
}

/** A compute backend: device memory for tensors plus a table of named kernels that the ops dispatch to (cpu, webgpu, or your own via registerBackend). */
export interface Backend<B = unknown> {
  readonly name: string;
  /** A human-readable description of the device (e.g. the adapter's name). */
  readonly description: string;
  /** Bytes per stored element: 4 for float32 backends, 8 for the float64 reference. */
  readonly bytesPerElement: number;
  upload(values: ArrayLike<number>): B;
  /** Reads a buffer back to the host; asynchronous so GPU backends fit. */
  read(buffer: B): Promise<HostArray>;
  /** Synchronous read, where the backend can do it (the CPU can). */
  readSync?(buffer: B): HostArray;
  free(buffer: B): void;
  /** Number of elements in the buffer. */
  sizeOf(buffer: B): number;
  memory(): MemoryInfo;
  readonly kernels: Kernels<B>;
  /** Waits for all submitted work (no-op on synchronous backends). */
  sync(): Promise<void>;
  /** Set by the tensor layer: called when an allocation cannot be served (see MemoryPressure). */
  memoryPressure?: MemoryPressure;
  dispose?(): void;
}

type BackendFactory = () => Backend | Promise<Backend>;

const factories = new Map<string, BackendFactory>();

/** Makes a backend available to `setBackend(name)`. Later registrations replace earlier ones. */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

/** The names setBackend accepts: the built-in backends and those added with registerBackend. */
export function registeredBackends(): string[] {
  return [...factories.keys()];
}

export async function createBackend(name: string): Promise<Backend> {
  const factory = factories.get(name);
  if (!factory) {
    throw new Error(`unknown backend '${name}': expected one of ${registeredBackends().map((n) => `'${n}'`).join(', ')}`);
  }
  return factory();
}
