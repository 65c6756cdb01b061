// Packs the `mnist` package's digits (10 JSON files, 21 MB) into one binary
// the page loads (7.8 MB). The pixels keep their exact values: the package
// holds only 256 distinct ones, so each pixel is a byte indexing a table.
// Layout (little-endian): see web/src/digits.ts, which decodes it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const DIGITS_ASSET = 'mnist-digits.bin';
const MAGIC = 0x4454414b; // 'KATD'
const PIXELS = 28 * 28;

export function encodeDigits(): Uint8Array {
  const require = createRequire(import.meta.url);
  const classes: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const path = require.resolve(`mnist/src/digits/${d}.json`);
    const data = (JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) throw new Error(`${path}: expected { "data": [...] } with a multiple of ${PIXELS} values`);
    classes.push(data as number[]);
  }
  const table = [...new Set(classes.flat())].sort((a, b) => a - b);
  if (table.length > 256) throw new Error(`the mnist digits hold ${table.length} distinct pixel values: this format allows 256`);
  const index = new Map(table.map((v, i) => [v, i]));
  const header = 4 + 4 + 10 * 4 + 256 * 8;
  const total = classes.reduce((n, c) => n + c.length, 0);
  const bytes = new Uint8Array(header + total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, table.length, true);
  classes.forEach((c, d) => view.setUint32(8 + 4 * d, c.length / PIXELS, true));
  table.forEach((v, i) => view.setFloat64(48 + 8 * i, v, true));
  let at = header;
  for (const c of classes) for (const v of c) bytes[at++] = index.get(v)!;
  return bytes;
}
