// --backend: 'auto' picks WebGPU on a hardware GPU, else the CPU, and says which.

import { createBackend, registeredBackends, type Backend } from '../backends/backend.js';
import { WebGpuBackend } from '../backends/webgpu/index.js';
import { engine, setBackend } from '../tensor/engine.js';
import { CliError } from './flags.js';

/** Preference order for --backend auto. */
const AUTO_ORDER = ['webgpu', 'cpu'];

export interface SelectedBackend {
  backend: Backend;
  /** Why auto passed over a preferred backend (empty when it did not). */
  notes: string[];
}

export async function selectBackend(name: string): Promise<SelectedBackend> {
  if (name === 'auto') {
    const notes: string[] = [];
    for (const candidate of AUTO_ORDER.filter((n) => registeredBackends().includes(n))) {
      try {
        if (candidate === 'webgpu') {
          const adapter = await WebGpuBackend.probe();
          if (adapter.isSoftware) {
            notes.push(`webgpu skipped: ${adapter.adapterName} is a software implementation (use --backend webgpu to force it)`);
            continue;
          }
        }
        const backend = await createBackend(candidate);
        engine.useBackend(backend);
        return { backend, notes };
      } catch (error) {
        notes.push(`${candidate} unavailable: ${(error as Error).message}`);
      }
    }
    throw new CliError(`no backend could start (${notes.join('; ')})`);
  }
  if (!registeredBackends().includes(name)) {
    throw new CliError(`unknown backend '${name}': expected auto, ${registeredBackends().join(', ')}`);
  }
  try {
    return { backend: await setBackend(name), notes: [] };
  } catch (error) {
    throw new CliError(`backend '${name}' could not start: ${(error as Error).message}`);
  }
}
