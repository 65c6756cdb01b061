// The embedded digits in the page: decodes web/digits_asset.ts's binary into
// the raw pixels of each class, then splits them with the library's own
// splitMnistDigits, so the page trains on the CLI's 8,000 / 2,000 split.
//
// Layout (little-endian): u32 magic 'KATD', u32 table size T, 10 x u32 images
// per class, 256 x f64 pixel values (the first T used), then one byte per pixel
// (an index into the table), class 0's images first.

import { splitMnistDigits, type DataSplit } from 'katjs';

const MAGIC = 0x4454414b;
const PIXELS = 28 * 28;
const HEADER = 4 + 4 + 10 * 4 + 256 * 8;

/** The raw pixels ([0, 1]) of every image of each digit 0..9, in package order. */
export function decodeDigits(bytes: Uint8Array): Float32Array[] {
  const fail = (what: string): never => {
    throw new Error(`digits file: ${what}`);
  };
  if (bytes.length < HEADER) fail(`${bytes.length} bytes: shorter than its ${HEADER}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) fail("it does not start with 'KATD' (not a katjs digits file)");
  const tableSize = view.getUint32(4, true);
  if (tableSize < 1 || tableSize > 256) fail(`table of ${tableSize} values: expected 1 to 256`);
  const table = new Float32Array(256);
  for (let i = 0; i < tableSize; i++) table[i] = view.getFloat64(48 + 8 * i, true);
  const counts = Array.from({ length: 10 }, (_, d) => view.getUint32(8 + 4 * d, true));
  const expected = HEADER + counts.reduce((n, c) => n + c * PIXELS, 0);
  if (bytes.length !== expected) fail(`${bytes.length} bytes: its header promises ${expected}`);
  let at = HEADER;
  return counts.map((count) => {
    const raw = new Float32Array(count * PIXELS);
    for (let p = 0; p < raw.length; p++) {
      const code = bytes[at++]!;
      if (code >= tableSize) fail(`pixel code ${code} at byte ${at - 1} is outside its ${tableSize}-value table`);
      raw[p] = table[code]!;
    }
    return raw;
  });
}

/** The 8,000 / 2,000 split of the digits file's images. */
export function digitsSplit(bytes: Uint8Array): DataSplit {
  return splitMnistDigits(decodeDigits(bytes));
}
