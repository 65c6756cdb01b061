// katjs/node: the embedded MNIST digits, a short run, and a checkpoint file `kat eval` can read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, modelSpec, trainModel, evaluate, DEFAULT_TRAIN_CONFIG, setBackend } from 'katjs';
import { loadDataset, writeCheckpointFile, readCheckpointFile } from 'katjs/node';

await setBackend('cpu');
const { train, test } = await loadDataset('mnist');      // the fixed 8,000 / 2,000 split `kat train` uses
const model = createModel('kan-mlp', { hidden: [64] });
await trainModel(model, train, test, { ...DEFAULT_TRAIN_CONFIG, epochs: 1 });

const dir = mkdtempSync(join(tmpdir(), 'katjs-'));
const path = join(dir, 'kan-mlp.safetensors');
await writeCheckpointFile(path, model, modelSpec('kan-mlp', { hidden: [64] }), { epochs: '1' });
const { model: loaded } = await readCheckpointFile(path);
console.log(`${path}: test accuracy ${(100 * (await evaluate(loaded, test)).accuracy).toFixed(2)}%`);
rmSync(dir, { recursive: true });
