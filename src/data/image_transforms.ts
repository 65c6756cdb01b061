/**
 * timm's image preprocessing on PIL images, reproduced on RGB pixels: PIL's
 * resampling (bit-exact fixed point), torchvision's Resize / CenterCrop /
 * RandomResizedCrop / ToTensor / Normalize and timm's eval transform. Pure
 * and browser-safe: pixels in, pixels or float32 CHW tensors out.
 */
import type { RgbImage } from './image_decode.js';

export const INTERPOLATIONS = ['bicubic', 'bilinear', 'nearest'] as const;
export const CROP_MODES = ['center', 'squash', 'border'] as const;
/** The resampling filter of a resize (PIL's). */
export type Interpolation = (typeof INTERPOLATIONS)[number];
/** timm's crop_mode: center, squash or border. */
export type CropMode = (typeof CROP_MODES)[number];

/** timm's eval preprocessing: input size, crop, interpolation, mean and std. */
export interface PreprocessConfig {
  /** [channels, height, width]. */
  inputSize: [number, number, number];
  interpolation: Interpolation;
  cropPct: number;
  cropMode: CropMode;
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET_DEFAULT_MEAN: readonly [number, number, number] = Object.freeze([0.485, 0.456, 0.406] as [number, number, number]);
export const IMAGENET_DEFAULT_STD: readonly [number, number, number] = Object.freeze([0.229, 0.224, 0.225] as [number, number, number]);

/** KAT's timm pretrained_cfg: 224 px, bicubic, crop_pct 0.875, ImageNet mean/std. Frozen: spread it to change fields. */
export const IMAGENET_DEFAULT_PREPROCESS: PreprocessConfig = Object.freeze({
  inputSize: Object.freeze([3, 224, 224]) as [number, number, number],
  interpolation: 'bicubic',
  cropPct: 0.875,
  cropMode: 'center',
  mean: IMAGENET_DEFAULT_MEAN as [number, number, number],
  std: IMAGENET_DEFAULT_STD as [number, number, number],
}) as PreprocessConfig;

// ---------------------------------------------------------------------------
// Resampling: PIL's ImagingResample (Resample.c) for 8-bit images
// ---------------------------------------------------------------------------

// Same operation order as Pillow so the doubles round identically.
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

const PRECISION_BITS = 32 - 8 - 2;

interface AxisCoeffs {
  /** Per output pixel: first input index, tap count. */
  bounds: Int32Array;
  /** Per output pixel: `ksize` fixed-point taps (PRECISION_BITS fraction bits). */
  taps: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc; `in0`/`in1` are the box edges (C floats). */
function axisCoeffs(inSize: number, in0: number, in1: number, outSize: number, interpolation: 'bicubic' | 'bilinear'): AxisCoeffs {
  const filter = interpolation === 'bicubic' ? bicubicFilter : bilinearFilter;
  const filterSupport = interpolation === 'bicubic' ? 2 : 1;
  const scale = Math.fround(Math.fround(in1) - Math.fround(in0)) / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = filterSupport * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const taps = new Int32Array(outSize * ksize);
  const weights = new Float64Array(ksize);
  const start = Math.fround(in0);
  const invScale = 1.0 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = start + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter((x + xmin - center + 0.5) * invScale);
      weights[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? weights[x] / total : weights[x];
      taps[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = Math.max(0, xmax);
  }
  return { bounds, taps, ksize };
}

const clip8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Horizontal pass over input rows [rowStart, rowStart + rows). */
function resampleRows(src: Uint8Array, srcWidth: number, rowStart: number, rows: number, outWidth: number, c: AxisCoeffs): Uint8Array {
  const out = new Uint8Array(outWidth * rows * 3);
  const { bounds, taps, ksize } = c;
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < rows; y++) {
    const inRow = (y + rowStart) * srcWidth * 3;
    let o = y * outWidth * 3;
    for (let xx = 0; xx < outWidth; xx++) {
      const count = bounds[2 * xx + 1];
      let p = inRow + bounds[2 * xx] * 3;
      let k = xx * ksize;
      let s0 = half, s1 = half, s2 = half;
      for (let x = 0; x < count; x++, p += 3) {
        const w = taps[k++];
        s0 += src[p] * w;
        s1 += src[p + 1] * w;
        s2 += src[p + 2] * w;
      }
      out[o++] = clip8(s0 >> PRECISION_BITS);
      out[o++] = clip8(s1 >> PRECISION_BITS);
      out[o++] = clip8(s2 >> PRECISION_BITS);
    }
  }
  return out;
}

/** Vertical pass; `rowOffset` is subtracted from the row bounds (the horizontal pass skipped those rows). */
function resampleColumns(src: Uint8Array, width: number, outHeight: number, c: AxisCoeffs, rowOffset: number): Uint8Array {
  const rowLen = width * 3;
  const out = new Uint8Array(rowLen * outHeight);
  const acc = new Int32Array(rowLen);
  const { bounds, taps, ksize } = c;
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < outHeight; yy++) {
    acc.fill(half);
    const ymin = bounds[2 * yy] - rowOffset;
    const count = bounds[2 * yy + 1];
    for (let y = 0; y < count; y++) {
      const w = taps[yy * ksize + y];
      const row = (ymin + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += src[row + i] * w;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = clip8(acc[i] >> PRECISION_BITS);
  }
  return out;
}

/** PIL's nearest resize: an affine scale sampling floor(box0 + (x + 0.5) * step), the step added up as Pillow does. */
function resizeNearest(image: RgbImage, width: number, height: number, box: [number, number, number, number]): RgbImage {
  const [x0, y0, x1, y1] = box.map(Math.fround);
  const ax = Math.fround(x1 - x0) / width;
  const ay = Math.fround(y1 - y0) / height;
  const coord = (v: number) => (v < 0 ? -1 : Math.trunc(v));
  const xs = new Int32Array(width);
  let xo = x0 + ax * 0.5;
  for (let x = 0; x < width; x++, xo += ax) {
    const xin = coord(xo);
    xs[x] = xin >= 0 && xin < image.width ? xin : -1;
  }
  const out = new Uint8Array(width * height * 3);
  let yo = y0 + ay * 0.5;
  for (let y = 0; y < height; y++, yo += ay) {
    const yin = coord(yo);
    if (yin < 0 || yin >= image.height) continue; // PIL fills with 0
    const row = yin * image.width;
    for (let x = 0; x < width; x++) {
      if (xs[x] < 0) continue;
      const s = (row + xs[x]) * 3, d = (y * width + x) * 3;
      out[d] = image.data[s];
      out[d + 1] = image.data[s + 1];
      out[d + 2] = image.data[s + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * PIL's `Image.resize((width, height), resample, box)` on an RGB image:
 * separable antialiased resampling (horizontal pass first), fixed-point
 * coefficients and a uint8 intermediate, bit for bit.
 */
export function resizeImage(image: RgbImage, width: number, height: number, interpolation: Interpolation, box?: [number, number, number, number]): RgbImage {
  checkImage(image);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeImage: output size must be positive integers, got ${width} x ${height}`);
  }
  const b: [number, number, number, number] = box ?? [0, 0, image.width, image.height];
  if (b.length !== 4 || !b.every(Number.isFinite) || b[0] < 0 || b[1] < 0 || b[2] > image.width || b[3] > image.height || b[2] < b[0] || b[3] < b[1]) {
    throw new RangeError(`resizeImage: box [${b.join(', ')}] must lie within the ${image.width} x ${image.height} image`);
  }
  const fullBox = b[0] === 0 && b[1] === 0 && b[2] === image.width && b[3] === image.height;
  if (fullBox && width === image.width && height === image.height) return { width, height, data: image.data.slice() };
  if (interpolation === 'nearest') return resizeNearest(image, width, height, b);
  if (interpolation !== 'bicubic' && interpolation !== 'bilinear') throw new RangeError(`resizeImage: unknown interpolation '${interpolation}'`);

  // Pillow compares the box's right/bottom edge with the output size here.
  const needHorizontal = width !== image.width || b[0] !== 0 || b[2] !== width;
  const needVertical = height !== image.height || b[1] !== 0 || b[3] !== height;
  const vertical = axisCoeffs(image.height, b[1], b[3], height, interpolation);
  let data = image.data;
  let rowOffset = 0;
  if (needHorizontal) {
    const horizontal = axisCoeffs(image.width, b[0], b[2], width, interpolation);
    const first = vertical.bounds[0];
    const last = vertical.bounds[2 * height - 2] + vertical.bounds[2 * height - 1];
    data = resampleRows(image.data, image.width, first, last - first, width, horizontal);
    rowOffset = first;
  }
  // Past the early return, width is the output width whether or not a horizontal pass ran.
  if (needVertical) data = resampleColumns(data, width, height, vertical, rowOffset);
  return { width, height, data };
}

// ---------------------------------------------------------------------------
// Cropping, flipping, tensors
// ---------------------------------------------------------------------------

function checkImage(image: RgbImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 3) {
    throw new RangeError(`expected an RGB image with width * height * 3 bytes, got ${width} x ${height} with ${data?.length} bytes`);
  }
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The `height` x `width` window at (top, left); pixels outside the image get `fill`. */
function cropOrFill(image: RgbImage, top: number, left: number, height: number, width: number, fill: readonly number[] = [0, 0, 0]): RgbImage {
  const out = new Uint8Array(width * height * 3);
  if (fill.some((v) => v !== 0)) for (let p = 0; p < width * height; p++) out.set(fill, 3 * p);
  const x0 = Math.max(0, left), x1 = Math.min(image.width, left + width);
  if (x1 > x0) {
    for (let y = Math.max(0, top); y < Math.min(image.height, top + height); y++) {
      const s = (y * image.width + x0) * 3;
      out.set(image.data.subarray(s, s + (x1 - x0) * 3), ((y - top) * width + (x0 - left)) * 3);
    }
  }
  return { width, height, data: out };
}

/**
 * torchvision's CenterCrop (timm's CenterCropOrPad with `fill`): pads a too
 * small image evenly (extra pixel right/bottom), then crops at
 * round((size - crop) / 2).
 */
export function centerCrop(image: RgbImage, height: number, width: number, fill: readonly number[] = [0, 0, 0]): RgbImage {
  let img = image;
  if (width > img.width || height > img.height) {
    const padLeft = width > img.width ? Math.floor((width - img.width) / 2) : 0;
    const padTop = height > img.height ? Math.floor((height - img.height) / 2) : 0;
    const padRight = width > img.width ? Math.floor((width - img.width + 1) / 2) : 0;
    const padBottom = height > img.height ? Math.floor((height - img.height + 1) / 2) : 0;
    img = cropOrFill(img, -padTop, -padLeft, img.height + padTop + padBottom, img.width + padLeft + padRight, fill);
    if (img.width === width && img.height === height) return img;
  }
  const top = roundHalfEven((img.height - height) / 2);
  const left = roundHalfEven((img.width - width) / 2);
  return cropOrFill(img, top, left, height, width);
}

/** Mirror left-right. */
export function flipHorizontal(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3, d = row + (width - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * ToTensor + Normalize: float32 [3, H, W] of ((v / 255) - mean) / std, each
 * step rounded to float32 as torch does.
 */
export function normalizeToChw(image: RgbImage, mean: readonly number[], std: readonly number[]): Float32Array {
  checkImage(image);
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const lut = new Float32Array(256);
    const m = f(mean[c]), s = f(std[c]);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - m) / s);
    const data = image.data;
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[base + p] = lut[data[3 * p + c]];
  }
  return out;
}

/** torchvision Resize(int): the shorter side becomes `size`, the longer int(size * long / short). */
function resizeShorter(image: RgbImage, size: number, interpolation: Interpolation): RgbImage {
  const { width: w, height: h } = image;
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  const [nw, nh] = w <= h ? [size, newLong] : [newLong, size];
  return nw === w && nh === h ? image : resizeImage(image, nw, nh, interpolation);
}

/** timm's ResizeKeepRatio (no random scale): both sides by one ratio, longest=1 fits inside, 0 covers. */
function resizeKeepRatio(image: RgbImage, targetH: number, targetW: number, longest: number, interpolation: Interpolation): RgbImage {
  const ratioH = image.height / targetH;
  const ratioW = image.width / targetW;
  const ratio = Math.max(ratioH, ratioW) * longest + Math.min(ratioH, ratioW) * (1 - longest);
  // timm would fail on a zero side; keep at least one pixel.
  const h = Math.max(1, roundHalfEven(image.height / ratio));
  const w = Math.max(1, roundHalfEven(image.width / ratio));
  return w === image.width && h === image.height ? image : resizeImage(image, w, h, interpolation);
}

/**
 * timm's eval transform (transforms_imagenet_eval, timm 1.0.9) as a float32
 * [3, H, W] tensor. scale = floor(size / crop_pct) per side, then
 * - center: Resize(scale) of the shorter side, CenterCrop(size);
 * - squash: Resize((scaleH, scaleW)) ignoring aspect, CenterCrop(size);
 * - border: ResizeKeepRatio(scale, longest=1) so the image fits inside, then
 *   CenterCropOrPad(size) padding with round(255 * mean).
 */
export function evalTransform(image: RgbImage, config: PreprocessConfig): Float32Array {
  const pixels = evalResizeCrop(image, config);
  return config.inputSize[0] === 1 ? normalizeToGray(pixels, config.mean[0], config.std[0]) : normalizeToChw(pixels, config.mean, config.std);
}

/**
 * PIL's convert('L') (ITU-R 601-2 luma in 16-bit fixed point: grey pixels keep
 * their value), then ToTensor + Normalize: float32 [1, H, W], for models
 * trained on grayscale images (MNIST, Fashion-MNIST).
 */
export function normalizeToGray(image: RgbImage, mean: number, std: number): Float32Array {
  checkImage(image);
  const plane = image.width * image.height;
  const out = new Float32Array(plane);
  const f = Math.fround;
  const m = f(mean), s = f(std);
  const data = image.data;
  for (let p = 0; p < plane; p++) {
    const luma = (data[3 * p]! * 19595 + data[3 * p + 1]! * 38470 + data[3 * p + 2]! * 7471 + 0x8000) >> 16;
    out[p] = f(f(f(luma / 255) - m) / s);
  }
  return out;
}

/** evalTransform's pixels before ToTensor/Normalize. */
export function evalResizeCrop(image: RgbImage, config: PreprocessConfig): RgbImage {
  checkImage(image);
  const [, height, width] = config.inputSize;
  const { cropPct, interpolation } = config;
  if (!(cropPct > 0)) throw new RangeError(`evalTransform: cropPct must be positive, got ${cropPct}`);
  const scaleH = Math.floor(height / cropPct);
  const scaleW = Math.floor(width / cropPct);
  switch (config.cropMode) {
    case 'squash':
      return centerCrop(resizeImage(image, scaleW, scaleH, interpolation), height, width);
    case 'border': {
      const fill = config.mean.map((m) => roundHalfEven(255 * m));
      return centerCrop(resizeKeepRatio(image, scaleH, scaleW, 1, interpolation), height, width, fill);
    }
    case 'center':
    case undefined: {
      // timm uses Resize(int) for a square target and, for a non-square one,
      // ResizeKeepRatio with its default *bilinear* filter, whatever the config says.
      const resized = scaleH === scaleW ? resizeShorter(image, scaleH, interpolation) : resizeKeepRatio(image, scaleH, scaleW, 0, 'bilinear');
      return centerCrop(resized, height, width);
    }
    default:
      throw new RangeError(`evalTransform: unknown cropMode '${String(config.cropMode)}'`);
  }
}

// ---------------------------------------------------------------------------
// Training crop
// ---------------------------------------------------------------------------

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 draws of an area
 * fraction in `scale` and a log-uniform aspect ratio in `ratio`; the first
 * that fits is placed uniformly. Otherwise the centre crop clamped to `ratio`.
 */
export function randomResizedCropParams(
  imageWidth: number,
  imageHeight: number,
  random: () => number,
  scale: readonly [number, number] = [0.08, 1.0],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = imageWidth * imageHeight;
  const logLow = Math.log(ratio[0]), logHigh = Math.log(ratio[1]);
  const randint = (high: number) => Math.min(high, Math.floor(random() * (high + 1))); // uniform in [0, high]
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * random());
    const aspect = Math.exp(logLow + (logHigh - logLow) * random());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= imageWidth && h > 0 && h <= imageHeight) {
      const top = randint(imageHeight - h);
      const left = randint(imageWidth - w);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = imageWidth / imageHeight;
  const minRatio = Math.min(ratio[0], ratio[1]), maxRatio = Math.max(ratio[0], ratio[1]);
  let w = imageWidth, h = imageHeight;
  if (inRatio < minRatio) h = roundHalfEven(w / minRatio);
  else if (inRatio > maxRatio) w = roundHalfEven(h * maxRatio);
  return { top: Math.floor((imageHeight - h) / 2), left: Math.floor((imageWidth - w) / 2), height: h, width: w };
}

export interface RandomResizedCropOptions {
  /** Area fraction range (default [0.08, 1]). */
  scale?: [number, number];
  /** Aspect ratio (w / h) range (default [3/4, 4/3]). */
  ratio?: [number, number];
  /** Default 'bilinear' (torchvision's). */
  interpolation?: Interpolation;
  /** Mirror horizontally with probability 0.5 (one extra draw after the crop's). */
  flip?: boolean;
}

/**
 * torchvision RandomResizedCrop on a PIL image: crop the drawn box, resize it
 * to `size` = [height, width], then optionally RandomHorizontalFlip(0.5).
 */
export function randomResizedCrop(image: RgbImage, size: [number, number], random: () => number, options: RandomResizedCropOptions = {}): RgbImage {
  checkImage(image);
  const [height, width] = size;
  const box = randomResizedCropParams(image.width, image.height, random, options.scale, options.ratio);
  const crop = cropOrFill(image, box.top, box.left, box.height, box.width);
  const resized = resizeImage(crop, width, height, options.interpolation ?? 'bilinear');
  return options.flip && random() < 0.5 ? flipHorizontal(resized) : resized;
}
