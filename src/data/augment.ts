// Cheap, seeded data augmentation on host batches ([size, C, H, W] float32).

import type { Random } from '../tensor/random.js';

export interface AugmentOptions {
  /** Random translation by up to this many pixels in each direction (0: none). */
  shift: number;
  /** Random horizontal flips (natural images, not digits). */
  flip: boolean;
  /** Value that fills pixels shifted in from outside (the normalised background). */
  fill: number;
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
