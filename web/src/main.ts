// The playground page: controls, charts and drawings. Everything the library
// computes runs in the worker (worker.ts); this thread only draws.

import { DEFAULT_TRAIN_CONFIG, evaluateRationalAt, groupCoefficients, rationalCoefficients, rationalFormula, SPACE_COLOURS } from 'katjs';
import { initClassifier, type ClassifierStatus, type ClassifyState } from './classify.js';
import { DrawPad } from './draw_pad.js';
import { parseFormula, PRESET_FORMULAS } from './formula.js';
import { COLORS, drawActivation, drawBars, drawChart, drawHeatmap, smooth } from './plots.js';
import type {
  ActivationData, BackendChoice, EpochReport, FitView, FromWorker, SelectNodeView, SelectView, Setup, StepReport, Task, ToWorker, TrainState,
} from './protocol.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};

/** Defaults per task: digits use the CLI's (`kat train`), so the same numbers come out. */
const DEFAULTS: Record<Task, Omit<Setup, 'task' | 'model' | 'basis' | 'formula' | 'hidden'>> = {
  digits: {
    epochs: DEFAULT_TRAIN_CONFIG.epochs, batchSize: DEFAULT_TRAIN_CONFIG.batchSize, lr: DEFAULT_TRAIN_CONFIG.lr,
    weightDecay: DEFAULT_TRAIN_CONFIG.weightDecay, warmupEpochs: DEFAULT_TRAIN_CONFIG.warmupEpochs,
    labelSmoothing: DEFAULT_TRAIN_CONFIG.labelSmoothing, clipNorm: DEFAULT_TRAIN_CONFIG.clipNorm, shift: DEFAULT_TRAIN_CONFIG.shift,
    seed: DEFAULT_TRAIN_CONFIG.seed, maxSteps: 0, testImages: 0,
  },
  fit: { epochs: 400, batchSize: 128, lr: 0.002, weightDecay: 0, warmupEpochs: 0, labelSmoothing: 0, clipNorm: 0, shift: 0, seed: 0, maxSteps: 0, testImages: 0 },
};

const NUMBER_FIELDS: [keyof typeof DEFAULTS.digits, string, 'int' | 'real'][] = [
  ['epochs', 'epochs', 'int'], ['batchSize', 'batch-size', 'int'], ['lr', 'lr', 'real'], ['weightDecay', 'weight-decay', 'real'],
  ['warmupEpochs', 'warmup', 'real'], ['labelSmoothing', 'label-smoothing', 'real'], ['clipNorm', 'clip', 'real'], ['shift', 'shift', 'int'],
  ['seed', 'seed', 'int'], ['maxSteps', 'max-steps', 'int'], ['testImages', 'test-images', 'int'],
];

/** What the page has seen, readable from the console (and by the end-to-end tests). */
const view = {
  backend: null as { name: string; description: string; fallback: string | null } | null,
  model: null as Extract<FromWorker, { type: 'model' }> | null,
  state: 'idle' as TrainState,
  steps: [] as StepReport[],
  epochs: [] as EpochReport[],
  activations: [] as ActivationData[],
  /** S-KAN models: the nodes' spaces and functions (the activation panel draws these), else null. */
  select: null as SelectView | null,
  activationStep: 0,
  selected: { activation: 0, group: 0 },
  fit: null as FitView | null,
  digit: null as Float32Array | null,
  probabilities: null as Float32Array | null,
  evaluation: null as Extract<FromWorker, { type: 'evaluation' }> | null,
  errors: [] as string[],
  checkpoints: 0,
  /** The "Classify a photo" panel: its loaded checkpoint and last result, and its worker's state. */
  classify: null as ClassifyState | null,
  classifier: { backend: null, loading: null, progress: null } as ClassifierStatus,
};
(window as unknown as { katPlayground: typeof view }).katPlayground = view;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (message: ToWorker, transfer: Transferable[] = []) => worker.postMessage(message, transfer);

function task(): Task {
  return (document.querySelector<HTMLInputElement>('input[name="task"]:checked')?.value ?? 'digits') as Task;
}

