// Checkpoint files (Node): decode errors name the file; writes are atomic.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/files.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointInfo, type LoadedCheckpoint } from './checkpoint.js';
import type { Model, ModelSpec } from './registry.js';

export async function readCheckpointFile(path: string): Promise<LoadedCheckpoint> {
  if (!existsSync(path)) throw new Error(`checkpoint '${path}' does not exist`);
  return decodeCheckpoint(await readFile(path), `checkpoint '${path}'`);
}

export async function writeCheckpointFile(path: string, model: Model, spec: ModelSpec, info: CheckpointInfo): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(model, spec, info));
}
