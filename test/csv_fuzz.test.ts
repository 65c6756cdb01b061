// Damaged CSV files: seeded truncations, byte flips, inserted quotes, commas,
// line breaks, NULs, BOMs and escapes, huge numbers and fields, duplicated
// headers and ragged rows. Each goes through decode + parse + tabularSplit in
// a worker thread with a memory cap, one case at a time under a timeout (a
// hang or an out-of-memory kills the worker and fails the case). Every case
// must load correctly or throw a plain Error that names the file and quotes
// at most about 80 characters of input. A handful also go through
// `kat train --dataset csv:F --max-steps 1`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

import { decodeCsvBytes, decodeTabularPreprocessing, encodeTabularPreprocessing, parseCsv, tabularSplit } from '../src/data/csv.js';
import { Random } from '../src/tensor/random.js';
import { QUOTE_LIMIT } from '../src/util/text.js';
import { CLI_PATH } from './support/cli.js';

const SEED = Number(process.env.KAT_FUZZ_SEED ?? 13);
const CASES = 1200;
const CASE_TIMEOUT_MS = 5_000;
/** The worker's heap cap: a case that asks for more dies alone, and fails. */
const WORKER_HEAP_MB = 256;
const SOURCE = "csv file 'fuzz.csv'";

interface CaseResult {
  ok: boolean;
  /** The error's class name and message, or a summary of the load. */
  name?: string;
  message?: string;
  problems?: string[];
  ms: number;
}

// ---------------------------------------------------------------------------
// The worker: one case per message
// ---------------------------------------------------------------------------

/** Loads one file's bytes as `kat train` does, and checks what loaded. */
function runCase(bytes: Uint8Array, target: string): CaseResult {
  const started = performance.now();
  try {
    const split = tabularSplit(parseCsv(decodeCsvBytes(bytes, SOURCE), { source: SOURCE }), { target, source: SOURCE });
    const problems: string[] = [];
    for (const part of [split.train, split.test]) {
      if (part.count < 1 || part.images.length !== part.count * part.width) problems.push(`${part.name}: ${part.count} rows of ${part.width}`);
      if (!part.images.every(Number.isFinite)) problems.push(`${part.name}: a non-finite input`);
      if (!part.labels.every(Number.isFinite)) problems.push(`${part.name}: a non-finite label`);
      if (part.task === 'classification' && !part.labels.every((l) => Number.isInteger(l) && l >= 0 && l < part.classes)) {
        problems.push(`${part.name}: a label outside [0, ${part.classes})`);
      }
      if (part.task === 'classification' && part.classes < 2) problems.push(`${part.name}: ${part.classes} class`);
    }
    // What the checkpoint stores must read back as it was (an overflowed std would be stored as null).
    try {
      assert.deepEqual(decodeTabularPreprocessing(encodeTabularPreprocessing(split.preprocessing)), split.preprocessing);
    } catch (error) {
      problems.push(`the preprocessing does not read back: ${(error as Error).message.slice(0, 200)}`);
    }
    const seen = new Set([...split.train.rows, ...split.test.rows]);
    if (seen.size !== split.train.count + split.test.count) problems.push('the splits share rows');
    return { ok: true, problems, ms: performance.now() - started };
  } catch (error) {
    const e = error as Error;
    return { ok: false, name: e?.constructor?.name ?? typeof error, message: String(e?.message ?? error), ms: performance.now() - started };
  }
}

if (!isMainThread) {
  parentPort!.on('message', ({ bytes, target }: { bytes: Uint8Array; target: string }) => parentPort!.postMessage(runCase(bytes, target)));
}

// ---------------------------------------------------------------------------
// Mutations (main thread)
// ---------------------------------------------------------------------------

/** A seeded table like the README's rings: two numbers, a text column, a class target. */
function baseCsv(rng: Random): string {
  const lines = ['x1,x2,shape,y'];
  for (let i = 0; i < 40; i++) {
    const x1 = (rng.uniform() * 4 - 2).toFixed(3);
    const x2 = (rng.uniform() * 4 - 2).toFixed(3);
    lines.push(`${x1},${x2},${rng.uniform() < 0.5 ? 'circle' : '"square, big"'},${['inner', 'middle', 'outer'][i % 3]}`);
  }
  return `${lines.join('\n')}\n`;
}

const enc = new TextEncoder();

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

const HUGE = ['1e308', '-1.7976931348623157e308', '1e309', '1e-320', '4.9e-324', 'NaN', '-Infinity', '1' + '0'.repeat(400), '0x10', '1e+'];
const INSERTS = ['"', '""', ',', ';', '\t', '\n', '\r', '\r\n', '\0', '\ufeff', '\u001b]0;TITLE\u0007', '\u001b[31m', '|', ' ', '\u2028'];

type Mutation = (bytes: Uint8Array, rng: Random) => Uint8Array;

