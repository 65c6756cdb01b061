import { describe, it } from 'node:test';
import { Random } from '../src/tensor/random.js';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsInput,
} from '../src/io/safetensors.js';
import {
  readSafetensorsFile,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../src/io/files.js';

// ---------------------------------------------------------------------------
// Independent helpers (do not use the module under test)
// ---------------------------------------------------------------------------

/** Deterministic uniform numbers in [0, 1). */
function rng(seed: number): () => number {
  const random = new Random(seed);
  return () => random.uniform();
}

function randomTensor(shape: number[], next: () => number): SafetensorsInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (next() - 0.5) * 10;
  return { shape, values };
}

/** Builds a safetensors file by hand from a header value and raw data bytes. */
function buildFile(header: unknown, data: Uint8Array | number[] = [], pad = true): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) while (json.length % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

/** Little-endian bytes of 16-bit patterns. */
function u16le(bits: number[]): number[] {
  const out: number[] = [];
  for (const b of bits) out.push(b & 0xff, (b >>> 8) & 0xff);
  return out;
}

function assertSameFloat(actual: number, expected: number, label: string): void {
  assert.ok(Object.is(actual, expected), `${label}: expected ${expected}, got ${actual}`);
}

function throwsMatching(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error, 'expected an Error');
    for (const p of patterns) {
      assert.match(err.message, p);
    }
    return true;
  });
}

// ---------------------------------------------------------------------------
// Encoding / round trip
// ---------------------------------------------------------------------------

describe('safetensors round trip', () => {
  it('round-trips random tensors, a scalar and an empty tensor bit-exactly', () => {
    const next = rng(1234);
    const tensors: Record<string, SafetensorsInput> = {
      'blocks.0.attn.qkv.weight': randomTensor([12, 4], next),
      'blocks.0.attn.qkv.bias': randomTensor([12], next),
      'cls_token': randomTensor([1, 1, 4], next),
      scalar: { shape: [], values: new Float32Array([3.25]) },
      empty: { shape: [0, 3], values: new Float32Array(0) },
      'head.weight': randomTensor([5, 4, 3, 2], next),
    };
    const bytes = encodeSafetensors(tensors, { format: 'pt', note: 'héllo ✓' });
    const { tensors: back, metadata } = decodeSafetensors(bytes);
    assert.deepEqual(metadata, { format: 'pt', note: 'héllo ✓' });
    assert.deepEqual([...back.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.get(name);
      assert.ok(got, `missing ${name}`);
      assert.equal(got.dtype, 'F32');
      assert.deepEqual(got.shape, t.shape);
      assert.ok(got.values instanceof Float32Array);
      assert.equal(got.values.length, t.values.length);
      assert.deepEqual(
        new Uint8Array(got.values.buffer, got.values.byteOffset, got.values.byteLength),
        new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength),
        `bits differ for ${name}`,
      );
    }
  });

  it('preserves special float32 values (NaN, ±inf, -0, subnormals)', () => {
    const special = new Float32Array([NaN, Infinity, -Infinity, -0, 1e-45, -3.4028234663852886e38]);
    const back = decodeSafetensors(encodeSafetensors({ x: { shape: [6], values: special } }));
    const got = back.tensors.get('x')!.values;
    for (let i = 0; i < special.length; i++) assertSameFloat(got[i]!, special[i]!, `index ${i}`);
  });

  it('encodes values from a Float32Array view with a non-zero byteOffset', () => {
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    const view = backing.subarray(1, 4);
    const back = decodeSafetensors(encodeSafetensors({ v: { shape: [3], values: view } }));
    assert.deepEqual([...back.tensors.get('v')!.values], [1, 2, 3]);
  });

  it('decodes from a Uint8Array view at an odd byteOffset', () => {
    const bytes = encodeSafetensors({ a: { shape: [2, 2], values: new Float32Array([1, -2, 3.5, 4]) } });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const back = decodeSafetensors(shifted.subarray(3));
    assert.deepEqual([...back.tensors.get('a')!.values], [1, -2, 3.5, 4]);
  });

  it('round-trips an empty tensor set', () => {
    const back = decodeSafetensors(encodeSafetensors({}));
    assert.equal(back.tensors.size, 0);
    assert.deepEqual(back.metadata, {});
  });

  it('refuses to encode tensors whose values disagree with the shape', () => {
    throwsMatching(
      () => encodeSafetensors({ w: { shape: [2, 3], values: new Float32Array(5) } }),
      /'w'/,
      /6 elements/,
      /5 values/,
    );
    throwsMatching(
      () => encodeSafetensors({ w: { shape: [2, -1], values: new Float32Array(0) } }),
      /'w'/,
      /non-negative integers/,
    );
    throwsMatching(
      () => encodeSafetensors({ __metadata__: { shape: [1], values: new Float32Array(1) } }),
      /reserved/,
    );
  });
});

