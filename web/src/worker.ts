// The playground's training worker: it owns the backend, the data, the model
// and the training loop, all from the katjs library, and reports to the page
// by messages, so the page stays responsive while it trains.
//
// Digits train through the library's own trainModel (the loop `kat train`
// runs), with the same data split, seed and settings, so the page's numbers
// match the CLI's. Pausing and page requests (predict, save, evaluate) are
// handled between steps, in the step hook: never in the middle of a step.
//
// S-KAN (kan-mlp, basis select:...) runs the library's phases (train/
// select_phases.ts, as `kat train` wires them): phase 1, every space trains
// while the selection temperature anneals; then each node keeps its best space
// and training goes on; a saved checkpoint is the pruned model.

import {
  AdamW, buildModel, copyImages, cosineSchedule, decodeCheckpoint, DEFAULT_TRAIN_CONFIG, describeSpec, encodeCheckpoint, evaluate, isSelectSpace,
  KanMlp, layerInputRanges, mean, MNIST_MEAN, MNIST_STD, modelSpec, noGrad, parseSelectBasis, pruneSelectModel, rationalActivations, Random,
  reshape, SELECT_ANNEAL_RATIO, SELECT_SPACES, selectionHook, SelectKanLayer, selectLayerCurves, setSeed, softmax, square, sub, tensor, tidy,
  trainModel, type DataSplit, type EpochStartResult, type ImageDataset, type KanBasis, type Model, type ModelOptions, type ModelSpec, type TrainConfig,
} from 'katjs';
import { startBackendWithFallback } from './backend.js';
import { digitsSplit } from './digits.js';
import { parseFormula, type ParsedFormula } from './formula.js';
import {
  FIT_DOMAIN, type ActivationData, type BackendChoice, type FitView, type FromWorker, type PlaygroundBasis, type SelectLayerView,
  type SelectView, type Setup, type StepReport, type ToWorker, type TrainState,
} from './protocol.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;

