// Damaged checkpoints: seeded truncations, byte flips and targeted edits of
// zip header fields and pickle opcodes. Each must load (consistently) or
// throw a PytorchCheckpointError, never another error, a hang, or a large
// allocation. The loop runs in a worker thread so a hang can be cut off.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

import { decodePytorchCheckpoint, isPytorchCheckpoint, PytorchCheckpointError } from '../src/io/pytorch/index.js';
import { Random } from '../src/tensor/random.js';
import { crc32 } from './support/crc32.js';

const CASES_PER_FILE = 1200;
const TIME_LIMIT_MS = 60_000;
const CASE_LIMIT_MS = 2_000;
const RSS_LIMIT = 1024 * 1024 * 1024;

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
// The worker: mutations and the loop
// ---------------------------------------------------------------------------

const TORCH = fileURLToPath(new URL('../../test/fixtures/torch/', import.meta.url));

/** Every pickle opcode byte, for opcode substitutions. */
const OPCODES = [
  0x28, 0x2e, 0x30, 0x31, 0x32, 0x46, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x58,
  0x61, 0x62, 0x63, 0x64, 0x7d, 0x65, 0x67, 0x68, 0x69, 0x6a, 0x6c, 0x5d, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x29, 0x75,
  0x47, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x42, 0x43, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
  0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
];

function findAll(bytes: Uint8Array, pattern: number[]): number[] {
  const out: number[] = [];
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    out.push(i);
  }
  return out;
}

/** Field offsets and widths of each zip record, for targeted edits. */
const ZIP_FIELDS: Record<string, { signature: number[]; fields: [number, number][] }> = {
  local: { signature: [0x50, 0x4b, 0x03, 0x04], fields: [[4, 2], [6, 2], [8, 2], [14, 4], [18, 4], [22, 4], [26, 2], [28, 2]] },
  central: {
    signature: [0x50, 0x4b, 0x01, 0x02],
    fields: [[6, 2], [8, 2], [10, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [34, 2], [42, 4]],
  },
  eocd: { signature: [0x50, 0x4b, 0x05, 0x06], fields: [[4, 2], [6, 2], [8, 2], [10, 2], [12, 4], [16, 4], [20, 2]] },
  zip64eocd: { signature: [0x50, 0x4b, 0x06, 0x06], fields: [[4, 8], [16, 4], [20, 4], [24, 8], [32, 8], [40, 8], [48, 8]] },
  zip64locator: { signature: [0x50, 0x4b, 0x06, 0x07], fields: [[4, 4], [8, 8], [16, 4]] },
};

function setField(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + width > bytes.length) return;
  const v = BigInt.asUintN(width * 8, value);
  if (width === 2) view.setUint16(at, Number(v), true);
  else if (width === 4) view.setUint32(at, Number(v), true);
  else view.setBigUint64(at, v, true);
}

function getField(bytes: Uint8Array, at: number, width: number): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 2) return BigInt(view.getUint16(at, true));
  if (width === 4) return BigInt(view.getUint32(at, true));
  return view.getBigUint64(at, true);
}

interface Target {
  name: string;
  bytes: Uint8Array;
  /** [start, end) of the pickle bytes within the file. */
  pickle: [number, number];
  /** Where to write a new CRC-32 after editing the pickle (zip only). */
  pickleCrcAt: number | null;
  /** Raw storage bytes (with their CRC field, zip only) whose edits must still load. */
  storages: { range: [number, number]; crcAt: number | null }[];
  zip: boolean;
}

function zipTarget(name: string): Target {
  const bytes = new Uint8Array(readFileSync(`${TORCH}${name}`));
  const view = new DataView(bytes.buffer);
  const storages: Target['storages'] = [];
  let pickle: [number, number] = [0, 0];
  let pickleCrcAt = -1;
  for (const central of findAll(bytes, ZIP_FIELDS.central!.signature)) {
    const nameLength = view.getUint16(central + 28, true);
    const entryName = new TextDecoder().decode(bytes.subarray(central + 46, central + 46 + nameLength));
    const local = view.getUint32(central + 42, true);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const range: [number, number] = [dataStart, dataStart + view.getUint32(central + 20, true)];
    if (entryName.endsWith('/data.pkl')) {
      pickle = range;
      pickleCrcAt = central + 16;
    } else if (entryName.includes('/data/')) {
      storages.push({ range, crcAt: central + 16 });
    }
  }
  assert.ok(pickleCrcAt > 0 && storages.length === 40, `${name}: found data.pkl and 40 storages`);
  return { name, bytes, pickle, pickleCrcAt, storages, zip: true };
}

function legacyTarget(name: string): Target {
  const bytes = new Uint8Array(readFileSync(`${TORCH}${name}`));
  const view = new DataView(bytes.buffer);
  // The storage-key list pickle ends with APPENDS STOP; the first storage's int64 element count follows.
  const end = findAll(bytes, [0x65, 0x2e]).map((i) => i + 2).find((i) => i + 8 <= bytes.length && view.getBigUint64(i, true) * 4n <= BigInt(bytes.length - i));
  assert.ok(end !== undefined && end > 4000, `${name}: found the end of the pickles`);
  const storages: Target['storages'] = [];
  for (let at = end; at + 8 <= bytes.length;) {
    const count = Number(view.getBigUint64(at, true));
    storages.push({ range: [at + 8, at + 8 + count * 4], crcAt: null });
    at += 8 + count * 4;
  }
  return { name, bytes, pickle: [0, end], pickleCrcAt: null, storages, zip: false };
}

