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

/**
 * False on Linux when there is no GPU device node and no Vulkan driver was
 * named: probing Dawn there finds nothing and only prints driver warnings.
 */
async function mayHaveGpu(): Promise<boolean> {
  if (process.platform !== 'linux' || process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES) return true;
  const { readdir } = await import('node:fs/promises');
  const list = (dir: string) => readdir(dir).catch(() => [] as string[]);
  const [dev, dri] = await Promise.all([list('/dev'), list('/dev/dri')]);
  return dev.some((name) => /^nvidia\d/.test(name)) || dri.some((name) => name.startsWith('renderD'));
}

export async function selectBackend(name: string): Promise<SelectedBackend> {
  if (name === 'auto') {
    const notes: string[] = [];
    for (const candidate of AUTO_ORDER.filter((n) => registeredBackends().includes(n))) {
      try {
        if (candidate === 'webgpu') {
          if (!(await mayHaveGpu())) {
            notes.push('webgpu skipped: no GPU device on this machine');
            continue;
          }
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
