/**
 * A restricted unpickler for the pickles `torch.save` writes (protocols 2-5).
 *
 * Nothing is ever imported or executed: GLOBAL / STACK_GLOBAL resolve only
 * names from a fixed allow-list, each mapped to a small declarative stand-in
 * written here (a tensor-view record, an OrderedDict as a Map, ...). Any
 * other global, and any opcode torch.save does not use, is refused by name.
 *
 * Python values become:
 *   None -> null, bool -> boolean, int -> number (bigint past 2^53),
 *   float -> number, str -> string, bytes -> Uint8Array, tuple -> frozen
 *   array, list -> array, dict / OrderedDict -> Map, set -> PySet,
 *   argparse.Namespace -> PyObject, tensors -> TensorRef.
 */

import { f16BitsToFloat } from '../safetensors.js';

/** Raised for a malformed pickle or one that needs something not allowed. */
export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** Raised when a pickle names a global outside the allow-list. */
export class ForbiddenGlobalError extends PickleError {
  constructor(readonly globalName: string) {
    super(`refusing to load '${globalName}': only tensor checkpoint globals are allowed`);
    this.name = 'ForbiddenGlobalError';
  }
}

/** Element type of a tensor or storage, named as in safetensors. */
export interface DtypeInfo {
  name: string;
  /** Bytes per element. */
  size: number;
}

const DTYPES: Readonly<Record<string, DtypeInfo>> = {
  F64: { name: 'F64', size: 8 },
  F32: { name: 'F32', size: 4 },
  F16: { name: 'F16', size: 2 },
  BF16: { name: 'BF16', size: 2 },
  I64: { name: 'I64', size: 8 },
  I32: { name: 'I32', size: 4 },
  I16: { name: 'I16', size: 2 },
  I8: { name: 'I8', size: 1 },
  U8: { name: 'U8', size: 1 },
  BOOL: { name: 'BOOL', size: 1 },
  C64: { name: 'C64', size: 8 },
  C128: { name: 'C128', size: 16 },
};

/** A torch storage class (torch.FloatStorage, ...), used as a type tag in persistent ids. */
export class StorageType {
  constructor(readonly pythonName: string, readonly dtype: DtypeInfo) {}
}

/** A torch dtype value (torch.float32, ...). */
export class TorchDtype {
  constructor(readonly pythonName: string, readonly dtype: DtypeInfo) {}
}

/** A class used only as a marker (torch.Tensor, torch.nn.parameter.Parameter). */
export class TypeMarker {
  constructor(readonly pythonName: string) {}
}

/** A numpy dtype, enough to decode a numpy scalar. */
export class NumpyDtype {
  byteOrder = '=';
  constructor(readonly code: string) {}
}

/** An instance of an allowed plain class (argparse.Namespace): its attributes. */
export class PyObject {
  readonly attributes = new Map<string, unknown>();
  constructor(readonly className: string) {}
}

export class PySet {
  constructor(readonly items: unknown[], readonly frozen: boolean) {}
}

export class PySlice {
  constructor(readonly start: unknown, readonly stop: unknown, readonly step: unknown) {}
}

export class PyComplex {
  constructor(readonly real: number, readonly imag: number) {}
}

/** A storage as handed back by the caller's persistent-id loader (subclassed there). */
export abstract class StorageLike {
  constructor(
    readonly key: string,
    readonly dtype: DtypeInfo,
    /** Elements of `dtype` the storage holds. */
    readonly numel: number,
  ) {}
}

/**
 * A tensor: a strided view of a storage. Offsets and strides count elements
 * of `dtype`. The view has been checked to lie inside the storage.
 */