const post = (message: FromWorker, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

/** Model reports (activations, fit view) at most this often while training. */
const REPORT_MS = 400;
/** Training points of a fitted function, and samples per axis of its view. */
const FIT_POINTS = { 1: 512, 2: 1024 } as const;
const FIT_VIEW_SIDE = { 1: 161, 2: 41 } as const;
/** S-KAN panels: nodes drawn per layer, samples per curve, and the images whose inputs give each node's range. */
const SELECT_NODES = 8;
const SELECT_POINTS = 41;
const SELECT_SAMPLE = 64;

interface Session {
  setup: Setup;
  spec: ModelSpec;
  model: Model;
  formula: ParsedFormula | null;
  /** The last test accuracy (digits) and on how many test images, written into checkpoints. */
  tested: { accuracy: number; images: number } | null;
  stepsDone: number;
  /** S-KAN: the nodes drawn in each layer (picked on the first report), the step after which the nodes chose, and the run's phases in words. */
  select: { nodes: number[][] | null; chosenAt: number | null; plan: string };
}

let digitsUrl = '';
let digits: DataSplit | null = null;
let session: Session | null = null;
let state: TrainState = 'idle';
let pauseRequested = false;
let stopRequested = false;
let resume: (() => void) | null = null;
/** Page requests waiting for the current step to end. */
const betweenSteps: (() => Promise<void>)[] = [];

function setState(next: TrainState): void {
  state = next;
  post({ type: 'state', state });
}

/** Lets queued messages in (a CPU step never awaits a real task otherwise). */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

async function startBackend(choice: BackendChoice): Promise<void> {
  const { backend, fallback } = await startBackendWithFallback(choice, 'training');
  post({ type: 'backend', name: backend.name, description: backend.description, fallback });
  // A model built on the previous backend moves over with its weights.
  if (session) {
    const old = session.model;
    const weights = await old.stateDict();
    const buffers = new Map<string, Float32Array>();
    for (const [name, buffer] of old.namedBuffers?.() ?? []) buffers.set(name, await buffer.data());
    const model = buildModel(session.spec);
    model.loadStateDict(weights, { source: 'the previous backend' });
    // Buffers too: B-spline grids, S-KAN's kept spaces (and its temperature, not state but part of phase 1).
    for (const [name, buffer] of model.namedBuffers?.() ?? []) {
      const values = buffers.get(name);
      if (values) buffer.assignValues(values);
    }
    const temperature = selectTemperatureOf(old);
    if (temperature !== null) (model as KanMlp).setSelectTemperature(temperature);
    old.dispose();
    session.model = model;
    await reportModel();
  }
}

async function loadDigits(): Promise<DataSplit> {
  if (digits) return digits;
  const response = await fetch(digitsUrl);
  if (!response.ok) throw new Error(`the digits file ${digitsUrl} could not be loaded: HTTP ${response.status}`);
  digits = digitsSplit(new Uint8Array(await response.arrayBuffer()));
  return digits;
}

/** The first `count` images of a dataset (all when count is 0 or too large). */
function firstImages(dataset: ImageDataset, count: number): ImageDataset {
  if (count <= 0 || count >= dataset.count) return dataset;
  const per = dataset.channels * dataset.height * dataset.width;
  return { ...dataset, count, images: dataset.images.subarray(0, count * per), labels: dataset.labels.subarray(0, count) };
}

/** modelSpec's basis options for the page's choice: S-KAN's 'select' or 'select:SPACE,...' read as `kat train --basis` reads them. */
function basisOptions(basis: PlaygroundBasis): Pick<ModelOptions, 'basis' | 'select'> {
  if (basis === 'select' || basis.startsWith('select:')) {
    return { basis: 'select', select: { spaces: parseSelectBasis(basis, SELECT_SPACES, isSelectSpace), temperature: 1 } };
  }
  return { basis: basis as KanBasis };
}

/** The page's basis value of a kan-mlp config (S-KAN: 'select' for all six spaces in order, else 'select:SPACE,...'). */
function basisOf(config: { basis?: string; select?: { spaces: string[] } }): PlaygroundBasis {
  if (config.basis !== 'select') return (config.basis ?? 'rational') as KanBasis;
  const spaces = config.select?.spaces ?? [...SELECT_SPACES];
  return spaces.join(',') === SELECT_SPACES.join(',') ? 'select' : `select:${spaces.join(',')}`;
}

/** The model as an S-KAN kan-mlp, or null. */
function selectModel(model: Model): KanMlp | null {
  return model instanceof KanMlp && model.basis === 'select' ? model : null;
}

function selectTemperatureOf(model: Model): number | null {
  const layer = selectModel(model)?.layers[0];
  return layer instanceof SelectKanLayer ? layer.temperature : null;
}

/** Whether the nodes have chosen (phase 2 began: a space was dropped) or the model is pruned. */
async function hasChosenSpaces(model: KanMlp): Promise<boolean> {
  for (const layer of model.layers) if (layer instanceof SelectKanLayer && await layer.isRestricted()) return true;
  return false;
}

/** The kan-mlp that fits a function of `dims` inputs: one output, no classes. */
function fitSpec(dims: number, hidden: number[]): ModelSpec {
  return { name: 'kan-mlp', config: { inputs: dims, hidden, classes: 1, groups: 8, dropout: 0 } };
}

/**
 * With one or two inputs and zero biases every first-layer unit sees a scaled
 * copy of the same input; seeded random biases spread them over the domain.
 */
function spreadFirstBiases(model: Model, seed: number): void {
  const bias = model.namedParameters().find(([name]) => name === 'layers.0.fc.bias')?.[1];
  if (!bias) return;
  const rng = new Random(seed + 17);
  bias.assignValues(Array.from({ length: bias.size }, () => rng.normal()));
}

async function newSession(setup: Setup): Promise<void> {
  if (state === 'training' || state === 'pausing' || state === 'paused') throw new Error('stop training before building a new model');
  let spec: ModelSpec;
  let formula: ParsedFormula | null = null;
  if (setup.task === 'digits') {
    const data = await loadDigits();
    spec = modelSpec(setup.model, {
      channels: data.train.channels, imageSize: data.train.height, classes: data.train.classes,
      ...(setup.model === 'kan-mlp' ? basisOptions(setup.basis) : {}),
    });
  } else {
    formula = parseFormula(setup.formula);
    if (setup.hidden.length === 0 || setup.hidden.some((w) => !Number.isInteger(w) || w < 1 || w > 256)) {
      throw new Error(`hidden widths ${setup.hidden.join(',') || '(none)'}: expected 1 to 4 integers in 1..256, e.g. 16,16`);
    }
    spec = fitSpec(formula.usesY ? 2 : 1, setup.hidden);
  }
  const model = buildModel(spec, setup.seed);
  if (setup.task === 'fit') spreadFirstBiases(model, setup.seed);
  session?.model.dispose();
  session = { setup, spec, model, formula, tested: null, stepsDone: 0, select: { nodes: null, chosenAt: null, plan: '' } };
  await reportModel(null);
  setState('idle');
}

async function reportModel(fromFile: string | null = null): Promise<void> {
  const s = session!;
  post({
    type: 'model', task: s.setup.task, model: s.setup.model, summary: describeSpec(s.spec), parameters: s.model.parameterCount(),
    setup: s.setup, fromFile,
  });
  await reportActivations();
  if (s.setup.task === 'fit') await reportFit();
}

async function reportActivations(): Promise<void> {
  const s = session!;
  const started = performance.now();
  const activations: ActivationData[] = (await rationalActivations(s.model)).map(({ name, channels, groups, mode, numerator, denominator }) =>
    ({ name, channels, groups, mode, numerator, denominator }));
  const select = await selectView(s);
  const transfer = select ? select.layers.flatMap((l) => l.nodes.flatMap((n) => [n.xs.buffer, n.ys.buffer])) : [];
  post({ type: 'activations', step: s.stepsDone, activations, select }, transfer);
  reportCost = performance.now() - started;
}

/** Inputs the S-KAN node ranges are measured on: the first training images, or the fit's view grid. */
async function selectSample(s: Session): Promise<{ values: Float32Array; shape: number[] }> {
  if (s.setup.task === 'fit') {
    const dims = inputsOf(s.spec) === 2 ? 2 : 1;
    const { points } = viewGrid(dims);
    return { values: points, shape: [points.length / dims, dims] };
  }
  const train = (await loadDigits()).train;
  const count = Math.min(SELECT_SAMPLE, train.count);
  return { values: copyImages(train, 0, count), shape: [count, train.channels, train.height, train.width] };
}

/**
 * Each drawn node's function (the library's selectLayerCurves: the strongest
 * edge, phi_ij(x) - phi_ij(0), over the inputs the node sees on a sample) and
 * its spaces, with how many nodes of each layer lead with (or kept) each space.
 */
async function selectView(s: Session): Promise<SelectView | null> {
  const model = selectModel(s.model);
  if (!model) return null;
  const wasTraining = model.training;
  model.eval();
  try {
    const sample = await selectSample(s);
    const input = tensor(sample.values, sample.shape);
    const ranges = await layerInputRanges(model, input);
    input.dispose();
    // The same nodes all session, spread over each layer (first layer: over the inputs that vary on the sample, not blank pixels).
    s.select.nodes ??= ranges.map((layerRanges, l) => {
      const width = layerRanges.length;
      let candidates = [...Array(width).keys()];
      if (l === 0) {
        const rows = sample.values.length / width;
        const varies = candidates.filter((i) => {
          for (let r = 1; r < rows; r++) if (sample.values[r * width + i] !== sample.values[i]) return true;
          return false;
        });
        if (varies.length > 0) candidates = varies;
      }
      const count = Math.min(SELECT_NODES, candidates.length);
      return Array.from({ length: count }, (_, m) => candidates[Math.floor(((m + 0.5) * candidates.length) / count)]!);
    });
    const layers: SelectLayerView[] = [];
    for (const [l, layer] of model.layers.entries()) {
      if (!(layer instanceof SelectKanLayer)) continue;
      const curves = await selectLayerCurves(layer, l, s.select.nodes[l]!, ranges[l]!, SELECT_POINTS);
      const counts: Record<string, number> = {};
      for (const node of await layer.choices()) if (node.spaces[0]) counts[node.spaces[0]] = (counts[node.spaces[0]] ?? 0) + 1;
      layers.push({
        name: `layers.${l}`, inputs: layer.inFeatures, outputs: layer.outFeatures, counts,
        nodes: curves.map((c) => ({ input: c.input, output: c.output, spaces: [...c.choice.spaces], weights: [...c.choice.weights], xs: c.xs, ys: c.ys })),
      });
    }
    const pruned = model.config.select?.inputs !== undefined;
    return {
      phase: pruned ? 'pruned' : await hasChosenSpaces(model) ? 'chosen' : 'choosing', spaces: [...(model.config.select?.spaces ?? [])],
      temperature: selectTemperatureOf(model) ?? 1, chosenAt: s.select.chosenAt, plan: s.select.plan, layers,
    };
  } finally {
    model.train(wasTraining);
  }
}

/**
 * S-KAN's phases for a run (train/select_phases.ts's selectionHook, as `kat
 * train` wires it): phase 1 for the first half of the run, the temperature
 * annealed from the model's to SELECT_ANNEAL_RATIO of it, then each node keeps
 * its best space. By epochs as `kat train` does when the run is 2 epochs or
 * more, uncut; by steps otherwise (a short run of one epoch or fewer steps):
 * the hook's arithmetic is the same, counted in steps. Null when the model
 * has nothing to choose (not S-KAN, chosen already, or pruned).
 */
async function selectPhases(s: Session, train: ImageDataset):
  Promise<{ unit: 'epoch' | 'step'; hook: (unit: number) => Promise<EpochStartResult | undefined> } | null> {
  const model = selectModel(s.model);
  if (!model || await hasChosenSpaces(model)) return null;
  const trainCount = train.count;
  const stepsPerEpoch = Math.floor(trainCount / s.setup.batchSize) || 1; // as trainModel counts them
  const full = stepsPerEpoch * s.setup.epochs;
  const steps = s.setup.maxSteps > 0 ? Math.min(s.setup.maxSteps, full) : full;
  const unit = steps === full && s.setup.epochs >= 2 ? 'epoch' : 'step';
  const chooseAfter = Math.ceil((unit === 'epoch' ? s.setup.epochs : steps) / 2);
  const temperature = model.config.select?.temperature ?? 1;
  // The choice ranks spaces by their contributions on training digits, as kat train's does (1,024 of them, spread over the set).
  const sampleCount = Math.min(1024, trainCount);
  const sampleRows = Array.from({ length: sampleCount }, (_, k) => Math.floor((k * trainCount) / sampleCount));
  const hook = selectionHook(model, { chooseAfter, temperature, keep: 1 }, () => {
    s.select.chosenAt = s.stepsDone;
    lastReport = -Infinity; // show the choice at once
  }, () => tensor(copyImages(train, 0, sampleCount, sampleRows), [sampleCount, train.channels * train.height * train.width]));
  const span = chooseAfter === 1 ? `${unit} 1` : `${unit}s 1–${chooseAfter}`;
  s.select.plan = `phase 1, ${span}: every space trains, temperature ${temperature} → ${Number((temperature * SELECT_ANNEAL_RATIO).toPrecision(3))}; ` +
    `from ${unit} ${chooseAfter + 1}: each node keeps its best space`;
  return { unit, hook };
}

function inputsOf(spec: ModelSpec): number | undefined {
  return (spec.config as { inputs?: number }).inputs;
}

/** The grid of points a fitted function is shown on: [side] or [side * side] rows of (x[, y]). */
function viewGrid(dims: 1 | 2): { side: number; points: Float32Array } {
  const side = FIT_VIEW_SIDE[dims];
  const at = (i: number) => -FIT_DOMAIN + (2 * FIT_DOMAIN * i) / (side - 1);
  if (dims === 1) return { side, points: Float32Array.from({ length: side }, (_, i) => at(i)) };
  const points = new Float32Array(side * side * 2);
  for (let row = 0; row < side; row++) {
    for (let col = 0; col < side; col++) {
      points[2 * (row * side + col)] = at(col);
      points[2 * (row * side + col) + 1] = at(row);
    }
  }
  return { side, points };
}

async function predictRows(model: Model, points: Float32Array, dims: number): Promise<Float32Array> {
  const rows = points.length / dims;
  const wasTraining = model.training;
  model.eval();
  const output = noGrad(() => tidy(() => reshape(model.forward(tensor(points, [rows, dims])), [rows])));
  model.train(wasTraining);
  const values = await output.data();
  output.dispose();
  return values;
}

function targetValues(formula: ParsedFormula, points: Float32Array, dims: number): Float32Array {
  const rows = points.length / dims;
  const values = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const x = points[r * dims]!;
    const y = dims === 2 ? points[r * dims + 1]! : 0;
    const v = formula.evaluate(x, y);
    if (!Number.isFinite(v)) {
      throw new Error(`the target ${formula.text} is ${v} at x = ${x.toFixed(3)}${dims === 2 ? `, y = ${y.toFixed(3)}` : ''}: ` +
        `it must be finite on [-${FIT_DOMAIN}, ${FIT_DOMAIN}]${dims === 2 ? '²' : ''}`);
    }
    values[r] = v;
  }
  return values;
}