function applyDefaults(t: Task): void {
  const defaults = DEFAULTS[t];
  for (const [key, id] of NUMBER_FIELDS) $<HTMLInputElement>(id).value = String(defaults[key]);
  $('label-smoothing').parentElement!.hidden = t === 'fit';
  $('shift').parentElement!.hidden = t === 'fit';
  $('test-images').parentElement!.hidden = t === 'fit';
  $('digits-settings').hidden = t !== 'digits';
  $('fit-settings').hidden = t !== 'fit';
  $('try-digits').hidden = t !== 'digits';
  $('try-fit').hidden = t !== 'fit';
}

/** The basis choice shows for kan-mlp only (kat-micro's KAN layers are group-rational). */
function showBasisSetting(): void {
  $('basis-setting').hidden = $<HTMLSelectElement>('model').value !== 'kan-mlp';
}

/** The settings as typed, or an error naming the field. */
function readSetup(): Setup {
  const t = task();
  const values = {} as Record<string, number>;
  for (const [key, id, kind] of NUMBER_FIELDS) {
    const input = $<HTMLInputElement>(id);
    const label = input.parentElement!.firstChild!.textContent!.trim();
    const value = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(value)) throw new Error(`${label}: '${input.value}' is not a number`);
    if (kind === 'int' && !Number.isInteger(value)) throw new Error(`${label}: ${value} is not an integer`);
    if (key !== 'seed' && value < 0) throw new Error(`${label}: ${value} is negative`);
    values[key] = value;
  }
  if (values.epochs! < 1) throw new Error('Epochs: at least 1');
  if (values.batchSize! < 1) throw new Error('Batch: at least 1');
  if (values.labelSmoothing! >= 1) throw new Error('Label smoothing: must be below 1');
  const hiddenText = $<HTMLInputElement>('hidden').value;
  const hidden = hiddenText.split(',').map((w) => Number(w.trim()));
  if (t === 'fit' && (hidden.length > 4 || hidden.some((w) => !Number.isInteger(w) || w < 1 || w > 256))) {
    throw new Error(`Hidden widths: '${hiddenText}': expected 1 to 4 integers in 1..256 separated by commas, e.g. 16,16`);
  }
  return {
    ...(values as unknown as typeof DEFAULTS.digits), task: t, model: t === 'digits' ? $<HTMLSelectElement>('model').value : 'kan-fit',
    basis: $<HTMLSelectElement>('basis').value as Setup['basis'],
    formula: $<HTMLInputElement>('formula').value, hidden,
  };
}

function showError(message: string): void {
  view.errors.push(message);
  $('error').textContent = message;
}

function clearError(): void {
  $('error').textContent = '';
}

// ---------------------------------------------------------------------------
// Charts

let redrawQueued = false;
function redrawCharts(): void {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    const fit = view.model?.task === 'fit';
    const stepLoss = view.steps.map((s) => [s.step, s.loss] as [number, number]);
    const atEpochEnd = (e: EpochReport) => e.step;
    drawChart($('loss-chart'), [
      { points: stepLoss, color: '#b3d4ee', label: fit ? 'batch MSE' : 'batch loss' },
      { points: smooth(stepLoss), color: COLORS.train, label: 'smoothed' },
      { points: view.epochs.map((e) => [atEpochEnd(e), e.testLoss]), color: COLORS.test, label: fit ? 'grid MSE' : 'test loss', dots: true },
    ], { xLabel: 'step', empty: 'press Train' });
    if (fit) {
      drawChart($('accuracy-chart'), [
        { points: view.steps.map((s) => [s.step, Math.log10(s.loss)]), color: COLORS.train, label: 'log10 batch MSE' },
      ], { xLabel: 'step', empty: 'press Train' });
    } else {
      const stepAccuracy = view.steps.map((s) => [s.step, s.accuracy ?? NaN] as [number, number]);
      drawChart($('accuracy-chart'), [
        { points: smooth(stepAccuracy), color: COLORS.train, label: 'batch accuracy (smoothed)' },
        { points: view.epochs.map((e) => [atEpochEnd(e), e.testAccuracy ?? NaN]), color: COLORS.test, label: 'test accuracy', dots: true },
      ], { xLabel: 'step', yMin: 0, yMax: 1, empty: 'press Train' });
    }
    const last = view.steps[view.steps.length - 1];
    const epoch = view.epochs[view.epochs.length - 1];
    const parts: string[] = [];
    if (last) {
      parts.push(`step ${last.step} (epoch ${last.epoch})`, `loss ${last.loss.toFixed(4)}`);
      if (last.accuracy !== null) parts.push(`batch acc ${(last.accuracy * 100).toFixed(1)}%`);
      parts.push(`lr ${last.lr.toExponential(2)}`, `${last.imagesPerSecond.toFixed(0)} ${fit ? 'points' : 'images'}/s`);
    }
    if (epoch) {
      parts.push(`epoch ${epoch.epoch}: ${fit ? 'grid MSE' : 'test loss'} ${epoch.testLoss.toFixed(4)}` +
        (epoch.testAccuracy !== null ? `, test acc ${(epoch.testAccuracy * 100).toFixed(2)}%` : ''));
    }
    if (view.evaluation) {
      const e = view.evaluation;
      parts.push(`evaluated: loss ${e.loss.toFixed(4)}${e.accuracy !== null ? `, accuracy ${(e.accuracy * 100).toFixed(2)}% on ${e.images} images` : ''}`);
    }
    $('numbers').textContent = parts.join(' · ');
  });
}

