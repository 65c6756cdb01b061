#!/usr/bin/env node
// Training img/s of one model on two datasets at the same batch size, in
// alternating rounds (so drift on a shared machine moves both sides alike):
// e.g. whether Fashion-MNIST's uint8 images, normalised per batch, train as
// fast as the embedded digits held as float32. Prints a table and a JSON line.
//
//   node scripts/dataset-speed.mjs [--model kat-micro] [--steps 150] [--rounds 3] [--a mnist] [--b fashion-mnist]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'kat-micro' },
    steps: { type: 'string', default: '150' },
    rounds: { type: 'string', default: '3' },
    a: { type: 'string', default: 'mnist' },
    b: { type: 'string', default: 'fashion-mnist' },
    'batch-size': { type: 'string', default: '64' },
  },
});
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kat-dataset-speed-'));

function imagesPerSecond(dataset) {
  const run = spawnSync(process.execPath, [cli, 'train', '--model', values.model, '--dataset', dataset, '--epochs', '1',
    '--max-steps', values.steps, '--batch-size', values['batch-size'], '--out', join(dir, 'model.safetensors'), '--json'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`kat train on ${dataset} failed: ${run.stderr.trim().split('\n').pop()}`);
  const done = run.stdout.trim().split('\n').map((line) => JSON.parse(line)).find((e) => e.event === 'done');
  return done.images_per_s;
}

const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const rows = [];
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    const a = imagesPerSecond(values.a);
    const b = imagesPerSecond(values.b);
    rows.push({ round: round + 1, a, b, ratio: b / a });
    console.log(`round ${round + 1}: ${values.a} ${a.toFixed(0)} img/s, ${values.b} ${b.toFixed(0)} img/s, ratio ${(b / a).toFixed(3)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const ratio = median(rows.map((r) => r.ratio));
console.log(`${values.model}, batch ${values['batch-size']}, ${values.steps} steps per run: median ratio ${values.b} / ${values.a} = ${ratio.toFixed(3)}`);
console.log(JSON.stringify({ model: values.model, batch: Number(values['batch-size']), steps: Number(values.steps), a: values.a, b: values.b, rounds: rows, median_ratio: ratio }));