describe('safetensors header layout', () => {
  it('writes a u64 length, space-padded JSON, 8-byte aligned data in sorted name order', () => {
    const bytes = encodeSafetensors(
      {
        zeta: { shape: [2], values: new Float32Array([1, 2]) },
        alpha: { shape: [1, 3], values: new Float32Array([1, 0, -1]) },
        mid: { shape: [], values: new Float32Array([0.5]) },
      },
      { format: 'pt' },
    );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = view.getBigUint64(0, true);
    assert.ok(n < 1_000_000n);
    const headerLength = Number(n);
    assert.equal(headerLength % 8, 0, 'header length must be a multiple of 8');
    assert.equal((8 + headerLength) % 8, 0);
    const headerText = Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8');
    const trimmed = headerText.replace(/ +$/, '');
    assert.ok(headerText.length - trimmed.length < 8, 'padding is fewer than 8 spaces');
    assert.ok(trimmed.startsWith('{') && trimmed.endsWith('}'));
    const header = JSON.parse(headerText);
    assert.deepEqual(header, {
      __metadata__: { format: 'pt' },
      alpha: { dtype: 'F32', shape: [1, 3], data_offsets: [0, 12] },
      mid: { dtype: 'F32', shape: [], data_offsets: [12, 16] },
      zeta: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
    });
    const dataStart = 8 + headerLength;
    assert.equal(bytes.length, dataStart + 24);
    // alpha[0] = 1.0f = 0x3F800000 little-endian.
    assert.deepEqual([...bytes.subarray(dataStart, dataStart + 4)], [0x00, 0x00, 0x80, 0x3f]);
    // alpha[2] = -1.0f = 0xBF800000.
    assert.deepEqual([...bytes.subarray(dataStart + 8, dataStart + 12)], [0x00, 0x00, 0x80, 0xbf]);
    // mid = 0.5f = 0x3F000000.
    assert.deepEqual([...bytes.subarray(dataStart + 12, dataStart + 16)], [0x00, 0x00, 0x00, 0x3f]);
    // zeta[1] = 2.0f = 0x40000000.
    assert.deepEqual([...bytes.subarray(dataStart + 20, dataStart + 24)], [0x00, 0x00, 0x00, 0x40]);
  });

  it('omits __metadata__ when no metadata is given', () => {
    const bytes = encodeSafetensors({ a: { shape: [1], values: new Float32Array([1]) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    assert.deepEqual(Object.keys(header), ['a']);
  });
});

// ---------------------------------------------------------------------------
// Other dtypes, checked against hand-encoded bit patterns
// ---------------------------------------------------------------------------

describe('safetensors dtype decoding', () => {
  it('decodes F16 bit patterns', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x3800, 0.5],
      [0x3555, 0.333251953125],
      [0x0000, 0],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const bits = [...cases.map((c) => c[0]), 0x7e00, 0xfe01];
    const file = buildFile(
      { h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, 2 * bits.length] } },
      u16le(bits),
    );
    const t = decodeSafetensors(file).tensors.get('h')!;
    assert.equal(t.dtype, 'F16');
    assert.deepEqual(t.shape, [bits.length]);
    cases.forEach(([b, v], i) => assertSameFloat(t.values[i]!, v, `f16 0x${b.toString(16)}`));
    assert.ok(Number.isNaN(t.values[cases.length]!), 'f16 0x7e00 is NaN');
    assert.ok(Number.isNaN(t.values[cases.length + 1]!), 'f16 0xfe01 is NaN');
  });

  it('decodes BF16 bit patterns', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4780, 65536],
      [0x7f7f, (2 - 2 ** -7) * 2 ** 127], // largest finite
      [0x0001, 2 ** -133], // smallest subnormal
      [0x0080, 2 ** -126], // smallest normal
      [0x3eab, 0.333984375],
      [0x0000, 0],
      [0x8000, -0],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
    ];
    const bits = [...cases.map((c) => c[0]), 0x7fc0, 0xffc1];
    const file = buildFile(
      { b: { dtype: 'BF16', shape: [1, bits.length], data_offsets: [0, 2 * bits.length] } },
      u16le(bits),
    );
    const t = decodeSafetensors(file).tensors.get('b')!;
    assert.equal(t.dtype, 'BF16');
    assert.deepEqual(t.shape, [1, bits.length]);
    cases.forEach(([b, v], i) => assertSameFloat(t.values[i]!, v, `bf16 0x${b.toString(16)}`));
    assert.ok(Number.isNaN(t.values[cases.length]!), 'bf16 0x7fc0 is NaN');
    assert.ok(Number.isNaN(t.values[cases.length + 1]!), 'bf16 0xffc1 is NaN');
  });

  it('decodes F64, I64, I32, U8 and BOOL into float32 values', () => {
    const data: number[] = [];
    // F64: 1.5 = 0x3FF8000000000000, -0.1 rounds to float32.
    data.push(0, 0, 0, 0, 0, 0, 0xf8, 0x3f);
    const buf = new DataView(new ArrayBuffer(8));
    buf.setFloat64(0, -0.1, true);
    for (let i = 0; i < 8; i++) data.push(buf.getUint8(i));
    // I64: -3 (two's complement), 2^40.
    data.push(0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    data.push(0, 0, 0, 0, 0, 0x01, 0, 0);
    // I32: -7, 123456.
    data.push(0xf9, 0xff, 0xff, 0xff);
    data.push(0x40, 0xe2, 0x01, 0x00);
    // U8: 0, 200, 255.
    data.push(0, 200, 255);
    // BOOL: 1, 0.
    data.push(1, 0);
    const file = buildFile(
      {
        f64: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
        i64: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
        i32: { dtype: 'I32', shape: [2], data_offsets: [32, 40] },
        u8: { dtype: 'U8', shape: [3], data_offsets: [40, 43] },
        flag: { dtype: 'BOOL', shape: [2], data_offsets: [43, 45] },
      },
      data,
    );
    const { tensors } = decodeSafetensors(file);
    assert.deepEqual([...tensors.get('f64')!.values], [1.5, Math.fround(-0.1)]);
    assert.deepEqual([...tensors.get('i64')!.values], [-3, 2 ** 40]);
    assert.deepEqual([...tensors.get('i32')!.values], [-7, 123456]);
    assert.deepEqual([...tensors.get('u8')!.values], [0, 200, 255]);
    assert.deepEqual([...tensors.get('flag')!.values], [1, 0]);
    assert.equal(tensors.get('i64')!.dtype, 'I64');
    // Storage order is by offset.
    assert.deepEqual([...tensors.keys()], ['f64', 'i64', 'i32', 'u8', 'flag']);
  });

  it('accepts an unpadded header and a header with no tensors', () => {
    const file = buildFile(
      { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
      [0, 0, 0x80, 0x3f],
      false,
    );
    assert.deepEqual([...decodeSafetensors(file).tensors.get('x')!.values], [1]);
    assert.equal(decodeSafetensors(buildFile({})).tensors.size, 0);
  });
});