// ---------------------------------------------------------------------------
// Activations

const SAMPLES = 121;
const XS = Float64Array.from({ length: SAMPLES }, (_, i) => -3 + (6 * i) / (SAMPLES - 1));
let activationCanvases: HTMLCanvasElement[][] = [];
let activationLayout = '';
/** S-KAN panels: per layer its name cell and, per drawn node, its label and canvas. */
let selectCells: { name: HTMLElement; nodes: { label: HTMLElement; canvas: HTMLCanvasElement }[] }[] = [];

function buildActivationGrid(): void {
  const container = $('activations');
  container.replaceChildren();
  selectCells = [];
  if (view.select && view.activations.length === 0) {
    buildSelectGrid(view.select);
    return;
  }
  if (view.activations.length === 0 && view.model) {
    const note = document.createElement('div');
    note.className = 'muted';
    note.id = 'no-activations';
    note.textContent = `${view.model.summary} has no rational activations to plot (its KAN layers use another basis).`;
    container.append(note);
  }
  activationCanvases = view.activations.map((act, a) => {
    const row = document.createElement('div');
    row.className = 'row';
    const name = document.createElement('div');
    name.className = 'row-name';
    name.textContent = `${act.name} (${act.channels} ch, ${act.mode})`;
    row.append(name);
    const canvases = Array.from({ length: act.groups }, (_, g) => {
      const canvas = document.createElement('canvas');
      canvas.title = `${act.name}, group ${g}`;
      canvas.dataset.activation = String(a);
      canvas.dataset.group = String(g);
      canvas.addEventListener('click', () => {
        view.selected = { activation: a, group: g };
        redrawActivations();
      });
      row.append(canvas);
      return canvas;
    });
    container.append(row);
    return canvases;
  });
}

/** S-KAN: a row per layer, a panel per drawn node, labelled and coloured by the node's space. */
function buildSelectGrid(select: SelectView): void {
  const container = $('activations');
  const summary = document.createElement('div');
  summary.id = 'select-summary';
  summary.className = 'muted';
  container.append(summary);
  selectCells = select.layers.map((layer, a) => {
    const row = document.createElement('div');
    row.className = 'row';
    const name = document.createElement('div');
    name.className = 'row-name';
    row.append(name);
    const nodes = layer.nodes.map((node, g) => {
      const figure = document.createElement('figure');
      figure.className = 'node';
      const label = document.createElement('figcaption');
      label.className = 'space';
      const canvas = document.createElement('canvas');
      canvas.dataset.activation = String(a);
      canvas.dataset.group = String(g);
      canvas.dataset.node = String(node.input);
      canvas.addEventListener('click', () => {
        view.selected = { activation: a, group: g };
        redrawActivations();
      });
      figure.append(label, canvas);
      row.append(figure);
      return { label, canvas };
    });
    container.append(row);
    return { name, nodes };
  });
}

