import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  DEFAULT_HF_ENDPOINT,
  HUB_WEIGHT_FILES,
  hubFileUrl,
  parseCheckpointSource,
  revisionCacheFolder,
  urlFileName,
} from '../src/io/sources.js';
import { defaultCacheDir, resolveCheckpoint } from '../src/io/sources_node.js';
import { resolveCheckpointBrowser } from '../src/io/sources_browser.js';

// build/test/*.js -> test/fixtures
const TORCH_DIR = fileURLToPath(new URL('../../test/fixtures/torch/', import.meta.url));
const HUB_DIR = join(TORCH_DIR, 'hub_kat_small32');
const WEIGHTS = readFileSync(join(HUB_DIR, 'pytorch_model.bin'));
const CONFIG_TEXT = readFileSync(join(HUB_DIR, 'config.json'), 'utf8');
const REPO = 'katjs/kat-small32';
const REVISIONS = new Set(['main', 'v1.0', 'refs/pr/1']);

// ---------------------------------------------------------------------------
// A stand-in for the hub: /<owner>/<name>/resolve/<rev>/<file> serves
// HUB_DIR (model.safetensors 404s so the fallback runs), /files/<name> serves
// TORCH_DIR, /cdn/<file> is where weight redirects go.
// ---------------------------------------------------------------------------

interface Seen {
  path: string;
  authorization: string | undefined;
}

interface Behaviour {
  /** Hub files that 404. */
  missing: Set<string>;
  /** Require `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** Send Content-Length, half the body, then close the socket. */
  failHalfway: Set<string>;
  /** Send Content-Length and half the body, then nothing. */
  stall: Set<string>;
  /** Send without Content-Length (chunked). */
  chunked: boolean;
  /** Weights via a 302 to /cdn/<file>, as the hub does. */
  redirect: boolean;
  /** Replace a file's body. */
  bodies: Map<string, string | Buffer>;
  /** Answer every request with this status. */
  status: number | undefined;
}

function freshBehaviour(): Behaviour {
  return {
    missing: new Set(['model.safetensors']),
    token: undefined,
    failHalfway: new Set(),
    stall: new Set(),
    chunked: false,
    redirect: false,
    bodies: new Map(),
    status: undefined,
  };
}

class HubServer {
  readonly seen: Seen[] = [];
  behaviour = freshBehaviour();
  private server: Server | undefined;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  get paths(): string[] {
    return this.seen.map((s) => s.path);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    this.seen.push({ path, authorization: req.headers.authorization });
    const b = this.behaviour;
    if (b.status !== undefined) return this.plain(res, b.status, 'nope');
    if (b.token !== undefined && req.headers.authorization !== `Bearer ${b.token}`) {
      return this.plain(res, 401, 'Invalid credentials');
    }
    const parts = path.split('/').slice(1).map(decodeURIComponent);
    if (parts.length === 5 && parts[2] === 'resolve') {
      const [owner, name, , revision, file] = parts as [string, string, string, string, string];
      if (`${owner}/${name}` !== REPO || !REVISIONS.has(revision) || b.missing.has(file)) {
        return this.plain(res, 404, 'Entry not found');
      }
      if (b.redirect && file !== 'config.json') {
        res.writeHead(302, { location: `/cdn/${file}` });
        return void res.end();
      }
      return this.file(res, join(HUB_DIR, file), file);
    }
    if (parts.length === 2 && parts[0] === 'cdn') return this.file(res, join(HUB_DIR, parts[1]!), parts[1]!);
    if (parts.length === 2 && parts[0] === 'files') return this.file(res, join(TORCH_DIR, parts[1]!), parts[1]!);
    this.plain(res, 404, 'Not found');
  }

  private plain(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(text);
  }

