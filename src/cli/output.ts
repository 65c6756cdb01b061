// The files the CLI writes: checked before any work starts (a run must not be
// lost to a bad --out at its end), and never left half-written by a signal.

import { constants } from 'node:os';
import { abandonAtomicWrites, checkOutputPath, watchAtomicWrites } from '../io/files.js';
import { escapeControl } from '../util/text.js';
import { CliError } from './flags.js';

/** Refuses an output (`flag`: how the user named it) that cannot be written as a regular file, or that is one of `inputs`, as a usage error. */
export async function checkOutput(command: string, path: string, inputs: readonly string[] = [], flag = '--out'): Promise<void> {
  try {
    await checkOutputPath(path, { inputs });
  } catch (error) {
    throw new CliError(`${command}: ${flag} ${(error as Error).message}`);
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onSignal(signal: NodeJS.Signals): void {
  const targets = abandonAtomicWrites();
  const names = targets.map((t) => `'${escapeControl(t)}'`).join(', ');
  process.stderr.write(targets.length > 0 ? `kat: interrupted; ${names} untouched\n` : 'kat: interrupted\n');
  process.exit(128 + (constants.signals[signal] ?? 0));
}

/**
 * While a file is being written, SIGINT / SIGTERM / SIGHUP remove its
 * temporary file and exit 128 + the signal number (130, 143, 129). At other
 * times the default applies (exit at once): nothing is half-written then,
 * and a handler would wait for the busy training loop to yield.
 */
export function removeTempFilesOnInterrupt(): void {
  watchAtomicWrites((writing) => {
    for (const signal of SIGNALS) {
      if (writing) process.on(signal, onSignal);
      else process.off(signal, onSignal);
    }
  });
}
