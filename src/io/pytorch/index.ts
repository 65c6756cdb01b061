/**
 * Reads PyTorch checkpoints (`torch.save` files) into float32 tensors,
 * browser-safe: bytes in, tensors out, nothing executed.
 *
 * Two layouts exist:
 *  - zip (PyTorch >= 1.6): `<archive>/data.pkl` pickles the object with
 *    persistent ids ('storage', StorageType, key, location, numel) whose raw
 *    bytes are the entries `<archive>/data/<key>`; `<archive>/byteorder`
 *    says 'little' or 'big' (absent in older files: little).
 *  - legacy (before 1.6): consecutive pickles of the magic number, the
 *    protocol version 1001, a sys_info dict and the object, then a pickled
 *    list of storage keys, then per key an int64 element count and the bytes.
 *
 * The object is unpickled with a restricted unpickler (./pickle.ts); the
 * state dict is then picked out of it and only its tensors are converted.
 */

import { bf16BitsToFloat, getF16Table, type SafetensorsTensor } from '../safetensors.js';
import {
  describeValue,
  ForbiddenGlobalError,
  PickleError,
  PyObject,
  StorageType,
  TensorRef,
  unpickle,
  type DtypeInfo,
  StorageLike,
} from './pickle.js';
import { hasZipMagic, readZipDirectory, readZipEntry, ZipError, type ZipDirectory, type ZipEntry } from './zip.js';

/** A tensor read from a checkpoint: `dtype` as stored ('F32', 'F16', 'I64', ...), values as float32. */
export type PytorchTensor = SafetensorsTensor;

/** The tensors and metadata read from a PyTorch file, nothing executed. */
export interface PytorchCheckpoint {
  /** The chosen state dict's tensors as float32, with DDP / torch.compile prefixes stripped. */
  tensors: Map<string, SafetensorsTensor>;
  /** What was chosen, stripped or skipped, for the user. */
  notes: string[];
  /** Simple values of a training checkpoint (arch, epoch, ...), as strings. */
  metadata: Record<string, string>;
}

/** Options of decodePytorchCheckpoint(): a name for messages, and which weights of a training checkpoint (ema). */
export interface DecodePytorchOptions {
  /** Names the file in error messages. */
  source?: string;
  /** 'ema' picks the EMA weights of a training checkpoint (an error when there are none). */
  weights?: 'default' | 'ema';
}

/** Raised for any checkpoint that cannot be read; the message names the source. */
export class PytorchCheckpointError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PytorchCheckpointError';
  }
}

/** 0x1950a86a20f9469cfc6c, pickled as LONG1: the legacy format's first pickle. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_MAGIC_BYTES = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION = 1001;

const DATA_PKL = /^([^/]+)\/data\.pkl$/;

/** True for a zip archive with an `<archive>/data.pkl` entry, or a legacy checkpoint's magic number. */
export function isPytorchCheckpoint(bytes: Uint8Array): boolean {
  if (hasZipMagic(bytes)) {
    try {
      return [...readZipDirectory(bytes).entries.keys()].some((name) => DATA_PKL.test(name));
    } catch (error) {
      if (error instanceof ZipError) return false;
      throw error;
    }
  }
  return hasLegacyMagic(bytes);
}

function hasLegacyMagic(bytes: Uint8Array): boolean {
  // PROTO n, [FRAME len], LONG1 10 <magic>
  if (bytes.length < 2 || bytes[0] !== 0x80 || bytes[1]! < 2 || bytes[1]! > 5) return false;
  let at = 2;
  if (bytes[at] === 0x95) at += 9;
  if (bytes[at] !== 0x8a || bytes[at + 1] !== LEGACY_MAGIC_BYTES.length) return false;
  return LEGACY_MAGIC_BYTES.every((b, i) => bytes[at + 2 + i] === b);
}

/** A storage named by a persistent id; its bytes are attached once located. */
class Storage extends StorageLike {
  bytes: Uint8Array | null = null;
  constructor(
    key: string,
    dtype: DtypeInfo,
    numel: number,
    /** Zip format: the entry holding the bytes, read on first use. */
    readonly entry: ZipEntry | null = null,
    /** Legacy storage views: the root storage and the element offset into it. */
    readonly root: { storage: Storage; offset: number } | null = null,
  ) {
    super(key, dtype, numel);
  }

