/**
 * Image decoding that reproduces PIL's `Image.open(f).convert('RGB')` for
 * JPEG and PNG. Browser-safe: bytes in, interleaved RGB out.
 *
 * JPEG: PIL decodes with libjpeg-turbo. After `loadImageDecoders()`, grey and
 * YCbCr JPEGs go through libjpeg-turbo itself (MozJPEG's decoder compiled to
 * WebAssembly, from @jsquash/jpeg), which gives PIL's pixels bit for bit.
 * CMYK JPEGs (which that build cannot convert), and every JPEG before the
 * decoder is loaded, go through jpeg-js: its entropy decoding and IDCT, then
 * libjpeg-turbo's "fancy" chroma upsampling and fixed-point YCbCr -> RGB done
 * here, which is within ~3 levels of PIL (the IDCTs round differently).
 */
import jpeg from 'jpeg-js';
import { decode as decodePng } from 'fast-png';
import mozjpegFactory, { type MozJPEGModule } from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
import { nodeBuiltin } from '../util/node_builtin.js';

let libjpeg: MozJPEGModule | null = null;
let libjpegLoading: Promise<void> | null = null;
/** libjpeg reports errors through stderr before it exits; keep the last message for ours. */
let libjpegMessage = '';

/**
 * Loads libjpeg-turbo (WebAssembly) so that JPEGs decode exactly as PIL's do.
 * Idempotent; decoding works without it, within ~3 levels for JPEGs.
 */
export function loadImageDecoders(): Promise<void> {
  libjpegLoading ??= (async () => {
    const options: Record<string, unknown> = {
      noInitialRun: true,
      print: () => undefined,
      printErr: (text: string) => { libjpegMessage = text; },
    };
    if (typeof process !== 'undefined' && process.versions?.node !== undefined) {
      // Node cannot fetch the file: URL the glue code would use; hand it the compiled module instead.
      const { createRequire } = await nodeBuiltin<typeof import('node:module')>('module');
      const { readFile } = await nodeBuiltin<typeof import('node:fs/promises')>('fs/promises');
      const path = createRequire(import.meta.url).resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm');
      const compiled = await WebAssembly.compile(await readFile(path));
      options.instantiateWasm = (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => {
        const instance = new WebAssembly.Instance(compiled, imports);
        done(instance);
        return instance.exports;
      };
    }
    libjpeg = await mozjpegFactory(options as Parameters<typeof mozjpegFactory>[0]);
  })();
  return libjpegLoading;
}

/** Whether JPEGs decode through libjpeg-turbo (exactly as PIL) rather than jpeg-js. */
export function exactJpegDecoding(): boolean {
  return libjpeg !== null;
}

/** `loadImageDecoders()`, then `decodeImage`. */
export async function decodeImageExact(bytes: Uint8Array, source?: string, limits: DecodeLimits = {}): Promise<RgbImage> {
  await loadImageDecoders();
  return decodeImage(bytes, source, limits);
}

/** Interleaved RGB, 3 bytes per pixel, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A photo that cannot be decoded: unsupported, corrupt or over the size limits. */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/** An image format recognised from a file's first bytes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp';

/** Caps so that a hostile header cannot make the decoder allocate gigabytes. */
export interface DecodeLimits {
  /** Largest width x height accepted, in millions of pixels (default 100). */
  maxMegapixels?: number;
  /** jpeg-js's working-memory cap in MiB (default 1024; it needs ~14 bytes per pixel). */
  maxMemoryMB?: number;
  /** 'jpeg-js': skip libjpeg-turbo even when it is loaded (the portable path, for comparisons). */
  jpegDecoder?: 'auto' | 'jpeg-js';
}

export const DEFAULT_DECODE_LIMITS: Readonly<Required<Omit<DecodeLimits, 'jpegDecoder'>>> = Object.freeze({ maxMegapixels: 100, maxMemoryMB: 1024 });

/** The container format from the magic bytes, or null. */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 3) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return null;
}