  private file(res: ServerResponse, path: string, name: string): void {
    const b = this.behaviour;
    let body: Buffer;
    const replaced = b.bodies.get(name);
    if (replaced !== undefined) body = Buffer.from(replaced);
    else if (existsSync(path) && !path.endsWith('/')) body = readFileSync(path);
    else return this.plain(res, 404, 'Not found');
    const half = body.subarray(0, body.length >> 1);
    if (b.failHalfway.has(name)) {
      res.writeHead(200, { 'content-length': body.length });
      res.write(half, () => res.destroy());
      return;
    }
    if (b.stall.has(name)) {
      res.writeHead(200, { 'content-length': body.length });
      res.write(half);
      return;
    }
    res.writeHead(200, b.chunked ? { 'content-type': 'application/octet-stream' } : { 'content-length': body.length });
    res.end(body);
  }
}

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await readdir(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(rel);
      else out.push(rel);
    }
  };
  await walk('');
  return out.sort();
}

/** An endpoint on a port nobody listens on (fetch refuses some low ports outright). */
async function deadEndpoint(): Promise<string> {
  const probe = new HubServer();
  await probe.start();
  await probe.close();
  return probe.endpoint;
}

async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `katjs-${label}-`));
}

const server = new HubServer();
let cache = '';
let env: NodeJS.ProcessEnv = {};

before(async () => {
  await server.start();
});
after(async () => {
  await server.close();
});
beforeEach(async () => {
  server.behaviour = freshBehaviour();
  server.seen.length = 0;
  cache = await tempDir('cache');
  env = { KATJS_CACHE: cache, HF_ENDPOINT: server.endpoint };
});

// ---------------------------------------------------------------------------

describe('parseCheckpointSource', () => {
  it('reads hub sources, URLs and paths', () => {
    assert.deepEqual(parseCheckpointSource('hf:katjs/kat-small32'), { kind: 'hub', repo: REPO, revision: 'main' });
    assert.deepEqual(parseCheckpointSource('hf:timm/kat_tiny_patch16_224.vitft@v1.0'), {
      kind: 'hub',
      repo: 'timm/kat_tiny_patch16_224.vitft',
      revision: 'v1.0',
    });
    assert.deepEqual(parseCheckpointSource('hf:a/b@refs/pr/1'), { kind: 'hub', repo: 'a/b', revision: 'refs/pr/1' });
    assert.deepEqual(parseCheckpointSource('https://example.com/m/model.safetensors?x=1'), {
      kind: 'url',
      url: 'https://example.com/m/model.safetensors?x=1',
    });
    assert.deepEqual(parseCheckpointSource('HTTP://Example.COM/a b.pth'), { kind: 'url', url: 'http://example.com/a%20b.pth' });
    for (const path of ['model.pth', './hf:x/y', '/abs/model.safetensors', 'C:\\models\\a.pth', 'hf', 'hfx:a/b', 'huggingface.co/a/b', 'ftp://x/y']) {
      assert.deepEqual(parseCheckpointSource(path), { kind: 'file', path }, path);
    }
  });

  it('rejects bad repo names, revisions and URLs', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['hf:', /exactly one '\/'/],
      ['hf:owner', /exactly one '\/'/],
      ['hf:a/b/c', /exactly one '\/'/],
      ['hf:/b', /owner is empty/],
      ['hf:a/', /name is empty/],
      ['hf:a b/c', /owner may only contain/],
      ['hf:a/b!', /name may only contain/],
      ['hf:../x', /owner must start and end/],
      ['hf:a/..', /name must start and end/],
      ['hf:a/b..c', /may not contain "--" or "\.\."/],
      ['hf:a--b/c', /may not contain "--"/],
      ['hf:-a/b', /must start and end/],
      ['hf:a/b.', /must start and end/],
      [`hf:${'x'.repeat(97)}/b`, /longer than 96/],
      ['hf:a/b@', /revision after "@" is empty/],
      ['hf:a/b@x y', /revision 'x y'/],
      ['hf:a/b@../etc', /revision/],
      ['hf:a/b@x\\y', /revision/],
      ['https://', /bad URL/],
      ['http://[::1', /bad URL/],
    ];
    for (const [text, pattern] of bad) {
      assert.throws(() => parseCheckpointSource(text), pattern, JSON.stringify(text));
    }
    assert.throws(() => parseCheckpointSource('hf:a/b/c'), /want hf:owner\/name\[@revision\]/);
  });

  it('builds hub URLs and cache names', () => {
    assert.equal(DEFAULT_HF_ENDPOINT, 'https://huggingface.co');
    assert.deepEqual([...HUB_WEIGHT_FILES], ['model.safetensors', 'pytorch_model.bin']);
    assert.equal(
      hubFileUrl(DEFAULT_HF_ENDPOINT, 'timm/x', 'main', 'config.json'),
      'https://huggingface.co/timm/x/resolve/main/config.json',
    );
    assert.equal(hubFileUrl('http://h:1/', 'a/b', 'refs/pr/1', 'model.safetensors'), 'http://h:1/a/b/resolve/refs%2Fpr%2F1/model.safetensors');
    assert.equal(revisionCacheFolder('main'), 'main');
    assert.equal(revisionCacheFolder('refs/pr/1'), 'refs%2Fpr%2F1');
    assert.equal(revisionCacheFolder('.'), '%2E');
    assert.notEqual(revisionCacheFolder('a/b'), revisionCacheFolder('a_b'));
    assert.equal(urlFileName('https://x/dir/model%20v1.safetensors?download=1'), 'model_v1.safetensors');
    assert.equal(urlFileName('https://x/'), 'download');
    assert.equal(urlFileName('https://x/..%2F..'), '.._..');
    assert.equal(urlFileName('https://x/%2E%2E'), 'download');
  });
});

