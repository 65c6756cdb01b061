/**
 * The safetensors file format, in plain TypeScript (browser-safe: only
 * Uint8Array, DataView, TextEncoder and TextDecoder are used here).
 *
 * Layout:
 *   bytes [0, 8)        N, the header length, as a little-endian u64
 *   bytes [8, 8 + N)    a UTF-8 JSON object (the header)
 *   bytes [8 + N, end)  the data buffer
 *
 * The header maps each tensor name to
 *   { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }
 * where the offsets are byte positions relative to the start of the data
 * buffer, plus an optional "__metadata__" entry holding a string -> string
 * object. The tensors' byte ranges must tile the data buffer exactly: sorted
 * by offset, each begins where the previous one ended, the first begins at 0
 * and the last ends at the end of the file.
 */

import { excerpt, quote } from '../util/text.js';

/** A tensor to write: row-major float32 values with the given shape. */
export interface SafetensorsInput {
  shape: number[];
  values: Float32Array;
}

/** A tensor read back: `dtype` is the stored dtype, `values` are always float32. */
export interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  values: Float32Array;
}

export interface SafetensorsContents {
  /** Tensors in storage order (ascending data offset). */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** Raised for any malformed safetensors input or unencodable tensor. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/**
 * Byte size of one element of each dtype this module can read. A Map: dtype
 * names come from the file, and a plain object would answer '__proto__' or
 * 'constructor' from its prototype.
 */
const DTYPE_SIZES: ReadonlyMap<string, number> = new Map([
  ['F64', 8],
  ['F32', 4],
  ['F16', 2],
  ['BF16', 2],
  ['I64', 8],
  ['I32', 4],
  ['I16', 2],
  ['I8', 1],
  ['U64', 8],
  ['U32', 4],
  ['U16', 2],
  ['U8', 1],
  ['BOOL', 1],
]);

/** The dtypes `decodeSafetensors` understands. */
export const SAFETENSORS_DTYPES: readonly string[] = Object.freeze([...DTYPE_SIZES.keys()]);

/** The reference implementation refuses headers larger than this (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------
// Half-precision conversions
// ---------------------------------------------------------------------------

let f16Table: Float32Array | null = null;

/** Converts IEEE 754 binary16 bits to a number (subnormals, ±inf and NaN included). */
export function f16BitsToFloat(bits: number): number {
  const h = bits & 0xffff;
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero or subnormal
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Every binary16 bit pattern as float32, built on first use (shared by the checkpoint readers). */
export function getF16Table(): Float32Array {
  if (f16Table === null) {
    const table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = f16BitsToFloat(i);
    f16Table = table;
  }
  return f16Table;
}

const bfScratchU32 = new Uint32Array(1);
const bfScratchF32 = new Float32Array(bfScratchU32.buffer);

/** Converts bfloat16 bits (the top half of a float32) to a number. */
export function bf16BitsToFloat(bits: number): number {
  bfScratchU32[0] = (bits & 0xffff) << 16;
  return bfScratchF32[0]!;
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/** A value from the header for a message: JSON, short, control characters escaped. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return typeof value;
    return excerpt(text);
  } catch {
    return typeof value;
  }
}

/**
 * The first key that occurs twice in one object of a JSON text that
 * JSON.parse accepted (which keeps the last silently): a header two readers
 * could read differently, such as two __metadata__ entries, is refused.
 */
function duplicateKey(text: string): string | null {
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      expectKey = false;
    } else if (c === 0x7b) {
      open.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      open.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
    } else if (c === 0x2c) {
      expectKey = open[open.length - 1] !== null && open.length > 0;
    }
  }
  return null;
}

function elementCount(shape: number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

function isValidShape(shape: unknown): shape is number[] {
  if (!Array.isArray(shape)) return false;
  let count = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) return false;
    count *= dim;
  }
  return Number.isSafeInteger(count);
}

