// The WebGPU autotuner: its cache file (written atomically, read back, and
// ignored without an error when corrupt, foreign, or not a file), the size
// classes, the choice of the fastest candidate and its reuse without timing
// again (in this process and from the file in the next); and, on the WebGPU
// device (SwiftShader here), tuning real matmul and GR-KAN shapes with
// timestamp queries and with queue-completion timing: the winner is one of
// the candidates, results keep their bits, and a second run times nothing.
// The parity of every candidate is in webgpu_matmul and webgpu_group_rational.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { WebGpuBackend } from '../src/backends/webgpu/index.js';
import type { GpuBuffer } from '../src/backends/webgpu/context.js';
import { MATMUL_TILES, makeMatmulKernel, matmulTileFits, type MatmulTile } from '../src/backends/webgpu/kernels/matmul.js';
import { GROUP_RATIONAL_SHAPES } from '../src/backends/webgpu/kernels/group_rational.js';
import {
  TUNING_FILE_NAME, TUNING_FORMAT, TUNING_VERSION, defaultTuningFile, fileTuningStore, memoryOnlyStore, parseTuningFile,
} from '../src/backends/webgpu/tune_store.js';
import { Tuner, autotuneFromEnv, sizeClass } from '../src/backends/webgpu/tuner.js';
import { Random } from '../src/tensor/random.js';
import { backendOrSkip } from './support/backends.js';
import { randomValues, toFloat32Values } from './support/harness.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'katjs-tune-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('tuning cache file', () => {
  it('lives under KATJS_CACHE, else $XDG_CACHE_HOME/katjs, else ~/.cache/katjs', async () => {
    assert.equal(await defaultTuningFile({ KATJS_CACHE: '/c' }), join('/c', TUNING_FILE_NAME));
    assert.equal(await defaultTuningFile({ XDG_CACHE_HOME: '/x', HOME: '/h' }), join('/x', 'katjs', TUNING_FILE_NAME));
    assert.equal(await defaultTuningFile({ XDG_CACHE_HOME: 'relative', HOME: '/h' }), join('/h', '.cache', 'katjs', TUNING_FILE_NAME));
  });

  it('round-trips per adapter, merging what is already there, leaving no temp file', async () => {
    const dir = tempDir();
    const file = join(dir, 'sub', TUNING_FILE_NAME); // the folder is created
    const store = fileTuningStore(file);
    assert.deepEqual(await store.load('gpu A'), {}); // no file yet
    await store.save('gpu A', { 'matmul|NN b1 m64': 'tall' });
    await store.save('gpu B', { 'matmul|NN b1 m64': 'small' });
    await store.save('gpu A', { 'groupRational|forward r256 c192 g8': 'wg128' });
    assert.deepEqual(await store.load('gpu A'), { 'matmul|NN b1 m64': 'tall', 'groupRational|forward r256 c192 g8': 'wg128' });
    assert.deepEqual(await store.load('gpu B'), { 'matmul|NN b1 m64': 'small' });
    const data = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(data.format, TUNING_FORMAT);
    assert.equal(data.version, TUNING_VERSION);
    assert.deepEqual(readdirSync(join(dir, 'sub')), [TUNING_FILE_NAME]);
  });

  it('ignores a corrupt, foreign or outdated file (and replaces it on the next save)', async () => {
    const dir = tempDir();
    const file = join(dir, TUNING_FILE_NAME);
    const store = fileTuningStore(file);
    for (const text of ['{"format": "katjs-webgpu-tun', '\u0000\u0001binary', '[1, 2, 3]', 'null',
      JSON.stringify({ format: 'something-else', version: 1, adapters: { a: { k: 'v' } } }),
      JSON.stringify({ format: TUNING_FORMAT, version: TUNING_VERSION + 1, adapters: { a: { k: 'v' } } }),
      JSON.stringify({ format: TUNING_FORMAT, version: TUNING_VERSION, adapters: [] })]) {
      writeFileSync(file, text);
      assert.deepEqual(await store.load('a'), {}, text);
    }
    writeFileSync(file, JSON.stringify({ format: TUNING_FORMAT, version: TUNING_VERSION, adapters: { a: { k: 7, ok: 'wide', n: null }, b: 3 } }));
    assert.deepEqual(await store.load('a'), { ok: 'wide' }); // entries that are not strings are dropped
    writeFileSync(file, '{ corrupt');
    await store.save('a', { k: 'small' });
    assert.deepEqual(await store.load('a'), { k: 'small' });
  });

  it('a directory where the file should be: loads nothing, save fails without touching it', async () => {
    const dir = tempDir();
    const file = join(dir, TUNING_FILE_NAME);
    mkdirSync(file);
    const store = fileTuningStore(file);
    assert.deepEqual(await store.load('a'), {});
    await assert.rejects(store.save('a', { k: 'v' }));
    assert.deepEqual(readdirSync(dir), [TUNING_FILE_NAME]);
  });

  it('parseTuningFile never throws', () => {
    assert.deepEqual(parseTuningFile(''), {});
    assert.deepEqual(parseTuningFile('{"format":"katjs-webgpu-tuning","version":1,"adapters":{"x":"y"}}'), {});
  });
});