/**
 * Decodes a JPEG or PNG to RGB as PIL's `convert('RGB')` would: PNG exactly,
 * JPEG exactly after `loadImageDecoders()` (CMYK within a level), otherwise
 * within ~3 levels (jpeg-js's IDCT rounds differently from libjpeg's).
 * `source` names the file in errors.
 * Throws one ImageDecodeError for anything unreadable.
 */
export function decodeImage(bytes: Uint8Array, source?: string, limits: DecodeLimits = {}): RgbImage {
  const label = describe(source);
  const maxMegapixels = limits.maxMegapixels ?? DEFAULT_DECODE_LIMITS.maxMegapixels;
  const maxMemoryMB = limits.maxMemoryMB ?? DEFAULT_DECODE_LIMITS.maxMemoryMB;
  if (bytes.length === 0) throw new ImageDecodeError(`${label}: empty file`);
  const format = imageFormat(bytes);
  switch (format) {
    case 'jpeg':
      return decodeJpeg(bytes, label, maxMegapixels, maxMemoryMB, limits.jpegDecoder === 'jpeg-js' ? null : libjpeg);
    case 'png':
      return decodePngRgb(bytes, label, maxMegapixels);
    case 'webp':
    case 'gif':
    case 'bmp':
      throw new ImageDecodeError(`${label}: ${FORMAT_NAMES[format]} images are not supported (only JPEG and PNG); convert it first`);
    default: {
      const head = Array.from(bytes.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
      throw new ImageDecodeError(`${label}: not a JPEG or PNG image (unrecognised header ${head})`);
    }
  }
}

const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF', bmp: 'BMP' };

function ascii(b: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...b.subarray(start, start + length));
}

// Callers may pass a bare path or an already formatted "image '...'" label.
function describe(source: string | undefined): string {
  if (!source) return 'image';
  return source.startsWith("image '") ? source : `image '${source}'`;
}

// fast-png puts zlib's complaint in `cause`.
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : '';
  const message = error.message.replace(/:\s*$/, '');
  return cause ? `${message}: ${cause}` : message;
}

function checkSize(width: number, height: number, maxMegapixels: number, label: string, kind: string): void {
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(`${label}: corrupt ${kind} (size ${width} x ${height})`);
  if (width * height > maxMegapixels * 1e6) {
    throw new ImageDecodeError(
      `${label}: ${width} x ${height} ${kind} (${(width * height / 1e6).toFixed(1)} megapixels) exceeds the ${maxMegapixels}-megapixel limit`,
    );
  }
}

// ---------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------

interface JpegComponent { id: number; h: number; v: number }

interface JpegInfo {
  sof: number;
  width: number;
  height: number;
  precision: number;
  components: JpegComponent[];
  jfif: boolean;
  /** Transform code of the first Adobe APP14 marker before the first scan. */
  adobeTransform: number | null;
  /** Offsets of every Adobe transform byte (jpeg-js honours the last one). */
  adobeTransformOffsets: number[];
}

/**
 * Walks the marker segments and scans up to EOI. A missing EOI means the
 * file was cut short: jpeg-js would fill the rest with grey and PIL raises.
 */