async function fitViewData(): Promise<{ view: FitView; mse: number }> {
  const s = session!;
  const dims = inputsOf(s.spec) === 2 ? 2 : 1;
  const { side, points } = viewGrid(dims);
  const target = targetValues(s.formula!, points, dims);
  const fitted = await predictRows(s.model, points, dims);
  let sse = 0;
  for (let i = 0; i < target.length; i++) sse += (fitted[i]! - target[i]!) ** 2;
  return { view: { dims, side, target, fitted }, mse: sse / target.length };
}

async function reportFit(): Promise<void> {
  const { view } = await fitViewData();
  post({ type: 'fit', step: session!.stepsDone, view }, [view.target.buffer, view.fitted.buffer]);
}

let lastReport = 0;
/** How long the last model report took (ms): reports are spaced so they take at most a quarter of the time. */
let reportCost = 0;

/** Runs between steps: reports, queued page requests, and the pause. */
async function betweenStepsHook(): Promise<void> {
  await yieldToEvents();
  const now = performance.now();
  if (now - lastReport >= Math.max(REPORT_MS, 3 * reportCost)) {
    lastReport = now;
    await reportActivations();
    if (session!.setup.task === 'fit') await reportFit();
  }
  await runQueued();
  if (pauseRequested) {
    pauseRequested = false;
    await reportActivations();
    if (session!.setup.task === 'fit') await reportFit();
    setState('paused');
    await new Promise<void>((resolve) => { resume = resolve; });
    setState('training');
  }
}

