// Synthetic photo folders for the tests: each class is a coloured disc on a
// noisy background (learnable in an epoch), written as PNG and JPEG files of
// varying sizes in ImageFolder layout.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { Random } from '../../src/tensor/random.js';

const CLASS_COLOURS: readonly [number, number, number][] = [
  [220, 40, 40], [40, 200, 60], [50, 70, 230], [230, 210, 40], [200, 60, 210], [40, 210, 210],
];

export interface SyntheticFolderOptions {
  count: number;
  classes?: number;
  seed?: number;
  /** Write DIR/train and DIR/val (val gets a quarter) instead of one folder. */
  trainVal?: boolean;
}

/** RGBA pixels of one synthetic image of class `label`. */
export function syntheticPhoto(label: number, width: number, height: number, random: Random): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  const [r, g, b] = CLASS_COLOURS[label % CLASS_COLOURS.length]!;
  const cx = width * (0.3 + 0.4 * random.uniform());
  const cy = height * (0.3 + 0.4 * random.uniform());
  const radius = Math.min(width, height) * (0.2 + 0.15 * random.uniform());
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < radius * radius;
      const noise = () => Math.floor(random.uniform() * 60);
      const o = (y * width + x) * 4;
      rgba[o] = inside ? r : 100 + noise();
      rgba[o + 1] = inside ? g : 100 + noise();
      rgba[o + 2] = inside ? b : 100 + noise();
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}

/** Writes `count` images (alternately PNG and JPEG, 40-64 px wide) into DIR/<class>/ and returns the class names. */
export function writeSyntheticFolder(dir: string, options: SyntheticFolderOptions): string[] {
  const classes = options.classes ?? 3;
  const random = new Random(options.seed ?? 1);
  const names = Array.from({ length: classes }, (_, i) => `class_${String.fromCharCode(97 + i)}`);
  for (let i = 0; i < options.count; i++) {
    const label = i % classes;
    const split = options.trainVal ? (i % 4 === 3 ? 'val' : 'train') : '';
    const folder = join(dir, split, names[label]!);
    mkdirSync(folder, { recursive: true });
    const width = 40 + Math.floor(random.uniform() * 25);
    const height = 40 + Math.floor(random.uniform() * 25);
    const rgba = syntheticPhoto(label, width, height, random);
    if (i % 2 === 0) {
      writeFileSync(join(folder, `img_${i}.png`), encodePng({ width, height, data: rgba, channels: 4, depth: 8 }));
    } else {
      writeFileSync(join(folder, `img_${i}.jpg`), jpeg.encode({ width, height, data: rgba }, 90).data);
    }
  }
  return names;
}
