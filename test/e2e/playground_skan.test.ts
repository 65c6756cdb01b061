// The playground's S-KAN basis (kan-mlp, basis select:...) end to end: the
// built page in Debian's chromium. A short run goes through phase 1 (every
// space trains, the temperature anneals) and the choice (each node keeps its
// best space), step for step like the library's phases in Node on the cpu
// backend; the panels name each node's space; the saved checkpoint is the
// pruned model, which `kat info` reads and the page loads back with the same
// results. On the page's CPU backend (WebAssembly): SwiftShader takes about
// 30 s a step of this 5.6M-parameter model, so WebGPU gets a 2-step run of
// its own. Screenshots go to test/e2e/screenshots/.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { copyImages, type ImageDataset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { decodeCheckpoint } from '../../src/models/checkpoint.js';
import type { KanMlp, KanMlpConfig } from '../../src/models/kan_mlp.js';
import { buildModel, modelSpec } from '../../src/models/registry.js';
import { tensor } from '../../src/ops/creation.js';
import type { SelectSpace } from '../../src/nn/select_kan.js';
import { setBackend } from '../../src/tensor/engine.js';
import { selectionHook } from '../../src/train/select_phases.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel } from '../../src/train/trainer.js';
import { SPACE_COLOURS } from '../../src/viz/select_plot.js';
import { ROOT, consoleErrors, openPage, screenshot, startSession, type Session, pageView as sharedPageView, waitForTraining } from './browser.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const POOL: SelectSpace[] = ['rational', 'bspline', 'rbf', 'cheby'];
const BASIS = `select:${POOL.join(',')}`;

/** The parts of window.katPlayground read here. */
interface PageView {
  backend: { name: string; fallback: string | null } | null;
  activationStep: number;
  model: { model: string; summary: string; parameters: number; fromFile: string | null; setup: Record<string, unknown> } | null;
  state: string;
  steps: { step: number; loss: number }[];
  epochs: { testLoss: number; testAccuracy: number | null }[];
  activations: unknown[];
  select: {
    phase: string; spaces: string[]; temperature: number; chosenAt: number | null; plan: string;
    layers: { name: string; inputs: number; outputs: number; counts: Record<string, number>; nodes: { input: number; spaces: string[]; weights: number[] }[] }[];
  } | null;
  evaluation: { loss: number; accuracy: number | null; images: number } | null;
  errors: string[];
}

const pageView = (page: Page) => sharedPageView<PageView>(page);
const waitFor = waitForTraining;

/** Every S-KAN panel's label text, its colour (rgb(...)) and the spaces it stands for. */
function panelLabels(page: Page): Promise<{ text: string; colour: string; spaces: string }[]> {
  return page.$$eval('#activations figcaption.space', (labels) => labels.map((l) => ({
    text: l.textContent ?? '', colour: getComputedStyle(l).color, spaces: (l as HTMLElement).dataset.spaces ?? '',
  })));
}

function rgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

function firstImages(dataset: ImageDataset, count: number): ImageDataset {
  const per = dataset.channels * dataset.height * dataset.width;
  return { ...dataset, count, images: dataset.images.subarray(0, count * per), labels: dataset.labels.subarray(0, count) };
}