function scanJpeg(b: Uint8Array, label: string): JpegInfo {
  const n = b.length;
  const corrupt = (why: string) => new ImageDecodeError(`${label}: truncated or corrupt JPEG (${why})`);
  let info: JpegInfo | null = null;
  let jfif = false;
  let adobeTransform: number | null = null;
  const adobeTransformOffsets: number[] = [];
  let sawScan = false;
  let i = 2;
  for (;;) {
    // libjpeg skips stray bytes before a marker (with a warning); so do we.
    while (i < n && b[i] !== 0xff) i++;
    while (i < n && b[i] === 0xff) i++;
    if (i >= n) throw corrupt(`no end-of-image marker in ${n} bytes`);
    const marker = b[i++];
    if (marker === 0xd9) break;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (i + 2 > n) throw corrupt(`no end-of-image marker in ${n} bytes`);
    const length = (b[i] << 8) | b[i + 1];
    if (length < 2) throw corrupt(`bad segment length at byte ${i}`);
    const seg = i + 2;
    const end = i + length;
    if (end > n) throw corrupt(`segment at byte ${i - 2} runs past the end of the ${n}-byte file`);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (info) throw corrupt('more than one frame header');
      if (length < 8) throw corrupt('short frame header');
      const count = b[seg + 5];
      if (length < 8 + 3 * count) throw corrupt('short frame header');
      const components: JpegComponent[] = [];
      for (let c = 0; c < count; c++) {
        const at = seg + 6 + 3 * c;
        components.push({ id: b[at], h: b[at + 1] >> 4, v: b[at + 1] & 15 });
      }
      info = {
        sof: marker,
        precision: b[seg],
        height: (b[seg + 1] << 8) | b[seg + 2],
        width: (b[seg + 3] << 8) | b[seg + 4],
        components,
        jfif: false,
        adobeTransform: null,
        adobeTransformOffsets,
      };
    } else if (marker === 0xe0 && !sawScan) {
      if (length - 2 >= 14 && ascii(b, seg, 4) === 'JFIF' && b[seg + 4] === 0) jfif = true;
    } else if (marker === 0xee) {
      if (length - 2 >= 12 && ascii(b, seg, 5) === 'Adobe') {
        adobeTransformOffsets.push(seg + 11);
        if (!sawScan && adobeTransform === null) adobeTransform = b[seg + 11];
      }
    }
    i = end;
    if (marker === 0xda) {
      sawScan = true;
      // Entropy-coded data: 0xFF is followed by a stuffed 0x00, a restart marker or fill 0xFFs.
      while (i < n) {
        if (b[i] === 0xff && i + 1 < n) {
          const next = b[i + 1];
          if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i += 2;
          else if (next === 0xff) i += 1;
          else break;
        } else {
          i++;
        }
      }
    }
  }
  if (!info) throw corrupt('no frame header');
  if (!sawScan) throw corrupt('no image data');
  info.jfif = jfif;
  info.adobeTransform = adobeTransform;
  return info;
}

function decodeJpeg(bytes: Uint8Array, label: string, maxMegapixels: number, maxMemoryMB: number, exact: MozJPEGModule | null): RgbImage {
  const info = scanJpeg(bytes, label);
  const { width, height, components } = info;
  if (info.sof === 0xc3 || info.sof === 0xc7 || info.sof === 0xcb || info.sof === 0xcf) {
    throw new ImageDecodeError(`${label}: lossless JPEG is not supported`);
  }
  if (info.sof >= 0xc9) throw new ImageDecodeError(`${label}: arithmetic-coded JPEG is not supported`);
  if (info.precision !== 8) throw new ImageDecodeError(`${label}: ${info.precision}-bit JPEG is not supported (8-bit only)`);
  checkSize(width, height, maxMegapixels, label, 'JPEG');
  const count = components.length;
  if (count !== 1 && count !== 3 && count !== 4) throw new ImageDecodeError(`${label}: unsupported JPEG with ${count} components`);
  if (components.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) throw new ImageDecodeError(`${label}: corrupt JPEG (bad sampling factors)`);

  if (exact !== null && count !== 4) return decodeWithLibjpeg(exact, bytes, label, width, height);

  let input = bytes;
  if (count === 3 && info.adobeTransformOffsets.some((at) => bytes[at] !== 0)) {
    // jpeg-js forces its own colour conversion when an Adobe marker says YCbCr; zero the flag
    // in a copy so that it hands back the raw planes for the libjpeg conversion below.
    input = bytes.slice();
    for (const at of info.adobeTransformOffsets) input[at] = 0;
  }

  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(input, {
      useTArray: true,
      formatAsRGBA: false,
      colorTransform: false,
      tolerantDecoding: true,
      maxResolutionInMP: maxMegapixels,
      maxMemoryUsageInMB: maxMemoryMB,
    });
  } catch (error) {
    const message = errorText(error);
    if (/maxMemoryUsageInMB|maxResolutionInMP|allocate/.test(message)) {
      throw new ImageDecodeError(`${label}: ${width} x ${height} JPEG is too large to decode (${message})`);
    }
    throw new ImageDecodeError(`${label}: truncated or corrupt JPEG (${message})`);
  }
  if (raw.width !== width || raw.height !== height || raw.data.length !== width * height * 3) {
    throw new ImageDecodeError(`${label}: corrupt JPEG (decoded size does not match the header)`);
  }
  // One component: jpeg-js repeats the grey level into R, G, B as PIL's L -> RGB does.
  // Four: jpeg-js applies PIL's Adobe-inverted CMYK -> RGB rule, R = (255-C)(255-K)/255,
  // with float arithmetic (at most one level from PIL's integer rounding).
  if (count !== 3) return { width, height, data: raw.data };

  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  for (let c = 0; c < 3; c++) upsampleLikeLibjpeg(raw.data, width, height, c, maxH / components[c].h, maxV / components[c].v);
  if (!isRgbColorSpace(info)) yccToRgb(raw.data);
  return { width, height, data: raw.data };
}

