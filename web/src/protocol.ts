// Messages between the page (main thread: controls and drawing) and the
// training worker (the library, the model, the data).

export type Task = 'digits' | 'fit';
export type BackendChoice = 'webgpu' | 'cpu';

/** What the page asks for a new model: the task, the model and the settings. */
export interface Setup {
  task: Task;
  /** digits: 'kat-micro' or 'kan-mlp'; fit: 'kan-fit' (a kan-mlp of 1 or 2 inputs, one output). */
  model: string;
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
  | { type: 'activations'; step: number; activations: ActivationData[] }
  | { type: 'fit'; step: number; view: FitView }
  | { type: 'prediction'; probabilities: Float32Array }
  | { type: 'evaluation'; loss: number; accuracy: number | null; images: number }
  | { type: 'checkpoint'; bytes: Uint8Array; fileName: string }
  | { type: 'error'; message: string };

export const FIT_DOMAIN = 2;