export class TensorRef {
  constructor(
    readonly storage: StorageLike,
    readonly dtype: DtypeInfo,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
}

/** An allowed callable global. `call` implements REDUCE, `construct` NEWOBJ. */
class PyCallable {
  constructor(
    readonly pythonName: string,
    readonly call: ((args: readonly unknown[]) => unknown) | null,
    readonly construct: ((args: readonly unknown[]) => unknown) | null = null,
  ) {}
}

export type Tuple = readonly unknown[];

function isTuple(value: unknown): value is Tuple {
  return Array.isArray(value) && Object.isFrozen(value);
}

function isList(value: unknown): value is unknown[] {
  return Array.isArray(value) && !Object.isFrozen(value);
}

function tuple(items: unknown[]): Tuple {
  return Object.freeze(items);
}

/** A short description of a value for error messages (never recursive). */
export function describeValue(value: unknown): string {
  if (value === null) return 'None';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value.length > 40 ? `str '${value.slice(0, 37)}...'` : `str '${value}'`;
  if (typeof value === 'number' || typeof value === 'bigint') return `${typeof value === 'bigint' || Number.isSafeInteger(value) ? 'int' : 'float'} ${value}`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof Uint8Array) return `bytes of length ${value.length}`;
  if (isTuple(value)) return `tuple of length ${value.length}`;
  if (Array.isArray(value)) return `list of length ${value.length}`;
  if (value instanceof Map) return `dict of ${value.size} entries`;
  if (value instanceof TensorRef) return `tensor [${value.shape.join(', ')}]`;
  if (value instanceof PyCallable || value instanceof StorageType || value instanceof TorchDtype || value instanceof TypeMarker) return `'${value.pythonName}'`;
  if (value instanceof PyObject) return `${value.className} object`;
  if (value instanceof NumpyDtype) return `numpy dtype '${value.code}'`;
  if (value instanceof PySet) return value.frozen ? 'frozenset' : 'set';
  if (value instanceof PySlice) return 'slice';
  if (value instanceof PyComplex) return 'complex';
  return typeof value;
}

// ---------------------------------------------------------------------------
// Argument checks for the allowed callables
// ---------------------------------------------------------------------------