describe('defaultCacheDir', () => {
  it('prefers KATJS_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(defaultCacheDir({ KATJS_CACHE: '/c/k', XDG_CACHE_HOME: '/x', HOME: '/h' }), '/c/k');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' }), '/x/katjs');
    assert.equal(defaultCacheDir({ HOME: '/h' }), '/h/.cache/katjs');
    assert.equal(defaultCacheDir({ KATJS_CACHE: '', XDG_CACHE_HOME: '', HOME: '/h' }), '/h/.cache/katjs');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/h' }), '/h/.cache/katjs', 'a relative XDG_CACHE_HOME is ignored');
    assert.equal(defaultCacheDir({ KATJS_CACHE: 'rel' }), join(process.cwd(), 'rel'));
  });
});

describe('resolveCheckpoint: hub', () => {
  const entry = `hub/katjs--kat-small32/main`;

  it('downloads config.json and the weights, falling back to pytorch_model.bin, then reuses the cache', async () => {
    const progress: [number, number | undefined, string][] = [];
    const first = await resolveCheckpoint(`hf:${REPO}`, { env, onProgress: (r, t, n) => progress.push([r, t, n]) });
    assert.deepEqual(Buffer.from(first.bytes), WEIGHTS);
    assert.equal(first.weightsFile, 'pytorch_model.bin');
    assert.equal(first.name, `hf:${REPO}@main/pytorch_model.bin`);
    assert.equal(first.configText, CONFIG_TEXT);
    assert.equal(first.config?.numClasses, 10);
    assert.equal(first.config?.labelNames?.[9], 'truck');
    assert.deepEqual(first.config?.preprocess.inputSize, [3, 32, 32]);
    assert.deepEqual(server.paths, [
      `/${REPO}/resolve/main/config.json`,
      `/${REPO}/resolve/main/model.safetensors`,
      `/${REPO}/resolve/main/pytorch_model.bin`,
    ]);
    assert.ok(server.seen.every((s) => s.authorization === undefined), 'no token, no header');
    const last = progress[progress.length - 1]!;
    assert.deepEqual(last, [WEIGHTS.length, WEIGHTS.length, `hf:${REPO}@main/pytorch_model.bin`]);
    // The documented cache layout, and nothing else (no temp files).
    assert.deepEqual(await filesUnder(cache), [`${entry}/config.json`, `${entry}/pytorch_model.bin`]);
    assert.deepEqual(await readFile(join(cache, entry, 'pytorch_model.bin')), WEIGHTS);
    assert.equal(await readFile(join(cache, entry, 'config.json'), 'utf8'), CONFIG_TEXT);

    // Cached: no request at all.
    const requests = server.seen.length;
    const second = await resolveCheckpoint(`hf:${REPO}@main`, { env });
    assert.equal(server.seen.length, requests);
    assert.deepEqual(Buffer.from(second.bytes), WEIGHTS);
    assert.equal(second.config?.numClasses, 10);
    assert.equal(second.weightsFile, 'pytorch_model.bin');
    // Offline with the endpoint unreachable.
    const deadEnv = { ...env, HF_ENDPOINT: await deadEndpoint() };
    const third = await resolveCheckpoint(`hf:${REPO}`, { env: deadEnv, offline: true });
    assert.deepEqual(Buffer.from(third.bytes), WEIGHTS);
    assert.equal(third.configText, CONFIG_TEXT);
  });

  it('reuses the cache with the server closed, reading KATJS_CACHE and HF_ENDPOINT from process.env', async () => {
    const own = new HubServer();
    await own.start();
    const saved = { KATJS_CACHE: process.env.KATJS_CACHE, HF_ENDPOINT: process.env.HF_ENDPOINT };
    process.env.KATJS_CACHE = cache;
    process.env.HF_ENDPOINT = own.endpoint;
    try {
      await resolveCheckpoint(`hf:${REPO}`);
      assert.equal(own.seen.length, 3);
      await own.close();
      const again = await resolveCheckpoint(`hf:${REPO}`);
      assert.deepEqual(Buffer.from(again.bytes), WEIGHTS);
      assert.equal(again.config?.architecture, 'kat_tiny_patch16_224');
      assert.equal(own.seen.length, 3);
    } finally {
      await own.close();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('prefers model.safetensors, follows redirects and accepts chunked bodies', async () => {
    server.behaviour.missing = new Set();
    server.behaviour.redirect = true;
    server.behaviour.chunked = true;
    server.behaviour.bodies.set('model.safetensors', Buffer.from('not really safetensors'));
    const got = await resolveCheckpoint(`hf:${REPO}`, { env });
    assert.equal(got.weightsFile, 'model.safetensors');
    assert.equal(Buffer.from(got.bytes).toString(), 'not really safetensors');
    assert.deepEqual(server.paths, [`/${REPO}/resolve/main/config.json`, `/${REPO}/resolve/main/model.safetensors`, '/cdn/model.safetensors']);
    assert.deepEqual(await filesUnder(cache), [`${entry}/config.json`, `${entry}/model.safetensors`]);
  });

  it('escapes the revision in the URL and the cache folder', async () => {
    const got = await resolveCheckpoint(`hf:${REPO}@refs/pr/1`, { env });
    assert.equal(got.name, `hf:${REPO}@refs/pr/1/pytorch_model.bin`);
    assert.equal(server.paths[0], `/${REPO}/resolve/refs%2Fpr%2F1/config.json`);
    assert.deepEqual(await filesUnder(cache), [
      'hub/katjs--kat-small32/refs%2Fpr%2F1/config.json',
      'hub/katjs--kat-small32/refs%2Fpr%2F1/pytorch_model.bin',
    ]);
  });

  it('sends HF_TOKEN as a Bearer token, and says HF_TOKEN may be needed on 401', async () => {
    server.behaviour.token = 'hf_secret';
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env }), (err: Error) => {
      assert.match(err.message, /HTTP 401/);
      assert.match(err.message, /HF_TOKEN/);
      assert.ok(err.message.includes(`${server.endpoint}/${REPO}/resolve/main/config.json`), err.message);
      return true;
    });
    assert.deepEqual(await filesUnder(cache), []);
    server.seen.length = 0;
    const got = await resolveCheckpoint(`hf:${REPO}`, { env: { ...env, HF_TOKEN: 'hf_secret' } });
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
    assert.equal(server.seen.length, 3);
    assert.ok(server.seen.every((s) => s.authorization === 'Bearer hf_secret'));
  });

  it('leaves no file in the cache when the connection drops halfway', async () => {
    server.behaviour.failHalfway.add('pytorch_model.bin');
    await assert.rejects(
      resolveCheckpoint(`hf:${REPO}`, { env }),
      new RegExp(`download of .*/pytorch_model\\.bin truncated: got \\d+ of ${WEIGHTS.length} bytes`),
    );
    assert.deepEqual(await readdir(cache), [], 'no temp file, no entry, no empty folders');
    // The next try downloads cleanly.
    server.behaviour.failHalfway.clear();
    const got = await resolveCheckpoint(`hf:${REPO}`, { env });
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
  });

  it('times out a stalled download and removes the temp file', async () => {
    server.behaviour.stall.add('pytorch_model.bin');
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env, timeoutMs: 300 }), /stalled: no data for 0\.3 s/);
    assert.deepEqual(await readdir(cache), []);
  });

  it('stops on an AbortSignal and removes the temp file', async () => {
    server.behaviour.stall.add('pytorch_model.bin');
    const controller = new AbortController();
    let sawData = false;
    await assert.rejects(
      resolveCheckpoint(`hf:${REPO}`, {
        env,
        signal: controller.signal,
        onProgress: (_r, _t, name) => {
          if (name.endsWith('pytorch_model.bin')) {
            sawData = true;
            controller.abort();
          }
        },
      }),
      /download of .*pytorch_model\.bin aborted/,
    );
    assert.ok(sawData, 'aborted after the first bytes arrived');
    assert.deepEqual(await readdir(cache), []);
    // Already aborted: nothing is requested.
    server.seen.length = 0;
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env, signal: controller.signal }), /aborted/);
    assert.equal(server.seen.length, 0);
  });

  it('names the repo and the files tried when everything 404s', async () => {
    await assert.rejects(resolveCheckpoint('hf:katjs/missing@main', { env }), (err: Error) => {
      assert.ok(err.message.includes('hf:katjs/missing@main'), err.message);
      assert.ok(err.message.includes('model.safetensors'), err.message);
      assert.ok(err.message.includes('pytorch_model.bin'), err.message);
      assert.match(err.message, /404/);
      return true;
    });
    assert.equal(server.seen.length, 3);
    assert.deepEqual(await readdir(cache), []);
  });

  it('loads a repo without config.json', async () => {
    server.behaviour.missing.add('config.json');
    const got = await resolveCheckpoint(`hf:${REPO}`, { env });
    assert.equal(got.config, undefined);
    assert.equal(got.configText, undefined);
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
    assert.deepEqual(await filesUnder(cache), [`${entry}/pytorch_model.bin`]);
    // Offline, the cached weights alone do.
    const offline = await resolveCheckpoint(`hf:${REPO}`, { env: { ...env, HF_HUB_OFFLINE: '1' } });
    assert.deepEqual(Buffer.from(offline.bytes), WEIGHTS);
  });

  it('reports other HTTP errors with the URL and status', async () => {
    server.behaviour.status = 500;
    await assert.rejects(
      resolveCheckpoint(`hf:${REPO}`, { env }),
      new RegExp(`GET ${server.endpoint}/${REPO}/resolve/main/config\\.json failed: HTTP 500`),
    );
    assert.deepEqual(await readdir(cache), []);
  });

  it('rejects an invalid config.json before downloading the weights', async () => {
    server.behaviour.bodies.set('config.json', JSON.stringify({ num_classes: 'ten' }));
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env }), (err: Error) => {
      assert.ok(err.message.includes(`/resolve/main/config.json: 'num_classes'`), err.message);
      return true;
    });
    assert.equal(server.seen.length, 1);
    assert.deepEqual(await readdir(cache), []);
  });

  it('refuses weights over maxBytes, from Content-Length or the body', async () => {
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env, maxBytes: 1000 }), /over the 1000 bytes limit/);
    assert.deepEqual(await readdir(cache), []);
    server.behaviour.chunked = true;
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env, maxBytes: 1000 }), /exceeds the 1000 bytes limit/);
    assert.deepEqual(await readdir(cache), []);
  });

  it('offline with nothing cached fails without a request', async () => {
    await assert.rejects(resolveCheckpoint(`hf:${REPO}`, { env, offline: true }), /not in the cache .* offline/);
    assert.equal(server.seen.length, 0);
  });
});

