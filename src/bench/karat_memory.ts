// Peak memory of a training step: vit-tiny (softmax attention) against
// karat-tiny (Fourier-KArAt) at G = 1 and G = 3, blockwise and universal.
// KArAt's kernels walk the scores row by row, so the step's memory is
// O(B h N^2) (the scores and their gradient) + O(B h N r), and should barely
// change from G = 1 to G = 3; a kernel that stored the [B, h, N, N, 2(G + 1)]
// features would add 8 (G + 1) B h N^2 floats per block.
//
//   node build/src/bench/karat_memory.js [--batch N] [--image-size N] [--backend cpu|cpu-js|webgpu]

import { setBackend } from '../tensor/engine.js';
import { benchTrainingMemory } from './bench.js';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

const batch = Number(flag('batch', '2'));
const imageSize = Number(flag('image-size', '224'));
const backendName = flag('backend', 'cpu');
const backend = await setBackend(backendName);
const rows = [
  await benchTrainingMemory(backend, 'vit-tiny', batch, imageSize),
  await benchTrainingMemory(backend, 'karat-tiny', batch, imageSize, { karat: 'G1B' }),
  await benchTrainingMemory(backend, 'karat-tiny', batch, imageSize, { karat: 'G3B' }),
  await benchTrainingMemory(backend, 'karat-tiny', batch, imageSize, { karat: 'G3U' }),
];
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
console.log(`backend ${backend.name}: ${backend.description}`);
console.log(`${'model'.padEnd(34)} ${'shape'.padEnd(22)} ${'step ms'.padStart(10)} ${'peak MiB'.padStart(10)} ${'vs vit'.padStart(8)}`);
for (const row of rows) {
  console.log(`${row.op.padEnd(34)} ${row.shape.padEnd(22)} ${row.median_ms.toFixed(0).padStart(10)} ${mib(row.peak_bytes!).padStart(10)} ` +
    `${(row.peak_bytes! / rows[0]!.peak_bytes!).toFixed(3).padStart(8)}`);
}
