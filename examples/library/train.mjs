// Train a small GR-KAN MLP on synthetic images, evaluate it, and round-trip its checkpoint.
import {
  createModel, modelSpec, trainModel, evaluate, encodeCheckpoint, decodeCheckpoint,
  syntheticSplit, DEFAULT_TRAIN_CONFIG, setBackend,
} from 'katjs';

await setBackend('cpu');
const { train, test } = syntheticSplit({ channels: 1, height: 8, width: 8, classes: 3, trainCount: 384, testCount: 96, noise: 2 });
const options = { classes: 3, channels: 1, imageSize: 8, hidden: [32] };
const model = createModel('kan-mlp', options);
const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 3, batchSize: 32, shift: 0 };
const result = await trainModel(model, train, test, config, {
  onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.train_loss.toFixed(3)}, test accuracy ${(100 * e.test_acc).toFixed(1)}%`),
});

const bytes = await encodeCheckpoint(model, modelSpec('kan-mlp', options)); // safetensors, as `kat train` writes
const loaded = decodeCheckpoint(bytes);
const again = await evaluate(loaded.model, test);
console.log(`trained ${(100 * result.testAccuracy).toFixed(1)}%, reloaded ${(100 * again.accuracy).toFixed(1)}%`);