/** A node's label: its leading space and weight while choosing, the kept space after. */
function spaceLabel(node: SelectNodeView, phase: SelectView['phase']): string {
  if (node.spaces.length === 0) return '(no space)';
  return phase === 'choosing' ? `${node.spaces[0]} ${node.weights[0]!.toFixed(2)}` : node.spaces.join(' + ');
}

function weightsText(node: SelectNodeView): string {
  return node.spaces.map((space, k) => (Number.isNaN(node.weights[k]!) ? space : `${space} ${node.weights[k]!.toFixed(3)}`)).join(' + ');
}

function colourOf(space: string | undefined): string {
  return (space && SPACE_COLOURS[space]) || COLORS.ink;
}

function redrawSelect(select: SelectView): void {
  const summary = document.getElementById('select-summary');
  if (summary) {
    const among = select.spaces.join(', ');
    summary.textContent = {
      choosing: `S-KAN, choosing among ${among} (temperature ${select.temperature.toPrecision(3)}): each panel names its node's leading space and weight.`,
      chosen: `S-KAN: each node kept its best space${select.chosenAt !== null ? ` after step ${select.chosenAt}` : ''} (named on its panel); ` +
        'saving writes the pruned model.',
      pruned: `S-KAN, pruned: each panel names the space its node kept (of ${among}).`,
    }[select.phase] + (select.plan && select.phase === 'choosing' ? ` This run: ${select.plan}.` : '') +
      ' Each panel: the node\'s strongest edge, phi(x) - phi(0), over the inputs it sees.';
  }
  select.layers.forEach((layer, a) => {
    const cells = selectCells[a];
    if (!cells) return;
    const counts = Object.entries(layer.counts).sort((p, q) => q[1] - p[1]);
    cells.name.replaceChildren(`${layer.name} (${layer.inputs} → ${layer.outputs})`, document.createElement('br'),
      ...counts.flatMap(([space, n], k) => {
        const span = document.createElement('span');
        span.style.color = colourOf(space);
        span.textContent = `${space} ${n}`;
        return k === 0 ? [span] : [', ', span];
      }));
    layer.nodes.forEach((node, g) => {
      const cell = cells.nodes[g];
      if (!cell) return;
      const colour = colourOf(node.spaces[0]);
      cell.label.textContent = spaceLabel(node, select.phase);
      cell.label.style.color = colour;
      cell.label.dataset.spaces = node.spaces.join(',');
      cell.canvas.title = `${layer.name}, node ${node.input} → output ${node.output}: ${weightsText(node)}`;
      const selected = view.selected.activation === a && view.selected.group === g;
      drawActivation(cell.canvas, node.xs, node.ys, null, selected, colour);
    });
  });
}

function redrawActivations(): void {
  const layout = view.select && view.activations.length === 0
    ? `select: ${view.select.layers.map((l) => `${l.name}/${l.nodes.map((n) => n.input).join('.')}`).join()}`
    : view.activations.length > 0 ? view.activations.map((a) => `${a.name}/${a.groups}`).join() : `none: ${view.model?.summary}`;
  if (layout !== activationLayout) {
    activationLayout = layout;
    view.selected = { activation: 0, group: 0 };
    buildActivationGrid();
    $('activations-note').textContent = view.select && view.activations.length === 0
      ? '— S-KAN: each layer\'s nodes, coloured by their space; click one for its spaces and weights'
      : '— learned (red) over initial (grey, dashed), x in [-3, 3]; click one for its formula';
  }
  if (view.select && view.activations.length === 0) {
    redrawSelect(view.select);
    showFormula();
    return;
  }
  view.activations.forEach((act, a) => {
    const initial = rationalCoefficients(act.mode);
    const initialCurve = evaluateRationalAt(initial.numerator, initial.denominator, XS);
    for (let g = 0; g < act.groups; g++) {
      const { numerator, denominator } = groupCoefficients(act, g);
      const selected = view.selected.activation === a && view.selected.group === g;
      drawActivation(activationCanvases[a]![g]!, XS, evaluateRationalAt(numerator, denominator, XS), initialCurve, selected);
    }
  });
  showFormula();
}