const MUTATIONS: Record<string, Mutation> = {
  truncate: (b, rng) => b.subarray(0, rng.int(b.length + 1)),
  flip: (b, rng) => {
    const out = b.slice();
    for (let k = 1 + rng.int(4); k > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  randomByte: (b, rng) => splice(b, rng.int(b.length + 1), 0, [rng.int(256)]),
  insert: (b, rng) => splice(b, rng.int(b.length + 1), 0, enc.encode(INSERTS[rng.int(INSERTS.length)]!)),
  utf8Bom: (b, rng) => splice(b, rng.int(2) === 0 ? 0 : rng.int(b.length + 1), 0, [0xef, 0xbb, 0xbf]),
  utf16: (b, rng) => {
    const text = new TextDecoder().decode(b);
    const le = Buffer.from(text, 'utf16le');
    return rng.int(2) === 0 ? new Uint8Array([0xff, 0xfe, ...le]) : new Uint8Array(le);
  },
  nuls: (b, rng) => (rng.int(2) === 0 ? new Uint8Array(1 + rng.int(4096)) : splice(b, rng.int(b.length + 1), 0, new Uint8Array(1 + rng.int(8)))),
  hugeNumber: (b, rng) => {
    const text = new TextDecoder().decode(b);
    const numbers = [...text.matchAll(/-?\d+\.\d+/g)];
    if (numbers.length === 0) return b;
    const m = numbers[rng.int(numbers.length)]!;
    return enc.encode(text.slice(0, m.index) + HUGE[rng.int(HUGE.length)] + text.slice(m.index! + m[0].length));
  },
  hugeColumn: (b, rng) => {
    // Every value of x1 near the top of the double range: statistics must not overflow.
    const scale = [1e300, 1.7e308, 1e-300][rng.int(3)]!;
    const text = new TextDecoder().decode(b).replace(/^(-?\d+\.\d+),/gm, (_, x: string) => `${Number(x) * scale},`);
    return enc.encode(text);
  },
  hugeField: (b, rng) => {
    const text = new TextDecoder().decode(b);
    const at = text.indexOf('\n', rng.int(text.length)) + 1;
    const field = (rng.int(2) === 0 ? 'x' : '"x').repeat(50_000 + rng.int(100_000));
    return enc.encode(text.slice(0, at) + field + text.slice(at));
  },
  duplicateHeader: (b, rng) => {
    const text = new TextDecoder().decode(b);
    const names = ['x1', 'x2', 'shape', 'y'];
    const header = [...names];
    header[rng.int(4)] = names[rng.int(4)]!;
    return enc.encode(header.join(',') + text.slice(text.indexOf('\n')));
  },
  ragged: (b, rng) => {
    const lines = new TextDecoder().decode(b).split('\n');
    const k = 1 + rng.int(Math.max(1, lines.length - 2));
    lines[k] = rng.int(2) === 0 ? `${lines[k]},extra` : (lines[k] ?? '').split(',').slice(0, 2).join(',');
    return enc.encode(lines.join('\n'));
  },
  oneClass: (b) => enc.encode(new TextDecoder().decode(b).replace(/,(inner|middle|outer)$/gm, ',inner')),
  deleteRange: (b, rng) => {
    const at = rng.int(b.length + 1);
    return splice(b, at, rng.int(b.length - at + 1), []);
  },
  duplicateRange: (b, rng) => {
    const at = rng.int(b.length + 1);
    return splice(b, at, 0, b.subarray(at, at + rng.int(200)));
  },
};
const KINDS = Object.keys(MUTATIONS);

/** 1-3 mutations of the base file; the name lists them. */
function mutate(base: Uint8Array, rng: Random): { kinds: string[]; bytes: Uint8Array } {
  let bytes = base;
  const kinds: string[] = [];
  for (let k = rng.uniform() < 0.7 ? 1 : 2 + rng.int(2); k > 0; k--) {
    const kind = KINDS[rng.int(KINDS.length)]!;
    kinds.push(kind);
    bytes = MUTATIONS[kind]!(bytes, rng);
  }
  return { kinds, bytes };
}

/** What a clean refusal looks like: a plain Error naming the file, escaped, quoting little. */
function refusalProblems(result: CaseResult): string[] {
  const problems: string[] = [];
  const message = result.message ?? '';
  if (result.name !== 'Error') problems.push(`a ${result.name}, not a plain Error`);
  if (!message.includes('fuzz.csv')) problems.push('the message does not name the file');
  if (/[\u0000-\u001f\u007f-\u009f]/.test(message)) problems.push('a raw control character in the message');
  if (message.length > 400) problems.push(`a ${message.length}-character message`);
  // No run of input longer than the quote limit: the longest run of one repeated character stands in for it.
  if (/(.)\1{90,}/.test(message)) problems.push('more than ~80 characters of input quoted');
  if (/\n\s+at /.test(message)) problems.push('a stack trace');
  return problems;
}

// ---------------------------------------------------------------------------
// The test (main thread)
// ---------------------------------------------------------------------------

class CaseRunner {
  private worker: Worker | undefined;

  private start(): Worker {
    this.worker = new Worker(new URL(import.meta.url), {
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 32 },
    });
    this.worker.unref();
    return this.worker;
  }

  /** One case; a timeout or a dead worker is a failed case, and the next case gets a fresh worker. */
  run(bytes: Uint8Array, target: string): Promise<CaseResult | string> {
    const worker = this.worker ?? this.start();
    return new Promise((resolve) => {
      const done = (value: CaseResult | string, kill: boolean) => {
        clearTimeout(timer);
        worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
        if (kill) {
          void worker.terminate();
          this.worker = undefined;
        }
        resolve(value);
      };
      const timer = setTimeout(() => done(`no answer within ${CASE_TIMEOUT_MS} ms (a hang?)`, true), CASE_TIMEOUT_MS);
      worker.once('message', (result: CaseResult) => done(result, false));
      worker.once('error', (error) => done(`the worker died: ${error.message}`, true));
      worker.once('exit', (code) => done(`the worker exited with code ${code}`, true));
      worker.postMessage({ bytes, target });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

if (isMainThread) {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'kat-csv-fuzz-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('damaged CSV files', () => {
    it(`${CASES} seeded mutations load correctly or give one clean error, each in bounded time and memory`, async () => {
      const rng = new Random(SEED);
      const base = enc.encode(baseCsv(rng));
      const runner = new CaseRunner();
      const failures: string[] = [];
      const byKind: Record<string, number> = {};
      let loaded = 0;
      let slowest = 0;
      try {
        // The unmutated file loads.
        const clean = await runner.run(base, 'y');
        assert.ok(typeof clean !== 'string' && clean.ok && clean.problems!.length === 0, JSON.stringify(clean));
        for (let c = 0; c < CASES; c++) {
          const { kinds, bytes } = mutate(base, rng);
          for (const kind of kinds) byKind[kind] = (byKind[kind] ?? 0) + 1;
          const result = await runner.run(bytes, 'y');
          const problems = typeof result === 'string' ? [result] : result.ok ? result.problems! : refusalProblems(result);
          if (typeof result !== 'string') {
            slowest = Math.max(slowest, result.ms);
            if (result.ok) loaded++;
          }
          if (problems.length > 0) {
            failures.push(`case ${c} (${kinds.join(' + ')}, seed ${SEED}): ${problems.join('; ')}` +
              `${typeof result === 'string' ? '' : `: ${result.message?.slice(0, 200) ?? ''}`}`);
          }
        }
      } finally {
        await runner.close();
      }
      assert.deepEqual(failures.slice(0, 5), []);
      assert.ok(loaded > 50 && CASES - loaded > 300, `loaded ${loaded} of ${CASES}`);
      for (const kind of KINDS) assert.ok((byKind[kind] ?? 0) > 20, `${kind}: ${byKind[kind] ?? 0} cases`);
      assert.ok(slowest < 2_000, `slowest case ${slowest.toFixed(0)} ms`);
    });

    it('a handful through `kat train --dataset csv:F --max-steps 1`: exit 0, or one kat: line naming the file, no stack trace', () => {
      const rng = new Random(SEED + 1);
      const base = enc.encode(baseCsv(rng));
      const chosen = ['truncate', 'utf16', 'nuls', 'hugeColumn', 'hugeField', 'duplicateHeader', 'ragged', 'oneClass', 'insert'];
      let succeeded = 0;
      for (const kind of chosen) {
        const file = join(dir, `${kind}.csv`);
        writeFileSync(file, MUTATIONS[kind]!(base, rng));
        const args = ['train', '--dataset', `csv:${file}`, '--target', 'y', '--max-steps', '1', '--batch-size', '8', '--out', join(dir, `${kind}.safetensors`)];
        const run = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 });
        assert.equal(run.error, undefined, `${kind}: ${run.error?.message}`);
        assert.doesNotMatch(run.stderr, /\n\s+at |node:internal/, `${kind}: a stack trace:\n${run.stderr}`);
        if (run.status === 0) {
          succeeded++;
          continue;
        }
        const errors = run.stderr.split('\n').filter((line) => line.startsWith('kat: '));
        assert.equal(errors.length, 1, `${kind}: ${run.stderr}`);
        assert.ok(errors[0]!.includes(`${kind}.csv`), `${kind}: the error does not name the file: ${errors[0]}`);
        assert.ok(errors[0]!.length < 400 && !/(.)\1{90,}/.test(errors[0]!), `${kind}: ${errors[0]!.slice(0, 300)}`);
        assert.doesNotMatch(errors[0]!, /[\u0000-\u0008\u000b-\u001f\u007f]/);
      }
      assert.ok(succeeded >= 1 && succeeded < chosen.length, `${succeeded} of ${chosen.length} trained`);
      assert.ok(QUOTE_LIMIT <= 90);
    });
  });
}