  get byteLength(): number {
    return this.numel * this.dtype.size;
  }
}

interface Context {
  fail: (message: string) => never;
  bytes: Uint8Array;
  littleEndian: boolean;
  /** Bytes of data the file holds (uncompressed): the tensors may not add up to much more. */
  describedBytes: number;
  /** Zip format: reads an entry (bounds and CRC checked). */
  readEntry: ((entry: ZipEntry) => Uint8Array) | null;
}

/**
 * Decodes a PyTorch checkpoint into the float32 tensors of its state dict.
 * Throws `PytorchCheckpointError` naming the source for anything malformed,
 * truncated, or needing a global outside the allow-list.
 */
export function decodePytorchCheckpoint(bytes: Uint8Array, options: DecodePytorchOptions = {}): PytorchCheckpoint {
  const prefix = options.source !== undefined ? `checkpoint '${options.source}'` : 'PyTorch checkpoint';
  const fail = (message: string): never => {
    throw new PytorchCheckpointError(`${prefix}: ${message}`);
  };
  const weights = options.weights ?? 'default';
  if (weights !== 'default' && weights !== 'ema') fail(`unknown weights option '${String(weights)}': expected 'default' or 'ema'`);
  try {
    const context: Context = { fail, bytes, littleEndian: true, describedBytes: bytes.length, readEntry: null };
    const root = hasZipMagic(bytes) ? readZipFormat(context) : readLegacyFormat(context);
    return extractStateDict(root, weights, context);
  } catch (error) {
    if (error instanceof ForbiddenGlobalError) {
      throw new PytorchCheckpointError(`refusing to load '${error.globalName}' from ${prefix}: only tensor checkpoint globals are allowed`, { cause: error });
    }
    if (error instanceof ZipError || error instanceof PickleError) {
      throw new PytorchCheckpointError(`${prefix}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------
// The zip format
// ---------------------------------------------------------------------------

function readZipFormat(context: Context): unknown {
  const { bytes, fail } = context;
  const directory: ZipDirectory = readZipDirectory(bytes);
  const pickles = [...directory.entries.keys()].filter((name) => DATA_PKL.test(name));
  if (pickles.length === 0) fail('a zip archive without an <archive>/data.pkl entry: not a PyTorch checkpoint');
  if (pickles.length > 1) fail(`a zip archive with ${pickles.length} data.pkl entries (${pickles.slice(0, 3).join(', ')}); expected one`);
  const pickleName = pickles[0]!;
  const archive = DATA_PKL.exec(pickleName)![1]!;
  context.readEntry = (entry) => readZipEntry(bytes, directory, entry);
  let uncompressed = 0;
  for (const entry of directory.entries.values()) uncompressed += entry.size;
  context.describedBytes = Math.max(bytes.length, uncompressed);

  const byteorder = directory.entries.get(`${archive}/byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(context.readEntry(byteorder)).trim();
    if (order !== 'little' && order !== 'big') fail(`${archive}/byteorder is '${order.slice(0, 20)}', expected 'little' or 'big'`);
    context.littleEndian = order === 'little';
  }

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    // ('storage', storage_type, key, location, numel)
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      throw new PickleError(`persistent id ${describeValue(pid)} is not ('storage', type, key, location, numel)`);
    }
    const [, type, key, location, numel] = pid as unknown[];
    const storage = storageFromId(type, key, location, numel);
    const known = storages.get(storage.key);
    if (known) {
      if (known.dtype !== storage.dtype || known.numel !== storage.numel) {
        throw new PickleError(`storage '${storage.key}' appears with two different types or sizes`);
      }
      return known;
    }
    const entryName = `${archive}/data/${storage.key}`;
    const entry = directory.entries.get(entryName);
    if (!entry) throw new PickleError(`storage '${storage.key}' has no entry ${entryName} in the archive`);
    if (entry.size < storage.byteLength) {
      throw new PickleError(`storage '${storage.key}' needs ${storage.byteLength} bytes but ${entryName} holds ${entry.size}`);
    }
    const located = new Storage(storage.key, storage.dtype, storage.numel, entry);
    storages.set(storage.key, located);
    return located;
  };
  const data = context.readEntry(directory.entries.get(pickleName)!);
  try {
    return unpickle(data, 0, { persistentLoad }).value;
  } catch (error) {
    if (error instanceof PickleError && !(error instanceof ForbiddenGlobalError)) fail(`${pickleName}: ${error.message}`);
    throw error;
  }
}