// ---------------------------------------------------------------------------
// Corrupt input
// ---------------------------------------------------------------------------

describe('safetensors validation', () => {
  const SRC = 'ckpt/model.safetensors';
  const decode = (bytes: Uint8Array) => () => decodeSafetensors(bytes, SRC);
  const src = /ckpt\/model\.safetensors/;
  const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  it('uses the default source name when none is given', () => {
    throwsMatching(() => decodeSafetensors(new Uint8Array(3)), /^safetensors data: /);
  });

  it('rejects files shorter than 8 bytes', () => {
    throwsMatching(decode(new Uint8Array(0)), src, /0 bytes/, /shorter than the 8-byte/);
    throwsMatching(decode(new Uint8Array(7)), src, /7 bytes/, /shorter than the 8-byte/);
  });

  it('rejects a header length larger than the file', () => {
    const bytes = buildFile({});
    new DataView(bytes.buffer).setUint32(0, 1000, true);
    throwsMatching(decode(bytes), src, /header length 1000/, /larger than the 8 bytes/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    throwsMatching(decode(huge), src, /header length 9223372036854775808/, /larger than/);
  });

  it('rejects a header that is not valid JSON or not an object', () => {
    throwsMatching(decode(buildFile('{"a": {')), src, /not valid JSON/);
    throwsMatching(decode(buildFile('')), src, /not valid JSON/);
    throwsMatching(decode(buildFile('[1, 2]')), src, /not a JSON object/);
    throwsMatching(decode(buildFile('null')), src, /not a JSON object/);
    throwsMatching(decode(buildFile('42')), src, /not a JSON object/);
    const badUtf8 = buildFile('{"a":1}');
    badUtf8[9] = 0xff;
    throwsMatching(decode(badUtf8), src, /not valid UTF-8/);
  });

  it('rejects entries that are not objects or miss fields', () => {
    throwsMatching(decode(buildFile({ w: 5 })), src, /tensor 'w'/, /expected an object/);
    throwsMatching(
      decode(buildFile({ w: { shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0])),
      src, /tensor 'w'/, /missing "dtype"/,
    );
    throwsMatching(
      decode(buildFile({ w: { dtype: 'F32', data_offsets: [0, 4] } }, [0, 0, 0, 0])),
      src, /tensor 'w'/, /missing "shape"/,
    );
    throwsMatching(
      decode(buildFile({ w: { dtype: 'F32', shape: [1] } }, [0, 0, 0, 0])),
      src, /tensor 'w'/, /missing "data_offsets"/,
    );
  });

  it('rejects unknown dtypes', () => {
    throwsMatching(
      decode(buildFile({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0])),
      src, /tensor 'w'/, /unknown dtype "F33"/, /expected one of .*BF16/,
    );
    throwsMatching(
      decode(buildFile({ w: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0])),
      src, /unknown dtype 4/,
    );
  });

  it('rejects shapes that are not arrays of non-negative integers', () => {
    for (const shape of [5, [-1], [1.5], ['2'], null, [2, null]]) {
      throwsMatching(
        decode(buildFile({ w: { dtype: 'F32', shape, data_offsets: [0, 4] } }, [0, 0, 0, 0])),
        src, /tensor 'w'/, /invalid shape/, /non-negative integers/,
      );
    }
  });

  it('rejects malformed data_offsets', () => {
    for (const offsets of [[0], [0, 4, 8], [0, -4], [0, 'x'], 'bad', [0.5, 4]]) {
      throwsMatching(
        decode(buildFile({ w: { dtype: 'F32', shape: [1], data_offsets: offsets } }, [0, 0, 0, 0])),
        src, /tensor 'w'/, /invalid data_offsets/,
      );
    }
    throwsMatching(
      decode(buildFile({ w: f32([0], 4, 0) }, [0, 0, 0, 0])),
      src, /end before begin/,
    );
  });

  it('rejects data_offsets whose length disagrees with shape x dtype size', () => {
    throwsMatching(
      decode(buildFile({ w: f32([2, 3], 0, 20) }, new Array(20).fill(0))),
      src, /tensor 'w'/, /spanning 20 bytes/, /needs 6 x 4 = 24 bytes/,
    );
    throwsMatching(
      decode(buildFile({ w: { dtype: 'F16', shape: [3], data_offsets: [0, 4] } }, [0, 0, 0, 0])),
      src, /tensor 'w'/, /needs 3 x 2 = 6 bytes/,
    );
  });

  it('rejects offsets outside the data buffer', () => {
    throwsMatching(
      decode(buildFile({ w: f32([2], 0, 8) }, [0, 0, 0, 0])),
      src, /tensor 'w'/, /outside the data buffer of 4 bytes/,
    );
  });

  it('rejects overlapping ranges', () => {
    throwsMatching(
      decode(buildFile({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, new Array(12).fill(0))),
      src, /tensor 'b'/, /overlap tensor 'a'/,
    );
    throwsMatching(
      decode(buildFile({ a: f32([1], 0, 4), b: f32([1], 0, 4) }, new Array(4).fill(0))),
      src, /overlap/,
    );
  });

  it('rejects holes and uncovered bytes in the data buffer', () => {
    throwsMatching(
      decode(buildFile({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Array(12).fill(0))),
      src, /tensor 'b'/, /4-byte hole/,
    );
    throwsMatching(
      decode(buildFile({ a: f32([1], 4, 8) }, new Array(8).fill(0))),
      src, /tensor 'a' begins at data offset 4/, /hole/,
    );
    throwsMatching(
      decode(buildFile({ a: f32([1], 0, 4) }, new Array(10).fill(0))),
      src, /data buffer is 10 bytes/, /cover only 4/,
    );
  });

  it('rejects malformed __metadata__', () => {
    throwsMatching(decode(buildFile({ __metadata__: [1] })), src, /__metadata__/, /expected an object/);
    throwsMatching(
      decode(buildFile({ __metadata__: { epoch: 3 } })),
      src, /__metadata__/, /'epoch'/, /expected a string/,
    );
  });
});

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'katjs-safetensors-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tmpFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
}

describe('safetensors files', () => {
  it('writes and reads a checkpoint file', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      const next = rng(99);
      const tensors = { 'norm.weight': randomTensor([8], next), 'norm.bias': randomTensor([8], next) };
      await writeSafetensorsFile(path, tensors, { step: '10' });
      const onDisk = new Uint8Array(await readFile(path));
      assert.deepEqual(onDisk, encodeSafetensors(tensors, { step: '10' }));
      const back = await readSafetensorsFile(path);
      assert.deepEqual(back.metadata, { step: '10' });
      assert.deepEqual([...back.tensors.get('norm.bias')!.values], [...tensors['norm.bias'].values]);
      assert.deepEqual(await tmpFiles(dir), []);
    });
  });

  it('overwrites an existing file atomically', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'out.bin');
      await writeFile(path, 'old contents');
      await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
      assert.deepEqual([...(await readFile(path))], [1, 2, 3]);
      assert.deepEqual((await readdir(dir)).sort(), ['out.bin']);
    });
  });

  it('reports a missing checkpoint by path', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'nope.safetensors');
      await assert.rejects(readSafetensorsFile(path), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(err.message, `checkpoint '${path}' does not exist`);
        return true;
      });
    });
  });

  it('reports a corrupt checkpoint by path', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'corrupt.safetensors');
      const good = encodeSafetensors({ w: { shape: [4], values: new Float32Array(4) } });
      await writeFile(path, good.subarray(0, good.length - 3)); // truncated
      await assert.rejects(readSafetensorsFile(path), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.ok(err.message.includes(`checkpoint '${path}'`), err.message);
        assert.match(err.message, /tensor 'w'/);
        return true;
      });
    });
  });

  it('leaves the old file intact when encoding fails', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      const original = encodeSafetensors({ a: { shape: [2], values: new Float32Array([1, 2]) } });
      await writeFile(path, original);
      await assert.rejects(
        writeSafetensorsFile(path, { a: { shape: [3], values: new Float32Array([1, 2]) } }),
        /'a'/,
      );
      assert.deepEqual(new Uint8Array(await readFile(path)), original);
      assert.deepEqual(await tmpFiles(dir), []);
    });
  });

  it('cleans up its temporary file when the rename fails', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'target');
      await mkdir(target);
      await writeFile(join(target, 'keep.txt'), 'keep');
      await assert.rejects(writeFileAtomic(target, new Uint8Array([1, 2, 3])), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.ok(err.message.includes(`'${target}'`), err.message);
        return true;
      });
      assert.deepEqual(await tmpFiles(dir), []);
      assert.deepEqual((await readdir(dir)).sort(), ['target']);
      assert.equal(await readFile(join(target, 'keep.txt'), 'utf8'), 'keep');
    });
  });

  it('fails cleanly when the directory does not exist', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'missing-dir', 'x.safetensors');
      await assert.rejects(writeFileAtomic(path, new Uint8Array([1])), /failed to write/);
      assert.deepEqual(await readdir(dir), []);
    });
  });
});
