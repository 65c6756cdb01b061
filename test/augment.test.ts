// Data augmentation against a direct pixel-by-pixel reference.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentBatch } from '../src/data/augment.js';
import { Random } from '../src/tensor/random.js';

describe('augmentBatch', () => {
  it('shifts every image by one random offset within range, filling with the background, input untouched', () => {
    const [size, channels, h, w] = [6, 2, 5, 7];
    const images = Float32Array.from({ length: size * channels * h * w }, (_, i) => i + 1);
    const copy = images.slice();
    const out = augmentBatch(images, size, channels, h, w, { shift: 2, flip: false, fill: -9 }, new Random(3));
    assert.deepEqual(images, copy);
    const seen = new Set<string>();
    for (let n = 0; n < size; n++) {
      // Find the offset that explains channel 0, then check every pixel of every channel with it.
      let found: [number, number] | null = null;
      for (let dy = -2; dy <= 2 && !found; dy++) {
        for (let dx = -2; dx <= 2 && !found; dx++) {
          let ok = true;
          for (let c = 0; c < channels && ok; c++) {
            for (let y = 0; y < h && ok; y++) {
              for (let x = 0; x < w && ok; x++) {
                const sy = y - dy;
                const sx = x - dx;
                const expected = sy >= 0 && sy < h && sx >= 0 && sx < w ? images[((n * channels + c) * h + sy) * w + sx]! : -9;
                ok = out[((n * channels + c) * h + y) * w + x] === expected;
              }
            }
          }
          if (ok) found = [dy, dx];
        }
      }
      assert.ok(found, `image ${n} is not a shift of its input`);
      seen.add(found.join());
    }
    assert.ok(seen.size > 1, 'all images got the same shift');
  });

  it('flips horizontally about half the time, and is reproducible for a seed', () => {
    const images = Float32Array.from({ length: 200 * 3 }, (_, i) => i % 3);
    const a = augmentBatch(images, 200, 1, 1, 3, { shift: 0, flip: true, fill: 0 }, new Random(8));
    const b = augmentBatch(images, 200, 1, 1, 3, { shift: 0, flip: true, fill: 0 }, new Random(8));
    assert.deepEqual(a, b);
    let flipped = 0;
    for (let n = 0; n < 200; n++) {
      const row = Array.from(a.subarray(n * 3, n * 3 + 3));
      assert.ok(row.join() === '0,1,2' || row.join() === '2,1,0');
      if (row[0] === 2) flipped++;
    }
    assert.ok(flipped > 70 && flipped < 130, `flipped ${flipped} of 200`);
  });
});
