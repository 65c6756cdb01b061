// The "Classify a photo" panel: pick or fetch a pretrained checkpoint, drop or
// choose a photo, and show the top classes. The classifier worker does the
// work; this module only sorts files, sends them and draws the answer.

import type { BackendChoice, CheckpointPick, Classification, ClassifierModel, FromClassifier, LoadOptions, ToClassifier } from './protocol.js';

const TOP = 5;

/** What the panel has computed, as the page exposes it (window.katPlayground.classify). */
export interface ClassifyState {
  checkpoint: string | null;
  summary: string | null;
  /** Number of classes (labels) of the loaded model. */
  labels: number;
  image: string | null;
  top: { label: string; probability: number }[];
  probabilities: number[];
  logits: number[];
  /** The backend that computed `probabilities` (or will: the classifier's current one). */
  backend: string | null;
  milliseconds: number | null;
}

/** The classifier worker's state, beside the results (window.katPlayground.classifier). */
export interface ClassifierStatus {
  backend: { name: string; description: string; fallback: string | null } | null;
  /** The source being loaded, or null. */
  loading: string | null;
  progress: { name: string; received: number; total: number | null } | null;
}

export interface ClassifyHost {
  view: { classify: ClassifyState | null; classifier: ClassifierStatus };
  showError(message: string): void;
  /** The backend the page's selector asks for (the training one). */
  backendChoice(): BackendChoice;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};

const IMAGE_NAME = /\.(jpe?g|png)$/i;
const CONFIG_NAME = /\.json$/i;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function isImage(file: File): boolean {
  return IMAGE_NAME.test(file.name) || file.type === 'image/jpeg' || file.type === 'image/png';
}

export interface Classifier {
  /** The page's backend selector changed: move the model and classify again. */
  setBackend(choice: BackendChoice): void;
}