async function runQueued(): Promise<void> {
  while (betweenSteps.length > 0) await betweenSteps.shift()!();
}

function digitsConfig(setup: Setup): TrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG, epochs: setup.epochs, batchSize: setup.batchSize, lr: setup.lr, weightDecay: setup.weightDecay,
    optimizer: 'adamw', warmupEpochs: setup.warmupEpochs, labelSmoothing: setup.labelSmoothing, clipNorm: setup.clipNorm,
    shift: setup.shift, flip: false, seed: setup.seed,
  };
}

async function trainDigits(s: Session): Promise<void> {
  const data = await loadDigits();
  const test = firstImages(data.test, s.setup.testImages);
  const phases = await selectPhases(s, data.train);
  if (phases?.unit === 'step') await phases.hook(1);
  let step = 0;
  await trainModel(s.model, data.train, test, digitsConfig(s.setup), {
    onEpochStart: phases?.unit === 'epoch' ? phases.hook : undefined,
    onStep: async (e) => {
      step++;
      s.stepsDone++;
      const report: StepReport = {
        step: s.stepsDone, epoch: e.epoch, loss: e.loss, accuracy: e.accuracy ?? null, lr: e.lr, imagesPerSecond: e.imagesPerSecond,
      };
      post({ type: 'step', report });
      if (phases?.unit === 'step') await phases.hook(step + 1);
      await betweenStepsHook();
    },
    onEpoch: async (e) => {
      if (e.test_acc !== undefined) s.tested = { accuracy: e.test_acc, images: test.count };
      post({
        type: 'epoch',
        report: {
          epoch: e.epoch, step: s.stepsDone, trainLoss: e.train_loss, trainAccuracy: e.train_acc ?? null, testLoss: e.test_loss,
          testAccuracy: e.test_acc ?? null, seconds: e.seconds,
        },
      });
      await runQueued();
    },
    shouldStop: () => stopRequested || (s.setup.maxSteps > 0 && step >= s.setup.maxSteps),
  });
}