describe('the playground\'s S-KAN basis', { timeout: 600_000 }, () => {
  let session: Session;
  let page: Page;
  const work = mkdtempSync(join(tmpdir(), 'katjs-e2e-skan-'));
  const settings = { epochs: 1, batchSize: 16, lr: 5e-3, warmup: 0, seed: 5, maxSteps: 6, testImages: 64 };
  let labelsChosen: string[] = [];
  let evaluated: { loss: number; accuracy: number | null } | null = null;

  before(async () => {
    session = await startSession();
    await setBackend('cpu');
  });

  after(async () => {
    await session?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('offers S-KAN for kan-mlp: the panels name each node\'s leading space and weight, in its colour', async () => {
    page = await openPage(session, '?backend=cpu');
    assert.equal((await pageView(page)).backend?.name, 'cpu');
    await configure(page, settings);
    const view = await pageView(page);
    assert.match(view.model!.summary, /^kan-mlp \(select basis, 784 inputs/);
    assert.deepEqual(view.activations, []);
    assert.equal(view.select!.phase, 'choosing');
    assert.deepEqual(view.select!.spaces, POOL);
    assert.deepEqual(view.select!.layers.map((l) => [l.name, l.inputs, l.outputs]), [['layers.0', 784, 256], ['layers.1', 256, 128], ['layers.2', 128, 10]]);
    assert.equal(await page.locator('#activations canvas').count(), 3 * 8);
    assert.match((await page.textContent('#select-summary'))!, /choosing among rational, bspline, rbf, cheby/);
    const labels = await panelLabels(page);
    assert.equal(labels.length, 24);
    for (const label of labels) {
      // Before the choice: the leading space (all four at 0.25 to start) and its weight.
      const match = /^(\w+) (0\.\d\d|1\.00)$/.exec(label.text);
      assert.ok(match && POOL.includes(match[1] as SelectSpace), `label '${label.text}'`);
      assert.equal(label.spaces, POOL.join(','), 'every space still has weight');
      assert.equal(label.colour, rgb(SPACE_COLOURS[match[1]!]!));
    }
    await screenshot(page, '08-skan-choosing');
  });

  it('trains through the choice step for step like the library\'s phases in Node; then each panel names its one kept space', async () => {
    await page.click('#train');
    await waitFor(page, "v.state === 'done'", 180_000, 'the S-KAN run');
    const view = await pageView(page);
    assert.deepEqual(view.errors, []);
    assert.equal(view.steps.length, settings.maxSteps);
    const select = view.select!;
    assert.equal(select.phase, 'chosen');
    // A run of 6 steps (one epoch cut short): phase 1 is steps 1-3, the nodes choose before step 4.
    assert.equal(select.chosenAt, 3);
    assert.match(select.plan, /^phase 1, steps 1–3: every space trains, temperature 1 → 0\.05; from step 4: each node keeps its best space$/);
    for (const layer of select.layers) {
      const total = Object.values(layer.counts).reduce((a, b) => a + b, 0);
      assert.equal(total, layer.inputs, `${layer.name}: ${JSON.stringify(layer.counts)}`);
      for (const space of Object.keys(layer.counts)) assert.ok(POOL.includes(space as SelectSpace), space);
      for (const node of layer.nodes) assert.deepEqual(node.weights, [1], `${layer.name} node ${node.input}: ${node.spaces} ${node.weights}`);
    }
    const labels = await panelLabels(page);
    assert.equal(labels.length, 24);
    for (const label of labels) {
      const match = /^(\w+)$/.exec(label.text);
      assert.ok(match && POOL.includes(match[1] as SelectSpace), `label '${label.text}' names one space of the pool`);
      assert.equal(label.spaces, match[1], 'the node kept exactly one space');
      assert.equal(label.colour, rgb(SPACE_COLOURS[match[1]!]!));
    }
    labelsChosen = labels.map((l) => l.spaces);
    assert.match((await page.textContent('#select-summary'))!, /each node kept its best space after step 3/);
    // Clicking a panel names its node and kept space.
    await page.locator('#activations canvas >> nth=9').click();
    assert.match((await page.textContent('#formula-view'))!, /layers\.1, node \d+, its strongest edge \(to output \d+\).*kept: \w+/);
    await screenshot(page, '09-skan-chosen');

    await compareWithNode(view, settings, 3, 'page (cpu)');
  });

  it('saves the pruned model (kat info reads it) and loads it back: same results, each panel its kept space', async () => {
    await page.click('#evaluate');
    await waitFor(page, 'v.evaluation !== null', 120_000, 'the evaluation');
    const before = (await pageView(page)).evaluation!;
    evaluated = before;
    const parametersBefore = (await pageView(page)).model!.parameters;
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const file = join(work, 'skan.safetensors');
    await download.saveAs(file);
    assert.equal(download.suggestedFilename(), 'kan-mlp.safetensors');

    const loaded = decodeCheckpoint(new Uint8Array(readFileSync(file)), file);
    const config = loaded.spec.config as KanMlpConfig;
    assert.equal(config.basis, 'select');
    assert.deepEqual(config.select!.spaces, POOL);
    assert.equal(config.select!.inputs?.length, 3, 'the saved model is pruned');
    assert.equal(loaded.info.pruned_from, String(parametersBefore));
    const prunedParameters = loaded.model.parameterCount();
    assert.ok(prunedParameters < parametersBefore / 2, `pruned ${prunedParameters} of ${parametersBefore}`);
    const nodeEval = await evaluate(loaded.model, firstImages(loadMnist().test, settings.testImages));
    assert.ok(Math.abs(nodeEval.loss - before.loss) <= 1e-4 * before.loss, `pruned in Node ${nodeEval.loss}, page before saving ${before.loss}`);
    loaded.model.dispose();
    const info = JSON.parse((await run(process.execPath, [CLI, 'info', '--checkpoint', file, '--json'])).stdout) as { model: string; info: Record<string, string> };
    assert.equal(info.model, 'kan-mlp');
    assert.equal(info.info.source, 'katjs web playground');

    await page.setInputFiles('#load', { name: 'skan.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(file) });
    await waitFor(page, "v.model && v.model.fromFile === 'skan.safetensors' && v.select !== null && v.select.phase === 'pruned'", 120_000,
      'the loaded S-KAN checkpoint');
    const view = await pageView(page);
    assert.equal(view.select!.phase, 'pruned');
    assert.equal(await page.inputValue('#basis'), BASIS);
    assert.equal(view.model!.parameters, prunedParameters);
    const labels = await panelLabels(page);
    assert.deepEqual(labels.map((l) => l.spaces), labelsChosen, 'the same nodes with the same kept spaces');
    for (const label of labels) assert.equal(label.text, label.spaces);
    assert.match((await page.textContent('#select-summary'))!, /pruned/);
    await page.click('#evaluate');
    await waitFor(page, "v.evaluation !== null && v.model.fromFile === 'skan.safetensors'", 120_000, 'the evaluation of the loaded model');
    const again = (await pageView(page)).evaluation!;
    assert.ok(Math.abs(again.loss - evaluated.loss) <= 1e-4 * evaluated.loss && Math.abs(again.accuracy! - evaluated.accuracy!) <= 1 / 64 + 1e-9,
      `loaded: ${JSON.stringify(again)}, before saving: ${JSON.stringify(evaluated)}`);
    await screenshot(page, '10-skan-loaded');
    assert.deepEqual(consoleErrors(page), [], 'the page logged errors');
    await page.close();
  });

  it('on WebGPU (SwiftShader here): 2 steps, the nodes choosing after the first, like the library in Node', async () => {
    const gpu = await openPage(session);
    assert.equal((await pageView(gpu)).backend?.name, 'webgpu');
    const short = { ...settings, maxSteps: 2, testImages: 16 };
    await configure(gpu, short);
    assert.equal((await pageView(gpu)).select!.phase, 'choosing');
    await gpu.click('#train');
    await waitFor(gpu, "v.state === 'done' && v.activationStep === 2", 420_000, 'the S-KAN run on WebGPU');
    const view = await pageView(gpu);
    assert.deepEqual(view.errors, []);
    assert.equal(view.select!.phase, 'chosen');
    assert.equal(view.select!.chosenAt, 1);
    for (const label of await panelLabels(gpu)) {
      assert.ok(POOL.includes(label.spaces as SelectSpace) && label.text === label.spaces, `label '${label.text}' (${label.spaces})`);
    }
    await compareWithNode(view, short, 1, 'page (WebGPU)');
    await screenshot(gpu, '11-skan-webgpu');
    assert.deepEqual(consoleErrors(gpu), [], 'the page logged errors');
    await gpu.close();
  });
});

interface RunSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  warmup: number;
  seed: number;
  maxSteps: number;
  testImages: number;
}

/** Picks kan-mlp on the S-KAN basis with these settings and waits for the model and its first panels. */
async function configure(page: Page, s: RunSettings): Promise<void> {
  // The settings first: choosing the model and the basis then builds the model with them (one S-KAN build, slow on SwiftShader).
  const fields: [string, number][] = [['#epochs', s.epochs], ['#batch-size', s.batchSize], ['#lr', s.lr], ['#warmup', s.warmup], ['#seed', s.seed],
    ['#max-steps', s.maxSteps], ['#test-images', s.testImages]];
  for (const [selector, value] of fields) await page.fill(selector, String(value));
  await page.selectOption('#model', 'kan-mlp');
  assert.equal(await page.isVisible('#basis'), true);
  const options = await page.$$eval('#basis option', (os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.ok(options.includes(BASIS) && options.includes('select'), `basis options ${options.join(' | ')}`);
  await page.selectOption('#basis', BASIS);
  await page.waitForFunction((w) => {
    const v = (window as any).katPlayground;
    return v.model?.setup.basis === w.basis && v.model.setup.maxSteps === w.maxSteps && v.model.setup.seed === w.seed && v.select !== null &&
      v.state === 'idle';
  }, { basis: BASIS, maxSteps: s.maxSteps, seed: s.seed }, { timeout: 300_000, polling: 200 });
}

/**
 * The same run in Node on the cpu backend with the phases the page runs
 * (selectionHook counted in steps, the choice after step `chooseAfter`):
 * about as many nodes keeping each space, and every loss within 1e-3, the
 * losses after the choice only on the same backend (page on the CPU): the
 * choice takes each node's largest weight, and float32 near-ties may fall
 * either way on WebGPU and the CPU, which changes the function a little.
 */
async function compareWithNode(view: PageView, s: RunSettings, chooseAfter: number, what: string): Promise<void> {
  const { train, test } = loadMnist();
  const model = buildModel(modelSpec('kan-mlp', { channels: 1, imageSize: 28, classes: 10, basis: 'select', select: { spaces: POOL, temperature: 1 } }),
    s.seed) as KanMlp;
  // The page ranks the spaces on 1,024 training digits spread over the set: the same rows here.
  const sampleCount = Math.min(1024, train.count);
  const rows = Array.from({ length: sampleCount }, (_, k) => Math.floor((k * train.count) / sampleCount));
  const hook = selectionHook(model, { chooseAfter, temperature: 1, keep: 1 }, undefined,
    () => tensor(copyImages(train, 0, sampleCount, rows), [sampleCount, train.channels * train.height * train.width]));
  await hook(1);
  const losses: number[] = [];
  await trainModel(model, train, firstImages(test, s.testImages), {
    ...DEFAULT_TRAIN_CONFIG, epochs: s.epochs, batchSize: s.batchSize, lr: s.lr, warmupEpochs: s.warmup, seed: s.seed,
  }, {
    onStep: async (e) => {
      losses.push(e.loss);
      await hook(losses.length + 1);
    },
    shouldStop: () => losses.length >= s.maxSteps,
  });
  const nodeCounts = (await model.spaceChoices()).map((layer) => {
    const counts: Record<string, number> = {};
    for (const node of layer) counts[node.spaces[0]!] = (counts[node.spaces[0]!] ?? 0) + 1;
    return counts;
  });
  model.dispose();
  const select = view.select!;
  console.log(`# S-KAN ${BASIS}, ${s.maxSteps} steps: ${what} losses ${view.steps.map((x) => x.loss.toFixed(5)).join(' ')}, ` +
    `node (cpu) ${losses.map((l) => l.toFixed(5)).join(' ')}`);
  console.log(`# kept spaces per layer: ${what} ${JSON.stringify(select.layers.map((l) => l.counts))}, node ${JSON.stringify(nodeCounts)}`);
  assert.equal(losses.length, view.steps.length);
  const exact = view.backend?.name === 'cpu' ? view.steps.length : chooseAfter;
  view.steps.forEach((x, i) => {
    assert.ok(Number.isFinite(x.loss), `step ${i + 1}: ${what} loss ${x.loss}`);
    if (i < exact) assert.ok(Math.abs(x.loss - losses[i]!) <= 1e-3 * losses[i]!, `step ${i + 1}: ${what} loss ${x.loss}, node ${losses[i]}`);
  });
  select.layers.forEach((layer, l) => {
    for (const space of POOL) {
      const [a, b] = [layer.counts[space] ?? 0, nodeCounts[l]![space] ?? 0];
      // The same backend chooses the same; across backends, after a step or two of training, many weights are still near-ties.
      const slack = view.backend?.name === 'cpu' ? 0 : Math.max(3, 0.05 * layer.inputs);
      assert.ok(Math.abs(a - b) <= slack, `${layer.name} ${space}: ${what} ${a} nodes, node ${b}`);
    }
  });
}
