/**
 * The Node edge of checkpoint sources: local files and hub folders, and
 * downloads of URLs and hub repos into an on-disk cache.
 *
 * Cache layout (under defaultCacheDir()):
 *   url/<sha256(url) first 16 hex>/<basename>
 *   hub/<owner>--<name>/<revision, %-escaped>/{config.json, model.safetensors | pytorch_model.bin}
 * Every file lands by an atomic rename of a fsynced temp file, so a cache
 * entry is always complete; a failed download leaves nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { mkdir, open, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

import { trackWrite, writeFileAtomic } from './files.js';
import { parseHubConfig, type HubModelConfig } from './hub_config.js';
import {
  DEFAULT_HF_ENDPOINT,
  DEFAULT_MAX_BYTES,
  HUB_CONFIG_FILE,
  HUB_WEIGHT_FILES,
  MAX_CONFIG_BYTES,
  formatBytes,
  hubCacheFolder,
  hubFileUrl,
  hubSourceName,
  parseCheckpointSource,
  revisionCacheFolder,
  urlFileName,
  type HubWeightFile,
  type ResolvedCheckpoint,
} from './sources.js';
import { downloadBytes, streamDownload, type DownloadOptions } from './sources_browser.js';

/** Options of resolveCheckpoint(): cache, environment, progress, offline mode and download limits. */
export interface FetchOptions {
  /** Cache root; defaults to defaultCacheDir(env). */
  cacheDir?: string;
  /** Environment for KATJS_CACHE, XDG_CACHE_HOME, HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE. */
  env?: NodeJS.ProcessEnv;
  onProgress?: (received: number, total: number | undefined, name: string) => void;
  /** Use only the cache (also when HF_HUB_OFFLINE is set). */
  offline?: boolean;
  /** Largest checkpoint accepted (default 4 GiB). */
  maxBytes?: number;
  /** Aborts a download; its temp file is removed. */
  signal?: AbortSignal;
  /** Abandon a download after this long without data (default 60 s). */
  timeoutMs?: number;
}

/** KATJS_CACHE, else $XDG_CACHE_HOME/katjs, else ~/.cache/katjs. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KATJS_CACHE) return resolve(env.KATJS_CACHE);
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'katjs');
  const home = env.HOME || env.USERPROFILE || homedir();
  return join(home, '.cache', 'katjs');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

async function isRegularFile(path: string): Promise<boolean> {
  return (await statOrUndefined(path))?.isFile() ?? false;
}

/**
 * Reads a regular file of at most maxBytes. Anything else is refused before
 * it is opened: reading a FIFO blocks, a device may never end, and opening
 * some devices has side effects. Shared by every command that reads a file
 * (checkpoints, CSV tables, CIFAR-10 batches); `what` names it in errors.
 */
export async function readRegularFile(path: string, maxBytes: number, what: string): Promise<Uint8Array> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`${what} '${path}' does not exist`, { cause: err });
    throw new Error(`cannot read ${what} '${path}': ${messageOf(err)}`, { cause: err });
  }
  if (st.isDirectory()) throw new Error(`${what} '${path}' is a directory, not a file`);
  if (!st.isFile()) throw new Error(`${what} '${path}' is ${kindOf(st)}, not a regular file; refusing to read it`);
  if (st.size > maxBytes) {
    throw new Error(`${what} '${path}' is ${formatBytes(st.size)}, over the ${formatBytes(maxBytes)} limit`);
  }
  let handle: FileHandle;
  try {
    // O_NONBLOCK: should the path turn into a FIFO after the stat, open must not hang.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new Error(`cannot read ${what} '${path}': ${messageOf(err)}`, { cause: err });
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== st.ino || opened.dev !== st.dev) {
      throw new Error(`${what} '${path}' changed while it was being opened`);
    }
    const size = Math.min(opened.size, maxBytes);
    const out = new Uint8Array(size);
    let offset = 0;
    try {
      while (offset < size) {
        const { bytesRead } = await handle.read(out, offset, size - offset, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
    } catch (err) {
      throw new Error(`cannot read ${what} '${path}': ${messageOf(err)}`, { cause: err });
    }
    // A file truncated meanwhile yields what it still has.
    return offset === size ? out : out.subarray(0, offset);
  } finally {
    await handle.close();
  }
}

