// Global state of the tensor layer: the current backend, the stack of memory
// scopes and whether gradients are being recorded.

import { type Backend, createBackend, registerBackend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu/index.js';
import { WebGpuBackend } from '../backends/webgpu/index.js';
import type { Tensor } from './tensor.js';

registerBackend('cpu', () => CpuBackend.create('float32'));
registerBackend('cpu-float64', () => new CpuBackend('float64'));
registerBackend('cpu-js', () => new CpuBackend('float32', { wasm: false }));
registerBackend('webgpu', () => WebGpuBackend.create());

/** Tensors created while a scope is open; the scope disposes those it does not hand on. */
export class Scope {
  readonly tensors = new Set<Tensor>();
}

class Engine {
  private current: Backend | null = null;
  private readonly instances = new Map<string, Backend>();
  readonly scopes: Scope[] = [];
  gradEnabled = true;
  liveTensors = 0;

  get backend(): Backend {
    if (!this.current) {
      // The CPU backend needs no async start-up, so it is the implicit default.
      this.current = new CpuBackend('float32');
      this.instances.set('cpu', this.current);
    }
    return this.current;
  }

  async setBackend(name: string): Promise<Backend> {
    let backend = this.instances.get(name);
    if (!backend) {
      backend = await createBackend(name);
      this.instances.set(name, backend);
    }
    this.current = backend;
    return backend;
  }

  /** Uses an already-created backend instance (tests use this for the float64 reference). */
  useBackend(backend: Backend): void {
    this.instances.set(backend.name, backend);
    this.current = backend;
  }

  track(tensor: Tensor): void {
    this.liveTensors++;
    const top = this.scopes[this.scopes.length - 1];
    if (top) top.tensors.add(tensor);
  }

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
