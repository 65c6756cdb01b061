// Global state of the tensor layer: the current backend, the stack of memory
// scopes and whether gradients are being recorded.

import { type Backend, createBackend, type MemoryPressure, registerBackend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu/index.js';
import { WebGpuBackend } from '../backends/webgpu/index.js';
import type { Handle, Tensor } from './tensor.js';
import { formatShape } from '../util/shape.js';

registerBackend('cpu', () => CpuBackend.create('float32'));
registerBackend('cpu-float64', () => new CpuBackend('float64'));
registerBackend('cpu-js', () => new CpuBackend('float32', { wasm: false }));
registerBackend('webgpu', () => WebGpuBackend.create());

/** Tensors created while a scope is open; the scope disposes those it does not hand on. */
export class Scope {
  readonly tensors = new Set<Tensor>();
}

/**
 * Tensors made since the collector last had a chance to run (see
 * Engine.dueForCollection): about a few training steps of a small model.
 */
const COLLECT_EVERY = 4096;

/** A macrotask: FinalizationRegistry callbacks run only between tasks, never inside a chain of resolved awaits. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

class Engine {
  private current: Backend | null = null;
  private readonly instances = new Map<string, Backend>();
  readonly scopes: Scope[] = [];
  /** Open tidy() scopes: inside one, modules' forward scopes are skipped (tidy frees everything at its end anyway). */
  tidyDepth = 0;
  gradEnabled = true;
  /**
   * The handles (storage, shape and name; never the tensor, so holding them
   * keeps nothing reachable) of live tensors outside every scope. Those are
   * registered with the registry, which frees a tensor JavaScript can no
   * longer reach: the backstop for tensors made outside tidy(). A tensor in a
   * scope is registered only when it leaves the last one (returned, kept):
   * scopes free the rest, and registering costs about a microsecond.
   */
  readonly unscoped = new Set<Handle>();
  private readonly registry = new FinalizationRegistry<Handle>((handle) => this.collect(handle));
  /** Live tensors, scoped or not. */
  liveTensors = 0;
  /** Tensors the registry freed (diagnostics and tests). */
  collected = 0;
  private madeSinceCollection = 0;
  private pressured = false;
  private readonly pressure: MemoryPressure = {
    reclaim: () => this.reclaim(),
    describe: () => this.describeLive(),
  };

  get backend(): Backend {
    if (!this.current) {
      // The CPU backend needs no async start-up, so it is the implicit default.
      this.current = new CpuBackend('float32');
      this.current.memoryPressure ??= this.pressure;
      this.instances.set('cpu', this.current);
    }
    return this.current;
  }

  /** A new tensor: counted live, and in the innermost scope (or, outside every scope, registered). */
  adopt(tensor: Tensor): void {
    this.liveTensors++;
    this.madeSinceCollection++;
    const top = this.scopes[this.scopes.length - 1];
    if (top) top.tensors.add(tensor);
    else this.escape(tensor);
  }

  /** A tensor a scope hands on: into the enclosing scope, or out of every scope (registered). */
  handOn(tensor: Tensor): void {
    const top = this.scopes[this.scopes.length - 1];
    if (top) top.tensors.add(tensor);
    else this.escape(tensor);
  }

  /** A live tensor outside every scope: freed by the registry if it becomes unreachable before dispose(). */
  escape(tensor: Tensor): void {
    const handle = tensor.handle;
    if (handle.registered || !handle.storage) return;
    handle.registered = true;
    this.unscoped.add(handle);
    this.registry.register(tensor, handle, handle);
  }

  /** dispose(): the registry must not free the handle again (a double free is impossible: both paths clear handle.storage first). */
  release(handle: Handle): void {
    this.liveTensors--;
    if (!handle.registered) return;
    this.unscoped.delete(handle);
    this.registry.unregister(handle);
  }

  private collect(handle: Handle): void {
    const storage = handle.storage;
    if (!storage) return;
    handle.storage = null;
    this.liveTensors--;
    this.unscoped.delete(handle);
    this.collected++;
    storage.release();
  }

  /**
   * Whether an asynchronous read should first let the collector run: after
   * many tensors were made, or after a backend ran short of memory. Loops that
   * await results then stay flat without tidy().
   */
  dueForCollection(): boolean {
    return this.pressured || this.madeSinceCollection >= COLLECT_EVERY;
  }

  /** Yields one task so pending finalizers free what JavaScript no longer reaches. */
  async letCollectorRun(): Promise<void> {
    this.madeSinceCollection = 0;
    if (this.pressured) {
      this.pressured = false;
      (globalThis as { gc?: () => void }).gc?.();
    }
    await nextTask();
  }

  /**
   * A backend could not allocate. JavaScript frees unreachable tensors only
   * between tasks (FinalizationRegistry), so what can be reclaimed now is what
   * finalizers already queued: a full collection (where the host exposes gc)
   * queues them, and the next awaited read runs them before going on.
   * Returns whether anything was freed now (then the backend retries).
   */
  private reclaim(): boolean {
    this.pressured = true;
    return false;
  }

  /** What is alive, for out-of-memory errors: counts, bytes, the largest tensors and what to do. */
  describeLive(): string {
    const backend = this.current;
    const bytes = backend ? backend.memory().bytes : 0;
    const seen = new Set<unknown>();
    const largest: Handle[] = [];
    const consider = (handle: Handle) => {
      if (!handle.storage || seen.has(handle.storage)) return;
      seen.add(handle.storage);
      largest.push(handle);
    };
    for (const handle of this.unscoped) consider(handle);
    for (const scope of this.scopes) for (const tensor of scope.tensors) consider(tensor.handle);
    largest.sort((a, b) => b.size - a.size);
    const top = largest.slice(0, 5).map((h) => `${h.name ? `'${h.name}' ` : ''}#${h.id} ${formatShape(h.shape)}`);
    return `${this.liveTensors} tensors are alive, ${bytes} bytes on backend '${backend?.name ?? 'none'}' ` +
      `(largest: ${top.join(', ') || 'none'}). Free tensors you no longer need with tensor.dispose(), or run each step ` +
      'inside tidy(() => ...), which frees every tensor the function made and does not return; tensors made outside ' +
      'tidy() are freed only after JavaScript finds them unreachable, between tasks (an awaited tensor.data() gives it the chance)';
  }

  async setBackend(name: string): Promise<Backend> {
    let backend = this.instances.get(name);
    if (!backend) {
      backend = await createBackend(name);
      this.instances.set(name, backend);
    }
    backend.memoryPressure ??= this.pressure;
    this.current = backend;
    return backend;
  }

  /** Uses an already-created backend instance (tests use this for the float64 reference). */
  useBackend(backend: Backend): void {
    backend.memoryPressure ??= this.pressure;
    this.instances.set(backend.name, backend);
    this.current = backend;
  }

  /** Takes a tensor out of every open scope (keep(); it is then outside them all). */
  untrack(tensor: Tensor): void {
    for (const scope of this.scopes) scope.tensors.delete(tensor);
  }
}

export const engine = new Engine();

/**
 * Selects the backend new tensors are created on: 'cpu', 'cpu-float64', or any
 * registered later (e.g. 'webgpu'). Resolves to the backend.
 */
export function setBackend(name: string): Promise<Backend> {
  return engine.setBackend(name);
}

/** The backend new tensors and ops use now (set with setBackend). */
export function getBackend(): Backend {
  return engine.backend;
}

/** Runs `fn` with `backend` current, restoring the previous one after. */
export function onBackend<T>(backend: Backend, fn: () => T): T {
  const previous = engine.backend;
  engine.useBackend(backend);
  try {
    return fn();
  } finally {
    engine.useBackend(previous);
  }
}

/** onBackend for an async `fn`: the previous backend comes back when its promise settles. */
export async function onBackendAsync<T>(backend: Backend, fn: () => Promise<T>): Promise<T> {
  const previous = engine.backend;
  engine.useBackend(backend);
  try {
    return await fn();
  } finally {
    engine.useBackend(previous);
  }
}