/** The weights file of a hub-style folder (config.json plus weights), if it is one. */
async function hubFolderWeights(dir: string, needConfig: boolean): Promise<HubWeightFile | undefined> {
  if (needConfig && !(await isRegularFile(join(dir, HUB_CONFIG_FILE)))) return undefined;
  for (const file of HUB_WEIGHT_FILES) {
    if (await isRegularFile(join(dir, file))) return file;
  }
  return undefined;
}

async function readConfig(path: string, label: string): Promise<{ config: HubModelConfig; configText: string }> {
  const configText = new TextDecoder().decode(await readRegularFile(path, MAX_CONFIG_BYTES, 'config'));
  return { config: parseHubConfig(configText, label), configText };
}

/** Reads a hub-style folder: its weights and, when present, config.json. */
async function readRepoFolder(
  dir: string,
  weightsFile: HubWeightFile,
  withConfig: boolean,
  name: string,
  maxBytes: number,
): Promise<ResolvedCheckpoint> {
  const configPath = join(dir, HUB_CONFIG_FILE);
  const config = withConfig ? await readConfig(configPath, configPath) : undefined;
  const bytes = await readRegularFile(join(dir, weightsFile), maxBytes, 'checkpoint');
  return { bytes, name, weightsFile, ...(config ?? {}) };
}

/** Removes `dir` and its parents up to `top` while they are empty (what a failed download created). */
async function pruneEmptyDirs(dir: string, top: string): Promise<void> {
  const stop = resolve(top);
  for (let d = resolve(dir); d.length >= stop.length; d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === stop || d === dirname(d)) return;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
    written += bytesWritten;
  }
}

/**
 * Downloads `url` to `dest` through `.NAME.PID.RANDOM.tmp` beside it: fsync,
 * then an atomic rename. On any failure (HTTP error, reset, short body, abort,
 * timeout) the temp file and any folders made for it are removed. Resolves to
 * false on a 404 when `allow404`.
 */
async function downloadToFile(url: string, dest: string, options: DownloadOptions): Promise<boolean> {
  const dir = dirname(dest);
  const created = await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(dest)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  let done = false;
  const openTemp = async (): Promise<FileHandle> => {
    try {
      return await open(tmp, 'wx');
    } catch (err) {
      // Another process's failed download may have pruned the folder just now.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dir, { recursive: true });
      return open(tmp, 'wx');
    }
  };
  // Tracked before the file can exist: an interrupt (the CLI's SIGINT/SIGTERM handler) removes it.
  trackWrite(tmp, dest);
  try {
    // The temp file is opened with the first byte, so a 404 creates nothing.
    const result = await streamDownload(url, options, async (chunk) => {
      handle ??= await openTemp();
      await writeAll(handle, chunk);
    });
    if (result === null) return false;
    handle ??= await openTemp();
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, dest);
    done = true;
    return true;
  } finally {
    if (!done) {
      await handle?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      if (created !== undefined) await pruneEmptyDirs(dir, created);
    }
    trackWrite(tmp, undefined);
  }
}

interface Context {
  env: NodeJS.ProcessEnv;
  cacheDir: string;
  maxBytes: number;
  offline: boolean;
  download: DownloadOptions;
}

async function resolveFile(path: string, ctx: Context): Promise<ResolvedCheckpoint> {
  const st = await statOrUndefined(path);
  if (st?.isDirectory()) {
    // Only a hub-style folder; a config.json beside a weights file is never read implicitly.
    const weights = await hubFolderWeights(path, true);
    if (!weights) {
      throw new Error(
        `checkpoint '${path}' is a directory; a local hub folder needs ${HUB_CONFIG_FILE} and ${HUB_WEIGHT_FILES.join(' or ')}`,
      );
    }
    return readRepoFolder(path, weights, true, join(path, weights), ctx.maxBytes);
  }
  const bytes = await readRegularFile(path, ctx.maxBytes, 'checkpoint');
  return { bytes, name: path, weightsFile: basename(path) };
}