describe('resolveCheckpoint: URL', () => {
  it('downloads into url/<sha256 prefix>/<basename> and reuses it', async () => {
    const url = `${server.endpoint}/files/kat_small32.pth`;
    const expected = readFileSync(join(TORCH_DIR, 'kat_small32.pth'));
    const got = await resolveCheckpoint(url, { env });
    assert.deepEqual(Buffer.from(got.bytes), expected);
    assert.equal(got.name, url);
    assert.equal(got.weightsFile, 'kat_small32.pth');
    assert.equal(got.config, undefined);
    const key = createHash('sha256').update(url).digest('hex').slice(0, 16);
    assert.deepEqual(await filesUnder(cache), [`url/${key}/kat_small32.pth`]);
    assert.equal(server.seen.length, 1);
    const again = await resolveCheckpoint(url, { env: { KATJS_CACHE: cache } });
    assert.deepEqual(Buffer.from(again.bytes), expected);
    assert.equal(server.seen.length, 1, 'the cached copy is used without a request');
  });

  it('never sends HF_TOKEN to a plain URL', async () => {
    await resolveCheckpoint(`${server.endpoint}/files/kat_small32.pth`, { env: { ...env, HF_TOKEN: 'hf_secret' } });
    assert.equal(server.seen[0]?.authorization, undefined);
  });

  it('fails clearly on 404 and on a dropped connection, leaving no file', async () => {
    await assert.rejects(resolveCheckpoint(`${server.endpoint}/files/nope.pth`, { env }), /HTTP 404/);
    server.behaviour.failHalfway.add('kat_small32.pth');
    await assert.rejects(resolveCheckpoint(`${server.endpoint}/files/kat_small32.pth`, { env }), /truncated: got \d+ of \d+ bytes/);
    assert.deepEqual(await readdir(cache), []);
  });

  it('names an unreachable server', async () => {
    const url = `${await deadEndpoint()}/x.pth`;
    await assert.rejects(resolveCheckpoint(url, { env }), (err: Error) => {
      assert.ok(err.message.startsWith(`cannot download ${url}: `), err.message);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
    assert.deepEqual(await readdir(cache), []);
  });
});

describe('resolveCheckpoint: files', () => {
  it('reads a regular file (also through a symlink), without the sibling config.json', async () => {
    const path = join(HUB_DIR, 'pytorch_model.bin');
    const got = await resolveCheckpoint(path, { env });
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
    assert.equal(got.name, path);
    assert.equal(got.weightsFile, 'pytorch_model.bin');
    assert.equal(got.config, undefined, 'config.json beside a weights file is not read');
    const dir = await tempDir('link');
    await symlink(path, join(dir, 'link.bin'));
    assert.deepEqual(Buffer.from((await resolveCheckpoint(join(dir, 'link.bin'), { env })).bytes), WEIGHTS);
    assert.deepEqual(await readdir(cache), [], 'files are not copied into the cache');
  });

  it('reads a local hub folder like hf:', async () => {
    const got = await resolveCheckpoint(HUB_DIR, { env });
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
    assert.equal(got.weightsFile, 'pytorch_model.bin');
    assert.equal(got.name, join(HUB_DIR, 'pytorch_model.bin'));
    assert.equal(got.configText, CONFIG_TEXT);
    assert.equal(got.config?.heads, 3);
  });

  it('rejects a missing path, a plain directory and oversized files', async () => {
    const dir = await tempDir('files');
    await assert.rejects(resolveCheckpoint(join(dir, 'nope.pth'), { env }), /checkpoint '.*nope\.pth' does not exist/);
    await assert.rejects(resolveCheckpoint(dir, { env }), /is a directory; a local hub folder needs config\.json and model\.safetensors or pytorch_model\.bin/);
    // config.json alone does not make a hub folder.
    await writeFile(join(dir, 'config.json'), CONFIG_TEXT);
    await assert.rejects(resolveCheckpoint(dir, { env }), /is a directory/);
    // A bad config in a hub folder names the file.
    await mkdir(join(dir, 'bad'));
    await writeFile(join(dir, 'bad', 'config.json'), '{"label_names": 3}');
    await writeFile(join(dir, 'bad', 'model.safetensors'), 'x');
    await assert.rejects(resolveCheckpoint(join(dir, 'bad'), { env }), /bad\/config\.json: 'label_names' must be an array of strings/);
    await assert.rejects(resolveCheckpoint(join(HUB_DIR, 'pytorch_model.bin'), { env, maxBytes: 100 }), /over the 100 bytes limit/);
    await rm(dir, { recursive: true });
  });

  it('refuses a FIFO without opening it', { timeout: 10_000 }, async (t) => {
    const dir = await tempDir('fifo');
    const fifo = join(dir, 'pipe.pth');
    try {
      execFileSync('mkfifo', [fifo], { stdio: 'ignore' });
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    await assert.rejects(resolveCheckpoint(fifo, { env }), /is a FIFO \(named pipe\), not a regular file/);
    await rm(dir, { recursive: true });
  });

  it('refuses a device', async (t) => {
    if (!existsSync('/dev/zero')) return t.skip('no /dev/zero');
    await assert.rejects(resolveCheckpoint('/dev/zero', { env }), /is a character device, not a regular file/);
  });
});

describe('resolveCheckpointBrowser', () => {
  it('reads a File or Blob directly', async () => {
    const file = new File([WEIGHTS], 'picked.pth');
    const got = await resolveCheckpointBrowser(file);
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
    assert.equal(got.name, 'picked.pth');
    const blob = await resolveCheckpointBrowser(new Blob([WEIGHTS]));
    assert.equal(blob.name, 'checkpoint');
    await assert.rejects(resolveCheckpointBrowser(file, { maxBytes: 10 }), /over the 10 bytes limit/);
  });

  it('fetches hub repos with the token, and URLs', async () => {
    server.behaviour.token = 'hf_secret';
    const got = await resolveCheckpointBrowser(`hf:${REPO}`, { endpoint: server.endpoint, token: 'hf_secret' });
    assert.deepEqual(Buffer.from(got.bytes), WEIGHTS);
    assert.equal(got.weightsFile, 'pytorch_model.bin');
    assert.equal(got.config?.numClasses, 10);
    assert.ok(server.seen.every((s) => s.authorization === 'Bearer hf_secret'));
    await assert.rejects(resolveCheckpointBrowser(`hf:${REPO}`, { endpoint: server.endpoint }), /HTTP 401.*HF_TOKEN/);
    server.behaviour.token = undefined;
    await assert.rejects(resolveCheckpointBrowser('hf:katjs/missing', { endpoint: server.endpoint }), /hf:katjs\/missing@main has no weights: tried model\.safetensors .* and pytorch_model\.bin/);
    const url = await resolveCheckpointBrowser(`${server.endpoint}/files/kat_small32.pth`);
    assert.equal(url.weightsFile, 'kat_small32.pth');
  });

  it('fetches a relative path against the page, or says it cannot', async () => {
    await assert.rejects(resolveCheckpointBrowser('models/x.pth'), /cannot read the file 'models\/x\.pth' here/);
    const got = await resolveCheckpointBrowser('files/kat_small32.pth', { baseUrl: `${server.endpoint}/` });
    assert.equal(got.name, `${server.endpoint}/files/kat_small32.pth`);
  });

  it('fails a dropped connection clearly', async () => {
    server.behaviour.failHalfway.add('pytorch_model.bin');
    await assert.rejects(resolveCheckpointBrowser(`hf:${REPO}`, { endpoint: server.endpoint }), /truncated: got \d+ of \d+ bytes/);
  });
});
