// Worker threads for the CPU backend's WebAssembly kernels. Every thread runs
// the same module on one shared memory; a kernel call is split into slices
// (row blocks) and handed out through a small shared control block:
//
//   control[0]  generation: bumped by the main thread for each call
//   control[1]  pending: workers still running; the last one wakes the main thread
//   control[2]  failed: 1 + the index of a worker whose slice threw (its error
//               comes through a message port, read synchronously)
//   control[SLOT * (t + 1) ...]  worker t's task id and arguments
//
// The main thread computes slice 0 itself, then waits for `pending` to reach 0.
// Workers block in Atomics.wait between calls and are unref'd, so an idle pool
// never keeps the process alive.

import { nodeBuiltin } from '../../util/node_builtin.js';

/** Task ids shared with worker.ts. */
export const enum Task {
  Matmul = 0,
}

export const SLOT = 16;

/**
 * Longest single Atomics.wait, in ms. Waits are bounded and re-check the
 * shared state: under load a training run once hung with the worker asleep on
 * a generation the main thread had already published (a lost notify), and a
 * bounded wait turns such a loss into a 1 ms delay.
 */
export const WAIT_SLICE_MS = 1;

/** An idle worker doubles its wait slice up to this, so a pool between calls wakes ~60 times a second, not 1000. */
export const IDLE_WAIT_MAX_MS = 16;

interface WorkerLike {
  unref?(): void;
  terminate(): unknown;
}

/** Reads a message a worker already posted, without the event loop (worker_threads.receiveMessageOnPort). */
type ReceiveNow = (worker: number) => unknown;

export class ThreadPool {
  private readonly control: Int32Array;

  private constructor(private readonly workers: WorkerLike[], control: SharedArrayBuffer, private readonly receiveError: ReceiveNow) {
    this.control = new Int32Array(control);
  }

  /** Extra threads besides the caller's. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Starts workers on `memory` (shared) so that `threads` threads (with the
   * caller's; 'auto': one per core) share the work, or returns null where
   * threads are unavailable (no worker_threads, no SharedArrayBuffer) or not needed.
   */
  static async start(threads: number | 'auto', memory: WebAssembly.Memory, moduleBytes: Uint8Array): Promise<ThreadPool | null> {
    const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);
    if (!isNode || typeof SharedArrayBuffer === 'undefined') return null;
    const total = threads === 'auto' ? (await nodeBuiltin<typeof import('node:os')>('os')).availableParallelism() : threads;
    const extraThreads = total - 1;
    if (extraThreads < 1) return null;
    const { MessageChannel, receiveMessageOnPort, Worker } = await nodeBuiltin<typeof import('node:worker_threads')>('worker_threads');
    const control = new SharedArrayBuffer(SLOT * 4 * (extraThreads + 2));
    const workers: WorkerLike[] = [];
    // Workers report a failed slice on a port each; the main thread, blocked in Atomics.wait, could not run an 'error' handler.
    const errorPorts: import('node:worker_threads').MessagePort[] = [];
    for (let index = 0; index < extraThreads; index++) {
      const errors = new MessageChannel();
      errors.port1.unref();
      errorPorts.push(errors.port1);
      const worker = new Worker(new URL(/* @vite-ignore */ './worker.js', import.meta.url), {
        workerData: { memory, moduleBytes, control, index, errorPort: errors.port2 },
        transferList: [errors.port2],
      });
      worker.unref();
      workers.push(worker);
    }
    return new ThreadPool(workers, control, (worker) => receiveMessageOnPort(errorPorts[worker]!)?.message);
  }

  /**
   * Runs `slices[0]` on this thread via `runLocal` and the rest on workers;
   * returns when all are done. Each slice is [task, ...args] (integers).
   */
  run(slices: readonly (readonly number[])[], runLocal: (slice: readonly number[]) => void): void {
    const control = this.control;
    const remote = slices.length - 1;
    if (remote > this.workers.length) throw new Error(`ThreadPool: ${slices.length} slices for ${this.workers.length + 1} threads`);
    for (let t = 0; t < this.workers.length; t++) {
      const base = SLOT * (t + 1);
      const slice = slices[t + 1];
      if (!slice) {
        control[base] = -1; // idle this round
        continue;
      }
      for (let i = 0; i < slice.length; i++) control[base + i] = slice[i]!;
    }
    Atomics.store(control, 1, this.workers.length);
    Atomics.add(control, 0, 1);
    Atomics.notify(control, 0);
    runLocal(slices[0]!);
    for (let pending = Atomics.load(control, 1); pending !== 0; pending = Atomics.load(control, 1)) {
      Atomics.wait(control, 1, pending, WAIT_SLICE_MS);
    }
    const failed = Atomics.exchange(control, 2, 0);
    if (failed !== 0) {
      throw new Error(`CPU backend: worker thread ${failed - 1} failed: ${String(this.receiveError(failed - 1) ?? 'no message')}`);
    }
  }

  dispose(): void {
    for (const worker of this.workers) worker.terminate();
  }
}
