// The training loop: mini-batches, forward + backward inside tidy(), gradient
// clipping, the optimiser and its schedule, evaluation after each epoch.
// Backend-agnostic and browser-safe (no Node imports): the CLI and the web
// page both drive it through events.

import type { ImageDataset } from '../data/dataset.js';
import { augmentBatch } from '../data/augment.js';
import { batches } from '../data/dataset.js';
import type { Model } from '../models/registry.js';
import { tensor } from '../ops/creation.js';
import { equal } from '../ops/elementwise.js';
import { argmax, sum } from '../ops/reduce.js';
import { softmaxCrossEntropy } from '../ops/nn.js';
import { AdamW, SGD, type Optimizer } from '../optim/index.js';
import { clipGradNorm } from '../optim/clip.js';
import { cosineSchedule } from '../optim/schedule.js';
import { noGrad } from '../tensor/autograd.js';
import { Random, setSeed } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  optimizer: 'adamw' | 'sgd';
  /** Linear warmup, in epochs (fractions allowed). */
  warmupEpochs: number;
  labelSmoothing: number;
  /** Max global gradient norm (0: no clipping). */
  clipNorm: number;
  /** Training-time random translation, in pixels (0: none). */
  shift: number;
  /** Training-time random horizontal flips. */
  flip: boolean;
  seed: number;
}

/** Defaults tuned for kat-micro on the embedded digits: >= 95% in under 5 minutes on 2 CPU cores. */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 15,
  batchSize: 32,
  lr: 5e-3,
  weightDecay: 0.05,
  optimizer: 'adamw',
  warmupEpochs: 0.5,
  labelSmoothing: 0.1,
  clipNorm: 1,
  shift: 1,
  flip: false,
  seed: 0,
};

export interface StepEvent {
  event: 'step';
  epoch: number;
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  lr: number;
}

export interface EpochEvent {
  event: 'epoch';
  epoch: number;
  epochs: number;
  train_loss: number;
  train_acc: number;
  test_loss: number;
  test_acc: number;
  seconds: number;
  images_per_s: number;
}

export interface TrainResult {
  testAccuracy: number;
  testLoss: number;
  trainSeconds: number;
  imagesPerSecond: number;
  epochs: EpochEvent[];
}

function batchTensors(images: Float32Array, labels: Float32Array, size: number, dataset: ImageDataset): [Tensor, Tensor] {
  return [tensor(images, [size, dataset.channels, dataset.height, dataset.width]), tensor(labels, [size])];
}

export interface EvaluateResult {
  accuracy: number;
  loss: number;
}

