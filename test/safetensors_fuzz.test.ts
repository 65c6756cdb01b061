// Damaged and hostile safetensors checkpoints: seeded truncations, byte
// flips, and edits of the header JSON (shapes, offsets, dtypes, names, the
// metadata's model and config: huge, negative, fractional, wrongly typed
// values) of a real kat-micro checkpoint, each decoded the whole way to a
// model (decodeCheckpoint). Each must load correctly or throw a plain Error
// naming the file in one short, escaped line: never a TypeError / RangeError
// from deep inside, a hang, or a large allocation. The loop runs in a worker
// thread with a heap cap, so a hang or a runaway can be cut off.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

import { SafetensorsError } from '../src/io/safetensors.js';
import { PytorchCheckpointError } from '../src/io/pytorch/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { buildModel, countParameters, modelSpec } from '../src/models/registry.js';
import { Random } from '../src/tensor/random.js';

const CASES = 1500;
const TIME_LIMIT_MS = 50_000;
const CASE_LIMIT_MS = 2_000;
const RSS_LIMIT = 1024 * 1024 * 1024;
const HEAP_LIMIT_MB = 768;
const SOURCE = 'fuzz.safetensors';

interface FuzzReport {
  cases: number;
  loaded: number;
  refused: number;
  byKind: Record<string, number>;
  maxCaseMs: number;
  rssGrowth: number;
  failures: string[];
}

// ---------------------------------------------------------------------------
// The worker: the checkpoint, its mutations and the loop
// ---------------------------------------------------------------------------

interface Parsed {
  header: Record<string, unknown>;
  data: Uint8Array;
}

function parse(bytes: Uint8Array): Parsed {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + length) };
}

