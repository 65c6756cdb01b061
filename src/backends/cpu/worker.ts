// A CPU-backend worker thread: instantiates the shared-memory kernels and
// takes slices of each call the main thread posts (see threads.ts).

import { type MessagePort, workerData } from 'node:worker_threads';
import { IDLE_WAIT_MAX_MS, runSlices, THREAD_TASKS, waitWhile } from './threads.js';

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

let seen = Atomics.load(control, 0);
for (;;) {
  waitWhile(control, 0, seen, IDLE_WAIT_MAX_MS);
  seen = Atomics.load(control, 0);
  runSlices(control, args, kernels, seen, index + 1, (error) => {
    // Reported to the main thread, which throws it from the kernel call; this worker stays available.
    if (Atomics.compareExchange(control, 4, 0, index + 1) === 0) {
      errorPort.postMessage(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  });
}