/** Accuracy and mean cross-entropy (no smoothing) over a dataset, in eval mode. */
export async function evaluate(model: Model, dataset: ImageDataset, batchSize = 250): Promise<EvaluateResult> {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  let lossSum = 0;
  try {
    for (const batch of batches(dataset, batchSize, { shuffle: false })) {
      const [hits, loss] = noGrad(() => tidy(() => {
        const [x, y] = batchTensors(batch.images, batch.labels, batch.size, dataset);
        const logits = model.forward(x);
        return [sum(equal(argmax(logits, -1), y)), softmaxCrossEntropy(logits, y, { reduction: 'sum' })];
      }));
      correct += await hits.item();
      lossSum += await loss.item();
      hits.dispose();
      loss.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  return { accuracy: correct / dataset.count, loss: lossSum / dataset.count };
}

function makeOptimizer(model: Model, config: TrainConfig): Optimizer {
  // As in timm: no weight decay on biases, norms, tokens, embeddings and rational coefficients (1-D or tiny tensors).
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    const skip = p.rank <= 1 || name.endsWith('cls_token') || name.endsWith('pos_embed') || name.includes('weight_numerator') ||
      name.includes('weight_denominator');
    (skip ? noDecay : decay).push(p);
  }
  const groups = [{ params: decay, weightDecay: config.weightDecay }, { params: noDecay, weightDecay: 0 }];
  return config.optimizer === 'sgd' ? new SGD(groups, { lr: config.lr, momentum: 0.9 }) : new AdamW(groups, { lr: config.lr });
}

export interface TrainHooks {
  onStep?: (event: StepEvent) => void;
  onEpoch?: (event: EpochEvent) => void | Promise<void>;
  /** Polled between steps; returning true stops training after the current step. */
  shouldStop?: () => boolean;
}

/**
 * Trains `model` on `train`, evaluating on `test` after every epoch. Throws
 * a clear error if the loss becomes NaN or infinite.
 */
export async function trainModel(model: Model, train: ImageDataset, test: ImageDataset, config: TrainConfig,
  hooks: TrainHooks = {}): Promise<TrainResult> {
  setSeed(config.seed);
  model.train();
  const optimizer = makeOptimizer(model, config);
  const stepsPerEpoch = Math.floor(train.count / config.batchSize) || 1;
  const totalSteps = stepsPerEpoch * config.epochs;
  const schedule = cosineSchedule({
    baseLr: config.lr,
    warmupSteps: Math.min(totalSteps, Math.round(config.warmupEpochs * stepsPerEpoch)),
    totalSteps,
    minLr: config.lr * 0.01,
  });
  const params = model.parameters();
  const augmentRandom = new Random(config.seed + 0x5eed);
  const augment = config.shift > 0 || config.flip;
  const augmentOptions = { shift: config.shift, flip: config.flip, fill: train.background ?? 0 };
  const epochs: EpochEvent[] = [];
  let trainSeconds = 0;
  let globalStep = 0;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const started = performance.now();
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let step = 0;
    for (const batch of batches(train, config.batchSize, { shuffle: true, seed: config.seed, epoch, dropLast: true })) {
      optimizer.lr = schedule(globalStep);
      const images = augment
        ? augmentBatch(batch.images, batch.size, train.channels, train.height, train.width, augmentOptions, augmentRandom)
        : batch.images;
      const [loss, hits] = tidy(() => {
        const [x, y] = batchTensors(images, batch.labels, batch.size, train);
        const logits = model.forward(x);
        const l = softmaxCrossEntropy(logits, y, { labelSmoothing: config.labelSmoothing });
        l.backward();
        return [l, noGrad(() => sum(equal(argmax(logits, -1), y)))];
      });
      const lossValue = await loss.item();
      const hitCount = await hits.item();
      loss.dispose();
      hits.dispose();
      if (!Number.isFinite(lossValue)) {
        optimizer.zeroGrad();
        throw new Error(`the training loss became ${lossValue} at epoch ${epoch}, step ${step + 1}; lower --lr (now ${config.lr}) or check the data`);
      }
      if (config.clipNorm > 0) await clipGradNorm(params, config.clipNorm);
      optimizer.step();
      optimizer.zeroGrad();
      step++;
      globalStep++;
      seen += batch.size;
      lossSum += lossValue * batch.size;
      correct += hitCount;
      const elapsed = (performance.now() - started) / 1000;
      hooks.onStep?.({
        event: 'step', epoch, step, steps: stepsPerEpoch, loss: lossValue, accuracy: hitCount / batch.size,
        imagesPerSecond: seen / elapsed, lr: optimizer.lr,
      });
      if (hooks.shouldStop?.()) break;
    }
    const seconds = (performance.now() - started) / 1000;
    trainSeconds += seconds;
    const evaluation = await evaluate(model, test);
    const event: EpochEvent = {
      event: 'epoch', epoch, epochs: config.epochs, train_loss: lossSum / Math.max(seen, 1), train_acc: correct / Math.max(seen, 1),
      test_loss: evaluation.loss, test_acc: evaluation.accuracy, seconds, images_per_s: seen / seconds,
    };
    epochs.push(event);
    await hooks.onEpoch?.(event);
    if (hooks.shouldStop?.()) break;
  }
  const last = epochs[epochs.length - 1]!;
  const images = epochs.reduce((n, e) => n + e.images_per_s * e.seconds, 0);
  return { testAccuracy: last.test_acc, testLoss: last.test_loss, trainSeconds, imagesPerSecond: images / trainSeconds, epochs };
}