/** Fits the target with mini-batches of fixed random points: AdamW on the mean squared error, cosine schedule. */
async function trainFit(s: Session): Promise<void> {
  const dims = inputsOf(s.spec) === 2 ? 2 : 1;
  const count = FIT_POINTS[dims];
  setSeed(s.setup.seed);
  const rng = new Random(s.setup.seed + 1);
  const points = Float32Array.from({ length: count * dims }, () => (2 * rng.uniform() - 1) * FIT_DOMAIN);
  const targets = targetValues(s.formula!, points, dims);
  const batchSize = Math.min(s.setup.batchSize, count);
  const stepsPerEpoch = Math.floor(count / batchSize);
  const totalSteps = stepsPerEpoch * s.setup.epochs;
  const optimizer = new AdamW(s.model.parameters(), { lr: s.setup.lr, weightDecay: s.setup.weightDecay });
  const schedule = cosineSchedule({
    baseLr: s.setup.lr, warmupSteps: Math.min(totalSteps, Math.round(s.setup.warmupEpochs * stepsPerEpoch)), totalSteps, minLr: s.setup.lr * 0.01,
  });
  const batchPoints = new Float32Array(batchSize * dims);
  const batchTargets = new Float32Array(batchSize);
  let step = 0;
  for (let epoch = 1; epoch <= s.setup.epochs; epoch++) {
    const started = performance.now();
    const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
    let lossSum = 0;
    let steps = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      for (let k = 0; k < batchSize; k++) {
        const i = order[b * batchSize + k]!;
        for (let d = 0; d < dims; d++) batchPoints[k * dims + d] = points[i * dims + d]!;
        batchTargets[k] = targets[i]!;
      }
      optimizer.lr = schedule(step);
      const loss = tidy(() => {
        const prediction = reshape(s.model.forward(tensor(batchPoints, [batchSize, dims])), [batchSize]);
        const l = mean(square(sub(prediction, tensor(batchTargets, [batchSize]))));
        l.backward();
        return l;
      });
      const value = await loss.item();
      loss.dispose();
      if (!Number.isFinite(value)) {
        optimizer.zeroGrad();
        throw new Error(`the loss became ${value} at step ${step + 1}: lower the learning rate (now ${s.setup.lr})`);
      }
      optimizer.step();
      optimizer.zeroGrad();
      step++;
      steps++;
      s.stepsDone++;
      lossSum += value;
      const elapsed = (performance.now() - started) / 1000;
      post({ type: 'step', report: { step: s.stepsDone, epoch, loss: value, accuracy: null, lr: optimizer.lr, imagesPerSecond: (steps * batchSize) / elapsed } });
      await betweenStepsHook();
      if (stopRequested || (s.setup.maxSteps > 0 && step >= s.setup.maxSteps)) break;
    }
    const { mse } = await fitViewData();
    post({
      type: 'epoch',
      report: { epoch, step: s.stepsDone, trainLoss: lossSum / steps, trainAccuracy: null, testLoss: mse, testAccuracy: null, seconds: (performance.now() - started) / 1000 },
    });
    if (stopRequested || (s.setup.maxSteps > 0 && step >= s.setup.maxSteps)) break;
  }
}