export function initClassifier(host: ClassifyHost): Classifier {
  const { view } = host;
  let worker: Worker | null = null;
  let model: ClassifierModel | null = null;
  let loadId = 0;
  let loadPending = false;
  /** The last source asked for, re-read when the options change (files are kept as Files, not bytes). */
  let lastSource: { name: string; read(): Promise<CheckpointPick> } | null = null;
  let photo: { id: number; name: string; bytes: Uint8Array; url: string } | null = null;
  let photoCount = 0;
  let classifyId = 0;
  /** model id / photo id last sent for classification: each pair is classified once. */
  let sentKey = '';
  let modelId = 0;

  const send = (message: ToClassifier, transfer: Transferable[] = []) => {
    worker ??= startWorker();
    worker.postMessage(message, transfer);
  };

  function startWorker(): Worker {
    const w = new Worker(new URL('./classify_worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (event: MessageEvent<FromClassifier>) => onMessage(event.data);
    w.onerror = (event) => fail(`the classifier worker failed: ${event.message}`);
    w.postMessage({ type: 'start-backend', backend: host.backendChoice() } satisfies ToClassifier);
    return w;
  }

  function fail(message: string): void {
    host.showError(message);
    $('classify-error').textContent = message;
  }

  function setStatus(text: string): void {
    $('classify-status').textContent = text;
  }

  function options(): LoadOptions {
    const headsText = $<HTMLInputElement>('classify-heads').value.trim();
    const heads = headsText === '' ? null : Number(headsText);
    if (heads !== null && (!Number.isInteger(heads) || heads < 1)) throw new Error(`Attention heads: '${headsText}' is not a positive integer`);
    return { weights: $<HTMLInputElement>('classify-ema').checked ? 'ema' : 'default', heads };
  }

  async function load(source: { name: string; read(): Promise<CheckpointPick> }): Promise<void> {
    $('classify-error').textContent = '';
    let opts: LoadOptions;
    try {
      opts = options();
    } catch (error) {
      fail((error as Error).message); // before taking an id: a load in flight stays current
      return;
    }
    const id = ++loadId;
    try {
      lastSource = source;
      loadPending = true;
      view.classifier.loading = source.name;
      view.classifier.progress = null;
      setStatus(`loading ${source.name}…`);
      const pick = await source.read();
      if (id !== loadId) return; // a newer load took over
      $('classify-progress').hidden = pick.kind === 'files';
      $<HTMLProgressElement>('classify-progress').removeAttribute('value');
      send({ type: 'load', id, pick, options: opts }, pick.kind === 'files' ? [pick.weights.bytes.buffer as ArrayBuffer] : []);
    } catch (error) {
      if (id === loadId) loadFailed();
      fail((error as Error).message);
    }
  }

  function loadFailed(): void {
    loadPending = false;
    view.classifier.loading = null;
    $('classify-progress').hidden = true;
    setStatus(model ? `still using ${model.checkpoint}` : '');
    classifyIfNew();
  }

  /** Weights plus an optional config.json, in any order; or an error saying what is missing. */
  async function loadFiles(files: File[]): Promise<void> {
    const configs = files.filter((f) => CONFIG_NAME.test(f.name));
    const weights = files.filter((f) => !CONFIG_NAME.test(f.name) && !isImage(f));
    if (weights.length !== 1 || configs.length > 1) {
      const names = files.map((f) => f.name).join(', ');
      throw new Error(weights.length === 0
        ? `no weights among ${names}: pick a .safetensors, .pth, .bin or .pth.tar file (with its config.json if it has one)`
        : `pick one weights file (and at most one config.json), not ${names}`);
    }
    const [file] = weights;
    const configFile = configs[0];
    await load({
      name: file!.name,
      read: async () => ({
        kind: 'files', weights: { name: file!.name, bytes: new Uint8Array(await file!.arrayBuffer()) },
        config: configFile ? { name: configFile.name, text: await configFile.text() } : null,
      }),
    });
  }

  function loadRemote(): void {
    const source = $<HTMLInputElement>('classify-source').value.trim();
    if (source === '') {
      fail('type a URL or hf:owner/name[@revision] first');
      return;
    }
    const endpoint = $<HTMLInputElement>('classify-endpoint').value.trim();
    const pick: CheckpointPick = { kind: 'remote', source, endpoint: endpoint === '' ? null : endpoint, baseUrl: document.baseURI };
    void load({ name: source, read: async () => pick });
  }

  async function choosePhoto(file: File): Promise<void> {
    $('classify-error').textContent = '';
    if (photo) URL.revokeObjectURL(photo.url);
    const bytes = new Uint8Array(await file.arrayBuffer());
    photo = { id: ++photoCount, name: file.name, bytes, url: URL.createObjectURL(file) };
    const img = $<HTMLImageElement>('classify-photo');
    img.src = photo.url;
    img.alt = file.name;
    img.hidden = false;
    $('classify-drop-hint').classList.add('small');
    showResult(null);
    if (view.classify) view.classify.image = file.name;
    if (!model && !loadPending) setStatus(`${file.name}: load a checkpoint to classify it`);
    classifyIfNew();
  }

  function classifyIfNew(force = false): void {
    if (!photo || !model || loadPending) return;
    const key = `${modelId}/${photo.id}`;
    if (key === sentKey && !force) return;
    sentKey = key;
    const id = ++classifyId;
    setStatus(`classifying ${photo.name}…`);
    send({ type: 'classify', id, name: photo.name, bytes: photo.bytes.slice() });
  }

  function showModel(m: ClassifierModel): void {
    model = m;
    modelId++;
    view.classify = {
      checkpoint: m.checkpoint, summary: m.summary, labels: m.labels.length, image: photo?.name ?? null, top: [], probabilities: [], logits: [],
      backend: view.classifier.backend?.name ?? null, milliseconds: null,
    };
    const [, h, w] = m.preprocess.inputSize;
    const labelsFrom = m.configFrom ? `labels from ${m.configFrom}` : `${m.labels.length === 1000 ? 'ImageNet-1k labels' : 'labels'} (no config.json)`;
    $('classify-model').textContent = `${m.checkpoint}: ${m.summary}, ${m.parameters.toLocaleString('en-US')} parameters; ${labelsFrom}; ` +
      `input ${h} × ${w}, ${m.preprocess.interpolation}, crop ${m.preprocess.cropPct}` + (m.notes.length ? ` — ${m.notes.join('; ')}` : '');
    $('classify-input-caption').textContent = `what the model sees (${h} × ${w})`;
    showResult(null);
    setStatus(photo ? '' : 'now drop or choose a photo');
  }

  function showResult(result: Classification | null): void {
    const list = $('classify-top');
    list.replaceChildren();
    const canvas = $<HTMLCanvasElement>('classify-input');
    if (!result || !model) {
      canvas.getContext('2d')!.clearRect(0, 0, canvas.width, canvas.height);
      $('classify-summary').textContent = '';
      if (view.classify) Object.assign(view.classify, { top: [], probabilities: [], logits: [], milliseconds: null });
      return;
    }
    const probabilities = Array.from(result.probabilities);
    const order = probabilities.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]).slice(0, TOP);
    const top = order.map(([p, i]) => ({ label: model!.labels[i] ?? `class ${i}`, probability: p }));
    view.classify = {
      checkpoint: model.checkpoint, summary: model.summary, labels: model.labels.length, image: result.image, top, probabilities,
      logits: Array.from(result.logits), backend: result.backend, milliseconds: result.milliseconds,
    };
    for (const [rank, { label, probability }] of top.entries()) {
      const row = document.createElement('li');
      row.className = rank === 0 ? 'best' : '';
      const name = document.createElement('span');
      name.className = 'label';
      name.textContent = label;
      name.title = label;
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${(probability * 100).toFixed(2)}%`;
      bar.append(fill);
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = `${(probability * 100).toFixed(1)}%`;
      row.append(name, bar, value);
      list.append(row);
    }
    $('classify-summary').textContent = `${result.image} (${result.width} × ${result.height}): top ${top.length} of ${model.labels.length} classes, ` +
      `${result.backend}, ${result.milliseconds.toFixed(0)} ms` + (result.note ? ` (${result.note})` : '');
    drawInput(canvas, result.input, model);
    setStatus('');
  }

  /** The model's input, de-normalised back to pixels. */
  function drawInput(canvas: HTMLCanvasElement, input: Float32Array, m: ClassifierModel): void {
    const [, h, w] = m.preprocess.inputSize;
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d')!;
    const image = ctx.createImageData(w, h);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < h * w; i++) {
        image.data[4 * i + c] = Math.round(Math.min(1, Math.max(0, input[c * h * w + i]! * m.preprocess.std[c]! + m.preprocess.mean[c]!)) * 255);
      }
    }
    for (let i = 0; i < h * w; i++) image.data[4 * i + 3] = 255;
    ctx.putImageData(image, 0, 0);
    canvas.classList.toggle('pixelated', w < 128);
  }

  function showBackend(b: ClassifierStatus['backend']): void {
    view.classifier.backend = b;
    if (view.classify) view.classify.backend = b!.name;
    const badge = $('classify-backend');
    badge.hidden = false;
    badge.classList.toggle('fallback', b!.fallback !== null);
    badge.textContent = b!.fallback ? `CPU fallback: ${b!.fallback}` : `classifying on ${b!.name}: ${b!.description}`;
  }

  function onMessage(message: FromClassifier): void {
    switch (message.type) {
      case 'backend':
        showBackend(message);
        return;
      case 'progress': {
        if (message.id !== loadId) return;
        view.classifier.progress = { name: message.name, received: message.received, total: message.total };
        const bar = $<HTMLProgressElement>('classify-progress');
        bar.hidden = false;
        if (message.total) {
          bar.max = message.total;
          bar.value = message.received;
        }
        setStatus(`downloading ${message.name}: ${formatBytes(message.received)}${message.total ? ` of ${formatBytes(message.total)}` : ''}`);
        return;
      }
      case 'model':
        if (message.id !== loadId) return;
        loadPending = false;
        view.classifier.loading = null;
        $('classify-progress').hidden = true;
        showModel(message.model);
        classifyIfNew();
        return;
      case 'result':
        if (message.id !== classifyId) return;
        showResult(message.result);
        return;
      case 'error':
        if (message.stage === 'load' && message.id === loadId) {
          loadFailed();
        } else if (message.stage === 'classify') {
          setStatus('');
        }
        fail(message.message);
        return;
    }
  }

  async function onFiles(files: File[], from: 'checkpoint' | 'photo' | 'drop'): Promise<void> {
    try {
      if (files.length === 0) return;
      if (from === 'photo') {
        await choosePhoto(files[0]!);
        return;
      }
      // A drop may hold a photo, a checkpoint (with its config.json), or both.
      const images = from === 'drop' ? files.filter(isImage) : [];
      const rest = files.filter((f) => !images.includes(f));
      if (rest.length > 0) await loadFiles(rest);
      if (images.length > 0) await choosePhoto(images[0]!);
    } catch (error) {
      fail((error as Error).message);
    }
  }

  const fileInput = (id: string, from: 'checkpoint' | 'photo') => {
    const input = $<HTMLInputElement>(id);
    input.addEventListener('change', () => {
      const files = [...(input.files ?? [])];
      input.value = '';
      void onFiles(files, from);
    });
  };
  fileInput('classify-files', 'checkpoint');
  fileInput('classify-image', 'photo');
  $('classify-remote').addEventListener('submit', (event) => {
    event.preventDefault();
    loadRemote();
  });
  const reload = () => {
    if (lastSource) void load(lastSource);
  };
  $('classify-ema').addEventListener('change', reload);
  $('classify-heads').addEventListener('change', reload);

  const zone = $('classify');
  let depth = 0;
  zone.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth++;
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragover', (event) => event.preventDefault());
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    void onFiles([...(event.dataTransfer?.files ?? [])], 'drop');
  });
  // The drop area opens the photo picker from the keyboard too.
  $('classify-drop').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      $<HTMLInputElement>('classify-image').click();
    }
  });

  const endpoint = new URLSearchParams(location.search).get('hf_endpoint');
  if (endpoint) {
    $<HTMLInputElement>('classify-endpoint').value = endpoint;
    ($('classify-options') as HTMLDetailsElement).open = true;
  }

  return {
    setBackend(choice) {
      if (!worker) return;
      send({ type: 'start-backend', backend: choice });
      classifyIfNew(true);
    },
  };
}