/** The clicked S-KAN node: its spaces and weights, its strongest edge and the inputs it sees. */
function showNode(select: SelectView): void {
  const target = $('formula-view');
  const layer = select.layers[view.selected.activation];
  const node = layer?.nodes[view.selected.group];
  if (!layer || !node) {
    target.textContent = '';
    return;
  }
  const heading = document.createElement('div');
  heading.className = 'muted';
  const when = view.activationStep > 0 ? `after ${view.activationStep} training steps`
    : view.model?.fromFile ? `as loaded from ${view.model.fromFile}` : 'at initialisation';
  heading.textContent = `${layer.name}, node ${node.input}, its strongest edge (to output ${node.output}), ${when}, ` +
    `on the inputs it sees, [${node.xs[0]!.toPrecision(3)}, ${node.xs[node.xs.length - 1]!.toPrecision(3)}]:`;
  const text = document.createElement('div');
  text.id = 'node-text';
  text.style.color = colourOf(node.spaces[0]);
  text.textContent = select.phase === 'choosing' ? `spaces (selection weights): ${weightsText(node)}` : `kept: ${node.spaces.join(' + ')}`;
  target.replaceChildren(heading, text);
}

function showFormula(): void {
  if (view.select && view.activations.length === 0) {
    showNode(view.select);
    return;
  }
  const act = view.activations[view.selected.activation];
  const target = $('formula-view');
  if (!act) {
    target.textContent = '';
    return;
  }
  const g = view.selected.group;
  const { numerator, denominator } = groupCoefficients(act, g);
  const formula = rationalFormula(numerator, denominator, { digits: 6 });
  const width = act.channels / act.groups;
  target.replaceChildren();
  const heading = document.createElement('div');
  heading.className = 'muted';
  const when = view.activationStep > 0 ? `after ${view.activationStep} training steps`
    : view.model?.fromFile ? `as loaded from ${view.model.fromFile}` : 'at initialisation';
  const channels = width === 1 ? `channel ${g}` : `channels ${g * width}–${(g + 1) * width - 1}`;
  heading.textContent = `${act.name}, group ${g} (${channels}), started as ${act.mode}, ${when}:`;
  const text = document.createElement('div');
  text.id = 'formula-text';
  text.textContent = `F(x) = ${formula.text}`;
  const latex = document.createElement('div');
  latex.id = 'formula-latex';
  latex.className = 'muted';
  latex.textContent = `LaTeX: ${formula.latex}`;
  target.append(heading, text, latex);
}

// ---------------------------------------------------------------------------
// Try it

const pad = new DrawPad($<HTMLCanvasElement>('pad'), () => predictDrawing());

function predictDrawing(): void {
  const digit = pad.toDigit();
  view.digit = digit;
  const preview = $<HTMLCanvasElement>('digit-preview').getContext('2d')!;
  const image = preview.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round((digit?.[i] ?? 0) * 255);
    image.data.set([v, v, v, 255], 4 * i);
  }
  preview.putImageData(image, 0, 0);
  if (!digit || view.model?.task !== 'digits') return;
  send({ type: 'predict', pixels: digit.slice() });
}

function showPrediction(probabilities: Float32Array): void {
  view.probabilities = probabilities;
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  $('prediction').textContent = `${best} (${(probabilities[best]! * 100).toFixed(1)}%)`;
  drawBars($('probabilities'), probabilities);
}

function showFit(fit: FitView): void {
  view.fit = fit;
  let scale = 1e-9;
  for (const v of fit.target) scale = Math.max(scale, Math.abs(v));
  let sse = 0;
  for (let i = 0; i < fit.target.length; i++) sse += (fit.fitted[i]! - fit.target[i]!) ** 2;
  $('fit-numbers').textContent = `grid MSE ${(sse / fit.target.length).toExponential(3)}, max |f| ${scale.toPrecision(3)}`;
  if (fit.dims === 2) {
    drawHeatmap($('fit-target'), fit.target, fit.side, scale);
    drawHeatmap($('fit-fitted'), fit.fitted, fit.side, scale);
    return;
  }
  const xs = Array.from({ length: fit.side }, (_, i) => -2 + (4 * i) / (fit.side - 1));
  const targetSeries = { points: xs.map((x, i) => [x, fit.target[i]!] as [number, number]), color: COLORS.target, label: 'target' };
  drawChart($('fit-target'), [targetSeries], { xLabel: 'x' });
  drawChart($('fit-fitted'), [targetSeries, { points: xs.map((x, i) => [x, fit.fitted[i]!]), color: COLORS.fitted, label: 'fit' }], { xLabel: 'x' });
}