function expectArgs(name: string, args: readonly unknown[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw new PickleError(`${name} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

function expectIndex(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PickleError(`${what} must be a non-negative integer, got ${describeValue(value)}`);
  }
  return value;
}

function expectIntTuple(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new PickleError(`${what} must be a tuple of integers, got ${describeValue(value)}`);
  return value.map((v, i) => expectIndex(v, `${what}[${i}]`));
}

function expectStorage(value: unknown, what: string): StorageLike {
  if (!(value instanceof StorageLike)) throw new PickleError(`${what} must be a storage (from a persistent id), got ${describeValue(value)}`);
  return value;
}

function expectTensor(value: unknown, what: string): TensorRef {
  if (!(value instanceof TensorRef)) throw new PickleError(`${what} must be a tensor, got ${describeValue(value)}`);
  return value;
}

/** Builds a tensor view, checking that every element it can reach lies in the storage. */
function rebuildTensor(
  name: string,
  storageValue: unknown,
  offsetValue: unknown,
  sizeValue: unknown,
  strideValue: unknown,
  dtypeValue?: unknown,
): TensorRef {
  const storage = expectStorage(storageValue, `${name}: the storage`);
  const offset = expectIndex(offsetValue, `${name}: the storage offset`);
  const shape = expectIntTuple(sizeValue, `${name}: the size`);
  const stride = expectIntTuple(strideValue, `${name}: the stride`);
  if (shape.length !== stride.length) {
    throw new PickleError(`${name}: size [${shape.join(', ')}] and stride [${stride.join(', ')}] have different lengths`);
  }
  let dtype = storage.dtype;
  if (dtypeValue !== undefined) {
    if (!(dtypeValue instanceof TorchDtype)) throw new PickleError(`${name}: the dtype must be a torch dtype, got ${describeValue(dtypeValue)}`);
    dtype = dtypeValue.dtype;
  }
  // The storage holds this many whole elements of the tensor's dtype.
  const capacity = Math.floor((storage.numel * storage.dtype.size) / dtype.size);
  let empty = false;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 0) empty = true;
    else last += (shape[i]! - 1) * stride[i]!;
    if (!Number.isSafeInteger(last)) throw new PickleError(`${name}: size [${shape.join(', ')}] with stride [${stride.join(', ')}] overflows`);
  }
  if (!empty && last >= capacity) {
    throw new PickleError(
      `${name}: a view at offset ${offset} with size [${shape.join(', ')}] and stride [${stride.join(', ')}] reaches element ${last}, ` +
        `outside its storage '${storage.key}' of ${capacity} elements`,
    );
  }
  return new TensorRef(storage, dtype, offset, shape, stride);
}

// ---------------------------------------------------------------------------
// The allow-list
// ---------------------------------------------------------------------------

const ALLOWED = new Map<string, unknown>();

function allowCallable(name: string, call: ((args: readonly unknown[]) => unknown) | null, construct?: (args: readonly unknown[]) => unknown): void {
  ALLOWED.set(name, new PyCallable(name, call, construct ?? null));
}

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  ComplexFloatStorage: 'C64',
  ComplexDoubleStorage: 'C128',
};
for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) ALLOWED.set(`torch.${name}`, new StorageType(`torch.${name}`, DTYPES[dtype]!));
// Untyped storages count bytes.
ALLOWED.set('torch.storage.UntypedStorage', new StorageType('torch.storage.UntypedStorage', DTYPES.U8!));
ALLOWED.set('torch.UntypedStorage', new StorageType('torch.UntypedStorage', DTYPES.U8!));

const TORCH_DTYPES: Record<string, string> = {
  float32: 'F32', float: 'F32', float64: 'F64', double: 'F64', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8',
  bool: 'BOOL', complex64: 'C64', cfloat: 'C64', complex128: 'C128', cdouble: 'C128',
};
for (const [name, dtype] of Object.entries(TORCH_DTYPES)) ALLOWED.set(`torch.${name}`, new TorchDtype(`torch.${name}`, DTYPES[dtype]!));

ALLOWED.set('torch.Tensor', new TypeMarker('torch.Tensor'));
ALLOWED.set('torch.nn.parameter.Parameter', new TypeMarker('torch.nn.parameter.Parameter'));

allowCallable('torch._utils._rebuild_tensor_v2', (args) => {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  expectArgs('torch._utils._rebuild_tensor_v2', args, 6, 7);
  return rebuildTensor('torch._utils._rebuild_tensor_v2', args[0], args[1], args[2], args[3]);
});
allowCallable('torch._utils._rebuild_tensor_v3', (args) => {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
  expectArgs('torch._utils._rebuild_tensor_v3', args, 7, 8);
  return rebuildTensor('torch._utils._rebuild_tensor_v3', args[0], args[1], args[2], args[3], args[6]);
});
allowCallable('torch._utils._rebuild_tensor', (args) => {
  expectArgs('torch._utils._rebuild_tensor', args, 4, 4);
  return rebuildTensor('torch._utils._rebuild_tensor', args[0], args[1], args[2], args[3]);
});
allowCallable('torch._utils._rebuild_parameter', (args) => {
  expectArgs('torch._utils._rebuild_parameter', args, 3, 3);
  return expectTensor(args[0], 'torch._utils._rebuild_parameter: the data');
});
allowCallable('torch._utils._rebuild_parameter_with_state', (args) => {
  expectArgs('torch._utils._rebuild_parameter_with_state', args, 4, 4);
  return expectTensor(args[0], 'torch._utils._rebuild_parameter_with_state: the data');
});
allowCallable('torch._tensor._rebuild_from_type_v2', (args) => {
  // (func, type, args, state): func must itself be an allowed tensor rebuilder.
  expectArgs('torch._tensor._rebuild_from_type_v2', args, 4, 4);
  const [func, type, inner] = args;
  if (!(func instanceof PyCallable) || func.call === null || !func.pythonName.startsWith('torch._utils._rebuild_')) {
    throw new PickleError(`torch._tensor._rebuild_from_type_v2: the function must be a torch._utils tensor rebuilder, got ${describeValue(func)}`);
  }
  if (!(type instanceof TypeMarker)) {
    throw new PickleError(`torch._tensor._rebuild_from_type_v2: the type must be torch.Tensor or Parameter, got ${describeValue(type)}`);
  }
  if (!isTuple(inner)) throw new PickleError(`torch._tensor._rebuild_from_type_v2: the arguments must be a tuple, got ${describeValue(inner)}`);
  return expectTensor(func.call(inner), 'torch._tensor._rebuild_from_type_v2: the result');
});

function makeDict(name: string, args: readonly unknown[]): Map<unknown, unknown> {
  expectArgs(name, args, 0, 1);
  const map = new Map<unknown, unknown>();
  if (args.length === 1) {
    const pairs = args[0];
    if (!Array.isArray(pairs)) throw new PickleError(`${name}: expected a list of (key, value) pairs, got ${describeValue(pairs)}`);
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new PickleError(`${name}: expected (key, value) pairs, got ${describeValue(pair)}`);
      map.set(pair[0], pair[1]);
    }
  }
  return map;
}
allowCallable('collections.OrderedDict', (args) => makeDict('collections.OrderedDict', args), (args) => makeDict('collections.OrderedDict', args));
allowCallable('builtins.dict', (args) => makeDict('builtins.dict', args), (args) => makeDict('builtins.dict', args));

allowCallable('torch.Size', (args) => {
  expectArgs('torch.Size', args, 1, 1);
  return tuple(expectIntTuple(args[0], 'torch.Size'));
});

allowCallable('argparse.Namespace', null, (args) => {
  expectArgs('argparse.Namespace', args, 0, 0);
  return new PyObject('argparse.Namespace');
});

function makeSet(name: string, frozen: boolean, args: readonly unknown[]): PySet {
  expectArgs(name, args, 0, 1);
  if (args.length === 0) return new PySet([], frozen);
  if (!Array.isArray(args[0])) throw new PickleError(`${name}: expected a list, got ${describeValue(args[0])}`);
  return new PySet([...args[0]], frozen);
}
allowCallable('builtins.set', (args) => makeSet('builtins.set', false, args));
allowCallable('builtins.frozenset', (args) => makeSet('builtins.frozenset', true, args));
allowCallable('builtins.slice', (args) => {
  expectArgs('builtins.slice', args, 1, 3);
  return args.length === 1 ? new PySlice(null, args[0], null) : new PySlice(args[0], args[1], args[2] ?? null);
});
allowCallable('builtins.complex', (args) => {
  expectArgs('builtins.complex', args, 1, 2);
  const [real, imag = 0] = args;
  if (typeof real !== 'number' || typeof imag !== 'number') throw new PickleError('builtins.complex: expected two floats');
  return new PyComplex(real, imag);
});

allowCallable('_codecs.encode', (args) => {
  // Protocol 2 writes bytes objects as _codecs.encode(text, 'latin1').
  expectArgs('_codecs.encode', args, 1, 2);
  const [text, encoding = 'utf-8'] = args;
  if (typeof text !== 'string' || typeof encoding !== 'string') throw new PickleError('_codecs.encode: expected (str, str)');
  const normalized = encoding.toLowerCase().replace(/[-_]/g, '');
  if (normalized === 'latin1' || normalized === 'iso88591') {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0xff) throw new PickleError('_codecs.encode: a character does not fit latin1');
      out[i] = code;
    }
    return out;
  }
  if (normalized === 'utf8') return new TextEncoder().encode(text);
  throw new PickleError(`_codecs.encode: unsupported encoding '${encoding}'`);
});

const NUMPY_CODES = new Set(['f8', 'f4', 'f2', 'i8', 'i4', 'i2', 'i1', 'u8', 'u4', 'u2', 'u1', 'b1']);
function makeNumpyDtype(args: readonly unknown[]): NumpyDtype {
  expectArgs('numpy.dtype', args, 1, 3);
  const code = args[0];
  if (typeof code !== 'string' || !NUMPY_CODES.has(code)) {
    throw new PickleError(`numpy.dtype: only numeric scalar dtypes are supported, got ${describeValue(code)}`);
  }
  return new NumpyDtype(code);
}

function numpyScalar(args: readonly unknown[]): number | bigint | boolean {
  expectArgs('numpy.core.multiarray.scalar', args, 2, 2);
  const [dtype, data] = args;
  if (!(dtype instanceof NumpyDtype)) throw new PickleError(`numpy scalar: expected a numpy dtype, got ${describeValue(dtype)}`);
  if (!(data instanceof Uint8Array)) throw new PickleError(`numpy scalar: expected bytes, got ${describeValue(data)}`);
  const size = Number(dtype.code.slice(1));
  if (data.length !== size) throw new PickleError(`numpy scalar: dtype '${dtype.code}' needs ${size} bytes, got ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = dtype.byteOrder !== '>';
  switch (dtype.code) {
    case 'f8': return view.getFloat64(0, little);
    case 'f4': return view.getFloat32(0, little);
    case 'f2': return f16BitsToFloat(view.getUint16(0, little));
    case 'i8': return narrow(view.getBigInt64(0, little));
    case 'u8': return narrow(view.getBigUint64(0, little));
    case 'i4': return view.getInt32(0, little);
    case 'u4': return view.getUint32(0, little);
    case 'i2': return view.getInt16(0, little);
    case 'u2': return view.getUint16(0, little);
    case 'i1': return view.getInt8(0);
    case 'u1': return view.getUint8(0);
    default: return view.getUint8(0) !== 0; // b1
  }
}

for (const module of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
  allowCallable(`${module}.scalar`, numpyScalar);
}
allowCallable('numpy.dtype', makeNumpyDtype, makeNumpyDtype);

/** Python 2 module names that pickle maps to Python 3 ones. */
const MODULE_ALIASES: Record<string, string> = { __builtin__: 'builtins' };

function resolveGlobal(module: string, name: string): unknown {
  const full = `${MODULE_ALIASES[module] ?? module}.${name}`;
  const value = ALLOWED.get(full);
  if (value === undefined) throw new ForbiddenGlobalError(`${module}.${name}`);
  return value;
}

/** The allowed globals, for messages and documentation. */
export const ALLOWED_GLOBALS: readonly string[] = Object.freeze([...ALLOWED.keys()]);

// ---------------------------------------------------------------------------
// Opcodes
// ---------------------------------------------------------------------------

/** Every pickle opcode by byte, so refused ones can be named. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

export interface UnpickleLimits {
  /** Most memo entries (default 4,194,304). */
  maxMemo?: number;
  /** Longest str or bytes value in bytes (default 256 MiB). */
  maxStringBytes?: number;
  /** Longest LONG1 / LONG4 integer in bytes (default 64). */
  maxLongBytes?: number;
}

export interface UnpickleOptions extends UnpickleLimits {
  /** Resolves a BINPERSID persistent id (torch: a storage reference). */
  persistentLoad?: (pid: unknown) => unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode. */
  end: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function narrow(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** A little-endian two's-complement integer (LONG1 / LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return narrow(value);
}

/**
 * Unpickles one pickle starting at `start` (several may follow one another,
 * as in PyTorch's legacy format). Throws `PickleError` for anything
 * malformed, truncated or not allowed.
 */
export function unpickle(bytes: Uint8Array, start = 0, options: UnpickleOptions = {}): UnpickleResult {
  const maxMemo = options.maxMemo ?? 1 << 22;
  const maxStringBytes = options.maxStringBytes ?? 256 * 1024 * 1024;
  const maxLongBytes = options.maxLongBytes ?? 64;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let opcodeAt = start;

  const fail = (message: string): never => {
    throw new PickleError(`${message} (pickle opcode at offset ${opcodeAt})`);
  };
  const need = (count: number, what: string): number => {
    if (count > bytes.length - pos) fail(`truncated pickle: ${what} needs ${count} bytes, ${bytes.length - pos} left`);
    const at = pos;
    pos += count;
    return at;
  };
  const u8 = (what: string): number => bytes[need(1, what)]!;
  const u16 = (what: string): number => view.getUint16(need(2, what), true);
  const u32 = (what: string): number => view.getUint32(need(4, what), true);
  const u64 = (what: string): number => {
    const value = view.getBigUint64(need(8, what), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} length ${value} is too large`);
    return Number(value);
  };
  const take = (length: number, what: string): Uint8Array => {
    if (length > maxStringBytes) fail(`${what} of ${length} bytes exceeds the ${maxStringBytes}-byte limit`);
    const at = need(length, what);
    return bytes.subarray(at, at + length);
  };
  const text = (length: number, what: string): string => {
    const raw = take(length, what);
    try {
      return utf8.decode(raw);
    } catch {
      return fail(`${what} is not valid UTF-8`);
    }
  };
  const line = (what: string): string => {
    const limit = Math.min(bytes.length, pos + 1024);
    for (let i = pos; i < limit; i++) {
      if (bytes[i] === 0x0a) {
        const value = text(i - pos, what);
        pos++;
        return value;
      }
    }
    return fail(`truncated pickle: ${what} has no end of line`);
  };
  const pop = (): unknown => {
    const floor = marks.length > 0 ? marks[marks.length - 1]! : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    const floor = marks.length > 0 ? marks[marks.length - 1]! : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) fail('MARK missing');
    return stack.splice(mark!);
  };
  const put = (index: number): void => {
    if (!memo.has(index) && memo.size >= maxMemo) fail(`memo exceeds ${maxMemo} entries`);
    memo.set(index, top());
  };
  const get = (index: number): void => {
    if (!memo.has(index)) fail(`memo key ${index} is not defined`);
    stack.push(memo.get(index));
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail(`SETITEM(S) on ${describeValue(target)}, expected a dict`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    const map = target as Map<unknown, unknown>;
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  };
  const callable = (value: unknown, what: string): PyCallable => {
    if (!(value instanceof PyCallable)) fail(`${what} of ${describeValue(value)}, which is not callable`);
    return value as PyCallable;
  };
  const argsTuple = (value: unknown, what: string): Tuple => {
    if (!isTuple(value)) fail(`${what} arguments must be a tuple, got ${describeValue(value)}`);
    return value as Tuple;
  };
  const wrapCall = (fn: () => unknown): unknown => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof PickleError) fail(error.message);
      throw error;
    }
  };

  if (bytes[pos] !== 0x80) {
    if (pos >= bytes.length) fail('truncated pickle: no data');
    fail('not a pickle of protocol 2 or later (it does not start with PROTO)');
  }

  for (;;) {
    opcodeAt = pos;
    if (pos >= bytes.length) fail('truncated pickle: no STOP opcode');
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: { // PROTO
        const protocol = u8('PROTO');
        if (protocol < 2 || protocol > 5) fail(`unsupported pickle protocol ${protocol}; expected 2 to 5`);
        break;
      }
      case 0x95: // FRAME: a length prefix only; the opcodes follow inline.
        u64('FRAME');
        break;
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4, 'BININT'), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8('BININT1'));
        break;
      case 0x4d: // BININT2
        stack.push(u16('BININT2'));
        break;
      case 0x8a: { // LONG1
        const length = u8('LONG1');
        if (length > maxLongBytes) fail(`LONG1 integer of ${length} bytes exceeds the ${maxLongBytes}-byte limit`);
        stack.push(decodeLong(take(length, 'LONG1')));
        break;
      }
      case 0x8b: { // LONG4
        const length = view.getInt32(need(4, 'LONG4'), true);
        if (length < 0 || length > maxLongBytes) fail(`LONG4 integer of ${length} bytes is outside the 0-${maxLongBytes}-byte limit`);
        stack.push(decodeLong(take(length, 'LONG4')));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8, 'BINFLOAT'), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32('BINUNICODE'), 'BINUNICODE'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64('BINUNICODE8'), 'BINUNICODE8'));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str, read as text as torch.load does)
        stack.push(text(u8('SHORT_BINSTRING'), 'SHORT_BINSTRING'));
        break;
      case 0x54: { // BINSTRING
        const length = view.getInt32(need(4, 'BINSTRING'), true);
        if (length < 0) fail('BINSTRING with a negative length');
        stack.push(text(length, 'BINSTRING'));
        break;
      }
      case 0x42: // BINBYTES
        stack.push(take(u32('BINBYTES'), 'BINBYTES'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8('SHORT_BINBYTES'), 'SHORT_BINBYTES'));
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64('BINBYTES8'), 'BINBYTES8'));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64('BYTEARRAY8'), 'BYTEARRAY8').slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: { // TUPLE1
        const a = pop();
        stack.push(tuple([a]));
        break;
      }
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: { // APPEND
        const item = pop();
        const list = top();
        if (!isList(list)) fail(`APPEND to ${describeValue(list)}, expected a list`);
        (list as unknown[]).push(item);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!isList(list)) fail(`APPENDS to ${describeValue(list)}, expected a list`);
        for (const item of items) (list as unknown[]).push(item);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new PySet([], false));
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof PySet) || set.frozen) fail(`ADDITEMS to ${describeValue(set)}, expected a set`);
        for (const item of items) (set as PySet).items.push(item);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new PySet(popMark(), true));
        break;
      case 0x63: { // GLOBAL
        const module = line('GLOBAL module');
        const name = line('GLOBAL name');
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = argsTuple(pop(), 'REDUCE');
        const fn = callable(pop(), 'REDUCE');
        if (fn.call === null) fail(`'${fn.pythonName}' cannot be called with REDUCE`);
        stack.push(wrapCall(() => fn.call!(args)));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = argsTuple(pop(), 'NEWOBJ');
        const cls = callable(pop(), 'NEWOBJ');
        if (cls.construct === null) fail(`'${cls.pythonName}' cannot be created with NEWOBJ`);
        stack.push(wrapCall(() => cls.construct!(args)));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = argsTuple(pop(), 'NEWOBJ_EX');
        const cls = callable(pop(), 'NEWOBJ_EX');
        if (!(kwargs instanceof Map) || kwargs.size !== 0) fail('NEWOBJ_EX with keyword arguments is not supported');
        if (cls.construct === null) fail(`'${cls.pythonName}' cannot be created with NEWOBJ_EX`);
        stack.push(wrapCall(() => cls.construct!(args)));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(top(), state, fail);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('a persistent id (BINPERSID) where none is expected');
        stack.push(wrapCall(() => options.persistentLoad!(pid)));
        break;
      }
      case 0x71: // BINPUT
        put(u8('BINPUT'));
        break;
      case 0x72: // LONG_BINPUT
        put(u32('LONG_BINPUT'));
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        get(u8('BINGET'));
        break;
      case 0x6a: // LONG_BINGET
        get(u32('LONG_BINGET'));
        break;
      default: {
        const name = OPCODE_NAMES[op];
        fail(
          name !== undefined
            ? `pickle opcode ${name} is not allowed: torch.save does not use it`
            : `unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`,
        );
      }
    }
  }
}

/** BUILD: sets state on the few objects that take it. */
function build(target: unknown, state: unknown, fail: (message: string) => never): void {
  if (target instanceof PyObject) {
    // state is a dict of attributes, or (dict, slot dict).
    const parts = isTuple(state) && state.length === 2 ? state : [state];
    for (const part of parts) {
      if (part === null) continue;
      if (!(part instanceof Map)) fail(`BUILD state for ${target.className} must be a dict, got ${describeValue(part)}`);
      for (const [key, value] of part as Map<unknown, unknown>) {
        if (typeof key !== 'string') fail(`BUILD state for ${target.className} has a non-string attribute name`);
        target.attributes.set(key as string, value);
      }
    }
    return;
  }
  if (target instanceof NumpyDtype) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
    if (!isTuple(state) || state.length < 2 || typeof state[1] !== 'string') fail('BUILD state for a numpy dtype must be a tuple');
    target.byteOrder = (state as Tuple)[1] as string;
    return;
  }
  // OrderedDict instance attributes (a state dict's _metadata) and tensor
  // state carry nothing needed to read the values.
  if (target instanceof Map || target instanceof TensorRef) return;
  fail(`BUILD on ${describeValue(target)} is not supported`);
}
