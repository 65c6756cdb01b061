// Reading PyTorch checkpoints: every fixture written by real PyTorch 1.13 /
// timm loads, the variants agree with each other, views come out exactly,
// hostile files are refused, and the weights give the reference logits.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { unzipSync, zipSync } from 'fflate';

import {
  decodePytorchCheckpoint,
  isPytorchCheckpoint,
  PytorchCheckpointError,
  type PytorchCheckpoint,
} from '../src/io/pytorch/index.js';
import type { SafetensorsTensor } from '../src/io/safetensors.js';
import { buildModel, type ModelSpec } from '../src/models/registry.js';
import type { NamedValues } from '../src/nn/module.js';
import { tensor } from '../src/ops/creation.js';
import { setBackend } from '../src/tensor/engine.js';
import { crc32 } from './support/crc32.js';

// build/test/*.js -> test/fixtures
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(`${FIXTURES}torch/${name}`));
const expected = JSON.parse(readFileSync(`${FIXTURES}expected.json`, 'utf8')) as Record<string, unknown> & {
  input: number[];
  input_shape: number[];
  logits: number[];
  logits_ema: number[];
  logits_fp16: number[];
  logits_pth: number[];
  logits_bf16: number[];
  views: Record<string, number[]>;
};

const load = (name: string, weights?: 'default' | 'ema'): PytorchCheckpoint =>
  decodePytorchCheckpoint(fixture(name), { source: name, ...(weights ? { weights } : {}) });

// ---------------------------------------------------------------------------
// Independent helpers (none uses the module under test)
// ---------------------------------------------------------------------------

function bitsOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function assertSameTensors(actual: Map<string, SafetensorsTensor>, wanted: Map<string, SafetensorsTensor>, label: string): void {
  assert.deepEqual([...actual.keys()], [...wanted.keys()], `${label}: names`);
  for (const [name, want] of wanted) {
    const got = actual.get(name)!;
    assert.deepEqual(got.shape, want.shape, `${label}: shape of ${name}`);
    assert.equal(got.values.length, want.values.length, `${label}: size of ${name}`);
    assert.ok(Buffer.from(bitsOf(got.values)).equals(Buffer.from(bitsOf(want.values))), `${label}: values of ${name} differ`);
  }
}

