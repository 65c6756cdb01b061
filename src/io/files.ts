/**
 * Node-only file helpers: atomic writes and safetensors checkpoint files.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsContents,
  type SafetensorsInput,
} from './safetensors.js';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Writes `bytes` to `path` atomically: the data goes to a temporary file in
 * the same directory, is fsynced, and is then renamed over the target. On any
 * failure the temporary file is removed and an existing target is untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(
    dir,
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let created = false;
  try {
    const handle = await open(tmp, 'wx');
    created = true;
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    created = false;
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw new Error(`failed to write '${path}': ${messageOf(err)}`, { cause: err });
  }
  // Best effort: persist the rename itself. Not every platform allows
  // fsync on a directory, so errors here are ignored.
  try {
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // ignored
  }
}

/** Reads and decodes a safetensors checkpoint; errors name the path. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new Error(`checkpoint '${path}' does not exist`, { cause: err });
    }
    throw new Error(`cannot read checkpoint '${path}': ${messageOf(err)}`, { cause: err });
  }
  return decodeSafetensors(bytes, `checkpoint '${path}'`);
}

/**
 * Encodes float32 tensors as safetensors and writes them atomically. Encoding
 * happens before anything touches the disk, so invalid tensors leave any
 * existing file as it was.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  await writeFileAtomic(path, bytes);
}
