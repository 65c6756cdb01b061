/**
 * Where a checkpoint comes from: a file path, an http(s) URL or a Hugging
 * Face hub repo (`hf:owner/name[@revision]`). Pure resolution logic shared by
 * the Node edge (sources_node.ts) and the browser edge (sources_browser.ts);
 * no I/O here.
 */
import type { HubModelConfig } from './hub_config.js';

/** Where a checkpoint comes from: a file, a URL, or a Hugging Face hub repo. */
export type CheckpointSource =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'hub'; repo: string; revision: string };

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
/** Weight files looked for in a hub repo, in order of preference. */
export const HUB_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;
export type HubWeightFile = (typeof HUB_WEIGHT_FILES)[number];
export const HUB_CONFIG_FILE = 'config.json';
export const DEFAULT_REVISION = 'main';

/** Default cap on a checkpoint's size. */
export const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
/** Cap on config.json: it is parsed in memory. */
export const MAX_CONFIG_BYTES = 16 * 1024 ** 2;
/** A download with no data for this long is abandoned. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** A checkpoint's bytes, with the hub config.json that came with it, if any. */
export interface ResolvedCheckpoint {
  bytes: Uint8Array;
  /** For messages: the path, URL or hf:repo@rev/file. */
  name: string;
  weightsFile: string;
  config?: HubModelConfig;
  configText?: string;
}

/** Why a hub repo segment is invalid, or undefined when it is fine (huggingface_hub's rules). */
function repoSegmentProblem(segment: string): string | undefined {
  if (segment.length === 0) return 'is empty';
  if (segment.length > 96) return 'is longer than 96 characters';
  if (!/^[A-Za-z0-9._-]+$/.test(segment)) return 'may only contain letters, digits, ".", "_" and "-"';
  if (!/^[A-Za-z0-9_]/.test(segment) || !/[A-Za-z0-9_]$/.test(segment)) {
    return 'must start and end with a letter, digit or "_"';
  }
  // '--' is also what joins owner and name in cache folder names.
  if (segment.includes('--') || segment.includes('..')) return 'may not contain "--" or ".."';
  return undefined;
}

/** Throws unless `repo` is `owner/name` with valid segments. */
export function validateHubRepo(repo: string): void {
  const parts = repo.split('/');
  if (parts.length !== 2) {
    throw new Error(`hub repo must be 'owner/name' with exactly one '/', got '${repo}'`);
  }
  for (const [i, part] of parts.entries()) {
    const problem = repoSegmentProblem(part);
    if (problem) throw new Error(`hub repo '${repo}': the ${i === 0 ? 'owner' : 'name'} ${problem}`);
  }
}

/** Throws unless `revision` is a plausible branch, tag or commit name. */
export function validateHubRevision(revision: string): void {
  if (revision.length === 0) throw new Error('hub revision after "@" is empty');
  if (revision.length > 256) throw new Error('hub revision is longer than 256 characters');
  // Printable ASCII without spaces or backslashes; '..' is not a legal git ref either.
  if (!/^[\x21-\x7e]+$/.test(revision) || revision.includes('\\') || revision.includes('..')) {
    throw new Error(`hub revision '${revision}' has characters a git ref cannot have`);
  }
}

/**
 * 'hf:owner/name[@revision]' (revision defaults to main), 'http(s)://...'
 * URLs (normalised by WHATWG URL), anything else is a file path.
 */
export function parseCheckpointSource(text: string): CheckpointSource {
  if (text.trim().length === 0) throw new Error('checkpoint source is empty');
  if (text.startsWith('hf:')) {
    const body = text.slice(3);
    const at = body.indexOf('@');
    const repo = at < 0 ? body : body.slice(0, at);
    const revision = at < 0 ? DEFAULT_REVISION : body.slice(at + 1);
    try {
      validateHubRepo(repo);
      validateHubRevision(revision);
    } catch (err) {
      throw new Error(`bad hub source '${text}' (want hf:owner/name[@revision]): ${(err as Error).message}`, {
        cause: err,
      });
    }
    return { kind: 'hub', repo, revision };
  }
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch (err) {
      throw new Error(`bad URL '${text}'`, { cause: err });
    }
    if (url.hostname === '') throw new Error(`bad URL '${text}': no host`);
    return { kind: 'url', url: url.href };
  }
  return { kind: 'file', path: text };
}

/** The download URL of `file` in a hub repo at `revision`. */
export function hubFileUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** The name used in messages for a hub file: `hf:owner/name@rev/file`. */
export function hubSourceName(repo: string, revision: string, file: string): string {
  return `hf:${repo}@${revision}/${file}`;
}

/** Cache folder of a (validated) repo: `owner--name`, as huggingface_hub does. */
export function hubCacheFolder(repo: string): string {
  return repo.replace('/', '--');
}

/**
 * A file-system-safe, one-to-one name for a revision: bytes outside
 * [A-Za-z0-9._-] become %XX, so 'refs/pr/1' is 'refs%2Fpr%2F1'.
 */
export function revisionCacheFolder(revision: string): string {
  // '.' alone would name the parent folder itself.
  if (revision === '.') return '%2E';
  let out = '';
  for (const byte of new TextEncoder().encode(revision)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9._-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A safe file name for a downloaded URL: the last path segment, sanitised. */
export function urlFileName(url: string): string {
  let last = '';
  try {
    const segments = new URL(url).pathname.split('/');
    last = decodeURIComponent(segments[segments.length - 1] ?? '');
  } catch {
    last = '';
  }
  const safe = last.replace(/[^A-Za-z0-9._-]/g, '_').slice(-128);
  return safe === '' || /^\.+$/.test(safe) ? 'download' : safe;
}

/** The error text for a failed HTTP request; 401/403 point at HF_TOKEN. */
export function httpErrorMessage(url: string, status: number, statusText: string, hub = false): string {
  const head = `GET ${url} failed: HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  if (status === 401 || status === 403) {
    return hub
      ? `${head} (the repo may be private, gated or missing: set HF_TOKEN to a Hugging Face access token that can read it)`
      : `${head} (the server wants credentials)`;
  }
  return head;
}

/** A Content-Length header as a byte count, or undefined when absent or unusable. */
export function parseContentLength(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
