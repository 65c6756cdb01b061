// A CPU-backend worker thread: instantiates the shared-memory kernels and runs
// the slices the main thread posts in the control block (see threads.ts).

import { type MessagePort, workerData } from 'node:worker_threads';
import { IDLE_WAIT_MAX_MS, SLOT, Task, WAIT_SLICE_MS } from './threads.js';

interface Exports {
  matmulPacked(a: number, b: number, c: number, m4: number, k: number, n8: number): void;
}

const { memory, moduleBytes, control: controlBuffer, index, errorPort } = workerData as {
  memory: WebAssembly.Memory; moduleBytes: Uint8Array<ArrayBuffer>; control: SharedArrayBuffer; index: number; errorPort: MessagePort;
};
const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), {
  env: { memory, abort: () => { throw new Error('wasm kernel aborted'); } },
});
const kernels = instance.exports as unknown as Exports;
const control = new Int32Array(controlBuffer);
const base = SLOT * (index + 1);

let seen = 0;
for (;;) {
  for (let slice = WAIT_SLICE_MS; Atomics.load(control, 0) === seen; slice = Math.min(2 * slice, IDLE_WAIT_MAX_MS)) {
    Atomics.wait(control, 0, seen, slice);
  }
  seen = Atomics.load(control, 0);
  const a = (i: number) => control[base + 1 + i]!;
  try {
    switch (control[base]) {
      case Task.Matmul: kernels.matmulPacked(a(0), a(1), a(2), a(3), a(4), a(5)); break;
      default: break; // idle this round
    }
  } catch (error) {
    // Reported to the main thread, which throws it from the kernel call; this worker stays available.
    errorPort.postMessage(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    Atomics.store(control, 2, index + 1);
  }
  if (Atomics.sub(control, 1, 1) === 1) Atomics.notify(control, 1);
}