/** libjpeg-turbo's own decode (islow IDCT, fancy upsampling: PIL's settings), RGBA out, alpha dropped. */
function decodeWithLibjpeg(module: MozJPEGModule, bytes: Uint8Array, label: string, width: number, height: number): RgbImage {
  libjpegMessage = '';
  let decoded: ImageData | null;
  try {
    decoded = module.decode(bytes as Uint8Array<ArrayBuffer>, false);
  } catch (error) {
    throw new ImageDecodeError(`${label}: truncated or corrupt JPEG (${libjpegMessage || errorText(error)})`);
  }
  if (!decoded || decoded.width !== width || decoded.height !== height) {
    throw new ImageDecodeError(`${label}: corrupt JPEG (${libjpegMessage || 'decoded size does not match the header'})`);
  }
  const rgba = decoded.data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    data[j] = rgba[i]!;
    data[j + 1] = rgba[i + 1]!;
    data[j + 2] = rgba[i + 2]!;
  }
  return { width, height, data };
}

/** libjpeg-turbo's guess of a 3-component colour space (jdapimin.c default_decompress_parms). */
function isRgbColorSpace(info: JpegInfo): boolean {
  if (info.jfif) return false;
  if (info.adobeTransform !== null) return info.adobeTransform === 0;
  const [a, b, c] = info.components.map((x) => x.id);
  return a === 0x52 && b === 0x47 && c === 0x42; // 'R', 'G', 'B'
}

/**
 * Replaces jpeg-js's replicated chroma of channel `c` with libjpeg-turbo's
 * upsampling (jdsample.c, do_fancy_upsampling on, PIL's default): triangle
 * filters for 2:1 factors, replication for other integer factors.
 */
