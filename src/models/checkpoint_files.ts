// Checkpoint files (Node): decode errors name the file; writes are atomic and
// only of bytes that were decoded back into the same model first.

import { decodeTabularPreprocessing, TABULAR_METADATA_KEY } from '../data/csv.js';
import { writeFileAtomic } from '../io/files.js';
import { DEFAULT_MAX_BYTES } from '../io/sources.js';
import { readRegularFile } from '../io/sources_node.js';
import { escapeControl } from '../util/text.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointInfo, type DecodeCheckpointOptions, type LoadedCheckpoint } from './checkpoint.js';
import { loadPretrained } from './pretrained.js';
import type { Model, ModelSpec } from './registry.js';

/** A checkpoint file (regular files only, size-capped) decoded into a model. */
export async function readCheckpointFile(path: string, options: DecodeCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  // Regular files only, size-capped: /dev/zero would grow without end and a FIFO would block forever.
  return decodeCheckpoint(await readRegularFile(path, DEFAULT_MAX_BYTES, 'checkpoint'), `checkpoint '${path}'`, options);
}

/** Equal as JSON values, except that NaN and Infinity (which JSON turns into null) differ from null. */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const keysB = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return keysA.length === keysB.length &&
    keysA.every((k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * Decodes `bytes` as `kat eval` / `info` / `predict` would and checks that they
 * rebuild `model` exactly: the same spec, metadata and every weight and buffer
 * bit for bit. Throws what is wrong otherwise.
 */
async function verifyCheckpoint(bytes: Uint8Array, model: Model, spec: ModelSpec, info: CheckpointInfo, source: string): Promise<void> {
  const loaded = loadPretrained(bytes, source);
  try {
    // Tabular models also need their column encoding to read data again (kat eval, plot, prune).
    const tabular = info[TABULAR_METADATA_KEY];
    if (tabular !== undefined) decodeTabularPreprocessing(tabular, source);
    if (loaded.spec.name !== spec.name || !sameValue(loaded.spec.config, spec.config)) {
      throw new Error(`${source}: its model reads back as ${JSON.stringify(loaded.spec)}, not ${JSON.stringify(spec)} (a non-finite setting?)`);
    }
    for (const key of new Set([...Object.keys(info), ...Object.keys(loaded.info)])) {
      if (loaded.info[key] !== info[key]) throw new Error(`${source}: its metadata '${escapeControl(key)}' does not read back as written`);
    }
    const mine = await model.stateDict();
    const theirs = await loaded.model.stateDict();
    if (mine.size !== theirs.size) throw new Error(`${source} reads back with ${theirs.size} parameters, not ${mine.size}`);
    for (const [name, values] of mine) {
      const back = theirs.get(name);
      if (!back || !sameValues(back.shape, values.shape) || !sameValues(back.values, values.values)) {
        throw new Error(`${source}: parameter '${name}' does not read back with the values written`);
      }
    }
    const buffers = new Map(loaded.model.namedBuffers?.() ?? []);
    for (const [name, buffer] of model.namedBuffers?.() ?? []) {
      const back = buffers.get(name);
      if (!back || !sameValues(await back.data(), await buffer.data())) throw new Error(`${source}: buffer '${name}' does not read back with the values written`);
    }
  } finally {
    loaded.model.dispose();
  }
}

/**
 * Encodes a checkpoint, decodes it back to check it (a file `kat eval` would
 * refuse must never replace a good one), then writes it atomically.
 */
export async function writeCheckpointFile(path: string, model: Model, spec: ModelSpec, info: CheckpointInfo): Promise<void> {
  const bytes = await encodeCheckpoint(model, spec, info);
  try {
    await verifyCheckpoint(bytes, model, spec, info, 'the new checkpoint');
  } catch (error) {
    throw new Error(`not writing '${escapeControl(path)}', as it would not read back: ${(error as Error).message}`, { cause: error });
  }
  await writeFileAtomic(path, bytes);
}
