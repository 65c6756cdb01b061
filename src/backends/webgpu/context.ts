// The WebGPU runtime under the kernels: a buffer pool, a pipeline cache, and
// dispatches recorded into one command encoder that is submitted lazily (on a
// read, or every MAX_BATCH dispatches). Uniform parameters of a batch live in
// one arena buffer, written just before its submit. Everything runs in queue
// order, so a freed buffer can be reused by the very next dispatch.

import { Tuner } from './tuner.js';
import { memoryOnlyStore } from './tune_store.js';

/** A tensor's storage: a pooled GPU buffer and the number of float32 values in use. */
export interface GpuBuffer {
  readonly buffer: GPUBuffer;
  /** Elements in use (the buffer may be larger: kernels take sizes from params, never arrayLength). */
  readonly size: number;
}

/** The WGSL source of a kernel; pipelines are cached by it. */
export interface KernelSource {
  readonly name: string;
  readonly code: string;
}

/** Uniform parameters, packed as 4-byte values in declaration order. */
export class Params {
  private readonly words: number[] = [];
  private readonly kinds: ('u32' | 'i32' | 'f32')[] = [];
  u32(value: number): this {
    this.words.push(value >>> 0);
    this.kinds.push('u32');
    return this;
  }
  i32(value: number): this {
    this.words.push(value | 0);
    this.kinds.push('i32');
    return this;
  }
  f32(value: number): this {
    this.words.push(value);
    this.kinds.push('f32');
    return this;
  }
  /** Pads to a multiple of 4 words (vec4 alignment of arrays in uniform structs). */
  align4(): this {
    while (this.words.length % 4 !== 0) this.u32(0);
    return this;
  }
  get length(): number {
    return this.words.length;
  }
  writeTo(view: DataView, byteOffset: number): void {
    this.words.forEach((w, i) => {
      const at = byteOffset + i * 4;
      if (this.kinds[i] === 'f32') view.setFloat32(at, w, true);
      else if (this.kinds[i] === 'i32') view.setInt32(at, w, true);
      else view.setUint32(at, w, true);
    });
  }
}

const UNIFORM_SLOT_BYTES = 256;
const MAX_BATCH = 512;
/** Largest 1-D workgroup count per dimension; bigger launches use a 2-D grid. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** GPU time of one profiled dispatch. */
export interface DispatchTiming {
  /** The kernel's name (its KernelSource's). */
  name: string;
  /** Nanoseconds between the start and end timestamps of its compute pass. */
  ns: number;
}

/** Timestamp queries of the dispatches recorded since the last flush: two per dispatch, one compute pass each. */
interface Profiler {
  readonly querySet: GPUQuerySet;
  readonly resolve: GPUBuffer;
  names: string[];
  readonly pending: Promise<DispatchTiming[]>[];
}

/** Dispatches timed per submit (each takes two timestamp queries). */
const PROFILE_BATCH = 256;

export interface MemoryCounters {
  buffers: number;
  bytes: number;
}

export class GpuContext {
  readonly subgroups: boolean;
  /** The device can time passes with timestamp queries (else timing waits for queue completion). */
  timestamps: boolean;
  /** Picks kernel configurations per shape class (off: fixed defaults); set by the backend. */
  tuner: Tuner = new Tuner({ enabled: false, adapterKey: '', store: memoryOnlyStore });
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pool = new Map<number, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformArena: GPUBuffer;
  private readonly uniformData = new ArrayBuffer(UNIFORM_SLOT_BYTES * MAX_BATCH);
  private uniformSlots = 0;
  readonly live: MemoryCounters = { buffers: 0, bytes: 0 };
  /** Dispatches recorded since creation (for tests and benchmarks). */
  dispatches = 0;

  /** Per-dispatch timestamp queries while profiling (startProfiling / stopProfiling); null otherwise. */
  private profiler: Profiler | null = null;

  /** The first validation or out-of-memory error the device reported, thrown at the next read or sync. */
  private deviceError: string | null = null;

