// Backend start-up shared by the page's workers: the chosen backend, or the
// CPU with a reason the page shows when WebGPU cannot start.

import { setBackend, type Backend } from 'katjs';
import type { BackendChoice } from './protocol.js';

export interface StartedBackend {
  backend: Backend;
  /** Why WebGPU was not used, or null when the choice started. */
  fallback: string | null;
}

export async function startBackendWithFallback(choice: BackendChoice, what: string): Promise<StartedBackend> {
  try {
    return { backend: await setBackend(choice), fallback: null };
  } catch (error) {
    if (choice === 'cpu') throw error;
    const message = (error as Error).message;
    const reason = !('gpu' in navigator) ? 'this browser has no navigator.gpu'
      : /no adapter/.test(message) ? 'the browser offers no WebGPU adapter' : message;
    return { backend: await setBackend('cpu'), fallback: `WebGPU could not start (${reason}): ${what} on the CPU instead` };
  }
}