async function resolveUrl(url: string, ctx: Context): Promise<ResolvedCheckpoint> {
  const key = createHash('sha256').update(url).digest('hex').slice(0, 16);
  const weightsFile = urlFileName(url);
  const dest = join(ctx.cacheDir, 'url', key, weightsFile);
  if (!(await isRegularFile(dest))) {
    if (ctx.offline) throw new Error(`${url} is not in the cache (${dest}) and offline mode is on`);
    await downloadToFile(url, dest, { ...ctx.download, name: url });
  }
  const bytes = await readRegularFile(dest, ctx.maxBytes, 'cached checkpoint');
  return { bytes, name: url, weightsFile };
}

async function resolveHub(repo: string, revision: string, ctx: Context): Promise<ResolvedCheckpoint> {
  const dir = join(ctx.cacheDir, 'hub', hubCacheFolder(repo), revisionCacheFolder(revision));
  const configPath = join(dir, HUB_CONFIG_FILE);
  const configCached = await isRegularFile(configPath);
  const cachedWeights = await hubFolderWeights(dir, false);
  // A complete entry needs no request at all; offline, the weights alone do.
  if (cachedWeights && (configCached || ctx.offline)) {
    return readRepoFolder(dir, cachedWeights, configCached, hubSourceName(repo, revision, cachedWeights), ctx.maxBytes);
  }
  if (ctx.offline) {
    throw new Error(`hf:${repo}@${revision} is not in the cache (${dir}) and offline mode is on`);
  }

  const endpoint = ctx.env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT;
  const token = ctx.env.HF_TOKEN || ctx.env.HUGGING_FACE_HUB_TOKEN;
  const hub: DownloadOptions = {
    ...ctx.download,
    hub: true,
    allow404: true,
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  };

  let config: { config: HubModelConfig; configText: string } | undefined;
  let freshConfig: Uint8Array | undefined;
  if (configCached) {
    config = await readConfig(configPath, configPath);
  } else {
    // Parsed before the weights download so a bad config fails fast; written last.
    const url = hubFileUrl(endpoint, repo, revision, HUB_CONFIG_FILE);
    const bytes = await downloadBytes(url, {
      ...hub,
      maxBytes: Math.min(ctx.maxBytes, MAX_CONFIG_BYTES),
      name: hubSourceName(repo, revision, HUB_CONFIG_FILE),
    });
    if (bytes) {
      const configText = new TextDecoder().decode(bytes);
      config = { config: parseHubConfig(configText, url), configText };
      freshConfig = bytes;
    }
  }

  let weightsFile = cachedWeights;
  if (!weightsFile) {
    const tried: string[] = [];
    for (const file of HUB_WEIGHT_FILES) {
      const url = hubFileUrl(endpoint, repo, revision, file);
      if (await downloadToFile(url, join(dir, file), { ...hub, name: hubSourceName(repo, revision, file) })) {
        weightsFile = file;
        break;
      }
      tried.push(`${file} (${url})`);
    }
    if (!weightsFile) {
      throw new Error(
        `hf:${repo}@${revision} has no weights: tried ${tried.join(' and ')}, all 404 Not Found (does the repo or revision exist?)`,
      );
    }
  }
  if (freshConfig) await writeFileAtomic(configPath, freshConfig);
  const bytes = await readRegularFile(join(dir, weightsFile), ctx.maxBytes, 'cached checkpoint');
  return { bytes, name: hubSourceName(repo, revision, weightsFile), weightsFile, ...(config ?? {}) };
}

/**
 * Resolves a checkpoint source (a file, a local hub folder, an http(s) URL or
 * `hf:owner/name[@revision]`) to its bytes, downloading into the cache when
 * needed.
 */
export async function resolveCheckpoint(source: string, options: FetchOptions = {}): Promise<ResolvedCheckpoint> {
  const parsed = parseCheckpointSource(source);
  const env = options.env ?? process.env;
  const ctx: Context = {
    env,
    cacheDir: options.cacheDir !== undefined ? resolve(options.cacheDir) : defaultCacheDir(env),
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    offline: options.offline ?? isTrue(env.HF_HUB_OFFLINE),
    download: {
      maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    },
  };
  switch (parsed.kind) {
    case 'file':
      return resolveFile(parsed.path, ctx);
    case 'url':
      return resolveUrl(parsed.url, ctx);
    case 'hub':
      return resolveHub(parsed.repo, parsed.revision, ctx);
  }
}
