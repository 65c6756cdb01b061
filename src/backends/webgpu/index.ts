// The WebGPU backend: the same kernel table as the CPU backend, in WGSL. In
// browsers it uses navigator.gpu; in Node, Dawn through the `webgpu` package
// (on Linux it needs a Vulkan driver: the GPU's, or SwiftShader on CPU-only
// machines, see docs/backends.md).

import type { AdamWHyper, Backend, Kernels, MemoryInfo } from '../backend.js';
import { nodeBuiltin } from '../../util/node_builtin.js';
import { GpuContext, type GpuBuffer } from './context.js';
import { makeAttentionKernels } from './kernels/attention.js';
import { makeElementwiseKernels } from './kernels/elementwise.js';
import { makeGroupRationalKernels } from './kernels/group_rational.js';
import { makeKanBasisKernels } from './kernels/kan_bases.js';
import { makeKaratKernels } from './kernels/karat.js';
import { makeLayoutKernels } from './kernels/layout.js';
import { makeMatmulKernel } from './kernels/matmul.js';
import { makeReduceKernels } from './kernels/reduce.js';
import { makeRowKernels } from './kernels/rows.js';
import { defaultTuningFile, fileTuningStore, memoryOnlyStore, type TuningStore } from './tune_store.js';
import { Tuner, autotuneFromEnv } from './tuner.js';

export type { GpuBuffer } from './context.js';

/**
 * Dawn's GPU object in Node. Held for the life of the process: if it were
 * garbage-collected, Dawn's instance would be freed under live devices (crash).
 */
let dawnGpu: GPU | null = null;

/** navigator.gpu in a browser or worker; Dawn's in Node (the optional `webgpu` package). */
async function findGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (dawnGpu) return dawnGpu;
  if (typeof process !== 'undefined' && process.versions?.node) {
    // The Vulkan loader complains on stderr at every start without it.
    process.env.XDG_RUNTIME_DIR ??= (await nodeBuiltin<typeof import('node:os')>('os')).tmpdir();
    let dawn: { create(flags: string[]): GPU; globals: object };
    try {
      dawn = (await import(/* @vite-ignore */ 'webgpu' as string)) as typeof dawn;
    } catch (error) {
      throw new Error(`webgpu: the 'webgpu' package (Dawn for Node) could not be loaded: ${(error as Error).message}`);
    }
    Object.assign(globalThis, dawn.globals);
    dawnGpu = dawn.create([]);
    return dawnGpu;
  }
  throw new Error('webgpu: this runtime has no navigator.gpu');
}

export interface WebGpuOptions {
  /** Time kernel configurations per shape class and use the fastest (default: on for hardware adapters, see create()). */
  autotune?: boolean;
  /** The tuning cache file (Node); null keeps winners in memory only. */
  tuningFile?: string | null;
  /** false: time with queue completion even where timestamp queries exist (for tests). */
  timestamps?: boolean;
}

export class WebGpuBackend implements Backend<GpuBuffer> {
  readonly name = 'webgpu';
  readonly description: string;
  readonly bytesPerElement = 4;
  readonly kernels: Kernels<GpuBuffer>;

  private constructor(readonly ctx: GpuContext, readonly isSoftware: boolean) {
    this.description = `WebGPU on ${ctx.adapterName}${ctx.subgroups ? ' (subgroups)' : ''}${ctx.tuner.enabled ? ' (autotuned)' : ''}`;
    this.kernels = {
      ...makeElementwiseKernels(ctx),
      matmul: makeMatmulKernel(ctx),
      ...makeReduceKernels(ctx),
      ...makeRowKernels(ctx),
      ...makeLayoutKernels(ctx),
      ...makeGroupRationalKernels(ctx),
      ...makeKanBasisKernels(ctx),
      ...makeKaratKernels(ctx),
      ...makeAttentionKernels(ctx),
    } satisfies Kernels<GpuBuffer>;
  }

  private static async adapter(): Promise<GPUAdapter> {
    const gpu = await findGpu();
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new Error('webgpu: no adapter (no GPU driver; on Linux without a GPU, install a Vulkan driver such as SwiftShader ' +
        'and set VK_DRIVER_FILES)');
    }
    return adapter;
  }

  private static describe(adapter: GPUAdapter): { adapterName: string; isSoftware: boolean } {
    const info = adapter.info;
    const adapterName = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
    // A CPU implementation of the API (SwiftShader, llvmpipe): right for tests, slower than the CPU backend for work.
    const isSoftware = Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter) ||
      /swiftshader|llvmpipe|lavapipe/i.test(adapterName);
    return { adapterName, isSoftware };
  }

  /**
   * What adapter create() would use, without creating a device (Dawn in Node
   * cannot safely destroy a device and keep running, so choose before creating).
   */
  static async probe(): Promise<{ adapterName: string; isSoftware: boolean }> {
    return WebGpuBackend.describe(await WebGpuBackend.adapter());
  }

  /**
   * Starts the backend on the best adapter, or throws an error saying why it cannot.
   * Autotuning (see tuner.ts) is on for hardware adapters and off for software
   * ones (SwiftShader: tests stay deterministic) unless `options.autotune` or
   * KATJS_WEBGPU_AUTOTUNE (0/off or 1/on) says otherwise; winners are cached
   * in `options.tuningFile` (default: webgpu-tuning.json in the download cache,
   * Node only; null: memory only).
   */
  static async create(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
    const adapter = await WebGpuBackend.adapter();
    const wanted: GPUFeatureName[] = ['subgroups', 'timestamp-query'];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
    const { adapterName, isSoftware } = WebGpuBackend.describe(adapter);
    const ctx = new GpuContext(device, adapterName);
    if (options.timestamps === false) ctx.timestamps = false;
    const env = typeof process !== 'undefined' && process.versions?.node ? process.env : undefined;
    const enabled = options.autotune ?? autotuneFromEnv(env) ?? !isSoftware;
    if (enabled) {
      let store: TuningStore = memoryOnlyStore;
      if (options.tuningFile !== null && env) store = fileTuningStore(options.tuningFile ?? (await defaultTuningFile(env)));
      ctx.tuner = new Tuner({ enabled, adapterKey: WebGpuBackend.adapterKey(adapter), store });
      await ctx.tuner.load();
    }
    return new WebGpuBackend(ctx, isSoftware);
  }

  /** The tuning cache's key of an adapter: vendor / architecture / device / description. */
  static adapterKey(adapter: GPUAdapter): string {
    const info = adapter.info;
    return [info?.vendor, info?.architecture, info?.device, info?.description].map((v) => v || '-').join(' / ');
  }

  upload(values: ArrayLike<number>): GpuBuffer {
    return this.ctx.upload(values);
  }

  read(buffer: GpuBuffer): Promise<Float32Array> {
    return this.ctx.read(buffer);
  }

  free(buffer: GpuBuffer): void {
    this.ctx.free(buffer);
  }

  sizeOf(buffer: GpuBuffer): number {
    return buffer.size;
  }

  memory(): MemoryInfo {
    return { ...this.ctx.live };
  }

  sync(): Promise<void> {
    return this.ctx.sync();
  }

  dispose(): void {
    this.ctx.dispose();
  }
}

export type { AdamWHyper };