/** Exponent e with 2^e <= |x| < 2^(e+1). */
function exponentOf(x: number): number {
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

/** Rounds to a grid step (a power of two), ties to even: exact for float32 inputs. */
function roundToStep(x: number, step: number): number {
  const q = x / step;
  const floor = Math.floor(q);
  const rest = q - floor;
  const n = rest > 0.5 || (rest === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return n * step;
}

/** float -> IEEE binary16 -> float, round to nearest even (finite inputs within range). */
function roundToF16(x: number): number {
  if (x === 0) return x;
  const step = 2 ** (Math.max(exponentOf(x), -14) - 10);
  const r = roundToStep(x, step);
  return Math.abs(r) > 65504 ? Math.sign(r) * Infinity : r;
}

/** float -> bfloat16 (8 significant bits) -> float, round to nearest even. */
function roundToBF16(x: number): number {
  if (x === 0) return x;
  return roundToStep(x, 2 ** (Math.max(exponentOf(x), -126) - 7));
}

/**
 * A stored zip in which every size and offset lives only in zip64 extra
 * fields (the classic fields saturated), as a >4 GiB checkpoint would be.
 */
function zip64Stored(files: Record<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const push = (part: Uint8Array): void => {
    parts.push(part);
    offset += part.length;
  };
  for (const [name, data] of Object.entries(files)) {
    const nameBytes = new TextEncoder().encode(name);
    const local = new DataView(new ArrayBuffer(30 + nameBytes.length + 20));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 45, true);
    local.setUint32(14, crc32(data), true);
    local.setUint32(18, 0xffffffff, true);
    local.setUint32(22, 0xffffffff, true);
    local.setUint16(26, nameBytes.length, true);
    local.setUint16(28, 20, true);
    new Uint8Array(local.buffer).set(nameBytes, 30);
    local.setUint16(30 + nameBytes.length, 0x0001, true);
    local.setUint16(32 + nameBytes.length, 16, true);
    local.setBigUint64(34 + nameBytes.length, BigInt(data.length), true);
    local.setBigUint64(42 + nameBytes.length, BigInt(data.length), true);
    const headerOffset = offset;
    push(new Uint8Array(local.buffer));
    push(data);
    const entry = new DataView(new ArrayBuffer(46 + nameBytes.length + 28));
    entry.setUint32(0, 0x02014b50, true);
    entry.setUint16(4, 45, true);
    entry.setUint16(6, 45, true);
    entry.setUint32(16, crc32(data), true);
    entry.setUint32(20, 0xffffffff, true);
    entry.setUint32(24, 0xffffffff, true);
    entry.setUint16(28, nameBytes.length, true);
    entry.setUint16(30, 28, true);
    entry.setUint32(42, 0xffffffff, true);
    new Uint8Array(entry.buffer).set(nameBytes, 46);
    const extra = 46 + nameBytes.length;
    entry.setUint16(extra, 0x0001, true);
    entry.setUint16(extra + 2, 24, true);
    entry.setBigUint64(extra + 4, BigInt(data.length), true);
    entry.setBigUint64(extra + 12, BigInt(data.length), true);
    entry.setBigUint64(extra + 20, BigInt(headerOffset), true);
    central.push(new Uint8Array(entry.buffer));
  }
  const directoryOffset = offset;
  for (const entry of central) push(entry);
  const directorySize = offset - directoryOffset;
  const count = central.length;
  const record = new DataView(new ArrayBuffer(56));
  record.setUint32(0, 0x06064b50, true);
  record.setBigUint64(4, 44n, true);
  record.setUint16(12, 45, true);
  record.setUint16(14, 45, true);
  record.setBigUint64(24, BigInt(count), true);
  record.setBigUint64(32, BigInt(count), true);
  record.setBigUint64(40, BigInt(directorySize), true);
  record.setBigUint64(48, BigInt(directoryOffset), true);
  const recordOffset = offset;
  push(new Uint8Array(record.buffer));
  const locator = new DataView(new ArrayBuffer(20));
  locator.setUint32(0, 0x07064b50, true);
  locator.setBigUint64(8, BigInt(recordOffset), true);
  locator.setUint32(16, 1, true);
  push(new Uint8Array(locator.buffer));
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, 0xffff, true);
  end.setUint16(10, 0xffff, true);
  end.setUint32(12, 0xffffffff, true);
  end.setUint32(16, 0xffffffff, true);
  push(new Uint8Array(end.buffer));
  const out = new Uint8Array(offset);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Assembles pickle bytes opcode by opcode. */
class Pickle {
  private readonly bytes: number[] = [];
  op(...codes: number[]): this {
    this.bytes.push(...codes);
    return this;
  }
  proto(version = 2): this { return this.op(0x80, version); }
  mark(): this { return this.op(0x28); }
  stop(): this { return this.op(0x2e); }
  none(): this { return this.op(0x4e); }
  bool(value: boolean): this { return this.op(value ? 0x88 : 0x89); }
  emptyTuple(): this { return this.op(0x29); }
  tuple(): this { return this.op(0x74); }
  emptyDict(): this { return this.op(0x7d); }
  setitems(): this { return this.op(0x75); }
  reduce(): this { return this.op(0x52); }
  newobj(): this { return this.op(0x81); }
  build(): this { return this.op(0x62); }
  binpersid(): this { return this.op(0x51); }
  int(value: number): this {
    if (value >= 0 && value < 256) return this.op(0x4b, value);
    if (value >= 0 && value < 65536) return this.op(0x4d, value & 0xff, value >>> 8);
    if (value >= -(2 ** 31) && value < 2 ** 31) return this.op(0x4a, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
    return this.long(BigInt(value));
  }
  long(value: bigint): this {
    const out: number[] = [];
    let v = value;
    for (;;) {
      const byte = Number(BigInt.asUintN(8, v));
      out.push(byte);
      v >>= 8n;
      if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
    }
    return this.op(0x8a, out.length, ...out);
  }
  float(value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, false);
    return this.op(0x47, ...new Uint8Array(view.buffer));
  }
  str(text: string): this {
    const utf8 = new TextEncoder().encode(text);
    return this.op(0x58, utf8.length & 0xff, (utf8.length >>> 8) & 0xff, (utf8.length >>> 16) & 0xff, utf8.length >>> 24, ...utf8);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  ints(values: number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  /** torch._utils._rebuild_tensor_v2 of a storage persistent id, as torch.save writes it. */
  tensor(t: { type: string; key: string; numel: number; offset?: number; shape: number[]; stride?: number[] }): this {
    const stride = t.stride ?? t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', t.type).str(t.key).str('cpu').int(t.numel).tuple().binpersid();
    this.int(t.offset ?? 0).ints(t.shape).ints(stride).bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
  done(): Uint8Array {
    return new Uint8Array(this.bytes);
  }
}

/** A zip-format checkpoint around a pickle and its storages (stored entries). */
function zipCheckpoint(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, archive = 'archive'): Uint8Array {
  const files: Record<string, Uint8Array> = { [`${archive}/data.pkl`]: pickle };
  for (const [key, data] of Object.entries(storages)) files[`${archive}/data/${key}`] = data;
  files[`${archive}/version`] = new TextEncoder().encode('3\n');
  return zipSync(files, { level: 0 });
}

function littleEndianBytes(array: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array): Uint8Array {
  return new Uint8Array(array.buffer.slice(0));
}

function throwsCheckpointError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof PytorchCheckpointError, `expected a PytorchCheckpointError, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------
// The fixtures
// ---------------------------------------------------------------------------

const FP32_VARIANTS = ['kat_small32_legacy.pth', 'kat_small32_ddp.pth', 'hub_kat_small32/pytorch_model.bin'];

describe('PyTorch checkpoints written by PyTorch 1.13', () => {
  const reference = load('kat_small32.pth');

  it('kat_small32.pth: the 40 float32 tensors of the state dict, no notes, no metadata', () => {
    assert.equal(reference.tensors.size, 40);
    assert.deepEqual(reference.notes, []);
    assert.deepEqual(reference.metadata, {});
    assert.deepEqual(reference.tensors.get('pos_embed')!.shape, [1, 17, 48]);
    assert.deepEqual(reference.tensors.get('patch_embed.proj.weight')!.shape, [48, 3, 8, 8]);
    assert.deepEqual(reference.tensors.get('blocks.1.mlp.act2.weight_denominator')!.shape, [8, 4]);
    for (const [name, t] of reference.tensors) {
      assert.equal(t.dtype, 'F32', name);
      assert.equal(t.values.length, t.shape.reduce((a, b) => a * b, 1), name);
    }
  });

  it('every float32 variant (legacy, DDP, hub folder) gives the same tensors bit for bit', () => {
    for (const name of FP32_VARIANTS) assertSameTensors(load(name).tensors, reference.tensors, name);
  });

  it('the legacy (pre-1.6) file equals the zip file', () => {
    const legacy = load('kat_small32_legacy.pth');
    assertSameTensors(legacy.tensors, reference.tensors, 'legacy');
    assert.deepEqual(legacy.notes, []);
  });

  it('DDP names lose their module. prefix, with a note', () => {
    const ddp = load('kat_small32_ddp.pth');
    assert.ok([...ddp.tensors.keys()].every((n) => !n.startsWith('module.')));
    assert.deepEqual(ddp.notes, ['stripped the module. prefix (DistributedDataParallel) from 40 names']);
  });

  for (const [file, round, dtype] of [
    ['kat_small32_fp16.pth', roundToF16, 'F16'],
    ['kat_small32_bf16.pth', roundToBF16, 'BF16'],
  ] as const) {
    it(`${file}: each value is the float32 value rounded to ${dtype} (round to nearest even)`, () => {
      const half = load(file);
      assert.deepEqual([...half.tensors.keys()], [...reference.tensors.keys()]);
      let changed = 0;
      for (const [name, want] of reference.tensors) {
        const got = half.tensors.get(name)!;
        assert.equal(got.dtype, dtype);
        assert.deepEqual(got.shape, want.shape);
        for (let i = 0; i < want.values.length; i++) {
          const rounded = round(want.values[i]!);
          assert.ok(Object.is(got.values[i], rounded), `${name}[${i}]: ${want.values[i]} rounds to ${rounded}, read ${got.values[i]}`);
          if (rounded !== want.values[i]) changed++;
        }
      }
      assert.ok(changed > 1000, 'the rounding is visible');
    });
  }

  it('the training checkpoint: state_dict by default (one AdamW step from kat_small32), metadata from the checkpoint', () => {
    const train = load('kat_small32_train_checkpoint.pth.tar');
    assert.deepEqual(train.metadata, { epoch: '3', arch: 'kat_tiny_patch16_224', version: '2', metric: '12.5' });
    assert.deepEqual(train.notes, ['using state_dict', "the checkpoint also holds EMA weights (state_dict_ema); weights 'ema' selects them"]);
    assert.deepEqual([...train.tensors.keys()], [...reference.tensors.keys()]);
    // Not the same weights as kat_small32.pth: every value moved, by at most about lr = 1e-3 (one AdamW step).
    let maxDiff = 0;
    let equal = 0;
    for (const [name, want] of reference.tensors) {
      const got = train.tensors.get(name)!;
      assert.deepEqual(got.shape, want.shape);
      for (let i = 0; i < want.values.length; i++) {
        const d = Math.abs(got.values[i]! - want.values[i]!);
        maxDiff = Math.max(maxDiff, d);
        if (d === 0) equal++;
      }
    }
    assert.equal(equal, 0);
    assert.ok(maxDiff > 5e-4 && maxDiff < 2e-3, `max difference ${maxDiff}`);
  });

  it("weights 'ema' selects state_dict_ema, which differs from state_dict; a file without EMA weights refuses", () => {
    const ema = load('kat_small32_train_checkpoint.pth.tar', 'ema');
    const plain = load('kat_small32_train_checkpoint.pth.tar');
    assert.deepEqual(ema.notes, ['using state_dict_ema (EMA weights)']);
    assert.deepEqual(ema.metadata, plain.metadata);
    assert.deepEqual([...ema.tensors.keys()], [...plain.tensors.keys()]);
    const differing = [...ema.tensors].filter(([name, t]) => !Buffer.from(bitsOf(t.values)).equals(Buffer.from(bitsOf(plain.tensors.get(name)!.values))));
    assert.equal(differing.length, 40);
    throwsCheckpointError(() => load('kat_small32.pth', 'ema'), /checkpoint 'kat_small32\.pth': has no EMA weights \(no state_dict_ema or model_ema dict\); its entries: cls_token, pos_embed/);
  });

  it('views.pth: a transpose, a 2-D slice with an offset and a name sharing a storage come out exactly', () => {
    const views = load('views.pth');
    assert.deepEqual([...views.tensors.keys()], ['view_t', 'view_slice', 'shared_a', 'shared_b']);
    assert.deepEqual(views.tensors.get('view_t')!.shape, [48, 4]);
    assert.deepEqual(views.tensors.get('view_slice')!.shape, [2, 15]);
    assert.deepEqual(views.tensors.get('shared_b')!.shape, [48]);
    for (const name of ['view_t', 'view_slice', 'shared_b']) {
      assert.deepEqual([...views.tensors.get(name)!.values], expected.views[name], name);
    }
    // view_t is shared_a transposed: the same storage read with strides (1, 48).
    const a = views.tensors.get('shared_a')!.values;
    const t = views.tensors.get('view_t')!.values;
    for (let i = 0; i < 48; i++) for (let j = 0; j < 4; j++) assert.equal(t[i * 4 + j], a[j * 48 + i]);
  });

  it('evil.pth is refused by naming the global, and runs nothing', () => {
    throwsCheckpointError(
      () => load('evil.pth'),
      /^refusing to load 'posix\.system' from checkpoint 'evil\.pth': only tensor checkpoint globals are allowed$/,
    );
    assert.equal(existsSync('/tmp/katjs-pwned'), false);
    assert.equal(isPytorchCheckpoint(fixture('evil.pth')), true, 'it looks like a checkpoint; reading it is what fails');
  });

  it('isPytorchCheckpoint: true for every fixture, false for other bytes', () => {
    for (const name of ['kat_small32.pth', 'kat_small32_train_checkpoint.pth.tar', 'views.pth', ...FP32_VARIANTS]) {
      assert.equal(isPytorchCheckpoint(fixture(name)), true, name);
    }
    assert.equal(isPytorchCheckpoint(new Uint8Array(0)), false);
    assert.equal(isPytorchCheckpoint(new Uint8Array([0x80, 0x02, 0x7d, 0x2e])), false);
    assert.equal(isPytorchCheckpoint(zipSync({ 'a.txt': new Uint8Array([1, 2, 3]) })), false);
    assert.equal(isPytorchCheckpoint(fixture('kat_small32.pth').subarray(0, 1000)), false);
  });
});

// ---------------------------------------------------------------------------
// Re-packed archives
// ---------------------------------------------------------------------------

describe('other zip layouts of the same checkpoint', () => {
  const reference = load('kat_small32.pth');
  const entries = unzipSync(fixture('kat_small32.pth'));

  it('deflated entries (fflate level 6) under another archive folder name load identically', () => {
    const files: Record<string, Uint8Array> = {};
    for (const [name, data] of Object.entries(entries)) files[name.replace(/^kat_small32\//, 'renamed_folder/')] = data;
    const deflated = zipSync(files, { level: 6 });
    // Method 8 in the first central directory entry's header: the entries really are deflated.
    const view = new DataView(deflated.buffer, deflated.byteOffset, deflated.byteLength);
    assert.equal(view.getUint16(8, true), 8);
    assert.ok(deflated.length < fixture('kat_small32.pth').length);
    assert.equal(isPytorchCheckpoint(deflated), true);
    assertSameTensors(decodePytorchCheckpoint(deflated, { source: 'deflated' }).tensors, reference.tensors, 'deflated');
  });

  it('zip64 extra fields with saturated classic sizes and offsets load identically', () => {
    const bytes = zip64Stored(entries);
    assertSameTensors(decodePytorchCheckpoint(bytes, { source: 'zip64' }).tensors, reference.tensors, 'zip64');
  });

  it('byteorder "big" storages are byte-swapped back (float32 and float16)', () => {
    for (const [file, size] of [['kat_small32.pth', 4], ['kat_small32_fp16.pth', 2]] as const) {
      const files: Record<string, Uint8Array> = {};
      for (const [name, data] of Object.entries(unzipSync(fixture(file)))) {
        if (/\/data\/\d+$/.test(name)) {
          const swapped = new Uint8Array(data.length);
          for (let i = 0; i < data.length; i += size) for (let b = 0; b < size; b++) swapped[i + b] = data[i + size - 1 - b]!;
          files[name] = swapped;
        } else {
          files[name] = data;
        }
      }
      const archive = Object.keys(files)[0]!.split('/')[0]!;
      files[`${archive}/byteorder`] = new TextEncoder().encode('big');
      assertSameTensors(decodePytorchCheckpoint(zipSync(files, { level: 0 }), { source: 'big' }).tensors, load(file).tensors, `${file} big-endian`);
      files[`${archive}/byteorder`] = new TextEncoder().encode('middle');
      throwsCheckpointError(() => decodePytorchCheckpoint(zipSync(files, { level: 0 }), { source: 'odd' }), /byteorder is 'middle', expected 'little' or 'big'/);
    }
  });

  it('classic end-of-directory fields saturated (0xFFFF / 0xFFFFFFFF) defer to the zip64 record', () => {
    const bytes = fixture('kat_small32.pth').slice();
    const end = bytes.length - 22;
    const view = new DataView(bytes.buffer);
    assert.equal(view.getUint32(end, true), 0x06054b50);
    view.setUint16(end + 8, 0xffff, true);
    view.setUint16(end + 10, 0xffff, true);
    view.setUint32(end + 12, 0xffffffff, true);
    view.setUint32(end + 16, 0xffffffff, true);
    assertSameTensors(decodePytorchCheckpoint(bytes).tensors, reference.tensors, 'saturated');
  });
});

// ---------------------------------------------------------------------------
// Hand-made checkpoints
// ---------------------------------------------------------------------------

describe('hand-made checkpoints', () => {
  it('integer, bool and float64 tensors; non-tensor entries; module._orig_mod. prefixes', () => {
    const p = new Pickle().proto().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    p.str('module._orig_mod.small_ints').tensor({ type: 'LongStorage', key: '0', numel: 3, shape: [3] });
    p.str('module._orig_mod.big_ints').tensor({ type: 'LongStorage', key: '1', numel: 2, shape: [2] });
    p.str('module._orig_mod.flags').tensor({ type: 'BoolStorage', key: '2', numel: 4, shape: [2, 2] });
    p.str('module._orig_mod.doubles').tensor({ type: 'DoubleStorage', key: '3', numel: 2, shape: [2] });
    p.str('module._orig_mod.int32s').tensor({ type: 'IntStorage', key: '4', numel: 2, shape: [2] });
    p.str('module._orig_mod.steps').int(7);
    p.setitems().stop();
    const bytes = zipCheckpoint(p.done(), {
      0: littleEndianBytes(new BigInt64Array([-3n, 0n, 16777216n])),
      1: littleEndianBytes(new BigInt64Array([1n, 2n ** 60n + 1n])),
      2: new Uint8Array([1, 0, 0, 1]),
      3: littleEndianBytes(new Float64Array([0.1, -2.5])),
      4: littleEndianBytes(new Int32Array([16777217, 5])),
    });
    const checkpoint = decodePytorchCheckpoint(bytes, { source: 'mixed.pth' });
    assert.deepEqual([...checkpoint.tensors.keys()], ['small_ints', 'flags', 'doubles']);
    assert.deepEqual(checkpoint.tensors.get('small_ints'), { dtype: 'I64', shape: [3], values: new Float32Array([-3, 0, 16777216]) });
    assert.deepEqual(checkpoint.tensors.get('flags'), { dtype: 'BOOL', shape: [2, 2], values: new Float32Array([1, 0, 0, 1]) });
    assert.deepEqual(checkpoint.tensors.get('doubles'), { dtype: 'F64', shape: [2], values: new Float32Array([0.1, -2.5]) });
    assert.deepEqual(checkpoint.notes, [
      'ignored 1 non-tensor entry (module._orig_mod.steps)',
      'stripped the module. prefix (DistributedDataParallel) from 5 names',
      'stripped the _orig_mod. prefix (torch.compile) from 5 names',
      'read 2 integer or bool tensors as float32 (small_ints, flags)',
      'skipped 2 integer tensors float32 cannot hold exactly (big_ints, int32s)',
    ]);
  });

  it('a timm-style training checkpoint: "model" weights, an argparse Namespace, a numpy float64 metric', () => {
    const p = new Pickle().proto().emptyDict().mark();
    p.str('model').emptyDict().mark().str('w').tensor({ type: 'FloatStorage', key: '0', numel: 2, shape: [2] }).setitems();
    p.str('args').global('argparse', 'Namespace').emptyTuple().newobj().emptyDict().mark()
      .str('model').str('kat_base_patch16_224').str('epochs').int(300).str('lr').float(1e-3).setitems().build();
    // numpy.core.multiarray.scalar(numpy.dtype('f8'), _codecs.encode(<8 bytes as latin1 text>, 'latin1'))
    const metricBytes = littleEndianBytes(new Float64Array([81.25]));
    p.str('metric').global('numpy.core.multiarray', 'scalar').mark()
      .global('numpy', 'dtype').mark().str('f8').bool(false).bool(true).tuple().reduce()
      .mark().int(3).str('<').none().none().none().int(-1).int(-1).int(0).tuple().build()
      .global('_codecs', 'encode').mark().str(String.fromCharCode(...metricBytes)).str('latin1').tuple().reduce()
      .tuple().reduce();
    p.str('epoch').int(12).setitems().stop();
    const checkpoint = decodePytorchCheckpoint(zipCheckpoint(p.done(), { 0: littleEndianBytes(new Float32Array([1.5, -2])) }));
    assert.deepEqual(checkpoint.metadata, { metric: '81.25', epoch: '12', arch: 'kat_base_patch16_224' });
    assert.deepEqual(checkpoint.notes, ['using model']);
    assert.deepEqual([...checkpoint.tensors.get('w')!.values], [1.5, -2]);
  });

  it('nn.Parameter wrappers (_rebuild_parameter) and a highly compressed deflated storage', () => {
    const p = new Pickle().proto().emptyDict().mark();
    p.str('weight').global('torch._utils', '_rebuild_parameter').mark()
      .tensor({ type: 'FloatStorage', key: '0', numel: 2_000_000, shape: [1000, 2000] })
      .bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
    p.setitems().stop();
    const zeros = new Float32Array(2_000_000);
    zeros[1_999_999] = 7;
    const files = { 'archive/data.pkl': p.done(), 'archive/data/0': littleEndianBytes(zeros) };
    const bytes = zipSync(files, { level: 9 });
    assert.ok(bytes.length < 100_000, `deflated to ${bytes.length} bytes`);
    const weight = decodePytorchCheckpoint(bytes).tensors.get('weight')!;
    assert.deepEqual(weight.shape, [1000, 2000]);
    assert.equal(weight.values[1_999_999], 7);
    assert.equal(weight.values.reduce((a, b) => a + b, 0), 7);
  });

  it('the legacy format: storage views (view_metadata), several storages; big-endian files are refused', () => {
    const legacy = (littleEndian: boolean): Uint8Array => {
      const magic = new Pickle().proto().long(0x1950a86a20f9469cfc6cn).stop().done();
      const version = new Pickle().proto().int(1001).stop().done();
      const sysInfo = new Pickle().proto().emptyDict().mark().str('protocol_version').int(1001).str('little_endian').bool(littleEndian)
        .str('type_sizes').emptyDict().mark().str('short').int(2).str('int').int(4).str('long').int(4).setitems().setitems().stop().done();
      // ('storage', FloatStorage, 'root', 'cpu', 6, ('view', 2, 3)): elements 2..4 of root.
      const storageId = (view: boolean) => {
        const q = new Pickle().mark().str('storage').global('torch', 'FloatStorage').str('root').str('cpu').int(6);
        if (view) q.mark().str('view').int(2).int(3).tuple();
        else q.none();
        return q.tuple().binpersid().done();
      };
      const object = new Pickle().proto().emptyDict().mark();
      for (const [name, view, offset, size] of [['from_view', true, 1, 2], ['whole', false, 0, 6]] as const) {
        object.str(name).global('torch._utils', '_rebuild_tensor_v2').mark().op(...storageId(view))
          .int(offset).ints([size]).ints([1]).bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
      }
      object.str('ints').global('torch._utils', '_rebuild_tensor_v2').mark()
        .mark().str('storage').global('torch', 'LongStorage').str('longs').str('cpu').int(2).none().tuple().binpersid()
        .int(0).ints([2]).ints([1]).bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
      object.setitems().stop();
      const keys = new Pickle().proto().op(0x5d).mark().str('longs').str('root').op(0x65).stop().done();
      const count = (n: number) => littleEndianBytes(new BigInt64Array([BigInt(n)]));
      const parts = [magic, version, sysInfo, object.done(), keys,
        count(2), littleEndianBytes(new BigInt64Array([5n, -6n])), count(6), littleEndianBytes(new Float32Array([0, 1, 2, 3, 4, 5]))];
      return new Uint8Array(parts.flatMap((part) => [...part]));
    };
    const bytes = legacy(true);
    assert.equal(isPytorchCheckpoint(bytes), true);
    const checkpoint = decodePytorchCheckpoint(bytes, { source: 'old.pt' });
    assert.deepEqual([...checkpoint.tensors.get('from_view')!.values], [3, 4]);
    assert.deepEqual([...checkpoint.tensors.get('whole')!.values], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(checkpoint.tensors.get('ints'), { dtype: 'I64', shape: [2], values: new Float32Array([5, -6]) });
    throwsCheckpointError(() => decodePytorchCheckpoint(legacy(false), { source: 'be.pt' }), /^checkpoint 'be\.pt': written on a big-endian machine in the legacy format, which is not supported/);
    throwsCheckpointError(() => decodePytorchCheckpoint(bytes.subarray(0, bytes.length - 4), { source: 'old.pt' }),
      /^checkpoint 'old\.pt': truncated: storage 'root' needs bytes \[\d+, \d+\) but the file has \d+$/);
  });

  it('hostile views, storages and globals give clear errors', () => {
    const single = (t: Parameters<Pickle['tensor']>[0], storage: Uint8Array, source = 'hostile.pth'): (() => unknown) => {
      const p = new Pickle().proto().emptyDict().mark().str('x').tensor(t).setitems().stop();
      return () => decodePytorchCheckpoint(zipCheckpoint(p.done(), { [t.key]: storage }), { source });
    };
    const four = new Uint8Array(16);
    throwsCheckpointError(single({ type: 'FloatStorage', key: '0', numel: 4, offset: 2, shape: [3] }, four),
      /^checkpoint 'hostile\.pth': archive\/data\.pkl: torch\._utils\._rebuild_tensor_v2: a view at offset 2 with size \[3\] and stride \[1\] reaches element 4, outside its storage '0' of 4 elements/);
    throwsCheckpointError(single({ type: 'FloatStorage', key: '0', numel: 4, shape: [2, 2], stride: [3, 1] }, four), /reaches element 4, outside its storage/);
    throwsCheckpointError(single({ type: 'FloatStorage', key: '0', numel: 8, shape: [8] }, four), /storage '0' needs 32 bytes but archive\/data\/0 holds 16/);
    // A stride-0 expansion stays inside its storage but would allocate far more than the file holds.
    throwsCheckpointError(single({ type: 'FloatStorage', key: '0', numel: 4, shape: [1e9], stride: [0] }, four),
      /tensor 'x' \[1000000000\] takes the tensors past \d+ elements, more than this file can describe/);
    {
      const p = new Pickle().proto().emptyDict().mark().str('x').tensor({ type: 'FloatStorage', key: '7', numel: 1, shape: [1] }).setitems().stop();
      throwsCheckpointError(() => decodePytorchCheckpoint(zipCheckpoint(p.done(), {})), /^PyTorch checkpoint: archive\/data\.pkl: storage '7' has no entry archive\/data\/7 in the archive/);
    }
    for (const [module, name] of [['builtins', 'eval'], ['os', 'system'], ['torch', 'load'], ['__builtin__', 'getattr']]) {
      const p = new Pickle().proto().global(module, name).str('1').op(0x85).reduce().stop();
      throwsCheckpointError(() => decodePytorchCheckpoint(zipCheckpoint(p.done()), { source: 'g' }),
        new RegExp(`^refusing to load '${module}\\.${name}' from checkpoint 'g': only tensor checkpoint globals are allowed$`));
    }
    // STACK_GLOBAL (protocol 4) is checked the same way.
    const stackGlobal = new Pickle().proto(4).op(0x8c, 5, ...new TextEncoder().encode('posix')).op(0x8c, 6, ...new TextEncoder().encode('system')).op(0x93).stop();
    throwsCheckpointError(() => decodePytorchCheckpoint(zipCheckpoint(stackGlobal.done())), /refusing to load 'posix\.system'/);
    // Opcodes torch.save never writes are refused by name.
    for (const [code, label] of [[0x69, 'INST'], [0x82, 'EXT1'], [0x67, 'GET'], [0x97, 'NEXT_BUFFER']] as const) {
      const p = new Pickle().proto().op(code, 0x31, 0x0a).stop();
      throwsCheckpointError(() => decodePytorchCheckpoint(zipCheckpoint(p.done())), new RegExp(`pickle opcode ${label} is not allowed`));
    }
  });

  it('not-checkpoints: a plain pickle, random bytes, an empty file, a zip without data.pkl, a lone tensor', () => {
    const plain = new Pickle().proto().emptyDict().mark().str('a').int(1).setitems().stop().done();
    throwsCheckpointError(() => decodePytorchCheckpoint(plain, { source: 'plain.pkl' }),
      /^checkpoint 'plain\.pkl': a pickle, but not a PyTorch checkpoint: it does not start with the legacy magic number$/);
    const random = new Uint8Array(4096);
    let seed = 12345;
    for (let i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    throwsCheckpointError(() => decodePytorchCheckpoint(random, { source: 'random.bin' }),
      /^checkpoint 'random\.bin': not a PyTorch checkpoint: expected a zip archive \(torch\.save since 1\.6\) or a legacy pickle, but the file starts with \[[0-9a-f ]+\]$/);
    throwsCheckpointError(() => decodePytorchCheckpoint(new Uint8Array(0)), /^PyTorch checkpoint: not a PyTorch checkpoint/);
    throwsCheckpointError(() => decodePytorchCheckpoint(zipSync({ 'weights/readme.txt': new Uint8Array([104, 105]) })),
      /a zip archive without an <archive>\/data\.pkl entry: not a PyTorch checkpoint/);
    const lone = new Pickle().proto().tensor({ type: 'FloatStorage', key: '0', numel: 1, shape: [] }).stop();
    throwsCheckpointError(() => decodePytorchCheckpoint(zipCheckpoint(lone.done(), { 0: new Uint8Array(4) })), /holds a single tensor, not a state dict/);
    const noWeights = new Pickle().proto().emptyDict().mark().str('epoch').int(3).setitems().stop();
    throwsCheckpointError(() => decodePytorchCheckpoint(zipCheckpoint(noWeights.done())), /holds no state dict: no tensors and no state_dict or model dict; its entries: epoch/);
    throwsCheckpointError(() => decodePytorchCheckpoint(fixture('kat_small32.pth').subarray(0, 200_000), { source: 'cut.pth' }),
      /^checkpoint 'cut\.pth': truncated zip: no end of central directory record/);
    throwsCheckpointError(() => decodePytorchCheckpoint(fixture('kat_small32_legacy.pth').subarray(0, 200_000), { source: 'cut.pth' }),
      /^checkpoint 'cut\.pth': truncated: storage '\d+' needs bytes \[\d+, \d+\) but the file has 200000/);
  });
});

// ---------------------------------------------------------------------------
// End to end: the model computes PyTorch's logits from these weights
// ---------------------------------------------------------------------------

const KAT_SMALL32: ModelSpec = {
  name: 'kat-tiny',
  config: { imageSize: 32, patchSize: 8, channels: 3, classes: 10, dim: 48, depth: 2, heads: 3, mlpRatio: 4, mlp: 'kan', groups: 8, dropout: 0, dropPath: 0 },
};

async function logitsOf(checkpoint: PytorchCheckpoint): Promise<Float64Array> {
  const model = buildModel(KAT_SMALL32);
  try {
    const values = new Map<string, NamedValues>();
    for (const [name, t] of checkpoint.tensors) values.set(name, { shape: t.shape, values: t.values });
    model.loadStateDict(values, { source: 'pytorch checkpoint' });
    model.eval();
    return await model.forward(tensor(Float64Array.from(expected.input), expected.input_shape)).dataFloat64();
  } finally {
    model.dispose();
  }
}

describe('the weights give the reference logits (expected.json)', () => {
  // expected.json's `logits` are those of the training checkpoint's state_dict
  // (one AdamW step after kat_small32.pth); `logits_pth` are kat_small32.pth's
  // own, in float64 (test/fixtures/README.md): the plain file and its legacy,
  // DDP and hub copies are each checked against them directly.
  const cases: [string, 'default' | 'ema', keyof typeof expected, number][] = [
    ['kat_small32_train_checkpoint.pth.tar', 'default', 'logits', 0],
    ['kat_small32_train_checkpoint.pth.tar', 'ema', 'logits_ema', 0],
    ['kat_small32_fp16.pth', 'default', 'logits_fp16', 0],
    ['kat_small32_bf16.pth', 'default', 'logits_bf16', 0],
    ['kat_small32.pth', 'default', 'logits_pth', 0],
    ['kat_small32_legacy.pth', 'default', 'logits_pth', 0],
    ['kat_small32_ddp.pth', 'default', 'logits_pth', 0],
    ['hub_kat_small32/pytorch_model.bin', 'default', 'logits_pth', 0],
  ];
  for (const [backend, tolerance] of [['cpu', 1e-5], ['cpu-float64', 1e-9]] as const) {
    it(`on ${backend}: within ${tolerance} of max |logit|`, async () => {
      await setBackend(backend);
      try {
        for (const [file, weights, key, rounding] of cases) {
          const want = expected[key] as number[];
          const got = await logitsOf(load(file, weights));
          assert.equal(got.length, want.length);
          const scale = Math.max(...want.map(Math.abs));
          let worst = 0;
          for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
          const limit = Math.max(tolerance, rounding);
          assert.ok(worst <= limit, `${file} (${weights} weights) vs ${key} on ${backend}: relative error ${worst.toExponential(2)} > ${limit}`);
        }
      } finally {
        await setBackend('cpu');
      }
    });
  }

  it("kat_small32.pth's own logits are not expected.json's `logits` (those are the training checkpoint's)", async () => {
    const got = await logitsOf(load('kat_small32.pth'));
    const scale = Math.max(...expected.logits.map(Math.abs));
    const worst = Math.max(...expected.logits.map((v, i) => Math.abs(got[i]! - v) / scale));
    assert.ok(worst > 0.1, `relative difference ${worst}`);
  });
});