describe('tuner', () => {
  it('size classes are 2^k and 3 * 2^k', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 9, 13, 17, 25, 33, 192, 193, 197, 1576, 25216].map(sizeClass),
      [0, 1, 2, 3, 4, 6, 6, 8, 12, 16, 24, 32, 48, 192, 256, 256, 2048, 32768]);
  });

  it('KATJS_WEBGPU_AUTOTUNE', () => {
    assert.equal(autotuneFromEnv({ KATJS_WEBGPU_AUTOTUNE: '0' }), false);
    assert.equal(autotuneFromEnv({ KATJS_WEBGPU_AUTOTUNE: 'off' }), false);
    assert.equal(autotuneFromEnv({ KATJS_WEBGPU_AUTOTUNE: '1' }), true);
    assert.equal(autotuneFromEnv({}), undefined);
    assert.equal(autotuneFromEnv(undefined), undefined);
  });

  it('picks the fastest candidate, reuses it without timing again, and stores it for the next process', async () => {
    const file = join(tempDir(), TUNING_FILE_NAME);
    const times: Record<string, number> = { a: 3, b: 1, c: 2, broken: NaN };
    const timed: string[] = [];
    const measure = () => async (candidate: string) => {
      timed.push(candidate);
      if (candidate === 'broken') throw new Error('cannot run');
      return times[candidate]!;
    };
    const tuner = new Tuner({ enabled: true, adapterKey: 'test gpu', store: fileTuningStore(file) });
    await tuner.load();
    const candidates = ['a', 'b', 'c', 'broken'];
    assert.equal(tuner.choose('k', 'class 1', candidates, measure), undefined); // queued: the caller uses its default
    assert.equal(tuner.choose('k', 'class 1', candidates, measure), undefined); // queued once
    assert.equal(tuner.hasPending, true);
    await tuner.runPending();
    assert.deepEqual(timed, candidates);
    assert.equal(tuner.measurements, 4);
    assert.equal(tuner.choose('k', 'class 1', candidates, measure), 'b');
    assert.equal(tuner.hasPending, false);
    await tuner.runPending();
    assert.equal(tuner.measurements, 4);
    assert.deepEqual(tuner.log.map((l) => l.winner), ['b']);

    const next = new Tuner({ enabled: true, adapterKey: 'test gpu', store: fileTuningStore(file) });
    await next.load();
    assert.equal(next.choose('k', 'class 1', candidates, measure), 'b');
    // A stored winner that is no longer a candidate is tuned again.
    assert.equal(next.choose('k', 'class 1', ['a', 'c'], measure), undefined);
    await next.runPending();
    assert.equal(next.choose('k', 'class 1', ['a', 'c'], measure), 'c');
    // Another adapter knows nothing.
    const other = new Tuner({ enabled: true, adapterKey: 'other gpu', store: fileTuningStore(file) });
    await other.load();
    assert.equal(other.choose('k', 'class 1', candidates, measure), undefined);
  });

  it('off: never queues, never times', async () => {
    const tuner = new Tuner({ enabled: false, adapterKey: 'x', store: memoryOnlyStore });
    assert.equal(tuner.choose('k', 'c', ['a', 'b'], () => async () => assert.fail('timed')), undefined);
    assert.equal(tuner.hasPending, false);
    await tuner.runPending();
  });

  it('a store that fails is reported, not thrown', async () => {
    const tuner = new Tuner({
      enabled: true, adapterKey: 'x',
      store: { location: 'broken', load: async () => { throw new Error('no read'); }, save: async () => { throw new Error('no write'); } },
    });
    await tuner.load();
    tuner.choose('k', 'c', ['a', 'b'], () => async (candidate) => (candidate === 'a' ? 2 : 1));
    await tuner.runPending();
    assert.equal(tuner.choose('k', 'c', ['a', 'b'], () => async () => 0), 'b');
    assert.match(tuner.storeError ?? '', /no read/);
  });
});