function upsampleLikeLibjpeg(data: Uint8Array, width: number, height: number, c: number, fx: number, fy: number): void {
  if (fx === 1 && fy === 1) return;
  if (!Number.isInteger(fx) || !Number.isInteger(fy)) return; // libjpeg refuses these; keep jpeg-js's
  const dw = Math.ceil(width / fx);
  const dh = Math.ceil(height / fy);
  const h2v1 = fx === 2 && fy === 1 && dw > 2;
  const h1v2 = fx === 1 && fy === 2;
  const h2v2 = fx === 2 && fy === 2 && dw > 2;
  if (!h2v1 && !h1v2 && !h2v2) return; // replication, which jpeg-js already did

  // Recover the downsampled plane: jpeg-js maps output x to sample floor(x / fx).
  const plane = new Uint8Array(dw * dh);
  for (let j = 0; j < dh; j++) {
    const y = Math.min(height - 1, j * fy);
    for (let i = 0; i < dw; i++) plane[j * dw + i] = data[(y * width + Math.min(width - 1, i * fx)) * 3 + c];
  }
  const row = (j: number) => Math.min(dh - 1, Math.max(0, j)) * dw; // edge rows repeat
  const put = (x: number, y: number, v: number) => {
    if (x < width && y < height) data[(y * width + x) * 3 + c] = v;
  };

  if (h2v1) {
    for (let j = 0; j < dh; j++) {
      const r = j * dw;
      put(0, j, plane[r]);
      put(1, j, (plane[r] * 3 + plane[r + 1] + 2) >> 2);
      for (let i = 1; i < dw - 1; i++) {
        const v = plane[r + i] * 3;
        put(2 * i, j, (v + plane[r + i - 1] + 1) >> 2);
        put(2 * i + 1, j, (v + plane[r + i + 1] + 2) >> 2);
      }
      const last = plane[r + dw - 1];
      put(2 * dw - 2, j, (last * 3 + plane[r + dw - 2] + 1) >> 2);
      put(2 * dw - 1, j, last);
    }
    return;
  }

  // Vertical step: 3/4 nearer row + 1/4 further row, the row above first.
  const sums = new Int32Array(dw);
  for (let j = 0; j < dh; j++) {
    for (let half = 0; half < 2; half++) {
      const y = 2 * j + half;
      if (y >= height) break;
      const near = row(j);
      const far = row(half === 0 ? j - 1 : j + 1);
      if (h1v2) {
        const bias = half === 0 ? 1 : 2;
        for (let i = 0; i < dw; i++) put(i, y, (plane[near + i] * 3 + plane[far + i] + bias) >> 2);
        continue;
      }
      for (let i = 0; i < dw; i++) sums[i] = plane[near + i] * 3 + plane[far + i];
      put(0, y, (sums[0] * 4 + 8) >> 4);
      put(1, y, (sums[0] * 3 + sums[1] + 7) >> 4);
      for (let i = 1; i < dw - 1; i++) {
        put(2 * i, y, (sums[i] * 3 + sums[i - 1] + 8) >> 4);
        put(2 * i + 1, y, (sums[i] * 3 + sums[i + 1] + 7) >> 4);
      }
      put(2 * dw - 2, y, (sums[dw - 1] * 3 + sums[dw - 2] + 8) >> 4);
      put(2 * dw - 1, y, (sums[dw - 1] * 4 + 7) >> 4);
    }
  }
}

// libjpeg's fixed-point YCbCr -> RGB tables (jdcolor.c, 16 fraction bits).
let yccTables: { crR: Int32Array; cbB: Int32Array; crG: Int32Array; cbG: Int32Array } | null = null;

function getYccTables() {
  if (yccTables) return yccTables;
  const fix = (x: number) => Math.trunc(x * 65536 + 0.5);
  const half = 1 << 15;
  const crR = new Int32Array(256), cbB = new Int32Array(256), crG = new Int32Array(256), cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (fix(1.402) * x + half) >> 16;
    cbB[i] = (fix(1.772) * x + half) >> 16;
    crG[i] = -fix(0.71414) * x;
    cbG[i] = -fix(0.34414) * x + half;
  }
  yccTables = { crR, cbB, crG, cbG };
  return yccTables;
}

function yccToRgb(data: Uint8Array): void {
  const { crR, cbB, crG, cbG } = getYccTables();
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let p = 0; p < data.length; p += 3) {
    const y = data[p], cb = data[p + 1], cr = data[p + 2];
    data[p] = clamp(y + crR[cr]);
    data[p + 1] = clamp(y + ((cbG[cb] + crG[cr]) >> 16));
    data[p + 2] = clamp(y + cbB[cb]);
  }
}

// ---------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------