function interesting(rng: Random, original: bigint, fileLength: number): bigint {
  const choices = [0n, 1n, original + 1n, original - 1n, original * 2n, 0xffffn, 0xffffffffn, 0xffffffffffffffffn, BigInt(fileLength), BigInt(rng.int(2 ** 31))];
  return choices[rng.int(choices.length)]!;
}

/** One mutation of the target: the bytes and a label for failure reports. */
function mutate(target: Target, rng: Random): { kind: string; bytes: Uint8Array } {
  const source = target.bytes;
  const kinds = target.zip
    ? ['truncate', 'flip', 'bit', 'zip-field', 'zip-field', 'pickle-opcode', 'pickle-byte', 'pickle-small-int', 'storage-byte']
    : ['truncate', 'flip', 'bit', 'pickle-opcode', 'pickle-byte', 'pickle-small-int', 'pickle-cut', 'storage-byte', 'count-field'];
  const kind = kinds[rng.int(kinds.length)]!;
  const [pickleStart, pickleEnd] = target.pickle;
  const fixPickleCrc = (bytes: Uint8Array): void => {
    if (target.pickleCrcAt !== null) setField(bytes, target.pickleCrcAt, 4, BigInt(crc32(bytes.subarray(pickleStart, pickleEnd))));
  };
  switch (kind) {
    case 'truncate':
      return { kind, bytes: source.slice(0, rng.int(source.length)) };
    case 'flip': {
      const bytes = source.slice();
      for (let n = 1 + rng.int(4); n > 0; n--) bytes[rng.int(bytes.length)] = rng.int(256);
      return { kind, bytes };
    }
    case 'bit': {
      const bytes = source.slice();
      const at = rng.int(bytes.length);
      bytes[at]! ^= 1 << rng.int(8);
      return { kind, bytes };
    }
    case 'zip-field': {
      const bytes = source.slice();
      const records = Object.values(ZIP_FIELDS);
      const record = records[rng.int(records.length)]!;
      const places = findAll(bytes, record.signature);
      if (places.length === 0) return { kind, bytes };
      const at = places[rng.int(places.length)]!;
      const [offset, width] = record.fields[rng.int(record.fields.length)]!;
      if (at + offset + width > bytes.length) return { kind, bytes };
      setField(bytes, at + offset, width, interesting(rng, getField(bytes, at + offset, width), bytes.length));
      return { kind: `${kind}@${at + offset}`, bytes };
    }
    case 'pickle-opcode': {
      // Replace a byte of the pickle with an opcode (valid CRC, so the unpickler sees it).
      const bytes = source.slice();
      const at = pickleStart + rng.int(pickleEnd - pickleStart);
      bytes[at] = OPCODES[rng.int(OPCODES.length)]!;
      fixPickleCrc(bytes);
      return { kind: `${kind}@${at}`, bytes };
    }
    case 'pickle-byte': {
      const bytes = source.slice();
      for (let n = 1 + rng.int(3); n > 0; n--) bytes[pickleStart + rng.int(pickleEnd - pickleStart)] = rng.int(256);
      fixPickleCrc(bytes);
      return { kind, bytes };
    }
    case 'pickle-small-int': {
      // The argument of a BININT1 (shapes, strides, offsets, element counts) or BININT2.
      const bytes = source.slice();
      const candidates = [...findAll(bytes.subarray(pickleStart, pickleEnd), [0x4b]), ...findAll(bytes.subarray(pickleStart, pickleEnd), [0x4d])];
      if (candidates.length === 0) return { kind, bytes };
      const at = pickleStart + candidates[rng.int(candidates.length)]! + 1;
      bytes[at] = rng.int(4) === 0 ? 0 : rng.int(256);
      fixPickleCrc(bytes);
      return { kind: `${kind}@${at}`, bytes };
    }
    case 'pickle-cut': {
      // Legacy only: remove or repeat a span of the pickles (everything after shifts).
      const from = pickleStart + rng.int(pickleEnd - pickleStart);
      const length = 1 + rng.int(16);
      const bytes = rng.int(2) === 0
        ? new Uint8Array([...source.subarray(0, from), ...source.subarray(Math.min(source.length, from + length))])
        : new Uint8Array([...source.subarray(0, from + length), ...source.subarray(from)]);
      return { kind: `${kind}@${from}`, bytes };
    }
    case 'storage-byte': {
      // Data edits with a valid CRC must load: only values change.
      const bytes = source.slice();
      const storage = target.storages[rng.int(target.storages.length)]!;
      const [start, end] = storage.range;
      bytes[start + rng.int(end - start)] = rng.int(256);
      if (storage.crcAt !== null) setField(bytes, storage.crcAt, 4, BigInt(crc32(bytes.subarray(start, end))));
      return { kind: 'storage-byte (must load)', bytes };
    }
    default: {
      // count-field: a legacy storage's int64 element count.
      const bytes = source.slice();
      const storage = target.storages[rng.int(target.storages.length)]!;
      const at = storage.range[0] - 8;
      setField(bytes, at, 8, interesting(rng, getField(bytes, at, 8), bytes.length));
      return { kind: `${kind}@${at}`, bytes };
    }
  }
}

