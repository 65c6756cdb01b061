// `kat train`'s flags: type, range, help, default and how --resume treats each,
// read by the parser, `kat train --help`, the resume comparison and kat compare.

import { DEFAULT_TRAIN_CONFIG } from '../../train/trainer.js';
import { BACKEND_FLAG, DATASET_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC, WEIGHTS_FLAG } from '../common_flags.js';
import { BATCH_SIZE_RANGE, EPOCHS_RANGE, flagTable, integerIn, numberFrom, numberIn, SEED_RANGE, STEPS_RANGE } from '../flags.js';

export const DEFAULT_MODEL = 'kat-micro';
export const DEFAULT_DATASET = 'mnist';

// Settings ('setting') first, in the order a resume refusal names them.
export const TRAIN_FLAGS = flagTable({
  model: {
    type: 'string', value: 'NAME', resume: 'setting',
    help: `kat-{micro,tiny,small,base}, vit-{micro,tiny,small,base}, karat-{micro,tiny,small,base} (ViT with Fourier-KArAt ` +
      `attention) or kan-mlp (default ${DEFAULT_MODEL}; kan-mlp for csv data)`,
  },
  dataset: { ...DATASET_FLAG, default: DEFAULT_DATASET, resume: 'setting' },
  basis: {
    type: 'string', value: 'B', resume: 'setting',
    help: 'kan-mlp\'s layers: rational (GR-KAN, default), bspline (efficient-kan), rbf (FastKAN), af (AF-KAN), relu (ReLU-KAN), ' +
      'cheby (ChebyKAN: Chebyshev polynomials of tanh x, degree 4), mlp (no KAN: Linear + --activation), or ' +
      'select:SPACE,SPACE,... (S-KAN: each node chooses among those of rational, bspline, rbf, cheby, relu, af; select alone: all six)',
  },
  'select-after': {
    type: integerIn(1, EPOCHS_RANGE.max), value: 'N', resume: 'setting',
    help: '--basis select: epochs of phase 1 (every space trains); then each node keeps its best spaces and training goes on, ' +
      'and the saved model is pruned to what was kept (default half of --epochs, rounded up)',
  },
  'select-keep': { type: integerIn(1, 6), value: 'K', default: 1, resume: 'setting', help: '--basis select: spaces each node keeps' },
  'select-threshold': {
    type: numberIn(0, 1, { minExclusive: true }), value: 'W', resume: 'setting',
    help: '--basis select: keep every space whose selection weight reaches W (at least the best one) instead of --select-keep',
  },
  'select-temperature': {
    type: numberIn(0, 1000, { minExclusive: true }), value: 'T', default: 1, resume: 'setting',
    help: '--basis select: softmax temperature of the selection weights',
  },
  hidden: { type: 'string', value: 'W1,W2', resume: 'setting', help: 'kan-mlp\'s hidden widths (default 256,128; --hidden 64 makes 784-64-10)' },
  activation: { type: 'string', value: 'NAME', resume: 'setting', help: '--basis mlp\'s activation: relu (default), gelu or silu' },
  karat: {
    type: 'string', value: 'G<n><B|U>', resume: 'setting',
    help: 'Fourier-KArAt variant for karat-* (default G3B) or kat-* models: order n (harmonics 0..n), B = one operator per head per ' +
      'block, U = one per head shared by all blocks (rank 12)',
  },
  'grid-update': {
    type: integerIn(0, EPOCHS_RANGE.max), value: 'N', default: 0, resume: 'setting',
    help: 'bspline: refit the knot grids to 1,024 training rows at the start of the first N epochs',
  },
  init: {
    type: 'string', value: 'SRC', resume: 'setting',
    help: 'fine-tune pretrained weights (a file, hub folder, URL or hf:owner/name[@rev]); a head for another class count is ' +
      're-initialised, position embeddings resampled',
  },
  weights: { ...WEIGHTS_FLAG, resume: 'setting', help: `--init: ${WEIGHTS_FLAG.help}` },
  heads: { ...HEADS_FLAG, resume: 'setting', help: `--init: ${HEADS_FLAG.help}` },
  target: { type: 'string', value: 'COLUMN', resume: 'setting', help: 'csv: the column to predict (kan-mlp only)' },
  task: {
    type: 'string', value: 'TASK', resume: 'setting',
    help: 'csv: classification or regression (default: classification for text or <= 20 distinct integers)',
  },
  'test-fraction': { type: 'number', value: 'X', resume: 'setting', help: 'csv: the share of rows held out for testing, in (0, 1) (default 0.2)' },
  'image-size': { type: integerIn(8, 1024), value: 'N', resume: 'setting', help: 'folder:DIR: the input size photos are resized to (default the model\'s)' },
  epochs: { type: EPOCHS_RANGE, value: 'N', default: DEFAULT_TRAIN_CONFIG.epochs, resume: 'setting', help: 'passes over the training data' },
  'batch-size': { type: BATCH_SIZE_RANGE, value: 'N', default: DEFAULT_TRAIN_CONFIG.batchSize, resume: 'setting', help: 'examples per step' },
  lr: { type: numberFrom(0), value: 'X', default: DEFAULT_TRAIN_CONFIG.lr, resume: 'setting', help: 'peak learning rate (cosine schedule)' },
  'weight-decay': { type: numberFrom(0), value: 'X', default: DEFAULT_TRAIN_CONFIG.weightDecay, resume: 'setting', help: 'decoupled weight decay' },
  optimizer: { type: 'string', value: 'NAME', default: DEFAULT_TRAIN_CONFIG.optimizer, resume: 'setting', help: 'adamw or sgd' },
  warmup: { type: numberFrom(0), value: 'EPOCHS', default: DEFAULT_TRAIN_CONFIG.warmupEpochs, resume: 'setting', help: 'linear learning-rate warmup' },
  'label-smoothing': {
    type: numberIn(0, 1, { maxExclusive: true }), value: 'X', default: DEFAULT_TRAIN_CONFIG.labelSmoothing, resume: 'setting',
    help: 'the weight of the uniform distribution mixed into the targets',
  },
  clip: { type: numberFrom(0), value: 'NORM', default: DEFAULT_TRAIN_CONFIG.clipNorm, resume: 'setting', help: 'clip the gradient norm (0: off)' },
  shift: {
    type: integerIn(0, 1024), value: 'PIXELS', default: DEFAULT_TRAIN_CONFIG.shift, resume: 'setting', help: 'augmentation: random shift',
  },
  flip: { type: 'boolean', resume: 'setting', help: 'augmentation: random horizontal flips' },
  rotate: {
    type: numberIn(0, 180, { maxExclusive: true }), value: 'DEGREES', default: DEFAULT_TRAIN_CONFIG.rotate ?? 0, resume: 'setting',
    help: 'augmentation: random rotation by up to this many degrees',
  },
  scale: {
    type: numberIn(0, 1, { maxExclusive: true }), value: 'X', default: DEFAULT_TRAIN_CONFIG.scale ?? 0, resume: 'setting',
    help: 'augmentation: random zoom by a factor in [1 - X, 1 + X]',
  },
  ema: {
    type: numberIn(0, 1, { maxExclusive: true }), value: 'DECAY', default: DEFAULT_TRAIN_CONFIG.ema ?? 0, resume: 'setting',
    help: 'evaluate and save an exponential moving average of the weights (0: off)',
  },
  seed: { type: SEED_RANGE, value: 'N', default: DEFAULT_TRAIN_CONFIG.seed, resume: 'setting', help: 'initialisation, data order and augmentation' },
  'max-steps': {
    type: STEPS_RANGE, value: 'N', resume: 'setting', help: 'stop after N optimizer steps (then evaluate and save as after an epoch)',
  },
  out: { type: 'string', value: 'FILE', resume: 'carried', help: 'the checkpoint to write (default checkpoints/MODEL.safetensors)' },
  backend: { ...BACKEND_FLAG, resume: 'carried' },
  'checkpoint-every': {
    type: integerIn(1, EPOCHS_RANGE.max), value: 'N', resume: 'carried',
    help: 'every N epochs, write OUT.resume.safetensors (atomically): the weights plus optimizer state, schedule position, ' +
      'RNG states and data order',
  },
  resume: { type: 'string', value: 'FILE', help: 'continue such a run bit for bit (flags left out come from the file)' },
  json: { ...JSON_FLAG, help: 'one JSON object per line: epoch events, then a done event' },
  'log-steps': { type: 'boolean', help: 'with --json: a step event per optimizer step too' },
  'max-memory': {
    ...MAX_MEMORY_SPEC,
    help: `${MAX_MEMORY_SPEC.help}; training counts parameters, gradients, AdamW moments, one batch's activations and the data`,
  },
});