function decodePngRgb(bytes: Uint8Array, label: string, maxMegapixels: number): RgbImage {
  // Check IHDR ourselves: fast-png would allocate whatever the header asks for.
  if (bytes.length < 33 || ascii(bytes, 12, 4) !== 'IHDR') throw new ImageDecodeError(`${label}: truncated or corrupt PNG (no IHDR header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const bitDepth = bytes[24];
  const colorType = bytes[25];
  checkSize(width, height, maxMegapixels, label, 'PNG');
  // fast-png's Adam7 path assumes whole-byte samples.
  if (bytes[28] === 1 && bitDepth < 8) throw new ImageDecodeError(`${label}: interlaced PNG with ${bitDepth}-bit samples is not supported`);

  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(completePng(bytes, label));
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    throw new ImageDecodeError(`${label}: truncated or corrupt PNG (${errorText(error)})`);
  }
  const { depth, channels } = png;
  const pixels = width * height;
  const rowBytes = Math.ceil((width * depth * channels) / 8);
  const expected = depth < 8 ? rowBytes * height : pixels * channels;
  if (png.width !== width || png.height !== height || png.data.length !== expected) {
    throw new ImageDecodeError(`${label}: truncated or corrupt PNG (pixel data does not match the header)`);
  }
  const out = new Uint8Array(pixels * 3);
  const src = png.data;

  if (colorType === 3) {
    // Palette: PIL leaves entries past the PLTE as its initial grey ramp (i, i, i).
    const palette = png.palette ?? [];
    const lut = new Uint8Array(768);
    for (let i = 0; i < 256; i++) {
      const entry = palette[i];
      lut[3 * i] = entry ? entry[0] : i;
      lut[3 * i + 1] = entry ? entry[1] : i;
      lut[3 * i + 2] = entry ? entry[2] : i;
    }
    forEachSample(src as Uint8Array, width, height, depth, rowBytes, (p, index) => {
      out[3 * p] = lut[3 * index];
      out[3 * p + 1] = lut[3 * index + 1];
      out[3 * p + 2] = lut[3 * index + 2];
    });
    return { width, height, data: out };
  }

  if (colorType === 0) {
    // Grey: PIL scales 1/2/4-bit levels to 0..255; 16-bit opens as mode I and
    // convert('RGB') clips the integer value at 255 (it does not shift it down).
    const scale = depth === 1 ? 255 : depth === 2 ? 85 : depth === 4 ? 17 : 1;
    if (depth === 16) {
      for (let p = 0; p < pixels; p++) {
        const v = src[p] > 255 ? 255 : src[p];
        out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = v;
      }
    } else {
      forEachSample(src as Uint8Array, width, height, depth, rowBytes, (p, level) => {
        const v = level * scale;
        out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = v;
      });
    }
    return { width, height, data: out };
  }

  // Grey+alpha, RGB, RGBA: alpha is dropped (not composited); 16-bit keeps the high byte.
  const shift = depth === 16 ? 8 : 0;
  if (colorType === 4) {
    for (let p = 0; p < pixels; p++) {
      const v = src[2 * p] >> shift;
      out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = v;
    }
  } else if (colorType === 2 || colorType === 6) {
    const stride = colorType === 2 ? 3 : 4;
    for (let p = 0; p < pixels; p++) {
      out[3 * p] = src[stride * p] >> shift;
      out[3 * p + 1] = src[stride * p + 1] >> shift;
      out[3 * p + 2] = src[stride * p + 2] >> shift;
    }
  } else {
    throw new ImageDecodeError(`${label}: corrupt PNG (colour type ${colorType})`);
  }
  return { width, height, data: out };
}

/**
 * Walks the chunks: a file cut inside a chunk is truncated. One that ends
 * cleanly after its image data but lacks IEND is what PIL still loads, so
 * IEND is appended for fast-png, which insists on it.
 */
function completePng(bytes: Uint8Array, label: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let sawData = false;
  let i = 8;
  while (i < n) {
    if (i + 8 > n) throw new ImageDecodeError(`${label}: truncated PNG (file ends inside a chunk header at byte ${i})`);
    const type = ascii(bytes, i + 4, 4);
    if (type === 'IEND') return bytes;
    const end = i + 12 + view.getUint32(i);
    if (end > n) throw new ImageDecodeError(`${label}: truncated PNG (file ends inside the ${type} chunk at byte ${i})`);
    if (type === 'IDAT') sawData = true;
    i = end;
  }
  if (!sawData) throw new ImageDecodeError(`${label}: truncated or corrupt PNG (no image data)`);
  const out = new Uint8Array(n + 12);
  out.set(bytes);
  out.set([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82], n);
  return out;
}

/** Visits the packed 1/2/4/8-bit samples of a one-channel PNG (rows start on byte boundaries). */
function forEachSample(src: Uint8Array, width: number, height: number, depth: number, rowBytes: number, visit: (pixel: number, value: number) => void): void {
  if (depth === 8) {
    for (let p = 0; p < width * height; p++) visit(p, src[p]);
    return;
  }
  const mask = (1 << depth) - 1;
  const perByte = 8 / depth;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++) {
      const byte = src[row + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      visit(y * width + x, (byte >> shift) & mask);
    }
  }
}
