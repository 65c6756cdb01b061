#!/usr/bin/env node
// Whole-model training speed: images/s of kat-tiny and vit-tiny (forward,
// backward, AdamW) on synthetic 1000-class images, the same measurement as
// `kat bench`'s training rows but with the batch, image size and step count
// chosen here, plus KAT / ViT and, on WebGPU, what the autotuner picked.
// Needs the build (dist/). Writes one JSON object to stdout (or --out FILE).
//
//   node scripts/train-throughput.mjs --backend webgpu --batch 128 --image-size 224 --steps 10
//   options: --models kat-tiny,vit-tiny  --out FILE

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    models: { type: 'string', default: 'kat-tiny,vit-tiny' },
    batch: { type: 'string', default: '128' },
    'image-size': { type: 'string', default: '224' },
    steps: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const batch = Number(values.batch);
const imageSize = Number(values['image-size']);
const steps = Number(values.steps);
for (const [name, v] of [['batch', batch], ['image-size', imageSize], ['steps', steps]]) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}

const root = new URL('../dist/', import.meta.url);
const { setBackend } = await import(new URL('tensor/engine.js', root).href);
const { benchTraining } = await import(new URL('bench/bench.js', root).href);

const backend = await setBackend(values.backend);
const result = {
  backend: backend.name, device: backend.description, batch, image_size: imageSize, steps, date: new Date().toISOString(), rows: [],
};
for (const model of values.models.split(',')) {
  const started = performance.now();
  const row = await benchTraining(backend, model, batch, imageSize, steps);
  result.rows.push({ model, ...row, wall_s: (performance.now() - started) / 1000 });
  process.stderr.write(`${model}: ${row.images_per_s.toFixed(1)} img/s (${row.median_ms.toFixed(1)} ms per step)\n`);
}
const kat = result.rows.find((r) => r.model === 'kat-tiny');
const vit = result.rows.find((r) => r.model === 'vit-tiny');
if (kat && vit) result.kat_over_vit = kat.images_per_s / vit.images_per_s;
const tuner = backend.ctx?.tuner;
if (tuner) result.autotune = { enabled: tuner.enabled, measurements: tuner.measurements, store: tuner.store.location, tuned: tuner.log };
const text = `${JSON.stringify(result, null, 1)}\n`;
if (values.out) writeFileSync(values.out, text);
else process.stdout.write(text);
backend.dispose?.();