// ---------------------------------------------------------------------------
// Controls and state

function updateButtons(): void {
  const s = view.state;
  const busy = s === 'training' || s === 'pausing' || s === 'paused';
  const hasModel = view.model !== null;
  const trainButton = $<HTMLButtonElement>('train');
  trainButton.textContent = { idle: 'Train', training: 'Pause', pausing: 'Pausing…', paused: 'Resume', done: 'Train again' }[s];
  trainButton.disabled = !hasModel || s === 'pausing';
  $<HTMLButtonElement>('stop').disabled = !busy;
  $<HTMLButtonElement>('new-model').disabled = busy;
  $<HTMLButtonElement>('backend').disabled = busy;
  $<HTMLInputElement>('load').disabled = busy;
  $('load').parentElement!.style.opacity = busy ? '0.45' : '';
  $<HTMLButtonElement>('save').disabled = !hasModel;
  $<HTMLButtonElement>('evaluate').disabled = !hasModel;
  const label = { idle: 'ready', training: 'training…', pausing: 'pausing after this step…', paused: 'paused', done: 'done' }[s];
  $('status').textContent = hasModel ? `${view.model!.model}: ${label}` : 'Loading…';
}

function newModel(): void {
  clearError();
  try {
    const setup = readSetup();
    if (setup.task === 'fit') parseFormula(setup.formula);
    send({ type: 'setup', setup });
  } catch (error) {
    showError((error as Error).message);
  }
}

function checkFormula(): void {
  try {
    const parsed = parseFormula($<HTMLInputElement>('formula').value);
    $('formula-error').textContent = parsed.usesY ? 'f(x, y): a 2-D fit' : 'f(x): a 1-D fit';
    $('formula-error').className = 'muted';
  } catch (error) {
    $('formula-error').textContent = (error as Error).message;
    $('formula-error').className = 'error';
  }
}

