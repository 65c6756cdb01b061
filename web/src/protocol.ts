// Messages between the page (main thread: controls and drawing) and its
// workers: the training worker (the library, the model, the data) and the
// classifier worker (a pretrained checkpoint and photos).

import type { KanBasis, PreprocessConfig } from 'katjs';

export type Task = 'digits' | 'fit';

/**
 * kan-mlp's basis in the page: one KAN basis, or S-KAN written as `kat train
 * --basis` takes it: 'select' (all six spaces) or 'select:SPACE,SPACE,...'.
 */
export type PlaygroundBasis = KanBasis | 'select' | `select:${string}`;
export type BackendChoice = 'webgpu' | 'cpu';

/** What the page asks for a new model: the task, the model and the settings. */
export interface Setup {
  task: Task;
  /** digits: 'kat-micro' or 'kan-mlp'; fit: 'kan-fit' (a kan-mlp of 1 or 2 inputs, one output). */
  model: string;
  /** digits, kan-mlp: its KAN basis (rational, bspline, rbf, af, relu or cheby) or S-KAN's spaces (select:...); the other models ignore it. */
  basis: PlaygroundBasis;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  clipNorm: number;
  shift: number;
  seed: number;
  /** Stop after this many steps (0: train every epoch). */
  maxSteps: number;
  /** Evaluate on the first N test images (0: all 2,000). */
  testImages: number;
  /** fit: the target formula in x (and y). */
  formula: string;
  /** fit: hidden widths of the fitting KAN. */
  hidden: number[];
}

/** One group-rational activation's coefficients (float64), as the library reads them. */
export interface ActivationData {
  name: string;
  channels: number;
  groups: number;
  mode: string;
  numerator: Float64Array;
  denominator: Float64Array;
}

/** One drawn node of an S-KAN layer: its strongest edge's function phi_ij(x) - phi_ij(0) over the inputs it sees. */
export interface SelectNodeView {
  /** Input node i of the layer, and the output j of its strongest edge. */
  input: number;
  output: number;
  /** The node's spaces with weight > 0, best first, and their selection weights (NaN: pruned, folded into the weights). */
  spaces: string[];
  weights: number[];
  xs: Float64Array;
  ys: Float64Array;
}

/** One S-KAN layer: how many of its nodes lead with (or kept) each space, and the drawn nodes. */
export interface SelectLayerView {
  name: string;
  inputs: number;
  outputs: number;
  /** Nodes by their best space (after the choice: the kept one). */
  counts: Record<string, number>;
  nodes: SelectNodeView[];
}

/**
 * An S-KAN model's state: 'choosing' (phase 1, every space trains while the
 * temperature anneals), 'chosen' (phase 2, each node kept its best space),
 * 'pruned' (a pruned model, as `kat train` saves them).
 */
export type SelectPhase = 'choosing' | 'chosen' | 'pruned';

/** What the page shows of an S-KAN model. */
export interface SelectView {
  phase: SelectPhase;
  spaces: string[];
  /** The selection's softmax temperature now. */
  temperature: number;
  /** The step after which the nodes chose (this session), else null. */
  chosenAt: number | null;
  /** The current run's phases in words (empty when idle or with nothing to choose). */
  plan: string;
  layers: SelectLayerView[];
}

export type ToWorker =
  | { type: 'start-backend'; backend: BackendChoice; digitsUrl: string }
  | { type: 'setup'; setup: Setup }
  | { type: 'train' }
  | { type: 'pause' }
  | { type: 'stop' }
  | { type: 'predict'; pixels: Float32Array }
  /** On the first `testImages` test images (0: all). */
  | { type: 'evaluate'; testImages: number }
  | { type: 'save' }
  /** The page's settings go with it (for training it further). */
  | { type: 'load'; bytes: Uint8Array; fileName: string; setup: Setup };

export interface StepReport {
  /** Steps since the model was built or loaded (1-based, counting every run). */
  step: number;
  epoch: number;
  loss: number;
  /** Digits only: the batch's accuracy. */
  accuracy: number | null;
  lr: number;
  imagesPerSecond: number;
}

export interface EpochReport {
  epoch: number;
  /** Steps since the model was built, at the end of this epoch. */
  step: number;
  trainLoss: number;
  trainAccuracy: number | null;
  testLoss: number;
  testAccuracy: number | null;
  seconds: number;
}

export interface FitView {
  /** 1 (x only) or 2 (x and y). */
  dims: number;
  /** Samples per axis over [-2, 2] (dims 1: `side` points; dims 2: side x side, row = y). */
  side: number;
  target: Float32Array;
  fitted: Float32Array;
}

export type TrainState = 'idle' | 'training' | 'pausing' | 'paused' | 'done';

export type FromWorker =
  | { type: 'backend'; name: string; description: string; fallback: string | null }
  | { type: 'model'; task: Task; model: string; summary: string; parameters: number; setup: Setup; fromFile: string | null }
  | { type: 'state'; state: TrainState }
  | { type: 'step'; report: StepReport }
  | { type: 'epoch'; report: EpochReport }
  /** The rational activations; for S-KAN models (select) the nodes' spaces and functions, else null. */
  | { type: 'activations'; step: number; activations: ActivationData[]; select: SelectView | null }
  | { type: 'fit'; step: number; view: FitView }
  | { type: 'prediction'; probabilities: Float32Array }
  | { type: 'evaluation'; loss: number; accuracy: number | null; images: number }
  | { type: 'checkpoint'; bytes: Uint8Array; fileName: string }
  | { type: 'error'; message: string };

export const FIT_DOMAIN = 2;

// ---------------------------------------------------------------------------
// The classifier worker

/** Where a checkpoint comes from: picked files (weights, and a hub config.json for labels) or a URL / hf: repo. */
export type CheckpointPick =
  | { kind: 'files'; weights: { name: string; bytes: Uint8Array }; config: { name: string; text: string } | null }
  | { kind: 'remote'; source: string; endpoint: string | null; baseUrl: string };

export interface LoadOptions {
  weights: 'default' | 'ema';
  /** Attention heads when neither the checkpoint nor its config says (null: the library's guess). */
  heads: number | null;
}

export interface ClassifierModel {
  /** The file, URL or hf:owner/name@revision/file the weights came from. */
  checkpoint: string;
  summary: string;
  parameters: number;
  labels: string[];
  preprocess: PreprocessConfig;
  /** What reading the file involved (chosen weights, stripped prefixes...). */
  notes: string[];
  /** Where the labels came from, for the page to say. */
  configFrom: string | null;
}

export interface Classification {
  image: string;
  width: number;
  height: number;
  /** The model's input, [3, H, W] normalised (the page shows it de-normalised). */
  input: Float32Array;
  logits: Float32Array;
  probabilities: Float32Array;
  backend: string;
  milliseconds: number;
  /** A caveat on how the photo was decoded, or null. */
  note: string | null;
}

export type ToClassifier =
  | { type: 'start-backend'; backend: BackendChoice }
  | { type: 'load'; id: number; pick: CheckpointPick; options: LoadOptions }
  | { type: 'classify'; id: number; name: string; bytes: Uint8Array };

export type FromClassifier =
  | { type: 'backend'; name: string; description: string; fallback: string | null }
  | { type: 'progress'; id: number; name: string; received: number; total: number | null }
  | { type: 'model'; id: number; model: ClassifierModel }
  | { type: 'result'; id: number; result: Classification }
  | { type: 'error'; id: number | null; stage: 'backend' | 'load' | 'classify'; message: string };
