// --checkpoint SRC for every command: a file, a hub folder, an https:// URL or
// hf:owner/name[@revision], downloaded with a progress line into the cache,
// then decoded with its labels and preprocessing.

import { resolveCheckpoint } from '../io/sources_node.js';
import { loadPretrained, type PretrainedModel } from '../models/pretrained.js';
import { CliError, type FlagValues } from './flags.js';
import { maxMemoryFlag } from './memory.js';
import { bar, ProgressLine } from './progress.js';

export const CHECKPOINT_SOURCE_HELP = 'a file, a hub folder, an https:// URL or hf:owner/name[@revision]';

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** --weights default|ema, --heads N and --max-memory SIZE (else its default), shared by the commands that read checkpoints. */
export function checkpointOptions(command: string, flags: FlagValues):
  { weights?: 'default' | 'ema'; heads?: number; maxMemory: number; maxMemoryText: string } {
  const limit = maxMemoryFlag(command, flags);
  const weights = flags.weights as string | undefined;
  if (weights !== undefined && weights !== 'default' && weights !== 'ema') {
    throw new CliError(`${command}: --weights must be default or ema, got '${weights}'`);
  }
  const heads = flags.heads as number | undefined;
  if (heads !== undefined && (!Number.isInteger(heads) || heads < 1)) throw new CliError(`${command}: --heads must be a positive integer, got ${heads}`);
  return { ...(weights === undefined ? {} : { weights }), ...(heads === undefined ? {} : { heads }), maxMemory: limit.bytes, maxMemoryText: limit.text };
}

/** Fetches (or finds in the cache) and decodes a checkpoint; progress goes to stderr unless `quiet`. */
export async function loadCheckpointSource(source: string,
  options: { weights?: 'default' | 'ema'; heads?: number; quiet?: boolean; maxMemory?: number; maxMemoryText?: string } = {}):
  Promise<PretrainedModel & { name: string }> {
  const progress = new ProgressLine(process.stderr);
  let drawn = false;
  const resolved = await resolveCheckpoint(source, {
    onProgress: options.quiet ? undefined : (received, total, name) => {
      drawn = true;
      progress.update(total ? `download ${name} ${bar(received, total)} ${megabytes(received)} / ${megabytes(total)}`
        : `download ${name} ${megabytes(received)}`);
    },
  });
  if (drawn && progress.interactive) progress.finish(`downloaded ${resolved.name} (${megabytes(resolved.bytes.length)})`);
  const pretrained = loadPretrained(resolved.bytes, `checkpoint '${resolved.name}'`, {
    ...(resolved.config ? { config: resolved.config } : {}),
    ...(options.weights ? { weights: options.weights } : {}),
    ...(options.heads ? { heads: options.heads } : {}),
    // The model is sized from its spec and refused before it is built when over the limit.
    ...(options.maxMemory === undefined ? {} : { maxMemory: options.maxMemory, maxMemoryText: options.maxMemoryText }),
  });
  return { ...pretrained, name: resolved.name };
}