/**
 * Serializes float32 tensors into safetensors bytes. Tensors are laid out in
 * sorted name order; the header is padded with spaces so the data buffer
 * starts at a multiple of 8 bytes.
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const headerParts: string[] = [];

  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new SafetensorsError(
        `cannot encode safetensors: metadata must be an object of string values, got ${describe(metadata)}`,
      );
    }
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new SafetensorsError(
          `cannot encode safetensors: metadata value for '${key}' must be a string, got ${describe(value)}`,
        );
      }
    }
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }

  let offset = 0;
  const layout: { values: Float32Array; begin: number }[] = [];
  for (const name of names) {
    if (name === METADATA_KEY) {
      throw new SafetensorsError(
        `cannot encode safetensors: '${METADATA_KEY}' is reserved and cannot be used as a tensor name`,
      );
    }
    const tensor = tensors[name]!;
    if (tensor === null || typeof tensor !== 'object') {
      throw new SafetensorsError(
        `cannot encode safetensors: tensor '${name}' must be an object with shape and values, got ${describe(tensor)}`,
      );
    }
    const { shape, values } = tensor;
    if (!isValidShape(shape)) {
      throw new SafetensorsError(
        `cannot encode safetensors: tensor '${name}' has shape ${describe(shape)}; expected an array of non-negative integers`,
      );
    }
    if (!(values instanceof Float32Array)) {
      throw new SafetensorsError(
        `cannot encode safetensors: tensor '${name}' values must be a Float32Array`,
      );
    }
    const count = elementCount(shape);
    if (values.length !== count) {
      throw new SafetensorsError(
        `cannot encode safetensors: tensor '${name}' has shape [${shape.join(', ')}] (${count} elements) ` +
          `but ${values.length} values`,
      );
    }
    const begin = offset;
    offset += count * 4;
    layout.push({ values, begin });
    headerParts.push(
      `${JSON.stringify(name)}:{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${offset}]}`,
    );
  }

  const headerJson = new TextEncoder().encode(`{${headerParts.join(',')}}`);
  const headerLength = Math.ceil(headerJson.length / 8) * 8;
  const dataStart = 8 + headerLength;
  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);

  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(headerJson, 8);
  out.fill(0x20, 8 + headerJson.length, dataStart); // space padding

  for (const { values, begin } of layout) {
    const at = dataStart + begin;
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
    } else {
      for (let i = 0; i < values.length; i++) view.setFloat32(at + 4 * i, values[i]!, true);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function convert(
  bytes: Uint8Array,
  start: number,
  dtype: string,
  count: number,
): Float32Array {
  const byteLength = count * DTYPE_SIZES.get(dtype)!;
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    // Copying into a fresh buffer also fixes any misalignment.
    const from = bytes.byteOffset + start;
    return new Float32Array(bytes.buffer.slice(from, from + byteLength));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F16': {
      const table = getF16Table();
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, true)]!;
      break;
    }
    case 'BF16': {
      // bf16 is the top half of a float32: reinterpret (bits << 16) exactly.
      const words = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) words[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case 'U64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigUint64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'U32':
      for (let i = 0; i < count; i++) out[i] = view.getUint32(4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'U16':
      for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      break;
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i) !== 0 ? 1 : 0;
      break;
    default:
      throw new Error(`internal error: unhandled dtype ${dtype}`);
  }
  return out;
}

/**
 * Parses safetensors bytes, converting every tensor to float32. Throws a
 * `SafetensorsError` whose message starts with `source` on malformed input.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = 'safetensors data',
): SafetensorsContents {
  const fail: (message: string) => never = (message) => {
    throw new SafetensorsError(`${source}: ${message}`);
  };

  if (bytes.length < 8) {
    fail(
      `file is only ${bytes.length} bytes, shorter than the 8-byte header length prefix; ` +
        `expected a safetensors file`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  const available = bytes.length - 8;
  if (declared > BigInt(available)) {
    fail(
      `header length ${declared} is larger than the ${available} bytes that follow the 8-byte prefix ` +
        `(file is ${bytes.length} bytes); the file is truncated or not safetensors`,
    );
  }
  const headerLength = Number(declared);
  if (headerLength > MAX_HEADER_BYTES) {
    fail(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }

  let headerText = '';
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    );
  } catch {
    fail('header is not valid UTF-8; expected a UTF-8 JSON object');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    fail(
      `header is not valid JSON (${excerpt(err instanceof Error ? err.message : String(err), 160)}); ` +
        `expected a JSON object`,
    );
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`header is ${describe(header)}, not a JSON object; expected an object mapping tensor names to entries`);
  }
  const headerObject = header as Record<string, unknown>;
  const twice = duplicateKey(headerText);
  if (twice !== null) fail(`header has the key ${quote(twice)} twice in one object; expected each name once`);

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  const dataLength = available - headerLength;

  for (const [name, raw] of Object.entries(headerObject)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        fail(`"${METADATA_KEY}" is ${describe(raw)}; expected an object of string values`);
      }
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          fail(`"${METADATA_KEY}" value for ${quote(key)} is ${describe(value)}; expected a string`);
        }
        metadata[key] = value as string;
      }
      continue;
    }
    const where = `tensor ${quote(name)}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(`${where} entry is ${describe(raw)}; expected an object with dtype, shape and data_offsets`);
    }
    const info = raw as Record<string, unknown>;
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!Object.hasOwn(info, field)) {
        fail(`${where} is missing "${field}"; expected an object with dtype, shape and data_offsets`);
      }
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !DTYPE_SIZES.has(dtype)) {
      fail(`${where} has unknown dtype ${describe(dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`);
    }
    if (!isValidShape(shape)) {
      fail(`${where} has invalid shape ${describe(shape)}; expected an array of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`${where} has invalid data_offsets ${describe(offsets)}; expected [begin, end] non-negative integers`);
    }
    const validShape = shape as number[];
    const [begin, end] = offsets as [number, number];
    if (end < begin) {
      fail(`${where} has data_offsets [${begin}, ${end}] with end before begin`);
    }
    const dtypeName = dtype as string;
    const count = elementCount(validShape);
    const size = DTYPE_SIZES.get(dtypeName)!;
    const expectedBytes = count * size;
    if (end - begin !== expectedBytes) {
      fail(
        `${where} has data_offsets [${begin}, ${end}] spanning ${end - begin} bytes, but shape ` +
          `[${validShape.join(', ')}] of ${dtypeName} needs ${count} x ${size} = ${expectedBytes} bytes`,
      );
    }
    if (end > dataLength) {
      fail(
        `${where} has data_offsets [${begin}, ${end}] outside the data buffer of ${dataLength} bytes; ` +
          `the file is truncated or the offsets are wrong`,
      );
    }
    entries.push({ name, dtype: dtypeName, shape: validShape, begin, end });
  }

  // The byte ranges must tile [0, dataLength) with no holes and no overlaps.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | null = null;
  for (const entry of entries) {
    if (entry.begin < cursor) {
      fail(
        `tensor ${quote(entry.name)} data_offsets [${entry.begin}, ${entry.end}] overlap tensor ` +
          `${quote(previous!.name)} which ends at ${cursor}; expected contiguous, non-overlapping ranges`,
      );
    }
    if (entry.begin > cursor) {
      fail(
        `tensor ${quote(entry.name)} begins at data offset ${entry.begin} but the previous data ends at ${cursor}, ` +
          `leaving a ${entry.begin - cursor}-byte hole; expected contiguous ranges tiling the data buffer`,
      );
    }
    cursor = entry.end;
    previous = entry;
  }
  if (cursor !== dataLength) {
    fail(
      `data buffer is ${dataLength} bytes but the tensors cover only ${cursor}; ` +
        `expected the tensors to tile the data buffer exactly (${dataLength - cursor} unaccounted bytes)`,
    );
  }

  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of entries) {
    tensors.set(entry.name, {
      dtype: entry.dtype,
      shape: entry.shape.slice(),
      values: convert(bytes, dataStart + entry.begin, entry.dtype, elementCount(entry.shape)),
    });
  }
  return { tensors, metadata };
}
