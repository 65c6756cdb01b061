// A CPU-backend worker thread: instantiates the shared-memory kernels and runs
// the slices the main thread posts in the control and argument blocks (see threads.ts).

import { type MessagePort, workerData } from 'node:worker_threads';
import { IDLE_WAIT_MAX_MS, SLOT, THREAD_TASKS, WAIT_SLICE_MS } from './threads.js';

const { memory, moduleBytes, control: controlBuffer, args: argsBuffer, index, errorPort } = workerData as {
  memory: WebAssembly.Memory; moduleBytes: Uint8Array<ArrayBuffer>; control: SharedArrayBuffer; args: SharedArrayBuffer; index: number;
  errorPort: MessagePort;
};
const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), {
  env: { memory, abort: () => { throw new Error('wasm kernel aborted'); } },
});
const kernels = THREAD_TASKS.map((name) => instance.exports[name] as (...values: number[]) => void);
const control = new Int32Array(controlBuffer);
const args = new Float64Array(argsBuffer);
const base = SLOT * index;

let seen = 0;
for (;;) {
  for (let slice = WAIT_SLICE_MS; Atomics.load(control, 0) === seen; slice = Math.min(2 * slice, IDLE_WAIT_MAX_MS)) {
    Atomics.wait(control, 0, seen, slice);
  }
  seen = Atomics.load(control, 0);
  const kernel = kernels[args[base]!];
  try {
    // idle this round when there is no kernel (task -1)
    if (kernel) kernel(...args.subarray(base + 1, base + SLOT));
  } catch (error) {
    // Reported to the main thread, which throws it from the kernel call; this worker stays available.
    errorPort.postMessage(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    Atomics.store(control, 2, index + 1);
  }
  if (Atomics.sub(control, 1, 1) === 1) Atomics.notify(control, 1);
}
