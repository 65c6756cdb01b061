// The playground's classifier worker: a pretrained checkpoint and the photos
// it classifies. Its own worker, so that decoding a large checkpoint or
// running a 224 x 224 model neither freezes the page nor waits for training.
//
// Photos are decoded by the library (as PIL's convert('RGB') does), not by a
// canvas, whose colour handling differs: the model sees what timm would feed it.

import {
  buildModel, decodeImage, describeSpec, evalTransform, getBackend, loadImageDecoders, loadPretrained, noGrad, parseHubConfig,
  resolveCheckpointBrowser, softmax, tensor, tidy, type HubModelConfig, type PretrainedModel,
} from 'katjs';
import { startBackendWithFallback } from './backend.js';
import type { BackendChoice, CheckpointPick, ClassifierModel, FromClassifier, LoadOptions, ToClassifier } from './protocol.js';

interface WorkerScope {
  postMessage(message: FromClassifier, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToClassifier>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromClassifier, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

/** Download progress at most this often. */
const PROGRESS_MS = 100;

let backendChoice: BackendChoice = 'webgpu';
let backendStarted = false;
let loaded: (PretrainedModel & { checkpoint: string }) | null = null;
/** libjpeg-turbo (WebAssembly) decodes JPEGs as PIL does; without it jpeg-js is within ~3 levels. */
let jpegDecoder: Promise<string | null> | null = null;

function loadJpegDecoder(): Promise<string | null> {
  jpegDecoder ??= loadImageDecoders().then(() => null, (error: unknown) =>
    `libjpeg-turbo could not load (${error instanceof Error ? error.message : String(error)}): JPEGs decode with jpeg-js, within ~3 levels of PIL`);
  return jpegDecoder;
}

/** Started on first use: a page that never classifies opens no second GPU device. */
async function ensureBackend(): Promise<void> {
  if (backendStarted) return;
  const { backend, fallback } = await startBackendWithFallback(backendChoice, 'classifying');
  backendStarted = true;
  post({ type: 'backend', name: backend.name, description: backend.description, fallback });
}

async function switchBackend(choice: BackendChoice): Promise<void> {
  backendChoice = choice;
  if (!backendStarted) return;
  backendStarted = false;
  await ensureBackend();
  // The loaded model moves over with its weights.
  if (loaded) {
    const weights = await loaded.model.stateDict();
    const model = buildModel(loaded.spec);
    model.loadStateDict(weights, { source: 'the previous backend' });
    model.eval();
    loaded.model.dispose();
    loaded.model = model;
  }
}

async function fetchPick(id: number, pick: CheckpointPick): Promise<{ bytes: Uint8Array; name: string; config?: HubModelConfig; configFrom: string | null }> {
  if (pick.kind === 'files') {
    const config = pick.config ? parseHubConfig(pick.config.text, pick.config.name) : undefined;
    return { bytes: pick.weights.bytes, name: pick.weights.name, ...(config ? { config } : {}), configFrom: pick.config?.name ?? null };
  }
  let last = 0;
  const resolved = await resolveCheckpointBrowser(pick.source, {
    ...(pick.endpoint ? { endpoint: pick.endpoint } : {}),
    baseUrl: pick.baseUrl,
    onProgress: (received, total, name) => {
      const now = performance.now();
      if (now - last < PROGRESS_MS && received !== total) return;
      last = now;
      post({ type: 'progress', id, name, received, total: total ?? null });
    },
  });
  const configFrom = resolved.config ? resolved.name.replace(/[^/]+$/, 'config.json') : null;
  return { bytes: resolved.bytes, name: resolved.name, ...(resolved.config ? { config: resolved.config } : {}), configFrom };
}

async function load(id: number, pick: CheckpointPick, options: LoadOptions): Promise<void> {
  void loadJpegDecoder(); // meanwhile, for the photos to come
  await ensureBackend();
  const { bytes, name, config, configFrom } = await fetchPick(id, pick);
  const next = loadPretrained(bytes, name, {
    weights: options.weights, ...(config ? { config } : {}), ...(options.heads !== null ? { heads: options.heads } : {}),
  });
  next.model.eval();
  loaded?.model.dispose();
  loaded = { ...next, checkpoint: name };
  const model: ClassifierModel = {
    checkpoint: name, summary: describeSpec(next.spec), parameters: next.model.parameterCount(), labels: next.labels,
    preprocess: next.preprocess, notes: next.notes, configFrom,
  };
  post({ type: 'model', id, model });
}

async function classify(id: number, name: string, bytes: Uint8Array): Promise<void> {
  if (!loaded) throw new Error('load a checkpoint first: the photo is classified as soon as one is loaded');
  const note = await loadJpegDecoder();
  const started = performance.now(); // decode, transform and forward: not the one-off decoder load
  const image = decodeImage(bytes, name);
  const input = evalTransform(image, loaded.preprocess);
  const [channels, height, width] = loaded.preprocess.inputSize;
  const model = loaded.model;
  const [logits, probabilities] = noGrad(() => tidy(() => {
    const out = model.forward(tensor(input, [1, channels, height, width]));
    return [out, softmax(out, -1)];
  }));
  // Compact copies: a view of backend memory would post its whole buffer.
  const logitValues = (await logits.data()).slice();
  const probabilityValues = (await probabilities.data()).slice();
  logits.dispose();
  probabilities.dispose();
  post({
    type: 'result', id,
    result: {
      image: name, width: image.width, height: image.height, input: input.slice(), logits: logitValues, probabilities: probabilityValues,
      backend: getBackend().name, milliseconds: performance.now() - started, note,
    },
  });
}

async function handle(message: ToClassifier): Promise<void> {
  switch (message.type) {
    case 'start-backend':
      await switchBackend(message.backend);
      return;
    case 'load':
      await load(message.id, message.pick, message.options);
      return;
    case 'classify':
      await ensureBackend();
      await classify(message.id, message.name, message.bytes);
      return;
  }
}

const stageOf = { 'start-backend': 'backend', load: 'load', classify: 'classify' } as const;

// One message at a time, in arrival order: a photo chosen during a load waits for the model.
let queue = Promise.resolve();
scope.onmessage = (event) => {
  const message = event.data;
  queue = queue.then(() => handle(message)).catch((error: unknown) => {
    post({
      type: 'error', id: 'id' in message ? message.id : null, stage: stageOf[message.type],
      message: error instanceof Error ? error.message : String(error),
    });
  });
};
