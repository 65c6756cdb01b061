/**
 * A minimal, strict zip reader for PyTorch's checkpoint archives
 * (browser-safe: bytes in, bytes out).
 *
 * Reads the end-of-central-directory record (and its zip64 form, which
 * PyTorch always writes), the central directory, and each entry's local
 * header. Entries may be stored (method 0) or deflated (method 8); each
 * entry's CRC-32 is checked when it is read. Every offset and size is checked
 * against the file before use, so a damaged archive gives a `ZipError`
 * rather than an out-of-range read.
 */

import { inflateSync } from 'fflate';

/** Raised for a malformed or unsupported zip archive. */
export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  /** 0 (stored) or 8 (deflated). */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  /** Uncompressed size in bytes. */
  size: number;
  localHeaderOffset: number;
}

export interface ZipDirectory {
  /** Entries by name, in central-directory order. */
  entries: Map<string, ZipEntry>;
  /** Where the central directory starts: every entry's data lies before it. */
  centralDirectoryOffset: number;
}

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;

const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_MIN_SIZE = 56;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const MAX_COMMENT = 0xffff;

/** Deflate cannot expand data by more than about 1032:1; larger claims are corrupt. */
const MAX_DEFLATE_RATIO = 1032;

/** True when the bytes start like a zip archive (a local header or an empty archive). */
export function hasZipMagic(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === 0x50 &&
    bytes[1] === 0x4b &&
    ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06))
  );
}

let crcTable: Uint32Array | null = null;

function getCrcTable(): Uint32Array {
  if (crcTable === null) {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    crcTable = table;
  }
  return crcTable;
}