async function train(): Promise<void> {
  if (!session) throw new Error('no model yet: build one first');
  if (state === 'paused') {
    resume?.();
    resume = null;
    return;
  }
  if (state === 'training' || state === 'pausing') return;
  const s = session;
  stopRequested = false;
  setState('training');
  lastReport = performance.now();
  try {
    if (s.setup.task === 'digits') await trainDigits(s);
    else await trainFit(s);
  } finally {
    if (session === s) {
      await reportActivations();
      if (s.setup.task === 'fit') await reportFit();
    }
    await runQueued();
    setState('done');
  }
}

/** Runs now when idle, else between two training steps. */
function whenBetweenSteps(job: () => Promise<void>): Promise<void> {
  if (state !== 'training' && state !== 'pausing') return job();
  return new Promise((resolve, reject) => {
    betweenSteps.push(() => job().then(resolve, reject));
  });
}

async function predict(pixels: Float32Array): Promise<void> {
  const s = session;
  if (!s || s.setup.task !== 'digits') throw new Error('drawing needs a digits model (kat-micro or kan-mlp)');
  if (pixels.length !== 28 * 28) throw new Error(`a drawn digit has ${pixels.length} pixels: expected 784 (28 x 28)`);
  const normalised = pixels.map((p) => (p - MNIST_MEAN) / MNIST_STD);
  const wasTraining = s.model.training;
  s.model.eval();
  const probabilities = noGrad(() => tidy(() => softmax(s.model.forward(tensor(normalised, [1, 1, 28, 28])), -1)));
  s.model.train(wasTraining);
  const values = await probabilities.data();
  probabilities.dispose();
  post({ type: 'prediction', probabilities: values }, [values.buffer]);
}

