/**
 * The browser edge of checkpoint sources: fetch, no disk (the Cache API when
 * there is one). The streaming download helpers use only web-standard APIs,
 * so the Node edge (sources_node.ts) shares them.
 */
import { parseHubConfig, type HubModelConfig } from './hub_config.js';
import {
  DEFAULT_HF_ENDPOINT,
  DEFAULT_MAX_BYTES,
  DEFAULT_TIMEOUT_MS,
  HUB_CONFIG_FILE,
  HUB_WEIGHT_FILES,
  MAX_CONFIG_BYTES,
  formatBytes,
  httpErrorMessage,
  hubFileUrl,
  hubSourceName,
  parseCheckpointSource,
  parseContentLength,
  urlFileName,
  type ResolvedCheckpoint,
} from './sources.js';

export type ProgressCallback = (received: number, total: number | undefined, name: string) => void;

export interface DownloadOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Abandon the download after this long without data (default 60 s). */
  timeoutMs?: number;
  maxBytes?: number;
  /** Passed to onProgress; defaults to the URL. */
  name?: string;
  onProgress?: ProgressCallback;
  /** Resolve to null on HTTP 404 instead of throwing. */
  allow404?: boolean;
  /** Hub request: 401/403 messages mention HF_TOKEN. */
  hub?: boolean;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici wraps the socket error ("other side closed", ECONNREFUSED) in `cause`.
  const cause = err.cause;
  const inner =
    cause instanceof Error ? cause.message || (cause as { code?: string }).code : typeof cause === 'string' ? cause : undefined;
  return inner && inner !== err.message ? `${err.message}: ${inner}` : err.message;
}

/**
 * GETs `url` and hands the body to `sink` chunk by chunk, enforcing maxBytes,
 * the stall timeout, an AbortSignal and Content-Length (a short body is an
 * error). Resolves to null on 404 when `allow404`.
 */
export async function streamDownload(
  url: string,
  options: DownloadOptions,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<{ received: number; total: number | undefined } | null> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const name = options.name ?? url;
  const external = options.signal;
  if (external?.aborted) throw new Error(`download of ${url} aborted`);

  const controller = new AbortController();
  let stop: 'abort' | 'timeout' | undefined;
  const onAbort = (): void => {
    stop ??= 'abort';
    controller.abort();
  };
  external?.addEventListener('abort', onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      stop ??= 'timeout';
      controller.abort();
    }, timeoutMs);
  };
  // Our own abort reasons read better than fetch's generic AbortError.
  const stopped = (): Error | undefined =>
    stop === 'abort'
      ? new Error(`download of ${url} aborted`)
      : stop === 'timeout'
        ? new Error(`download of ${url} stalled: no data for ${timeoutMs / 1000} s`)
        : undefined;

  try {
    arm();
    let response: Response;
    try {
      response = await fetch(url, {
        ...(options.headers ? { headers: options.headers } : {}),
        signal: controller.signal,
        redirect: 'follow',
      });
    } catch (err) {
      throw stopped() ?? new Error(`cannot download ${url}: ${errorText(err)}`, { cause: err });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 404 && options.allow404) return null;
      throw new Error(httpErrorMessage(url, response.status, response.statusText, options.hub));
    }
    // With Content-Encoding, fetch decodes and Content-Length counts encoded bytes.
    const encoding = response.headers.get('content-encoding');
    const total =
      encoding && encoding.toLowerCase() !== 'identity'
        ? undefined
        : parseContentLength(response.headers.get('content-length'));
    if (total !== undefined && total > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`${url} is ${formatBytes(total)}, over the ${formatBytes(maxBytes)} limit`);
    }

    let received = 0;
    if (response.body) {
      const reader = response.body.getReader();
      let finished = false;
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            throw (
              stopped() ??
              new Error(
                total !== undefined
                  ? `download of ${url} truncated: got ${received} of ${total} bytes (${errorText(err)})`
                  : `download of ${url} failed after ${received} bytes: ${errorText(err)}`,
                { cause: err },
              )
            );
          }
          if (chunk.done) {
            finished = true;
            break;
          }
          arm();
          received += chunk.value.byteLength;
          if (received > maxBytes) throw new Error(`download of ${url} exceeds the ${formatBytes(maxBytes)} limit`);
          await sink(chunk.value);
          options.onProgress?.(received, total, name);
        }
      } finally {
        // Closes the connection when we stop early.
        if (!finished) await reader.cancel().catch(() => undefined);
      }
    }
    if (total !== undefined && received !== total) {
      throw new Error(`download of ${url} truncated: got ${received} of ${total} bytes`);
    }
    const stoppedLate = stopped();
    if (stoppedLate) throw stoppedLate;
    return { received, total };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    external?.removeEventListener('abort', onAbort);
  }
}

/** streamDownload into memory. */
export async function downloadBytes(url: string, options: DownloadOptions): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  const result = await streamDownload(url, options, (chunk) => {
    chunks.push(chunk);
  });
  if (result === null) return null;
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(result.received);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Options of resolveCheckpointBrowser(): hub endpoint, token, progress. */
export interface BrowserFetchOptions {
  /** Hub endpoint; defaults to https://huggingface.co. */
  endpoint?: string;
  /** Hugging Face access token for private or gated repos. */
  token?: string;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  timeoutMs?: number;
  maxBytes?: number;
  /** Keep downloads in the Cache API when the page has it (default true). */
  useCache?: boolean;
  /** Base for relative paths (defaults to the page's location). */
  baseUrl?: string;
}