function download(bytes: Uint8Array, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function onMessage(message: FromWorker): void {
  switch (message.type) {
    case 'backend': {
      view.backend = message;
      const badge = $('backend-status');
      badge.classList.toggle('fallback', message.fallback !== null);
      const software = /swiftshader|llvmpipe|lavapipe/i.test(message.description) ? ' — a software GPU: correct but slow' : '';
      badge.textContent = message.fallback ? `CPU fallback: ${message.fallback}` : `${message.name}: ${message.description}${software}`;
      $<HTMLSelectElement>('backend').value = message.name === 'webgpu' ? 'webgpu' : 'cpu';
      return;
    }
    case 'model':
      view.model = message;
      view.select = null; // until the new model's first report
      view.steps = [];
      view.epochs = [];
      view.evaluation = null;
      view.fit = null;
      $('model-summary').textContent = `— ${message.summary}, ${message.parameters.toLocaleString('en-US')} parameters` +
        (message.fromFile ? `, loaded from ${message.fromFile}` : '');
      if (message.fromFile) {
        if (task() !== message.task) {
          document.querySelector<HTMLInputElement>(`input[name="task"][value="${message.task}"]`)!.checked = true;
          applyDefaults(message.task);
        }
        if (message.task === 'digits') {
          $<HTMLSelectElement>('model').value = message.model;
          const basis = $<HTMLSelectElement>('basis');
          // An S-KAN checkpoint over other spaces than the listed choices: its own entry.
          if (![...basis.options].some((o) => o.value === message.setup.basis)) {
            basis.append(new Option(`S-KAN: select among ${message.setup.basis.slice('select:'.length).split(',').join(', ')}`, message.setup.basis));
          }
          basis.value = message.setup.basis;
          showBasisSetting();
        } else {
          $<HTMLInputElement>('formula').value = message.setup.formula;
          $<HTMLInputElement>('hidden').value = message.setup.hidden.join(',');
          checkFormula();
        }
      }
      redrawCharts();
      updateButtons();
      if (message.task === 'digits' && !pad.isEmpty) predictDrawing();
      return;
    case 'state':
      view.state = message.state;
      updateButtons();
      if ((message.state === 'paused' || message.state === 'done') && !pad.isEmpty) predictDrawing();
      return;
    case 'step':
      view.steps.push(message.report);
      redrawCharts();
      return;
    case 'epoch':
      view.epochs.push(message.report);
      redrawCharts();
      return;
    case 'activations':
      view.activations = message.activations;
      view.select = message.select;
      view.activationStep = message.step;
      redrawActivations();
      return;
    case 'fit':
      showFit(message.view);
      return;
    case 'prediction':
      showPrediction(message.probabilities);
      return;
    case 'evaluation':
      view.evaluation = message;
      redrawCharts();
      return;
    case 'checkpoint':
      view.checkpoints++;
      download(message.bytes, message.fileName);
      return;
    case 'error':
      showError(message.message);
      return;
  }
}

worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
worker.onerror = (event) => showError(`the training worker failed: ${event.message}`);

for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="task"]')) {
  radio.addEventListener('change', () => {
    applyDefaults(task());
    newModel();
  });
}
$('model').addEventListener('change', () => {
  showBasisSetting();
  newModel();
});
$('basis').addEventListener('change', newModel);
const preset = $<HTMLSelectElement>('preset');
for (const f of PRESET_FORMULAS) preset.append(new Option(f, f));
preset.append(new Option('(typed below)', ''));
preset.addEventListener('change', () => {
  if (preset.value === '') return;
  $<HTMLInputElement>('formula').value = preset.value;
  checkFormula();
  newModel();
});
$('formula').addEventListener('input', () => {
  preset.value = PRESET_FORMULAS.includes($<HTMLInputElement>('formula').value) ? $<HTMLInputElement>('formula').value : '';
  checkFormula();
});
$('formula').addEventListener('change', newModel);
$('new-model').addEventListener('click', newModel);
$('train').addEventListener('click', () => {
  clearError();
  send({ type: view.state === 'training' ? 'pause' : 'train' });
});
$('stop').addEventListener('click', () => send({ type: 'stop' }));
$('evaluate').addEventListener('click', () => {
  clearError();
  try {
    send({ type: 'evaluate', testImages: readSetup().testImages });
  } catch (error) {
    showError((error as Error).message);
  }
});
$('save').addEventListener('click', () => send({ type: 'save' }));
$('load').addEventListener('change', async () => {
  const input = $<HTMLInputElement>('load');
  const file = input.files?.[0];
  input.value = '';
  if (!file) return;
  clearError();
  try {
    const setup = readSetup();
    const bytes = new Uint8Array(await file.arrayBuffer());
    send({ type: 'load', bytes, fileName: file.name, setup }, [bytes.buffer]);
  } catch (error) {
    showError((error as Error).message);
  }
});
$('backend').addEventListener('change', () => {
  clearError();
  wantedBackend = $<HTMLSelectElement>('backend').value as BackendChoice;
  send({ type: 'start-backend', backend: wantedBackend, digitsUrl: digitsUrl() });
  classifier.setBackend(wantedBackend);
});
$('clear-pad').addEventListener('click', () => {
  pad.clear();
  predictDrawing();
  $('prediction').textContent = '–';
  drawBars($('probabilities'), new Float32Array(10));
});

function digitsUrl(): string {
  return new URL('mnist-digits.bin', document.baseURI).href;
}

/** ?backend=cpu starts on the CPU (WebGPU is the default). */
const requested = new URLSearchParams(location.search).get('backend') === 'cpu' ? 'cpu' : 'webgpu';
/** What the user asked for: the selector shows the CPU after a fallback, but the classifier tries WebGPU itself. */
let wantedBackend: BackendChoice = requested;
// The classifier follows the page's backend choice (its worker starts on first use).
const classifier = initClassifier({ view, showError, backendChoice: () => wantedBackend });
applyDefaults('digits');
showBasisSetting();
checkFormula();
predictDrawing();
updateButtons();
drawBars($('probabilities'), new Float32Array(10));
send({ type: 'start-backend', backend: requested, digitsUrl: digitsUrl() });
newModel();