describe('autotuning on the WebGPU device', async () => {
  const [gpu, skip] = await backendOrSkip<WebGpuBackend>('webgpu');
  const backend = gpu!; // null only where every test below is skipped
  const ctx = gpu?.ctx as WebGpuBackend['ctx'];
  after(() => gpu?.sync());
  it('is off by default on a software adapter (SwiftShader), unless KATJS_WEBGPU_AUTOTUNE says otherwise', { skip }, () => {
    // Every case asserts: the environment's choice where it makes one, else on exactly for hardware adapters.
    const fromEnv = autotuneFromEnv(process.env);
    assert.equal(ctx.tuner.enabled, fromEnv ?? !backend.isSoftware,
      `adapter ${backend.isSoftware ? 'software' : 'hardware'}, KATJS_WEBGPU_AUTOTUNE=${process.env.KATJS_WEBGPU_AUTOTUNE ?? '(unset)'}`);
  });

  /** Runs `fn` with a fresh enabled tuner on `file` (timestamps on or off), restoring the backend's own after. */
  async function withTuner<T>(file: string, timestamps: boolean, fn: (tuner: Tuner) => Promise<T>): Promise<T> {
    const saved = { tuner: ctx.tuner, timestamps: ctx.timestamps };
    const tuner = new Tuner({ enabled: true, adapterKey: 'test adapter', store: fileTuningStore(file) });
    await tuner.load();
    ctx.tuner = tuner;
    ctx.timestamps = timestamps && saved.timestamps;
    try {
      return await fn(tuner);
    } finally {
      ctx.tuner = saved.tuner;
      ctx.timestamps = saved.timestamps;
    }
  }

  async function matmulOnce(kernel: ReturnType<typeof makeMatmulKernel>, rng: Random, m: number, k: number, n: number): Promise<Float32Array> {
    const a = backend!.upload(toFloat32Values(randomValues(rng, m * k)));
    const b = backend!.upload(toFloat32Values(randomValues(rng, k * n)));
    const out: GpuBuffer = kernel(a, b, 1, m, k, n, false, true, m * k, k * n);
    const values = await backend!.read(out);
    for (const t of [a, b, out]) backend!.free(t);
    return values;
  }

  it('every matmul tile gives the bits of the default choice (the same FMA chain over k)', { skip }, async () => {
    const tiles = (Object.keys(MATMUL_TILES) as MatmulTile[]).filter((t) => matmulTileFits(ctx.device.limits, t));
    for (const [m, k, n] of [[37, 29, 70], [130, 17, 65], [5, 131, 3]] as const) {
      const expected = await matmulOnce(backend.kernels.matmul, new Random(m), m, k, n);
      for (const tile of tiles) {
        const actual = await matmulOnce(makeMatmulKernel(ctx, { tile }), new Random(m), m, k, n);
        assert.deepEqual(new Uint32Array(actual.buffer), new Uint32Array(expected.buffer), `${tile} [${m}, ${k}, ${n}]`);
      }
    }
  });

  for (const timestamps of !gpu || ctx.timestamps ? [true, false] : [false]) {
    it(`tunes matmul and GR-KAN shapes once (${timestamps ? 'timestamp queries' : 'queue-completion timing'}), then reuses the winners`, { skip }, async () => {
      const file = join(tempDir(), TUNING_FILE_NAME);
      const reference = await matmulOnce(backend.kernels.matmul, new Random(3), 45, 33, 70);
      const tileCount = (Object.keys(MATMUL_TILES) as MatmulTile[]).filter((t) => matmulTileFits(ctx.device.limits, t)).length;
      const layoutCount = Object.keys(GROUP_RATIONAL_SHAPES).length;

      await withTuner(file, timestamps, async (tuner) => {
        // First use: the default runs, the class is timed at the read.
        const first = await matmulOnce(backend.kernels.matmul, new Random(3), 45, 33, 70);
        assert.deepEqual(new Uint32Array(first.buffer), new Uint32Array(reference.buffer));
        assert.equal(tuner.measurements, tileCount);
        const [entry] = tuner.log;
        assert.ok(entry && entry.key.startsWith('matmul|'), JSON.stringify(tuner.log));
        assert.ok(entry.winner in MATMUL_TILES, entry.winner);
        for (const ms of Object.values(entry.times)) assert.ok(ms > 0 && Number.isFinite(ms), JSON.stringify(entry.times));
        // Same class (other sizes in the same size classes): the winner, no timing.
        const again = await matmulOnce(backend.kernels.matmul, new Random(3), 45, 33, 70);
        assert.deepEqual(new Uint32Array(again.buffer), new Uint32Array(reference.buffer));
        await matmulOnce(backend.kernels.matmul, new Random(4), 47, 40, 66);
        assert.equal(tuner.measurements, tileCount);

        // GR-KAN forward and backward: two classes, each layout timed once.
        const rows = 37, channels = 24, groups = 8;
        const rng = new Random(5);
        const x = backend.upload(toFloat32Values(randomValues(rng, rows * channels)));
        const num = backend.upload(toFloat32Values(randomValues(rng, 6, { scale: 0.5 })));
        const den = backend.upload(toFloat32Values(randomValues(rng, groups * 4, { scale: 0.5 })));
        const go = async () => {
          const y = backend.kernels.groupRational(x, num, den, rows, channels, groups, true);
          const grads = backend.kernels.groupRationalBackward(x, num, den, y, rows, channels, groups, true);
          const values = await Promise.all([y, ...grads].map((t) => backend.read(t)));
          for (const t of [y, ...grads]) backend.free(t);
          return values;
        };
        const before = await go();
        assert.equal(tuner.measurements, tileCount + 2 * layoutCount);
        assert.deepEqual(tuner.log.slice(1).map((l) => l.key.split(' ')[0]), ['groupRational|forward', 'groupRational|backward']);
        for (const l of tuner.log.slice(1)) assert.ok(l.winner in GROUP_RATIONAL_SHAPES, l.winner);
        const after = await go();
        assert.equal(tuner.measurements, tileCount + 2 * layoutCount);
        // The forward is element-wise (the same bits in any layout); gradients agree to rounding.
        assert.deepEqual(new Uint32Array(after[0]!.buffer), new Uint32Array(before[0]!.buffer));
        for (const t of [x, num, den]) backend.free(t);
      });

      const stored = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(Object.keys(stored.adapters['test adapter']).length, 3);

      // The next process: winners come from the file, nothing is timed.
      await withTuner(file, timestamps, async (tuner) => {
        await matmulOnce(backend.kernels.matmul, new Random(3), 45, 33, 70);
        assert.equal(tuner.measurements, 0);
        assert.equal(tuner.hasPending, false);
      });
    });
  }
});