/** CRC-32 (ISO-HDLC, as zip uses it) of the bytes. */
export function crc32(bytes: Uint8Array): number {
  const table = getCrcTable();
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Reads a little-endian u64 as a number, refusing values past 2^53. */
function readU64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${what} ${value} is too large`);
  return Number(value);
}

const utf8 = new TextDecoder('utf-8');

interface EndRecord {
  entryCount: number;
  directorySize: number;
  directoryOffset: number;
  /** Where the (zip64) end records begin: the central directory must end by here. */
  recordsStart: number;
}

function findEndRecord(bytes: Uint8Array, view: DataView): EndRecord {
  if (bytes.length < EOCD_SIZE) {
    throw new ZipError(`truncated zip: ${bytes.length} bytes is too short for the ${EOCD_SIZE}-byte end of central directory record`);
  }
  // The record is the last thing in the file apart from its comment, whose length it states.
  let eocd = -1;
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT);
  for (let at = bytes.length - EOCD_SIZE; at >= lowest; at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE && at + EOCD_SIZE + view.getUint16(at + 20, true) === bytes.length) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) {
    throw new ZipError('truncated zip: no end of central directory record at the end of the file');
  }
  const disk = view.getUint16(eocd + 4, true);
  const directoryDisk = view.getUint16(eocd + 6, true);
  const entriesOnDisk = view.getUint16(eocd + 8, true);
  let entryCount = view.getUint16(eocd + 10, true);
  let directorySize = view.getUint32(eocd + 12, true);
  let directoryOffset = view.getUint32(eocd + 16, true);
  let recordsStart = eocd;

  const locator = eocd - ZIP64_LOCATOR_SIZE;
  const hasZip64 = locator >= 0 && view.getUint32(locator, true) === ZIP64_LOCATOR_SIGNATURE;
  const saturated = entryCount === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff;
  if (saturated && !hasZip64) {
    throw new ZipError('corrupt zip: the end of central directory record defers to zip64 but there is no zip64 locator before it');
  }
  if (hasZip64) {
    const recordOffset = readU64(view, locator + 8, 'zip64 end of central directory offset');
    if (view.getUint32(locator + 4, true) !== 0 || view.getUint32(locator + 16, true) > 1) {
      throw new ZipError('unsupported zip: multi-disk (split) archives are not supported');
    }
    if (recordOffset + ZIP64_EOCD_MIN_SIZE > locator) {
      throw new ZipError(`corrupt zip: zip64 end of central directory offset ${recordOffset} is not before its locator at ${locator}`);
    }
    if (view.getUint32(recordOffset, true) !== ZIP64_EOCD_SIGNATURE) {
      throw new ZipError(`corrupt zip: no zip64 end of central directory record at offset ${recordOffset}`);
    }
    const recordSize = readU64(view, recordOffset + 4, 'zip64 end of central directory size');
    if (recordOffset + 12 + recordSize !== locator) {
      throw new ZipError(`corrupt zip: zip64 end of central directory record claims ${recordSize} bytes, which does not reach its locator`);
    }
    if (view.getUint32(recordOffset + 16, true) !== 0 || view.getUint32(recordOffset + 20, true) !== 0) {
      throw new ZipError('unsupported zip: multi-disk (split) archives are not supported');
    }
    const entries64 = readU64(view, recordOffset + 24, 'zip64 entry count');
    const total64 = readU64(view, recordOffset + 32, 'zip64 entry count');
    const size64 = readU64(view, recordOffset + 40, 'zip64 central directory size');
    const offset64 = readU64(view, recordOffset + 48, 'zip64 central directory offset');
    if (entries64 !== total64) throw new ZipError('unsupported zip: multi-disk (split) archives are not supported');
    // Fields the classic record could hold must agree with the zip64 ones.
    if (
      (entryCount !== 0xffff && entryCount !== total64) ||
      (directorySize !== 0xffffffff && directorySize !== size64) ||
      (directoryOffset !== 0xffffffff && directoryOffset !== offset64)
    ) {
      throw new ZipError('corrupt zip: the end of central directory record and its zip64 record disagree');
    }
    entryCount = total64;
    directorySize = size64;
    directoryOffset = offset64;
    recordsStart = recordOffset;
  } else if (disk !== 0 || directoryDisk !== 0 || entriesOnDisk !== entryCount) {
    throw new ZipError('unsupported zip: multi-disk (split) archives are not supported');
  }
  if (directoryOffset + directorySize > recordsStart) {
    throw new ZipError(
      `truncated zip: central directory [${directoryOffset}, ${directoryOffset + directorySize}) runs past the end records at ${recordsStart} ` +
        `(file is ${bytes.length} bytes)`,
    );
  }
  if (entryCount * CENTRAL_HEADER_SIZE > directorySize) {
    throw new ZipError(`corrupt zip: ${entryCount} entries cannot fit a central directory of ${directorySize} bytes`);
  }
  return { entryCount, directorySize, directoryOffset, recordsStart };
}

/** Sizes and offset from a zip64 extended-information extra field, where the classic fields are saturated. */
function applyZip64Extra(
  view: DataView,
  start: number,
  end: number,
  entry: { size: number; compressedSize: number; localHeaderOffset: number },
  name: string,
): void {
  const needSize = entry.size === 0xffffffff;
  const needCompressed = entry.compressedSize === 0xffffffff;
  const needOffset = entry.localHeaderOffset === 0xffffffff;
  if (!needSize && !needCompressed && !needOffset) return;
  let at = start;
  while (at + 4 <= end) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    const dataStart = at + 4;
    if (dataStart + length > end) break;
    if (id === 0x0001) {
      let field = dataStart;
      const take = (what: string): number => {
        if (field + 8 > dataStart + length) throw new ZipError(`corrupt zip: entry '${name}' has a zip64 extra field without its ${what}`);
        const value = readU64(view, field, `entry '${name}' ${what}`);
        field += 8;
        return value;
      };
      // The field holds only the values whose classic fields are saturated, in this order.
      if (needSize) entry.size = take('size');
      if (needCompressed) entry.compressedSize = take('compressed size');
      if (needOffset) entry.localHeaderOffset = take('local header offset');
      return;
    }
    at = dataStart + length;
  }
  throw new ZipError(`corrupt zip: entry '${name}' needs a zip64 extra field for its sizes or offset but has none`);
}

/** Parses the central directory. Names must be unique. */
export function readZipDirectory(bytes: Uint8Array): ZipDirectory {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findEndRecord(bytes, view);
  const entries = new Map<string, ZipEntry>();
  const directoryEnd = end.directoryOffset + end.directorySize;
  let at = end.directoryOffset;
  for (let index = 0; index < end.entryCount; index++) {
    if (at + CENTRAL_HEADER_SIZE > directoryEnd) {
      throw new ZipError(`truncated zip: central directory entry ${index} of ${end.entryCount} runs past the directory's end at ${directoryEnd}`);
    }
    if (view.getUint32(at, true) !== CENTRAL_HEADER_SIGNATURE) {
      throw new ZipError(`corrupt zip: no central directory header signature at offset ${at} (entry ${index} of ${end.entryCount})`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (next > directoryEnd) {
      throw new ZipError(`truncated zip: central directory entry ${index} runs past the directory's end at ${directoryEnd}`);
    }
    const nameStart = at + CENTRAL_HEADER_SIZE;
    const name = utf8.decode(bytes.subarray(nameStart, nameStart + nameLength));
    const entry: ZipEntry = {
      name,
      method,
      flags,
      crc32: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
    };
    applyZip64Extra(view, nameStart + nameLength, nameStart + nameLength + extraLength, entry, name);
    if (entries.has(name)) throw new ZipError(`corrupt zip: entry '${name}' appears twice`);
    entries.set(name, entry);
    at = next;
  }
  if (at !== directoryEnd) {
    throw new ZipError(`corrupt zip: the central directory is ${end.directorySize} bytes but its ${end.entryCount} entries take ${at - end.directoryOffset}`);
  }
  return { entries, centralDirectoryOffset: end.directoryOffset };
}