async function evaluateNow(testImages: number): Promise<void> {
  const s = session;
  if (!s) throw new Error('no model yet: build one first');
  if (s.setup.task === 'fit') {
    const { mse } = await fitViewData();
    post({ type: 'evaluation', loss: mse, accuracy: null, images: 0 });
    return;
  }
  const test = firstImages((await loadDigits()).test, testImages);
  const result = await evaluate(s.model, test);
  if (result.accuracy !== undefined) s.tested = { accuracy: result.accuracy, images: test.count };
  post({ type: 'evaluation', loss: result.loss, accuracy: result.accuracy ?? null, images: test.count });
}

async function save(): Promise<void> {
  const s = session;
  if (!s) throw new Error('no model to save: build or load one first');
  const info: Record<string, string> = {
    epochs: String(s.setup.epochs), seed: String(s.setup.seed), steps: String(s.stepsDone), trained_at: new Date().toISOString(),
    source: 'katjs web playground',
  };
  if (s.setup.task === 'digits') {
    info.dataset = 'mnist';
    if (s.tested) {
      info.test_acc = String(s.tested.accuracy);
      info.test_images = String(s.tested.images);
    }
  } else {
    info.task = 'fit';
    info.formula = s.formula!.text;
  }
  // S-KAN, chosen: phase 3, the pruned model (what `kat train` saves); the page trains on with the unpruned one.
  const chosen = selectModel(s.model);
  const pruned = chosen && chosen.config.select?.inputs === undefined && await hasChosenSpaces(chosen) ? await pruneSelectModel(chosen, s.spec) : null;
  let bytes: Uint8Array;
  try {
    if (pruned) info.pruned_from = String(s.model.parameterCount());
    bytes = await encodeCheckpoint(pruned?.model ?? s.model, pruned?.spec ?? s.spec, info);
  } finally {
    pruned?.model.dispose();
  }
  const fileName = s.setup.task === 'digits' ? `${s.spec.name}.safetensors` : 'kan-fit.safetensors';
  post({ type: 'checkpoint', bytes, fileName }, [bytes.buffer as ArrayBuffer]);
}

