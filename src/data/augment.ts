// Cheap, seeded data augmentation on host batches ([size, C, H, W] float32).

import type { Random } from '../tensor/random.js';

export interface AugmentOptions {
  /** Random translation by up to this many pixels in each direction (0: none). */
  shift: number;
  /** Random horizontal flips (natural images, not digits). */
  flip: boolean;
  /** Value that fills pixels shifted in from outside (the normalised background). */
  fill: number;
  /** Random rotation by up to this many degrees either way (0: none); resampled bilinearly. */
  rotate?: number;
  /** Random zoom by a factor in [1 - scale, 1 + scale] (0: none); resampled bilinearly. */
  scale?: number;
}

/** Returns an augmented copy of the batch; the input is not modified. */
export function augmentBatch(images: Float32Array, size: number, channels: number, height: number, width: number,
  options: AugmentOptions, rng: Random): Float32Array {
  const out = new Float32Array(images.length);
  const plane = height * width;
  const span = 2 * options.shift + 1;
  for (let n = 0; n < size; n++) {
    const dy = options.shift > 0 ? rng.int(span) - options.shift : 0;
    const dx = options.shift > 0 ? rng.int(span) - options.shift : 0;
    const flip = options.flip && rng.uniform() < 0.5;
    const rotate = options.rotate ?? 0;
    const scale = options.scale ?? 0;
    if (rotate > 0 || scale > 0) {
      const angle = ((rng.uniform() * 2 - 1) * rotate * Math.PI) / 180;
      const zoom = 1 + (rng.uniform() * 2 - 1) * scale;
      for (let c = 0; c < channels; c++) {
        const base = (n * channels + c) * plane;
        warpAffine(images, out, base, height, width, angle, zoom, dx, dy, flip, options.fill);
      }
      continue;
    }
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * plane;
      for (let y = 0; y < height; y++) {
        const sy = y - dy;
        const rowOut = base + y * width;
        if (sy < 0 || sy >= height) {
          out.fill(options.fill, rowOut, rowOut + width);
          continue;
        }
        const rowIn = base + sy * width;
        for (let x = 0; x < width; x++) {
          const sx = (flip ? width - 1 - x : x) - dx;
          out[rowOut + x] = sx >= 0 && sx < width ? images[rowIn + sx]! : options.fill;
        }
      }
    }
  }
  return out;
}

/**
 * One plane of `out` = the input plane rotated by `angle`, zoomed by `zoom`
 * about its centre, optionally flipped, then shifted by (dx, dy): each output
 * pixel samples the input bilinearly at the inverse-mapped point, `fill` outside.
 */
function warpAffine(images: Float32Array, out: Float32Array, base: number, height: number, width: number, angle: number, zoom: number,
  dx: number, dy: number, flip: boolean, fill: number): void {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(angle) / zoom;
  const sin = Math.sin(angle) / zoom;
  const sample = (sx: number, sy: number) =>
    sx >= 0 && sx < width && sy >= 0 && sy < height ? images[base + sy * width + sx]! : fill;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Undo the shift, then the rotation and zoom about the centre.
      const ux = (flip ? width - 1 - x : x) - dx - cx;
      const uy = y - dy - cy;
      const sx = cos * ux + sin * uy + cx;
      const sy = -sin * ux + cos * uy + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const top = sample(x0, y0) * (1 - fx) + sample(x0 + 1, y0) * fx;
      const bottom = sample(x0, y0 + 1) * (1 - fx) + sample(x0 + 1, y0 + 1) * fx;
      out[base + y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
}
