// Worker threads for the CPU backend's WebAssembly kernels. Every thread runs
// the same module on one shared memory. A kernel call is cut into slices (row
// blocks, batch items) whose sizes do not depend on the thread count, so
// results are the same bits with any number of threads. All threads, the
// caller's included, take slices from a shared ticket until none are left: a
// worker that wakes late (the other core busy) costs nothing, the caller just
// takes more. Shared control block (int32):
//
//   [0] generation: bumped by the main thread for each call; workers wait on it
//   [1] ticket: (generation & 0x7fff) << 16 | next slice index, taken by compare-exchange
//   [2] slices in this call
//   [3] slices finished; the thread finishing the last one wakes the main thread
//   [4] failed: 1 + the index of a worker whose slice threw (its error comes
//       through a message port, read synchronously)
//   [5] scratch bytes per thread (a slice's scratch argument is offset by thread index x this)
//
// and a float64 block with each slice's task id, the index of its scratch
// argument (-1: none) and its arguments, SLOT values per slice. Workers spin
// briefly, then block in Atomics.wait between calls, and are unref'd, so an
// idle pool never keeps the process alive.

import { nodeBuiltin } from '../../util/node_builtin.js';

/** The kernels a worker can run: a slice's task id is the index of its export name here. */
export const THREAD_TASKS = [
  'gemm', 'packColumns', 'unaryF32', 'unaryGradF32', 'binaryF32', 'softmaxForward', 'softmaxBackward', 'layerNormForward', 'layerNormBackward',
  'groupRationalForward', 'groupRationalBackward', 'adamwF32', 'attentionForward', 'attentionBackward',
  'chebyshevBasisForward', 'chebyshevBasisBackward',
] as const;

export type ThreadTask = (typeof THREAD_TASKS)[number];

/** The task id of a kernel. */
export function task(name: ThreadTask): number {
  return THREAD_TASKS.indexOf(name);
}

/** Float64 values per slice in the argument block: the task id, the scratch argument's index and up to SLOT - 2 arguments. */
export const SLOT = 20;

/** Most slices in one call. */
export const MAX_SLICES = 512;

/** Polls of shared state before a thread blocks (a few tens of microseconds: kernels come back to back). */
const SPIN = 20_000;

export const enum Control { Generation = 0, Ticket = 1, Count = 2, Done = 3, Failed = 4, ScratchStride = 5 }

/**
 * The stores that publish a call, in order. The ticket comes first: a thread
 * still looping in the previous call read that call's ticket and then the
 * slice count, and had the new count been visible while its old ticket still
 * stood, its compare-exchange would have claimed a slice of the new call
 * under the old tag and added to the new call's Done, so the caller could
 * return before that slice had run (seen once as NaN weights deep into a
 * two-thread training run). With the ticket replaced first, any thread that
 * sees the new count fails the exchange. The generation goes last: it wakes the workers.
 */
export function publication(generation: number, count: number, scratchStride: number): readonly (readonly [Control, number])[] {
  return [
    [Control.Ticket, (generation & 0x7fff) << 16],
    [Control.Count, count],
    [Control.Done, 0],
    [Control.ScratchStride, scratchStride],
    [Control.Generation, generation],
  ];
}

/** One slice of a call: the kernel's task id, the index of the argument that is per-thread scratch (-1: none), the arguments. */
export interface Slice {
  task: number;
  scratchArgument: number;
  args: readonly number[];
}

/**
 * Takes and runs slices of call `generation` as thread `thread` (0: the main
 * thread) until none are left. Shared by the main thread and the workers.
 */
export function runSlices(control: Int32Array, args: Float64Array, kernels: readonly ((...values: number[]) => void)[], generation: number,
  thread: number, onError: (error: unknown) => void): void {
  const tag = (generation & 0x7fff) << 16;
  for (;;) {
    const ticket = Atomics.load(control, Control.Ticket);
    if ((ticket & ~0xffff) !== tag) return; // a later call has started (this thread woke late)
    const index = ticket & 0xffff;
    const count = Atomics.load(control, Control.Count);
    if (index >= count) return;
    if (Atomics.compareExchange(control, Control.Ticket, ticket, ticket + 1) !== ticket) continue;
    const base = index * SLOT;
    const values = Array.from(args.subarray(base + 2, base + SLOT));
    const scratch = args[base + 1]!;
    if (scratch >= 0) values[scratch] = values[scratch]! + thread * Atomics.load(control, Control.ScratchStride);
    try {
      kernels[args[base]!]!(...values);
    } catch (error) {
      onError(error);
    }
    if (Atomics.add(control, Control.Done, 1) + 1 === count) Atomics.notify(control, Control.Done);
  }
}

/** Waits until control[index] is no longer `value`: spins, then blocks in bounded waits (doubling up to maxWaitMs). */
export function waitWhile(control: Int32Array, index: number, value: number, maxWaitMs: number): void {
  for (let spin = 0; spin < SPIN; spin++) if (Atomics.load(control, index) !== value) return;
  for (let slice = WAIT_SLICE_MS; Atomics.load(control, index) === value; slice = Math.min(2 * slice, maxWaitMs)) {
    Atomics.wait(control, index, value, slice);
  }
}

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

  /** Threads that run a call's slices, the caller's included. */
  get threads(): number {
    return this.workers.length + 1;
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
    const control = new SharedArrayBuffer(32);
    const args = new SharedArrayBuffer(SLOT * 8 * MAX_SLICES);
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
   * Runs every slice (at most MAX_SLICES) on this thread and the workers,
   * `kernels` indexed by task id; returns when all are done. Scratch arguments
   * are offset by thread index x `scratchStride` bytes.
   */
  run(slices: readonly Slice[], kernels: readonly ((...values: number[]) => void)[], scratchStride = 0): void {
    const control = this.control;
    const args = this.args;
    if (slices.length > MAX_SLICES) throw new Error(`ThreadPool: ${slices.length} slices, at most ${MAX_SLICES}`);
    slices.forEach((slice, index) => {
      if (slice.args.length > SLOT - 2) throw new Error(`ThreadPool: ${slice.args.length} arguments, at most ${SLOT - 2}`);
      const base = index * SLOT;
      args[base] = slice.task;
      args[base + 1] = slice.scratchArgument;
      args.set(slice.args, base + 2);
    });
    const generation = (Atomics.load(control, Control.Generation) + 1) | 0;
    for (const [index, value] of publication(generation, slices.length, scratchStride)) Atomics.store(control, index, value);
    Atomics.notify(control, Control.Generation);
    let localError: unknown = null;
    runSlices(control, args, kernels, generation, 0, (error) => { localError ??= error; });
    for (let done = Atomics.load(control, Control.Done); done < slices.length; done = Atomics.load(control, Control.Done)) {
      waitWhile(control, Control.Done, done, WAIT_SLICE_MS);
    }
    const failed = Atomics.exchange(control, Control.Failed, 0);
    if (localError) throw localError;
    if (failed !== 0) {
      throw new Error(`CPU backend: worker thread ${failed - 1} failed: ${String(this.receiveError(failed - 1) ?? 'no message')}`);
    }
  }

  dispose(): void {
    for (const worker of this.workers) worker.terminate();
  }
}