function storageFromId(type: unknown, key: unknown, location: unknown, numel: unknown): Storage {
  if (!(type instanceof StorageType)) throw new PickleError(`a persistent id's storage type is ${describeValue(type)}, not a torch storage class`);
  if (typeof key !== 'string' || key.length === 0 || key.length > 256) throw new PickleError(`a persistent id's storage key is ${describeValue(key)}`);
  if (typeof location !== 'string') throw new PickleError(`storage '${key}' has location ${describeValue(location)}, expected a string`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0 || !Number.isSafeInteger(numel * type.dtype.size)) {
    throw new PickleError(`storage '${key}' has element count ${describeValue(numel)}`);
  }
  return new Storage(key, type.dtype, numel);
}

// ---------------------------------------------------------------------------
// The legacy format
// ---------------------------------------------------------------------------

function readLegacyFormat(context: Context): unknown {
  const { bytes, fail } = context;
  if (!hasLegacyMagic(bytes)) {
    if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
      fail('a tar archive (the PyTorch < 0.4 tar format), which is not supported; re-save it with a newer PyTorch');
    }
    if (bytes[0] === 0x80) fail('a pickle, but not a PyTorch checkpoint: it does not start with the legacy magic number');
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(`not a PyTorch checkpoint: expected a zip archive (torch.save since 1.6) or a legacy pickle, but the file starts with [${head}]`);
  }
  let pos = 0;
  const next = (what: string, persistentLoad?: (pid: unknown) => unknown): unknown => {
    try {
      const result = unpickle(bytes, pos, persistentLoad ? { persistentLoad } : {});
      pos = result.end;
      return result.value;
    } catch (error) {
      if (error instanceof PickleError && !(error instanceof ForbiddenGlobalError)) fail(`legacy format, ${what}: ${error.message}`);
      throw error;
    }
  };
  if (next('magic number') !== LEGACY_MAGIC) fail('the legacy magic number is wrong');
  const protocol = next('protocol version');
  if (protocol !== LEGACY_PROTOCOL_VERSION) fail(`legacy protocol version ${describeValue(protocol)}, expected ${LEGACY_PROTOCOL_VERSION}`);
  const sysInfo = next('sys_info');
  if (!(sysInfo instanceof Map)) fail(`legacy sys_info is ${describeValue(sysInfo)}, expected a dict`);
  if ((sysInfo as Map<unknown, unknown>).get('little_endian') === false) {
    fail('written on a big-endian machine in the legacy format, which is not supported; re-save it with torch.save on a little-endian machine');
  }

  const roots = new Map<string, Storage>();
  const views = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    // ('storage', storage_type, root_key, location, numel, view_metadata)
    if (Array.isArray(pid) && pid[0] === 'module') {
      throw new PickleError('the checkpoint pickles a whole nn.Module (persistent id \'module\'); only state dicts can be read');
    }
    if (!Array.isArray(pid) || (pid.length !== 5 && pid.length !== 6) || pid[0] !== 'storage') {
      throw new PickleError(`persistent id ${describeValue(pid)} is not ('storage', type, key, location, numel, view_metadata)`);
    }
    const [, type, key, location, numel, viewMetadata = null] = pid as unknown[];
    const parsed = storageFromId(type, key, location, numel);
    let root = roots.get(parsed.key);
    if (root) {
      if (root.dtype !== parsed.dtype || root.numel !== parsed.numel) {
        throw new PickleError(`storage '${parsed.key}' appears with two different types or sizes`);
      }
    } else {
      root = parsed;
      roots.set(root.key, root);
    }
    if (viewMetadata === null) return root;
    // Old PyTorch saved storage slices as (view_key, offset, view_size) of a root storage.
    if (!Array.isArray(viewMetadata) || viewMetadata.length !== 3) {
      throw new PickleError(`storage '${root.key}' has view metadata ${describeValue(viewMetadata)}, expected (key, offset, size)`);
    }
    const [viewKey, offset, size] = viewMetadata as unknown[];
    if (typeof viewKey !== 'string') throw new PickleError(`storage '${root.key}' has a view key ${describeValue(viewKey)}`);
    if (typeof offset !== 'number' || typeof size !== 'number' || !Number.isSafeInteger(offset) || !Number.isSafeInteger(size) ||
      offset < 0 || size < 0 || offset + size > root.numel) {
      throw new PickleError(`storage view '${viewKey}' [${String(offset)}, +${String(size)}) lies outside storage '${root.key}' of ${root.numel} elements`);
    }
    const known = views.get(viewKey);
    if (known) {
      if (known.root?.storage !== root || known.root.offset !== offset || known.numel !== size) {
        throw new PickleError(`storage view '${viewKey}' appears with two different definitions`);
      }
      return known;
    }
    const view = new Storage(viewKey, root.dtype, size, null, { storage: root, offset });
    views.set(viewKey, view);
    return view;
  };
  const object = next('the object', persistentLoad);
  const keys = next('the storage key list');
  if (!Array.isArray(keys)) fail(`legacy storage key list is ${describeValue(keys)}, expected a list`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as unknown[]) {
    if (typeof key !== 'string') fail(`legacy storage key list holds ${describeValue(key)}, expected strings`);
    const storage = roots.get(key as string);
    if (!storage) fail(`legacy storage '${String(key)}' is listed but no tensor refers to it`);
    if (storage!.bytes !== null) fail(`legacy storage '${String(key)}' is listed twice`);
    if (pos + 8 > bytes.length) fail(`truncated: the element count of storage '${String(key)}' at offset ${pos} is past the end (${bytes.length} bytes)`);
    const count = view.getBigInt64(pos, true);
    if (count !== BigInt(storage!.numel)) {
      fail(`legacy storage '${String(key)}' at offset ${pos} has ${count} elements, but its persistent id says ${storage!.numel}`);
    }
    const start = pos + 8;
    const end = start + storage!.byteLength;
    if (end > bytes.length) {
      fail(`truncated: storage '${String(key)}' needs bytes [${start}, ${end}) but the file has ${bytes.length}`);
    }
    storage!.bytes = bytes.subarray(start, end);
    pos = end;
  }
  for (const storage of roots.values()) {
    if (storage.bytes === null) fail(`storage '${storage.key}' is referred to but not in the storage key list`);
  }
  return object;
}