  constructor(readonly device: GPUDevice, readonly adapterName: string) {
    this.subgroups = device.features.has('subgroups');
    this.timestamps = device.features.has('timestamp-query');
    device.addEventListener('uncapturederror', (event) => {
      this.deviceError ??= (event as GPUUncapturedErrorEvent).error.message;
    });
    this.uniformArena = device.createBuffer({ size: UNIFORM_SLOT_BYTES * MAX_BATCH, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /** Bytes actually allocated for `bytes` requested: sizes are bucketed so the pool can reuse them. */
  private static bucket(bytes: number): number {
    const minimum = Math.max(bytes, 16);
    const step = 2 ** Math.max(4, Math.floor(Math.log2(minimum)) - 3);
    return Math.ceil(minimum / step) * step;
  }

  /** A buffer for `size` float32 values; its contents are undefined. */
  alloc(size: number): GpuBuffer {
    const bytes = GpuContext.bucket(size * 4);
    const buffer = this.pool.get(bytes)?.pop() ?? this.device.createBuffer({
      size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.live.buffers++;
    this.live.bytes += bytes;
    return { buffer, size };
  }

  /** A buffer of zeros (cleared in queue order). */
  allocZeroed(size: number): GpuBuffer {
    const out = this.alloc(size);
    this.endPass();
    this.currentEncoder().clearBuffer(out.buffer, 0, out.buffer.size);
    return out;
  }

  /** A new buffer holding `values` (mapped at creation, so no ordering hazard with pending work). */
  upload(values: ArrayLike<number>): GpuBuffer {
    const size = values.length;
    const bytes = GpuContext.bucket(size * 4);
    const buffer = this.device.createBuffer({
      size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, mappedAtCreation: true,
    });
    const view = new Float32Array(buffer.getMappedRange(0, size * 4));
    if (values instanceof Float32Array) view.set(values);
    else for (let i = 0; i < size; i++) view[i] = values[i]!;
    buffer.unmap();
    this.live.buffers++;
    this.live.bytes += bytes;
    return { buffer, size };
  }

  free(b: GpuBuffer): void {
    this.live.buffers--;
    this.live.bytes -= b.buffer.size;
    let list = this.pool.get(b.buffer.size);
    if (!list) this.pool.set(b.buffer.size, (list = []));
    list.push(b.buffer);
  }

  private pipeline(kernel: KernelSource): GPUComputePipeline {
    let pipeline = this.pipelines.get(kernel.code);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: kernel.name, code: kernel.code });
      pipeline = this.device.createComputePipeline({ label: kernel.name, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(kernel.code, pipeline);
    }
    return pipeline;
  }

  private currentEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /**
   * Records one dispatch. Bindings follow the kernel's declaration order:
   * `buffers` at @binding(0..n-1), then the params uniform (if any) at @binding(n).
   */
  dispatch(kernel: KernelSource, buffers: readonly GpuBuffer[], params: Params | null, workgroups: readonly [number, number?, number?]): void {
    if (this.uniformSlots === MAX_BATCH) this.flush();
    const pipeline = this.pipeline(kernel);
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({ binding: i, resource: { buffer: b.buffer } }));
    if (params) {
      const offset = this.uniformSlots++ * UNIFORM_SLOT_BYTES;
      params.writeTo(new DataView(this.uniformData), offset);
      entries.push({ binding: buffers.length, resource: { buffer: this.uniformArena, offset, size: Math.max(16, Math.ceil(params.length / 4) * 16) } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const profiler = this.profiler;
    if (profiler) {
      // One pass per dispatch, timestamped at its beginning and end.
      this.endPass();
      const index = profiler.names.length;
      profiler.names.push(kernel.name);
      this.pass = this.currentEncoder().beginComputePass({
        timestampWrites: { querySet: profiler.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 },
      });
    }
    this.pass ??= this.currentEncoder().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.dispatches++;
    if (profiler) {
      this.endPass();
      if (profiler.names.length === PROFILE_BATCH) this.flush();
    }
  }

  /**
   * Times every dispatch from now on with timestamp queries (each runs in its
   * own compute pass, so batching changes a little). Throws when the device
   * has no 'timestamp-query' feature.
   */
  startProfiling(): void {
    if (this.profiler) return;
    if (!this.timestamps) {
      throw new Error(`webgpu: the adapter (${this.adapterName}) does not offer the 'timestamp-query' feature, so kernels cannot be timed on the GPU`);
    }
    this.flush();
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_BATCH }),
      resolve: this.device.createBuffer({ size: 16 * PROFILE_BATCH, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      names: [],
      pending: [],
    };
  }

  /** Stops timing; waits for the work and returns every timed dispatch since startProfiling, in order. */
  async stopProfiling(): Promise<DispatchTiming[]> {
    const profiler = this.profiler;
    if (!profiler) return [];
    this.flush();
    this.profiler = null;
    const batches = await Promise.all(profiler.pending);
    profiler.querySet.destroy();
    profiler.resolve.destroy();
    this.throwDeviceError();
    return batches.flat();
  }

  /**
   * Before a submit: resolves this batch's timestamps into a staging buffer;
   * the returned function, called after the submit, starts reading it back.
   */
  private resolveTimestamps(profiler: Profiler): (() => void) | null {
    const names = profiler.names;
    if (names.length === 0) return null;
    profiler.names = [];
    const bytes = names.length * 16;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.currentEncoder();
    encoder.resolveQuerySet(profiler.querySet, 0, 2 * names.length, profiler.resolve, 0);
    encoder.copyBufferToBuffer(profiler.resolve, 0, staging, 0, bytes);
    return () => profiler.pending.push((async () => {
      await staging.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      staging.destroy();
      // Timestamps may be reordered or clamped by the implementation: a negative span counts as 0.
      return names.map((name, i) => ({ name, ns: Math.max(0, Number(stamps[2 * i + 1]! - stamps[2 * i]!)) }));
    })());
  }

  /** Records a buffer-to-buffer copy (in order with dispatches). */
  copy(source: GpuBuffer, sourceOffsetElements: number, target: GpuBuffer, targetOffsetElements: number, elements: number): void {
    if (elements === 0) return;
    this.endPass();
    this.currentEncoder().copyBufferToBuffer(source.buffer, sourceOffsetElements * 4, target.buffer, targetOffsetElements * 4, elements * 4);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const readTimestamps = this.profiler ? this.resolveTimestamps(this.profiler) : null;
    if (this.uniformSlots > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformData, 0, this.uniformSlots * UNIFORM_SLOT_BYTES);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.uniformSlots = 0;
    readTimestamps?.();
  }

  private throwDeviceError(): void {
    if (this.deviceError) {
      const message = this.deviceError;
      this.deviceError = null;
      throw new Error(`webgpu: the device reported an error: ${message}`);
    }
  }

  async read(b: GpuBuffer): Promise<Float32Array> {
    const bytes = b.size * 4;
    const staging = this.device.createBuffer({ size: Math.max(bytes, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    if (bytes > 0) {
      this.endPass();
      this.currentEncoder().copyBufferToBuffer(b.buffer, 0, staging, 0, bytes);
    }
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    staging.destroy();
    this.throwDeviceError();
    if (this.tuner.hasPending) await this.tuner.runPending();
    return out;
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwDeviceError();
    if (this.tuner.hasPending) await this.tuner.runPending();
  }

  /**
   * Milliseconds per call of `record` (which must only dispatch, no copies),
   * recorded `reps` times into one compute pass of its own: the pass's
   * timestamps where the device has timestamp queries, else the wall time from
   * submit to queue completion. Work recorded before is submitted first and
   * not counted (timestamps) or waited for first (wall time). Validation
   * errors of the recorded work are thrown here, not kept for the next read.
   */
  async time(record: () => void, reps: number): Promise<number> {
    reps = Math.max(1, Math.min(reps, Math.floor(MAX_BATCH / 8)));
    this.flush();
    const useTimestamps = this.timestamps;
    if (!useTimestamps) await this.device.queue.onSubmittedWorkDone();
    const querySet = useTimestamps ? this.device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
    const resolved = useTimestamps ? this.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : null;
    const readback = useTimestamps ? this.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : null;
    this.device.pushErrorScope('validation');
    const encoder = this.currentEncoder();
    this.pass = encoder.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    for (let r = 0; r < reps; r++) record();
    this.endPass();
    if (querySet && resolved && readback) {
      encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readback, 0, 16);
    }
    const start = performance.now();
    this.flush();
    const error = await this.device.popErrorScope();
    await this.device.queue.onSubmittedWorkDone();
    const wall = performance.now() - start;
    try {
      if (error) throw new Error(`webgpu: timing run failed: ${error.message}`);
      if (!readback) return wall / reps;
      await readback.mapAsync(GPUMapMode.READ);
      const [begin, end] = new BigUint64Array(readback.getMappedRange(0, 16).slice(0));
      readback.unmap();
      const ns = Number(end! - begin!);
      // Some drivers report zeros or garbage for unsupported passes: fall back to the wall time.
      return ns > 0 && ns < wall * 1e6 * 4 ? ns / 1e6 / reps : wall / reps;
    } finally {
      querySet?.destroy();
      resolved?.destroy();
      readback?.destroy();
    }
  }

  /** Workgroup counts for `total` workgroups, folded into 2-D when one dimension is not enough. */
  static grid(total: number): [number, number] {
    if (total <= MAX_WORKGROUPS_PER_DIM) return [Math.max(total, 1), 1];
    return [MAX_WORKGROUPS_PER_DIM, Math.ceil(total / MAX_WORKGROUPS_PER_DIM)];
  }

  dispose(): void {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.uniformArena.destroy();
    this.device.destroy();
  }
}

/** WGSL: the linear workgroup index of a launch made with GpuContext.grid. */
export const LINEAR_WORKGROUP = /* wgsl */ `
fn linearWorkgroup(wid: vec3u, groups: vec3u) -> u32 { return wid.x + wid.y * groups.x; }`;

/** A memo of generated kernels: `cached(key, build)` builds the WGSL once per key. */
export function kernelCache(): (key: string, build: () => string) => KernelSource {
  const cache = new Map<string, KernelSource>();
  return (key, build) => {
    let kernel = cache.get(key);
    if (!kernel) {
      kernel = { name: key, code: build() };
      cache.set(key, kernel);
    }
    return kernel;
  };
}