/** Header text (any text, even invalid JSON) and data back into a file, the length prefix matching. */
function assemble(text: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Values a hostile or broken header might hold where a number or a string belongs. */
const ODD_VALUES: unknown[] = [
  1e9, 1e300, -1, -28, 0, 0.5, 1.5, 2 ** 31, 2 ** 53 + 2, -0, 'NaN', 'Infinity', '-1e9', '64', '', null, true, false, [], [1], {}, { a: 1 },
  '\u001b]0;TITLE\u0007', 'x'.repeat(5000),
];

/** Interesting replacements for a positive size n. */
function oddSize(rng: Random, n: number): unknown {
  const choices: unknown[] = [n + 1, n - 1, n * 2, 0, 1, 1e9, 10_000, 1024, 1025, n * 1e6, ...ODD_VALUES];
  return choices[rng.int(choices.length)];
}

const DTYPES = ['F16', 'BF16', 'F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'f32', 'F32 ', '', null, 4, ['F32']];
const MODEL_NAMES = ['gpt-5', 'vit-micro', 'kan-mlp', 'kat-d64', 'kat-tiny', 'kat-', '', 'KAT-MICRO', '\u001b[2Jkat', `kat-${'a'.repeat(2000)}`, '__proto__'];
const CONFIG_FIELDS = ['imageSize', 'patchSize', 'channels', 'classes', 'dim', 'depth', 'heads', 'mlpRatio', 'mlp', 'groups', 'dropout', 'dropPath'];

interface Mutation {
  kind: string;
  bytes: Uint8Array;
  /** true: must load; false: must be refused; undefined: either. */
  loads?: boolean;
}

function mutate(original: Uint8Array, rng: Random): Mutation {
  const { header, data } = parse(original);
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const pickName = () => names[rng.int(names.length)]!;
  const kinds = [
    'truncate', 'flip', 'bit', 'header-byte', 'length-prefix', 'shape', 'offsets', 'dtype', 'config-field', 'config-field', 'config-whole',
    'model-name', 'metadata', 'rename', 'drop-tensor', 'duplicate-key', 'data-value',
  ];
  const kind = kinds[rng.int(kinds.length)]!;
  const edited = (h: Record<string, unknown>, loads?: boolean): Mutation => ({ kind, bytes: assemble(JSON.stringify(h), data), ...(loads === undefined ? {} : { loads }) });
  switch (kind) {
    case 'truncate':
      return { kind, bytes: original.slice(0, rng.int(original.length)), loads: false };
    case 'flip': {
      const bytes = original.slice();
      for (let n = 1 + rng.int(4); n > 0; n--) bytes[rng.int(bytes.length)] = rng.int(256);
      return { kind, bytes };
    }
    case 'bit': {
      const bytes = original.slice();
      bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      return { kind, bytes };
    }
    case 'header-byte': {
      const bytes = original.slice();
      const length = original.length - data.length - 8;
      for (let n = 1 + rng.int(3); n > 0; n--) bytes[8 + rng.int(length)] = [0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x39, 0x2d, 0x00, 0x1b, rng.int(256)][rng.int(13)]!;
      return { kind, bytes };
    }
    case 'length-prefix': {
      const bytes = original.slice();
      const length = BigInt(original.length - data.length - 8);
      const choices = [0n, 1n, 2n, length - 1n, length + 1n, length + 8n, BigInt(original.length), 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n];
      new DataView(bytes.buffer).setBigUint64(0, choices[rng.int(choices.length)]!, true);
      return { kind, bytes };
    }
    case 'shape': {
      const h = clone(header);
      const entry = h[pickName()] as { shape: unknown[] };
      const shape = entry.shape;
      const choice = rng.int(5);
      if (choice === 0) shape.push(oddSize(rng, 1));
      else if (choice === 1) shape.pop();
      else if (choice === 2) entry.shape = ODD_VALUES[rng.int(ODD_VALUES.length)] as unknown[];
      else if (shape.length > 0) shape[rng.int(shape.length)] = oddSize(rng, shape[0] as number);
      else shape.push(1);
      return edited(h);
    }
    case 'offsets': {
      const h = clone(header);
      const entry = h[pickName()] as { data_offsets: unknown[] };
      const at = rng.int(2);
      const value = entry.data_offsets[at] as number;
      const choices: unknown[] = [value + 4, value - 4, value + 1, 0, data.length, data.length + 4, 2 ** 53, -4, 1.5, '0', null];
      entry.data_offsets[at] = choices[rng.int(choices.length)];
      if (rng.int(4) === 0) entry.data_offsets.reverse();
      return edited(h);
    }
    case 'dtype': {
      const h = clone(header);
      (h[pickName()] as { dtype: unknown }).dtype = DTYPES[rng.int(DTYPES.length)];
      return edited(h);
    }
    case 'config-field': {
      const h = clone(header);
      const meta = h.__metadata__ as Record<string, string>;
      const config = JSON.parse(meta.config!) as Record<string, unknown>;
      const field = CONFIG_FIELDS[rng.int(CONFIG_FIELDS.length)]!;
      const choice = rng.int(8);
      if (choice === 0) delete config[field];
      else if (choice === 1) config[['dpeth', '__proto__', 'constructor', 'hidden'][rng.int(4)]!] = 1e9;
      else config[field] = typeof config[field] === 'number' ? oddSize(rng, config[field] as number) : ODD_VALUES[rng.int(ODD_VALUES.length)];
      // JSON has no NaN: some edits spell it as a bare token.
      meta.config = rng.int(10) === 0 ? JSON.stringify(config).replace(/:(-?[\d.e+]+)/, ':NaN') : JSON.stringify(config);
      return edited(h);
    }
    case 'config-whole': {
      const h = clone(header);
      const meta = h.__metadata__ as Record<string, string>;
      const choices = ['null', '[]', '42', '"x"', '{}', '{', '', 'true', JSON.stringify({ hidden: 1e9 }), '['.repeat(100_000), `{"depth":${'9'.repeat(400)}}`];
      meta.config = choices[rng.int(choices.length)]!;
      return edited(h, false);
    }
    case 'model-name': {
      const h = clone(header);
      (h.__metadata__ as Record<string, string>).model = MODEL_NAMES[rng.int(MODEL_NAMES.length)]!;
      return edited(h);
    }
    case 'metadata': {
      const h = clone(header);
      const choice = rng.int(5);
      if (choice === 0) delete h.__metadata__;
      else if (choice === 1) (h.__metadata__ as Record<string, unknown>).model = ODD_VALUES[rng.int(ODD_VALUES.length)];
      else if (choice === 2) h.__metadata__ = ODD_VALUES[rng.int(ODD_VALUES.length)];
      else if (choice === 3) delete (h.__metadata__ as Record<string, unknown>).config;
      else (h.__metadata__ as Record<string, unknown>)['\u001b]0;x\u0007'] = '\u009b31m';
      return edited(h);
    }
    case 'rename': {
      const h = clone(header);
      const from = pickName();
      const to = ['', '__metadata__', 'blocks.99.attn.qkv.weight', `${from}.x`, '\u001b]0;TITLE\u0007', 'n'.repeat(10_000), '__proto__', 'constructor'][rng.int(8)]!;
      const entry = h[from];
      delete h[from];
      h[to] = entry;
      return edited(h, false);
    }
    case 'drop-tensor': {
      const h = clone(header);
      delete h[pickName()];
      return edited(h, false);
    }
    case 'duplicate-key': {
      // Two entries under one name, which JSON.parse would silently resolve to the last.
      const name = rng.int(2) === 0 ? '__metadata__' : pickName();
      const other = rng.int(2) === 0 ? header[name] : { ...(header.__metadata__ as object), config: '{}' };
      const text = JSON.stringify(header);
      return { kind, bytes: assemble(`{${JSON.stringify(name)}:${JSON.stringify(other)},${text.slice(1)}`, data), loads: false };
    }
    default: {
      // data-value: one float32 replaced; a finite one must load, a NaN or infinity must be refused.
      const bytes = original.slice();
      const view = new DataView(bytes.buffer);
      const at = original.length - data.length + 4 * rng.int(data.length / 4);
      const values = [NaN, Infinity, -Infinity, 0, 1e30, -3.5, 1e-40];
      const value = values[rng.int(values.length)]!;
      view.setFloat32(at, value, true);
      return { kind, bytes, loads: Number.isFinite(value) };
    }
  }
}

async function runFuzz(): Promise<FuzzReport> {
  const report: FuzzReport = { cases: 0, loaded: 0, refused: 0, byKind: {}, maxCaseMs: 0, rssGrowth: 0, failures: [] };
  const spec = modelSpec('kat-micro');
  const model = buildModel(spec, 3);
  const original = await encodeCheckpoint(model, spec, { note: 'fuzz' });
  model.dispose();
  const baseline = process.memoryUsage().rss;
  const started = performance.now();
  const rng = new Random(20_251_113);
  for (let n = 0; n < CASES; n++) {
    const { kind, bytes, loads } = mutate(original, rng);
    report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
    const label = `case ${n} (${kind})`;
    const caseStart = performance.now();
    try {
      const loaded = decodeCheckpoint(bytes, SOURCE);
      const params = loaded.model.parameterCount();
      if (params !== countParameters(loaded.spec)) report.failures.push(`${label}: loaded ${params} parameters, its spec has ${countParameters(loaded.spec)}`);
      loaded.model.dispose();
      if (loads === false) report.failures.push(`${label}: loaded, but should have been refused`);
      report.loaded++;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const plain = error instanceof Error && [Error, SafetensorsError, PytorchCheckpointError].some((type) => error.constructor === type);
      if (!plain) report.failures.push(`${label}: ${error instanceof Error ? `${error.name}: ${message}\n${error.stack}` : message}`);
      else if (!message.startsWith(SOURCE) && !message.startsWith(`checkpoint '${SOURCE}'`)) report.failures.push(`${label}: the message does not name the file: ${message.slice(0, 300)}`);
      else if (/[\u0000-\u001f\u007f-\u009f]/.test(message)) report.failures.push(`${label}: raw control characters in ${JSON.stringify(message.slice(0, 300))}`);
      else if (message.length > 1500) report.failures.push(`${label}: a ${message.length}-character message`);
      else if (loads === true) report.failures.push(`${label}: refused, but should have loaded: ${message}`);
      report.refused++;
    }
    report.cases++;
    const elapsed = performance.now() - caseStart;
    report.maxCaseMs = Math.max(report.maxCaseMs, elapsed);
    if (elapsed > CASE_LIMIT_MS) report.failures.push(`${label} took ${elapsed.toFixed(0)} ms`);
    report.rssGrowth = Math.max(report.rssGrowth, process.memoryUsage().rss - baseline);
    if (performance.now() - started > TIME_LIMIT_MS) {
      report.failures.push(`stopped after ${report.cases} cases: over ${TIME_LIMIT_MS} ms`);
      break;
    }
  }
  return report;
}

// ---------------------------------------------------------------------------
// The test (main thread): runs the worker under a time and heap limit
// ---------------------------------------------------------------------------

if (!isMainThread) {
  parentPort!.postMessage(await runFuzz());
} else {
  describe('damaged and hostile safetensors checkpoints', () => {
    it(`${CASES} seeded mutations of a kat-micro checkpoint load correctly or give one clean error, in bounded time and memory`, async () => {
      const worker = new Worker(new URL(import.meta.url), { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB } });
      let timer: NodeJS.Timeout | undefined;
      const report = await new Promise<FuzzReport>((resolve, reject) => {
        timer = setTimeout(() => {
          void worker.terminate();
          reject(new Error(`the fuzz loop did not finish within ${TIME_LIMIT_MS + 15_000} ms (a hang?)`));
        }, TIME_LIMIT_MS + 15_000);
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the fuzz worker exited with code ${code} before reporting (out of memory?)`)));
      }).finally(() => {
        clearTimeout(timer);
        void worker.terminate();
      });
      assert.deepEqual(report.failures.slice(0, 5), []);
      assert.equal(report.cases, CASES);
      assert.ok(report.loaded > 50 && report.refused > 700, `loaded ${report.loaded}, refused ${report.refused}`);
      for (const [kind, count] of Object.entries(report.byKind)) assert.ok(count > 30, `${kind}: ${count} cases`);
      assert.ok(report.rssGrowth < RSS_LIMIT, `rss grew by ${(report.rssGrowth / 2 ** 20).toFixed(0)} MiB`);
      assert.ok(report.maxCaseMs < CASE_LIMIT_MS, `slowest case ${report.maxCaseMs.toFixed(0)} ms`);
    });
  });
}