// ---------------------------------------------------------------------------
// Choosing and converting the state dict
// ---------------------------------------------------------------------------

const EMA_KEYS = ['state_dict_ema', 'model_ema'];
const DEFAULT_KEYS = ['state_dict', 'model'];
const PREFIXES: [string, string][] = [
  ['module.', 'DistributedDataParallel'],
  ['_orig_mod.', 'torch.compile'],
];

function holdsTensors(map: Map<unknown, unknown>): boolean {
  for (const value of map.values()) if (value instanceof TensorRef) return true;
  return false;
}

function listKeys(map: Map<unknown, unknown>): string {
  const keys = [...map.keys()].slice(0, 8).map((k) => (typeof k === 'string' ? k : describeValue(k)));
  return keys.length === 0 ? 'none' : `${keys.join(', ')}${map.size > 8 ? `, ... (${map.size} in all)` : ''}`;
}

function namesList(names: string[]): string {
  return `${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}`;
}

function plural(count: number, word: string, words = `${word}s`): string {
  return `${count} ${count === 1 ? word : words}`;
}

function chooseStateDict(root: unknown, weights: 'default' | 'ema', context: Context, notes: string[]): Map<unknown, unknown> {
  const { fail } = context;
  if (root instanceof TensorRef) fail('holds a single tensor, not a state dict');
  if (!(root instanceof Map)) fail(`holds ${describeValue(root)}, not a state dict or a training checkpoint`);
  const top = root as Map<unknown, unknown>;
  if (weights === 'ema') {
    for (const key of EMA_KEYS) {
      const value = top.get(key);
      if (value instanceof Map) {
        notes.push(`using ${key} (EMA weights)`);
        return value;
      }
    }
    return fail(`has no EMA weights (no ${EMA_KEYS.join(' or ')} dict); its entries: ${listKeys(top)}`);
  }
  for (const key of DEFAULT_KEYS) {
    const value = top.get(key);
    if (value instanceof Map) {
      notes.push(`using ${key}`);
      const ema = EMA_KEYS.find((k) => top.get(k) instanceof Map);
      if (ema) notes.push(`the checkpoint also holds EMA weights (${ema}); weights 'ema' selects them`);
      return value;
    }
  }
  if (holdsTensors(top)) return top;
  return fail(`holds no state dict: no tensors and no ${DEFAULT_KEYS.join(' or ')} dict; its entries: ${listKeys(top)}`);
}

