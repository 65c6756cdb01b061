// --backend: 'auto' picks the best registered backend that starts.

import { registeredBackends } from '../backends/backend.js';
import type { Backend } from '../backends/backend.js';
import { setBackend } from '../tensor/engine.js';
import { CliError } from './flags.js';

/** Preference order for --backend auto. */
const AUTO_ORDER = ['cpu']; // webgpu joins once its kernel table is complete

export async function selectBackend(name: string): Promise<Backend> {
  if (name === 'auto') {
    const failures: string[] = [];
    for (const candidate of AUTO_ORDER.filter((n) => registeredBackends().includes(n))) {
      try {
        return await setBackend(candidate);
      } catch (error) {
        failures.push(`${candidate}: ${(error as Error).message}`);
      }
    }
    throw new CliError(`no backend could start (${failures.join('; ')})`);
  }
  if (!registeredBackends().includes(name)) {
    throw new CliError(`unknown backend '${name}': expected auto, ${registeredBackends().join(', ')}`);
  }
  return setBackend(name);
}