const CACHE_NAME = 'katjs-checkpoints-v1';

async function openCache(enabled: boolean): Promise<Cache | undefined> {
  if (!enabled || typeof caches === 'undefined') return undefined;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    // Opaque origins and some private modes refuse the Cache API.
    return undefined;
  }
}

async function cached(cache: Cache | undefined, url: string): Promise<Uint8Array | undefined> {
  if (!cache) return undefined;
  try {
    const hit = await cache.match(url);
    return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
  } catch {
    return undefined;
  }
}

async function remember(cache: Cache | undefined, url: string, bytes: Uint8Array): Promise<void> {
  if (!cache) return;
  // Quota errors only cost a re-download next time.
  await cache.put(url, new Response(bytes.slice())).catch(() => undefined);
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

/**
 * Resolves a checkpoint in the browser: a picked File/Blob is read directly;
 * URLs and `hf:owner/name[@rev]` are fetched (config.json, then
 * model.safetensors, falling back to pytorch_model.bin); a relative path is
 * fetched relative to the page.
 */
export async function resolveCheckpointBrowser(
  source: string | File | Blob,
  options: BrowserFetchOptions = {},
): Promise<ResolvedCheckpoint> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (isBlob(source)) {
    const fileName = (source as { name?: unknown }).name;
    const name = typeof fileName === 'string' && fileName !== '' ? fileName : 'checkpoint';
    if (source.size > maxBytes) {
      throw new Error(`checkpoint '${name}' is ${formatBytes(source.size)}, over the ${formatBytes(maxBytes)} limit`);
    }
    return { bytes: new Uint8Array(await source.arrayBuffer()), name, weightsFile: name };
  }

  const parsed = parseCheckpointSource(source);
  const cache = await openCache(options.useCache ?? true);
  const base: DownloadOptions = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    maxBytes,
  };
  const fetchUrl = async (url: string): Promise<ResolvedCheckpoint> => {
    let bytes = await cached(cache, url);
    if (!bytes) {
      bytes = (await downloadBytes(url, { ...base, name: url }))!;
      await remember(cache, url, bytes);
    }
    return { bytes, name: url, weightsFile: urlFileName(url) };
  };

  if (parsed.kind === 'url') return fetchUrl(parsed.url);
  if (parsed.kind === 'file') {
    const page = options.baseUrl ?? (globalThis as { location?: { href?: string } }).location?.href;
    if (!page) {
      throw new Error(`cannot read the file '${parsed.path}' here: pass a File, an http(s) URL or hf:owner/name`);
    }
    return fetchUrl(new URL(parsed.path, page).href);
  }

  const { repo, revision } = parsed;
  const endpoint = options.endpoint ?? DEFAULT_HF_ENDPOINT;
  const hub: DownloadOptions = {
    ...base,
    hub: true,
    allow404: true,
    ...(options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
  };
  const configUrl = hubFileUrl(endpoint, repo, revision, HUB_CONFIG_FILE);
  let configBytes = await cached(cache, configUrl);
  const configCached = configBytes !== undefined;
  let weights: { file: string; url: string; bytes: Uint8Array } | undefined;
  for (const file of HUB_WEIGHT_FILES) {
    const url = hubFileUrl(endpoint, repo, revision, file);
    const bytes = await cached(cache, url);
    if (bytes) {
      weights = { file, url, bytes };
      break;
    }
  }
  let config: HubModelConfig | undefined;
  let configText: string | undefined;
  if (!configBytes) {
    // A 404 is fine: a repo without config.json still loads.
    configBytes =
      (await downloadBytes(configUrl, {
        ...hub,
        maxBytes: Math.min(maxBytes, MAX_CONFIG_BYTES),
        name: hubSourceName(repo, revision, HUB_CONFIG_FILE),
      })) ?? undefined;
  }
  if (configBytes) {
    configText = new TextDecoder().decode(configBytes);
    config = parseHubConfig(configText, configUrl);
  }
  if (!weights) {
    const tried: string[] = [];
    for (const file of HUB_WEIGHT_FILES) {
      const url = hubFileUrl(endpoint, repo, revision, file);
      const bytes = await downloadBytes(url, { ...hub, name: hubSourceName(repo, revision, file) });
      if (bytes) {
        weights = { file, url, bytes };
        await remember(cache, url, bytes);
        break;
      }
      tried.push(`${file} (${url})`);
    }
    if (!weights) {
      throw new Error(
        `hf:${repo}@${revision} has no weights: tried ${tried.join(' and ')}, all 404 Not Found (does the repo or revision exist?)`,
      );
    }
  }
  // Stored after the weights, as on disk: a failed weights download caches nothing.
  if (configBytes && !configCached) await remember(cache, configUrl, configBytes);
  return {
    bytes: weights.bytes,
    name: hubSourceName(repo, revision, weights.file),
    weightsFile: weights.file,
    ...(config ? { config, configText: configText! } : {}),
  };
}