function simpleValue(value: unknown): string | null {
  if (typeof value === 'string') return value.length <= 256 ? value : null;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return null;
}

function trainingMetadata(root: Map<unknown, unknown>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of root) {
    const text = simpleValue(value);
    if (typeof key === 'string' && text !== null) metadata[key] = text;
  }
  const args = root.get('args');
  const attributes = args instanceof PyObject ? args.attributes : args instanceof Map ? args : null;
  if (attributes) {
    for (const [from, to] of [['arch', 'arch'], ['model', 'arch'], ['epoch', 'epoch']] as const) {
      const text = simpleValue(attributes.get(from));
      if (text !== null && metadata[to] === undefined) metadata[to] = text;
    }
  }
  return metadata;
}

function extractStateDict(root: unknown, weights: 'default' | 'ema', context: Context): PytorchCheckpoint {
  const { fail } = context;
  const notes: string[] = [];
  const stateDict = chooseStateDict(root, weights, context, notes);
  const metadata = stateDict === root ? {} : trainingMetadata(root as Map<unknown, unknown>);

  const ignored: string[] = [];
  const chosen: [string, TensorRef][] = [];
  for (const [key, value] of stateDict) {
    const name = typeof key === 'string' ? key : describeValue(key);
    if (typeof key === 'string' && value instanceof TensorRef) chosen.push([key, value]);
    else ignored.push(name);
  }
  if (ignored.length > 0) notes.push(`ignored ${plural(ignored.length, 'non-tensor entry', 'non-tensor entries')} (${namesList(ignored)})`);

  // Strip wrapper prefixes (repeatedly: DDP around torch.compile gives module._orig_mod.).
  const stripped = new Map<string, number>();
  const renamed: [string, TensorRef][] = chosen.map(([name, tensor]) => {
    let current = name;
    for (let changed = true; changed;) {
      changed = false;
      for (const [prefix] of PREFIXES) {
        if (current.startsWith(prefix) && current.length > prefix.length) {
          current = current.slice(prefix.length);
          stripped.set(prefix, (stripped.get(prefix) ?? 0) + 1);
          changed = true;
        }
      }
    }
    return [current, tensor];
  });
  for (const [prefix, why] of PREFIXES) {
    const count = stripped.get(prefix);
    if (count) notes.push(`stripped the ${prefix} prefix (${why}) from ${plural(count, 'name')}`);
  }

  // Never more elements than the file could describe (with room for tied weights sharing a storage).
  const budget = { total: 2 * context.describedBytes + (1 << 20), left: 2 * context.describedBytes + (1 << 20) };
  const tensors = new Map<string, SafetensorsTensor>();
  const inexact: string[] = [];
  const unsupported: string[] = [];
  const converted: string[] = [];
  for (const [name, tensor] of renamed) {
    if (tensors.has(name)) fail(`two tensors are named '${name}' once prefixes are stripped`);
    if (tensor.dtype.name === 'C64' || tensor.dtype.name === 'C128') {
      unsupported.push(name);
      continue;
    }
    const values = materialize(tensor, name, context, budget);
    if (values === null) {
      inexact.push(name);
      continue;
    }
    if (tensor.dtype.name.startsWith('I') || tensor.dtype.name.startsWith('U') || tensor.dtype.name === 'BOOL') converted.push(name);
    tensors.set(name, { dtype: tensor.dtype.name, shape: [...tensor.shape], values });
  }
  if (converted.length > 0) notes.push(`read ${plural(converted.length, 'integer or bool tensor')} as float32 (${namesList(converted)})`);
  if (inexact.length > 0) notes.push(`skipped ${plural(inexact.length, 'integer tensor')} float32 cannot hold exactly (${namesList(inexact)})`);
  if (unsupported.length > 0) notes.push(`skipped ${plural(unsupported.length, 'complex tensor')} (${namesList(unsupported)})`);
  return { tensors, notes, metadata };
}