function runFuzz(): FuzzReport {
  const report: FuzzReport = { cases: 0, loaded: 0, refused: 0, byKind: {}, maxCaseMs: 0, rssGrowth: 0, failures: [] };
  const baseline = process.memoryUsage().rss;
  const started = performance.now();
  const targets = [zipTarget('kat_small32.pth'), legacyTarget('kat_small32_legacy.pth')];
  for (const [index, target] of targets.entries()) {
    const rng = new Random(20_240_601 + index);
    const reference = decodePytorchCheckpoint(target.bytes, { source: target.name });
    for (let n = 0; n < CASES_PER_FILE; n++) {
      const { kind, bytes } = mutate(target, rng);
      const caseStart = performance.now();
      const label = `${target.name} case ${n} (${kind.split('@')[0]})`;
      const baseKind = kind.split('@')[0]!;
      report.byKind[baseKind] = (report.byKind[baseKind] ?? 0) + 1;
      try {
        isPytorchCheckpoint(bytes);
        const checkpoint = decodePytorchCheckpoint(bytes, { source: 'fuzz.pth' });
        for (const [name, t] of checkpoint.tensors) {
          const size = t.shape.reduce((a, b) => a * b, 1);
          if (!(t.values instanceof Float32Array) || t.values.length !== size) report.failures.push(`${label}: '${name}' has ${t.values.length} values for shape [${t.shape}]`);
        }
        if (kind.startsWith('storage-byte') && checkpoint.tensors.size !== reference.tensors.size) {
          report.failures.push(`${label}: a data edit changed the tensor set`);
        }
        report.loaded++;
      } catch (error) {
        if (!(error instanceof PytorchCheckpointError)) {
          report.failures.push(`${label} at ${kind}: ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error)}`);
        } else if (!/^(checkpoint 'fuzz\.pth': |refusing to load '[^']+' from checkpoint 'fuzz\.pth': )/.test(error.message)) {
          report.failures.push(`${label}: message does not name the source: ${error.message}`);
        } else if (kind.startsWith('storage-byte')) {
          report.failures.push(`${label}: a data edit with a valid CRC was refused: ${error.message}`);
        }
        report.refused++;
      }
      report.cases++;
      const elapsed = performance.now() - caseStart;
      report.maxCaseMs = Math.max(report.maxCaseMs, elapsed);
      if (elapsed > CASE_LIMIT_MS) report.failures.push(`${label} took ${elapsed.toFixed(0)} ms`);
      report.rssGrowth = Math.max(report.rssGrowth, process.memoryUsage().rss - baseline);
      if (performance.now() - started > TIME_LIMIT_MS) {
        report.failures.push(`stopped after ${report.cases} cases: over ${TIME_LIMIT_MS} ms`);
        return report;
      }
    }
  }
  return report;
}

// ---------------------------------------------------------------------------
// The test (main thread): runs the worker under a time limit
// ---------------------------------------------------------------------------

if (!isMainThread) {
  parentPort!.postMessage(runFuzz());
} else {
  describe('damaged PyTorch checkpoints', () => {
    it(`${2 * CASES_PER_FILE} seeded mutations of the zip and legacy files load or give a PytorchCheckpointError, in bounded time and memory`, async () => {
      const worker = new Worker(new URL(import.meta.url), { execArgv: [] });
      let timer: NodeJS.Timeout | undefined;
      const report = await new Promise<FuzzReport>((resolve, reject) => {
        timer = setTimeout(() => {
          void worker.terminate();
          reject(new Error(`the fuzz loop did not finish within ${TIME_LIMIT_MS + 15_000} ms (a hang?)`));
        }, TIME_LIMIT_MS + 15_000);
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the fuzz worker exited with code ${code} before reporting`)));
      }).finally(() => {
        clearTimeout(timer);
        void worker.terminate();
      });
      assert.deepEqual(report.failures.slice(0, 5), []);
      assert.equal(report.cases, 2 * CASES_PER_FILE);
      // Both outcomes occur, and every mutation kind ran.
      assert.ok(report.loaded > 50 && report.refused > 500, `loaded ${report.loaded}, refused ${report.refused}`);
      for (const [kind, count] of Object.entries(report.byKind)) assert.ok(count > 20, `${kind}: ${count} cases`);
      assert.ok(report.rssGrowth < RSS_LIMIT, `rss grew by ${(report.rssGrowth / 2 ** 20).toFixed(0)} MiB`);
      assert.ok(report.maxCaseMs < CASE_LIMIT_MS, `slowest case ${report.maxCaseMs.toFixed(0)} ms`);
    });
  });
}
