// Where the WebGPU autotuner keeps its winners between processes. In Node, one
// JSON file under the project's cache directory (KATJS_CACHE, else
// $XDG_CACHE_HOME/katjs, else ~/.cache/katjs, as for downloads):
//
//   { "format": "katjs-webgpu-tuning", "version": 1,
//     "adapters": { "<adapter key>": { "<kernel>|<shape class>": "<candidate>", ... }, ... } }
//
// The file is replaced by an atomic rename of a fsynced temp file, after
// merging what other processes wrote meanwhile. A file that cannot be read,
// is not JSON, or is not this format and version counts as empty (no error);
// entries that are not strings are dropped. Node built-ins are loaded at run
// time, so a browser build carries none of this (it keeps winners in memory).

import { nodeBuiltin } from '../../util/node_builtin.js';

export const TUNING_FORMAT = 'katjs-webgpu-tuning';
/** Bumped whenever the candidates or the kernels they name change meaning: older files are then ignored. */
export const TUNING_VERSION = 1;
export const TUNING_FILE_NAME = 'webgpu-tuning.json';

/** Winners of one adapter: "<kernel>|<shape class>" -> candidate name. */
export type TuningEntries = Record<string, string>;

export interface TuningStore {
  /** The winners recorded for `adapter` (empty when there are none or the file is unusable). */
  load(adapter: string): Promise<TuningEntries>;
  /** Adds `entries` to those recorded for `adapter`. */
  save(adapter: string, entries: TuningEntries): Promise<void>;
  /** Where it lives (for messages). */
  readonly location: string;
}

/** Parses a tuning file's text; anything unexpected yields an empty record instead of an error. */
export function parseTuningFile(text: string): Record<string, TuningEntries> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isObject(data) || data.format !== TUNING_FORMAT || data.version !== TUNING_VERSION || !isObject(data.adapters)) return {};
  const out: Record<string, TuningEntries> = {};
  for (const [adapter, entries] of Object.entries(data.adapters)) {
    if (!isObject(entries)) continue;
    const kept: TuningEntries = {};
    for (const [key, value] of Object.entries(entries)) if (typeof value === 'string' && value.length < 64) kept[key] = value;
    out[adapter] = kept;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The tuning file's default path: under KATJS_CACHE, $XDG_CACHE_HOME/katjs or ~/.cache/katjs. */
export async function defaultTuningFile(env: Record<string, string | undefined> = process.env): Promise<string> {
  const path = await nodeBuiltin<typeof import('node:path')>('path');
  const os = await nodeBuiltin<typeof import('node:os')>('os');
  let dir: string;
  if (env.KATJS_CACHE) dir = path.resolve(env.KATJS_CACHE);
  else if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) dir = path.join(env.XDG_CACHE_HOME, 'katjs');
  else dir = path.join(env.HOME || env.USERPROFILE || os.homedir(), '.cache', 'katjs');
  return path.join(dir, TUNING_FILE_NAME);
}

/** A store backed by the JSON file at `file` (Node only). */
export function fileTuningStore(file: string): TuningStore {
  async function readAll(): Promise<Record<string, TuningEntries>> {
    const fs = await nodeBuiltin<typeof import('node:fs/promises')>('fs/promises');
    try {
      const handle = await fs.open(file, 'r');
      try {
        const info = await handle.stat();
        if (!info.isFile() || info.size > 4 * 1024 * 1024) return {};
        return parseTuningFile(await handle.readFile('utf8'));
      } finally {
        await handle.close();
      }
    } catch {
      return {};
    }
  }

  return {
    location: file,
    async load(adapter) {
      return { ...(await readAll())[adapter] };
    },
    async save(adapter, entries) {
      const fs = await nodeBuiltin<typeof import('node:fs/promises')>('fs/promises');
      const path = await nodeBuiltin<typeof import('node:path')>('path');
      const all = await readAll();
      all[adapter] = { ...all[adapter], ...entries };
      const text = `${JSON.stringify({ format: TUNING_FORMAT, version: TUNING_VERSION, adapters: all }, null, 1)}\n`;
      await fs.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
      try {
        const handle = await fs.open(tmp, 'wx');
        try {
          await handle.writeFile(text, 'utf8');
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.rename(tmp, file);
      } catch (error) {
        await fs.unlink(tmp).catch(() => undefined);
        throw error;
      }
    },
  };
}

/** A store that keeps nothing (browsers, or the cache switched off). */
export const memoryOnlyStore: TuningStore = {
  location: 'memory',
  load: async () => ({}),
  save: async () => undefined,
};