// ---------------------------------------------------------------------------
// Converting one tensor
// ---------------------------------------------------------------------------

/** The storage's bytes, read (and checked) on first use. */
function storageBytes(storage: Storage, context: Context): Uint8Array {
  if (storage.bytes === null) {
    if (storage.root) {
      const rootBytes = storageBytes(storage.root.storage, context);
      const start = storage.root.offset * storage.dtype.size;
      storage.bytes = rootBytes.subarray(start, start + storage.byteLength);
    } else if (storage.entry && context.readEntry) {
      storage.bytes = context.readEntry(storage.entry);
    } else {
      context.fail(`storage '${storage.key}' has no data`);
    }
  }
  if (storage.bytes!.length < storage.byteLength) {
    context.fail(`storage '${storage.key}' has ${storage.bytes!.length} bytes, fewer than the ${storage.byteLength} its tensors need`);
  }
  return storage.bytes!;
}

/** Reads a tensor view as float32; null for integers float32 cannot hold exactly. */
function materialize(tensor: TensorRef, name: string, context: Context, budget: { total: number; left: number }): Float32Array | null {
  const storage = tensor.storage as Storage;
  const bytes = storageBytes(storage, context);
  const { shape, stride, offset, dtype } = tensor;
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (count > budget.left) {
      context.fail(`tensor '${name}' [${shape.join(', ')}] takes the tensors past ${budget.total} elements, more than this file can describe`);
    }
  }
  budget.left -= count;
  const size = dtype.size;
  // rebuildTensor checked the view against the storage's declared size; storageBytes checked the bytes exist.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = context.littleEndian;
  const out = new Float32Array(count);
  if (count === 0) return out;

  // Element positions (in elements of dtype) of the view, in row-major order.
  const rank = shape.length;
  let contiguous = true;
  for (let i = rank - 1, expected = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) contiguous = false;
    expected *= shape[i]!;
  }
  if (contiguous && dtype.name === 'F32' && little) {
    // A byte copy also fixes any misalignment of the entry in the file.
    new Uint8Array(out.buffer).set(bytes.subarray(offset * 4, (offset + count) * 4));
    return out;
  }
  let read: (at: number) => number;
  let exact = true;
  switch (dtype.name) {
    case 'F32': read = (at) => view.getFloat32(at, little); break;
    case 'F64': read = (at) => view.getFloat64(at, little); break;
    case 'F16': {
      const table = getF16Table();
      read = (at) => table[view.getUint16(at, little)]!;
      break;
    }
    case 'BF16': read = (at) => bf16BitsToFloat(view.getUint16(at, little)); break;
    case 'I64': read = (at) => {
      const value = view.getBigInt64(at, little);
      const number = Number(value);
      if (BigInt(number) !== value || Math.fround(number) !== number) exact = false;
      return number;
    }; break;
    case 'I32': read = (at) => {
      const value = view.getInt32(at, little);
      if (Math.fround(value) !== value) exact = false;
      return value;
    }; break;
    case 'I16': read = (at) => view.getInt16(at, little); break;
    case 'I8': read = (at) => view.getInt8(at); break;
    case 'U8': read = (at) => view.getUint8(at); break;
    case 'BOOL': read = (at) => (view.getUint8(at) !== 0 ? 1 : 0); break;
    default: return context.fail(`tensor '${name}' has unsupported dtype ${dtype.name}`);
  }
  if (contiguous) {
    for (let i = 0; i < count; i++) out[i] = read((offset + i) * size);
  } else {
    // Odometer over the index, moving the storage position by each axis's stride.
    const index = new Array<number>(rank).fill(0);
    let position = offset;
    for (let i = 0; i < count; i++) {
      out[i] = read(position * size);
      for (let axis = rank - 1; axis >= 0; axis--) {
        if (++index[axis]! < shape[axis]!) {
          position += stride[axis]!;
          break;
        }
        position -= (shape[axis]! - 1) * stride[axis]!;
        index[axis] = 0;
      }
    }
  }
  return exact ? out : null;
}
