/**
 * Node-only file helpers: atomic writes and safetensors checkpoint files.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsync, lstatSync, openSync, renameSync, unlinkSync, write, type Stats } from 'node:fs';
import { access, lstat, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import { escapeControl } from '../util/text.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsContents,
  type SafetensorsInput,
} from './safetensors.js';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A path in a message: quoted, control characters escaped, never shortened (it is the user's own). */
function quote(path: string): string {
  return `'${escapeControl(path)}'`;
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** 'a directory', 'a character device', 'a regular file', ... for messages. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  return stats.isFile() ? 'a regular file' : 'a special file';
}

export interface CheckOutputOptions {
  /** Files the command reads: the output must not be one of them (compared by device and inode, so links count). */
  inputs?: readonly string[];
}

/**
 * Checks that `path` can be written as a regular file, before any work whose
 * result it would hold: an existing target must be a regular file (renaming
 * over a device or FIFO would replace it), the nearest existing ancestor a
 * writable directory, and the target none of `inputs`. Returns the path to
 * write: a symbolic link's target, so the link itself survives.
 */
export async function checkOutputPath(path: string, options: CheckOutputOptions = {}): Promise<string> {
  if (path === '') throw new Error("'' is an empty path");
  if (path.endsWith('/') || path.endsWith(sep)) throw new Error(`${quote(path)} names a directory, not a file`);
  let target: Stats | undefined;
  try {
    target = await stat(path);
  } catch (err) {
    // ENOTDIR (a path under a file) is reported below, at the ancestor that is not a directory.
    if (errnoOf(err) !== 'ENOENT' && errnoOf(err) !== 'ENOTDIR') throw new Error(`${quote(path)}: ${messageOf(err)}`, { cause: err });
  }
  if (target && !target.isFile()) throw new Error(`${quote(path)} is ${kindOf(target)}, not a regular file`);
  if (target) {
    for (const input of options.inputs ?? []) {
      const source = await stat(input).catch(() => undefined);
      if (source && source.dev === target.dev && source.ino === target.ino) {
        throw new Error(`${quote(path)} is the input ${quote(input)}: writing it would replace what is being read`);
      }
    }
  }
  const real = target && (await lstat(path)).isSymbolicLink() ? await realpath(path) : path;
  // Missing directories are created at write time; the nearest one that exists must take a new file.
  let dir = dirname(real);
  for (;;) {
    let stats: Stats | undefined;
    try {
      stats = await stat(dir);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT' && errnoOf(err) !== 'ENOTDIR') throw new Error(`${quote(path)}: ${messageOf(err)}`, { cause: err });
    }
    if (stats && !stats.isDirectory()) throw new Error(`${quote(path)} is under ${quote(dir)}, which is ${kindOf(stats)}, not a directory`);
    if (stats) break;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new Error(`${quote(path)}: cannot create files in ${quote(dir)} (${errnoOf(err) ?? messageOf(err)})`, { cause: err });
  }
  return real;
}

/** Temporary files being written now, each with its target: what an interrupt must remove. */
const pendingWrites = new Map<string, string>();
let pendingWatcher: ((writing: boolean) => void) | undefined;

/**
 * Registers the one listener told when atomic writes start (true: a
 * temporary file exists) and when the last one ends (false). The CLI handles
 * SIGINT and SIGTERM only in between: elsewhere the default (exit at once)
 * loses nothing, and a handler could not run while training keeps the event
 * loop busy.
 */
export function watchAtomicWrites(listener: ((writing: boolean) => void) | undefined): void {
  pendingWatcher = listener;
}

/** Removes the temporary files of every write in progress (for a signal handler); returns their targets, left untouched. */
export function abandonAtomicWrites(): string[] {
  const targets = [...new Set(pendingWrites.values())];
  for (const tmp of pendingWrites.keys()) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  pendingWrites.clear();
  return targets;
}

/**
 * Marks `tmp` as a temporary file being written for `target` (undefined: no
 * longer). Call it before the file is created: the CLI's signal handler is
 * installed by this call, and a signal that arrives before it takes the
 * default action (exit at once), which would leave the file behind.
 */
export function trackWrite(tmp: string, target: string | undefined): void {
  const before = pendingWrites.size;
  if (target === undefined) pendingWrites.delete(tmp);
  else pendingWrites.set(tmp, target);
  if ((before === 0) !== (pendingWrites.size === 0)) pendingWatcher?.(pendingWrites.size > 0);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

/** Removes `.NAME.PID.HASH.tmp` files beside `path` left by processes that no longer exist (killed with SIGKILL mid-write). */
async function removeStaleTemps(path: string): Promise<void> {
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(path))}\\.(\\d+)\\.[0-9a-f]{12}\\.tmp$`);
  const dir = dirname(path);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || processAlive(pid)) continue;
    const stale = join(dir, name);
    try {
      if (lstatSync(stale).isFile()) unlinkSync(stale);
    } catch {
      // raced with another cleaner
    }
  }
}

const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);

/** Test hook: KATJS_TEST_SLOW_WRITE=MS pauses this long halfway through each atomic write, so tests can interrupt it. */
function slowWriteMs(): number {
  const ms = Number(process.env.KATJS_TEST_SLOW_WRITE ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/**
 * Writes `bytes` to `path` atomically: the data goes to a temporary file in
 * the same directory, is fsynced, and is then renamed over the target. On any
 * failure the temporary file is removed and an existing target is untouched.
 * A target that is not a regular file (a device, FIFO, directory) is refused;
 * a symbolic link is written through.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  let target: string;
  try {
    target = await checkOutputPath(path);
  } catch (err) {
    throw new Error(`failed to write ${quote(path)}: ${messageOf(err)}`, { cause: err });
  }
  const dir = dirname(target);
  await removeStaleTemps(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // Tracked before it exists, so the signal handler is in place by the time the file appears;
    // opening, closing and renaming synchronously: the handler (which runs between
    // event-loop turns) then sees the temp file either absent, tracked, or renamed.
    trackWrite(tmp, path);
    let fd: number;
    try {
      fd = openSync(tmp, 'wx');
    } catch (err) {
      trackWrite(tmp, undefined); // not created: nothing of ours to remove
      throw err;
    }
    try {
      const pause = slowWriteMs();
      let written = 0;
      while (written < bytes.length) {
        const half = pause > 0 && written === 0 ? Math.ceil(bytes.length / 2) : bytes.length - written;
        written += (await writeAsync(fd, bytes, written, half)).bytesWritten;
        if (pause > 0 && written < bytes.length) await new Promise((resolve) => setTimeout(resolve, pause));
      }
      await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
    trackWrite(tmp, undefined);
  } catch (err) {
    if (pendingWrites.has(tmp)) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already removed
      }
      trackWrite(tmp, undefined);
    }
    throw new Error(`failed to write ${quote(path)}: ${messageOf(err)}`, { cause: err });
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
