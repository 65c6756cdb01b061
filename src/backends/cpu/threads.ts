// Worker threads for the CPU backend's WebAssembly kernels. Every thread runs
// the same module on one shared memory; a kernel call is split into slices
// (row blocks) and handed out through a small shared control block:
//
//   control[0]  generation: bumped by the main thread for each call
//   control[1]  pending: workers still running; the last one wakes the main thread
//   control[2]  failed: 1 + the index of a worker whose slice threw (its error
//               comes through a message port, read synchronously)
//
// and a float64 block (arguments) with worker t's task id and arguments at
// SLOT * t (float64, so pointers, sizes and epsilons all fit).
//
// The main thread computes slice 0 itself, then waits for `pending` to reach 0.
// Workers block in Atomics.wait between calls and are unref'd, so an idle pool
// never keeps the process alive.

import { nodeBuiltin } from '../../util/node_builtin.js';

/** The kernels a worker can run: a slice's task id is the index of its export name here. */
export const THREAD_TASKS = [
  'gemm', 'unaryF32', 'unaryGradF32', 'binaryF32', 'softmaxForward', 'softmaxBackward', 'layerNormForward', 'layerNormBackward',
  'groupRationalForward', 'groupRationalBackward',
] as const;

export type ThreadTask = (typeof THREAD_TASKS)[number];

/** The task id of a kernel. */
export function task(name: ThreadTask): number {
  return THREAD_TASKS.indexOf(name);
}

/** Float64 values per worker in the argument block: the task id and up to SLOT - 1 arguments. */
export const SLOT = 20;

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
  private readonly args: Float64Array;

  private constructor(private readonly workers: WorkerLike[], control: SharedArrayBuffer, args: SharedArrayBuffer,
    private readonly receiveError: ReceiveNow) {
    this.control = new Int32Array(control);
    this.args = new Float64Array(args);
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
    const control = new SharedArrayBuffer(16);
    const args = new SharedArrayBuffer(SLOT * 8 * extraThreads);
    const workers: WorkerLike[] = [];
    // Workers report a failed slice on a port each; the main thread, blocked in Atomics.wait, could not run an 'error' handler.
    const errorPorts: import('node:worker_threads').MessagePort[] = [];
    for (let index = 0; index < extraThreads; index++) {
      const errors = new MessageChannel();
      errors.port1.unref();
      errorPorts.push(errors.port1);
      const worker = new Worker(new URL(/* @vite-ignore */ './worker.js', import.meta.url), {
        workerData: { memory, moduleBytes, control, args, index, errorPort: errors.port2 },
        transferList: [errors.port2],
      });
      worker.unref();
      workers.push(worker);
    }
    return new ThreadPool(workers, control, args, (worker) => receiveMessageOnPort(errorPorts[worker]!)?.message);
  }

  /**
   * Runs `slices[0]` on this thread via `runLocal` and the rest on workers;
   * returns when all are done. Each slice is [task, ...args].
   */
  run(slices: readonly (readonly number[])[], runLocal: (slice: readonly number[]) => void): void {
    const control = this.control;
    const args = this.args;
    const remote = slices.length - 1;
    if (remote > this.workers.length) throw new Error(`ThreadPool: ${slices.length} slices for ${this.workers.length + 1} threads`);
    for (let t = 0; t < this.workers.length; t++) {
      const base = SLOT * t;
      const slice = slices[t + 1];
      if (!slice) {
        args[base] = -1; // idle this round
        continue;
      }
      if (slice.length > SLOT) throw new Error(`ThreadPool: ${slice.length - 1} arguments, at most ${SLOT - 1}`);
      for (let i = 0; i < slice.length; i++) args[base + i] = slice[i]!;
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