/**
 * The uncompressed contents of an entry, after checking its local header,
 * its bounds and its CRC-32. Stored entries are views into `bytes`.
 */
export function readZipEntry(bytes: Uint8Array, directory: ZipDirectory, entry: ZipEntry): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const where = `entry '${entry.name}'`;
  if (entry.flags & 0x41) throw new ZipError(`unsupported zip: ${where} is encrypted`);
  const header = entry.localHeaderOffset;
  if (header + LOCAL_HEADER_SIZE > directory.centralDirectoryOffset) {
    throw new ZipError(`corrupt zip: ${where} has its local header at ${header}, past the central directory at ${directory.centralDirectoryOffset}`);
  }
  if (view.getUint32(header, true) !== LOCAL_HEADER_SIGNATURE) {
    throw new ZipError(`corrupt zip: no local header signature at offset ${header} for ${where}`);
  }
  const nameLength = view.getUint16(header + 26, true);
  const extraLength = view.getUint16(header + 28, true);
  const nameStart = header + LOCAL_HEADER_SIZE;
  const dataStart = nameStart + nameLength + extraLength;
  if (dataStart > directory.centralDirectoryOffset) {
    throw new ZipError(`corrupt zip: the local header of ${where} runs into the central directory`);
  }
  if (utf8.decode(bytes.subarray(nameStart, nameStart + nameLength)) !== entry.name) {
    throw new ZipError(`corrupt zip: the local header at offset ${header} names another file than ${where}`);
  }
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > directory.centralDirectoryOffset) {
    throw new ZipError(
      `truncated zip: ${where} data [${dataStart}, ${dataEnd}) runs past the central directory at ${directory.centralDirectoryOffset}`,
    );
  }
  const raw = bytes.subarray(dataStart, dataEnd);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) {
      throw new ZipError(`corrupt zip: stored ${where} has compressed size ${entry.compressedSize} but size ${entry.size}`);
    }
    data = raw;
  } else if (entry.method === 8) {
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new ZipError(`corrupt zip: deflated ${where} claims ${entry.size} bytes from ${entry.compressedSize}, more than deflate can expand to`);
    }
    let out: Uint8Array;
    try {
      out = new Uint8Array(entry.size);
    } catch {
      throw new ZipError(`cannot allocate ${entry.size} bytes to inflate ${where}`);
    }
    try {
      // A fixed output buffer: a stream that would run past the declared size cannot allocate more.
      data = inflateSync(raw, { out });
    } catch (error) {
      throw new ZipError(`corrupt zip: cannot inflate ${where}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (data.length !== entry.size) {
      throw new ZipError(`corrupt zip: ${where} inflates to ${data.length} bytes, but its size is ${entry.size}`);
    }
  } else {
    throw new ZipError(`unsupported zip: ${where} uses compression method ${entry.method}; only stored (0) and deflated (8) are supported`);
  }
  const actual = crc32(data);
  if (actual !== entry.crc32) {
    throw new ZipError(
      `corrupt zip: CRC-32 mismatch in ${where} (stored 0x${entry.crc32.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')})`,
    );
  }
  return data;
}
