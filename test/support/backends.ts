// The backends the parity suite runs on. WebGPU starts on a real GPU, or on
// SwiftShader (a CPU Vulkan driver from Debian's chromium package) where one
// is installed. A backend that cannot start is skipped loudly; under CI it is
// a failure, so a broken WebGPU set-up cannot pass unnoticed.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, registerBackend, type Backend } from '../../src/backends/backend.js';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import '../../src/tensor/engine.js';

// The SIMD kernels without fused multiply-add (what engines without relaxed SIMD run).
registerBackend('cpu-plain-simd', () => new CpuBackend('float32', { relaxedSimd: false }));

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Points Vulkan at SwiftShader when no driver is configured and it is installed. */
export function useSwiftShaderIfNoDriver(): void {
  if (!process.env.VK_DRIVER_FILES && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_DRIVER_FILES = SWIFTSHADER_ICD;
  }
  // Dawn's Vulkan loader warns on every start without it.
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'xdg-'));
}

const started = new Map<string, Promise<Backend | null>>();
const failures = new Map<string, string>();

/** The backend, or null (with a warning) when it cannot start outside CI. */
export function startBackend(name: string): Promise<Backend | null> {
  let pending = started.get(name);
  if (!pending) {
    if (name === 'webgpu') useSwiftShaderIfNoDriver();
    pending = createBackend(name).then((backend) => {
      // Dawn aborts if the process exits with a live device: release it when the tests are done.
      process.once('beforeExit', () => backend.dispose?.());
      return backend;
    }, (error: unknown) => {
      const message = `backend '${name}' could not start: ${(error as Error).message}`;
      if (process.env.CI) throw new Error(`${message} (under CI every backend must start)`);
      failures.set(name, message);
      console.warn(`\n*** SKIPPING ${message} ***\n`);
      return null;
    });
    started.set(name, pending);
  }
  return pending;
}

/**
 * The `skip` option for a test on backend `name`: false where it started, else the reason (so the
 * test shows in the run's skipped count; under CI startBackend has already thrown). Use it on every
 * test instead of returning early, which would pass silently.
 */
export function skipUnless(backend: Backend | null | undefined, name: string): string | false {
  if (backend) return false;
  return failures.get(name) ?? `backend '${name}' could not start`;
}

/** Starts `name` and gives its `skip` option with it: `const [gpu, skip] = await backendOrSkip('webgpu')`. */
export async function backendOrSkip<B extends Backend = Backend>(name: string): Promise<[B | null, string | false]> {
  const backend = (await startBackend(name)) as B | null;
  return [backend, skipUnless(backend, name)];
}

/** Every backend checked against the float64 reference (KATJS_PARITY_BACKENDS=webgpu,cpu: only those, e.g. on a GPU machine). */
export const PARITY_BACKENDS = ['cpu', 'cpu-plain-simd', 'cpu-js', 'webgpu']
  .filter((name) => !process.env.KATJS_PARITY_BACKENDS || process.env.KATJS_PARITY_BACKENDS.split(',').includes(name));