/** The task a checkpoint's model fits in the page, or an error saying why it does not. */
function taskOf(spec: ModelSpec, info: Record<string, string>, fileName: string): 'digits' | 'fit' {
  const c = spec.config as { inputs?: number; classes: number; channels?: number; imageSize?: number; basis?: string };
  if (info.task === 'fit' || (c.inputs !== undefined && c.inputs <= 2 && c.classes === 1)) {
    if (c.inputs === undefined || c.inputs > 2 || c.classes !== 1) {
      throw new Error(`${fileName}: a function-fitting checkpoint must be a kan-mlp with 1 or 2 inputs and one output`);
    }
    if (!info.formula) throw new Error(`${fileName}: a function-fitting checkpoint needs its target formula in the metadata ('formula')`);
    return 'fit';
  }
  const fits = c.inputs !== undefined ? c.inputs === 784 : c.channels === 1 && c.imageSize === 28;
  if (!fits || c.classes !== 10) {
    throw new Error(`${fileName}: its model (${describeSpec(spec)}) is not for the page's 28 x 28 digits with 10 classes`);
  }
  return 'digits';
}

async function load(bytes: Uint8Array, fileName: string, base: Setup): Promise<void> {
  if (state === 'training' || state === 'pausing' || state === 'paused') throw new Error('stop training before loading a checkpoint');
  const loaded = decodeCheckpoint(bytes, fileName);
  let task: 'digits' | 'fit';
  try {
    task = taskOf(loaded.spec, loaded.info, fileName);
    if (task === 'digits') await loadDigits();
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
  const config = loaded.spec.config as { hidden?: number[]; basis?: string; select?: { spaces: string[] } };
  const setup: Setup = {
    ...base, task, model: task === 'fit' ? 'kan-fit' : loaded.spec.name, basis: basisOf(config),
    formula: task === 'fit' ? loaded.info.formula! : base.formula, hidden: task === 'fit' ? config.hidden ?? base.hidden : base.hidden,
  };
  const formula = task === 'fit' ? parseFormula(setup.formula) : null;
  session?.model.dispose();
  session = {
    setup, spec: loaded.spec, model: loaded.model, formula, stepsDone: Number(loaded.info.steps ?? 0) || 0,
    select: { nodes: null, chosenAt: null, plan: '' },
    tested: loaded.info.test_acc !== undefined
      ? { accuracy: Number(loaded.info.test_acc), images: Number(loaded.info.test_images ?? 2000) } : null,
  };
  await reportModel(fileName);
  setState('idle');
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'start-backend':
      digitsUrl = message.digitsUrl;
      if (state === 'training' || state === 'pausing' || state === 'paused') throw new Error('stop training before changing the backend');
      await startBackend(message.backend);
      return;
    case 'setup':
      await newSession(message.setup);
      return;
    case 'train':
      // Runs on while later messages are handled (they wait for a step's end where needed).
      train().catch(report);
      return;
    case 'predict':
      await whenBetweenSteps(() => predict(message.pixels));
      return;
    case 'evaluate':
      await whenBetweenSteps(() => evaluateNow(message.testImages));
      return;
    case 'save':
      await whenBetweenSteps(save);
      return;
    case 'load':
      await load(message.bytes, message.fileName, message.setup);
      return;
  }
}

/** Pause and stop act at once; everything else runs in arrival order. */
function control(message: ToWorker): boolean {
  if (message.type === 'pause') {
    if (state === 'training') {
      pauseRequested = true;
      setState('pausing');
    }
    return true;
  }
  if (message.type === 'stop') {
    if (state === 'training' || state === 'pausing' || state === 'paused') {
      stopRequested = true;
      pauseRequested = false;
      resume?.();
      resume = null;
    }
    return true;
  }
  return false;
}

function report(error: unknown): void {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}

let queue = Promise.resolve();
scope.onmessage = (event) => {
  if (control(event.data)) return;
  queue = queue.then(() => handle(event.data)).catch(report);
};
