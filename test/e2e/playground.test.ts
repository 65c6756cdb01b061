// The playground end to end: the built page in Debian's chromium with WebGPU
// on SwiftShader. The page's numbers are checked against the library run in
// Node on the cpu backend (same data, seed and settings) and against the CLI,
// not against themselves. Screenshots go to test/e2e/screenshots/.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { loadMnist } from '../../src/data/mnist.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { decodeCheckpoint } from '../../src/models/checkpoint.js';
import { buildModel, modelSpec, type Model } from '../../src/models/registry.js';
import type { KanBasis } from '../../src/nn/kan_bases.js';
import { tensor } from '../../src/ops/creation.js';
import { softmax } from '../../src/ops/nn.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { setBackend } from '../../src/tensor/engine.js';
import { tidy } from '../../src/tensor/scope.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel, type TrainConfig } from '../../src/train/trainer.js';
import { groupCoefficients, rationalActivations, rationalFormula } from '../../src/viz/activations.js';
import { ROOT, consoleErrors, openPage, screenshot, startSession, type Session, pageView as sharedPageView, waitForTraining } from './browser.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** What the page exposes as window.katPlayground (the parts read here). */
interface PageView {
  backend: { name: string; description: string; fallback: string | null } | null;
  model: { model: string; summary: string; fromFile: string | null } | null;
  state: string;
  steps: { step: number; epoch: number; loss: number; accuracy: number | null }[];
  epochs: { epoch: number; trainLoss: number; testLoss: number; testAccuracy: number | null }[];
  activations: { name: string; groups: number; numerator: number[]; denominator: number[] }[];
  selected: { activation: number; group: number };
  digit: number[] | null;
  probabilities: number[] | null;
  evaluation: { loss: number; accuracy: number | null; images: number } | null;
  fit: { dims: number; side: number; target: number[]; fitted: number[] } | null;
  errors: string[];
  checkpoints: number;
}

const pageView = (page: Page) => sharedPageView<PageView>(page);
const waitFor = waitForTraining;

interface Settings {
  task?: 'digits' | 'fit';
  model?: string;
  /** kan-mlp's KAN basis (the page's #basis). */
  basis?: KanBasis;
  epochs: number;
  batchSize: number;
  lr: number;
  warmup: number;
  seed: number;
  maxSteps: number;
  testImages?: number;
  formula?: string;
}

/** Types the settings into the page and builds a new model with them. */
async function configure(page: Page, s: Settings): Promise<void> {
  if (s.task) await page.check(`input[name="task"][value="${s.task}"]`);
  if (s.model) await page.selectOption('#model', s.model);
  if (s.basis) await page.selectOption('#basis', s.basis);
  if (s.formula !== undefined) await page.fill('#formula', s.formula);
  const fields: [string, number | undefined][] = [
    ['#epochs', s.epochs], ['#batch-size', s.batchSize], ['#lr', s.lr], ['#warmup', s.warmup], ['#seed', s.seed],
    ['#max-steps', s.maxSteps], ['#test-images', s.testImages],
  ];
  for (const [selector, value] of fields) if (value !== undefined) await page.fill(selector, String(value));
  await page.click('#new-model');
  // Typing may build models on the way (a changed model or formula does): wait for the one with every setting.
  const want = { epochs: s.epochs, batchSize: s.batchSize, lr: s.lr, warmupEpochs: s.warmup, seed: s.seed, maxSteps: s.maxSteps,
    ...(s.basis ? { basis: s.basis } : {}) };
  await page.waitForFunction((w) => {
    const setup = (window as any).katPlayground.model?.setup;
    return setup && Object.entries(w).every(([k, v]) => setup[k] === v);
  }, want, { timeout: 60_000 });
}

/** The TrainConfig `kat train` builds from the same flags. */
function cliConfig(s: Settings): TrainConfig {
  return { ...DEFAULT_TRAIN_CONFIG, epochs: s.epochs, batchSize: s.batchSize, lr: s.lr, warmupEpochs: s.warmup, seed: s.seed };
}

function firstImages(dataset: ImageDataset, count: number): ImageDataset {
  const per = dataset.channels * dataset.height * dataset.width;
  return { ...dataset, count, images: dataset.images.subarray(0, count * per), labels: dataset.labels.subarray(0, count) };
}

/** Probabilities of one 28 x 28 digit (pixels in [0, 1]) under `model`, normalised as MNIST is. */
async function classify(model: Model, pixels: number[]): Promise<Float32Array> {
  const x = Float32Array.from(pixels, (p) => (p - 0.1307) / 0.3081);
  model.eval();
  const probabilities = noGrad(() => tidy(() => softmax(model.forward(tensor(x, [1, 1, 28, 28])), -1)));
  const values = await probabilities.data();
  probabilities.dispose();
  return values;
}

/** Draws strokes (lists of points in [0, 1] of the pad) with the mouse. */
async function draw(page: Page, strokes: [number, number][][]): Promise<void> {
  const box = (await page.locator('#pad').boundingBox())!;
  for (const stroke of strokes) {
    const [first, ...rest] = stroke;
    await page.mouse.move(box.x + first![0] * box.width, box.y + first![1] * box.height);
    await page.mouse.down();
    for (const [x, y] of rest) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 8 });
    await page.mouse.up();
  }
}

/** Pixels of a canvas close to an RGB colour (antialiasing blends the edges). */
async function countColour(page: Page, selector: string, hex: string): Promise<number> {
  return page.evaluate(([sel, colour]) => {
    const canvas = document.querySelector<HTMLCanvasElement>(sel)!;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const want = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i]! - want[0]!) + Math.abs(data[i + 1]! - want[1]!) + Math.abs(data[i + 2]! - want[2]!) < 60) n++;
    }
    return n;
  }, [selector, hex] as const);
}

describe('the browser playground', { timeout: 420_000 }, () => {
  let session: Session;
  let page: Page;
  const work = mkdtempSync(join(tmpdir(), 'katjs-e2e-'));

  before(async () => {
    session = await startSession();
    await setBackend('cpu');
  });

  after(async () => {
    await session?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('loads, on WebGPU (SwiftShader here), and shows every activation of kat-micro', async () => {
    page = await openPage(session);
    const view = await pageView(page);
    assert.equal(view.backend?.name, 'webgpu', `the page fell back: ${view.backend?.fallback}`);
    assert.match(await page.textContent('#backend-status') ?? '', /webgpu: WebGPU on/);
    assert.equal(view.model?.model, 'kat-micro');
    // 3 blocks x (act1, act2) x 8 groups.
    assert.deepEqual(view.activations.map((a) => a.name), ['blocks.0.mlp.act1', 'blocks.0.mlp.act2', 'blocks.1.mlp.act1',
      'blocks.1.mlp.act2', 'blocks.2.mlp.act1', 'blocks.2.mlp.act2']);
    assert.equal(await page.locator('#activations canvas').count(), 48);
    await screenshot(page, '01-loaded');
  });

  it('trains kat-micro on WebGPU step for step like kat train and the library on the cpu backend, through a pause', async () => {
    const settings: Settings = { task: 'digits', model: 'kat-micro', epochs: 1, batchSize: 16, lr: 5e-3, warmup: 0, seed: 3, maxSteps: 8, testImages: 64 };
    await configure(page, settings);
    await page.click('#train');
    await waitFor(page, 'v.steps.length >= 3', 120_000, 'three training steps');
    await page.click('#train'); // pause
    await waitFor(page, "v.state === 'paused'", 60_000, 'the pause');
    const pausedAt = (await pageView(page)).steps.length;
    await page.waitForTimeout(1500);
    assert.equal((await pageView(page)).steps.length, pausedAt, 'a step ran while paused');
    assert.equal(await page.textContent('#train'), 'Resume');
    await screenshot(page, '02-kat-micro-paused');
    await page.click('#train'); // resume
    await waitFor(page, "v.state === 'done'", 180_000, 'the end of the run');
    const view = await pageView(page);
    assert.deepEqual(view.errors, []);

    const { train, test } = loadMnist();
    const model = buildModel(modelSpec('kat-micro', { channels: 1, imageSize: 28, classes: 10 }), settings.seed);
    const steps: { loss: number; accuracy: number }[] = [];
    const result = await trainModel(model, train, firstImages(test, 64), cliConfig(settings), {
      onStep: (e) => { steps.push({ loss: e.loss, accuracy: e.accuracy! }); },
      shouldStop: () => steps.length >= settings.maxSteps,
    });
    model.dispose();
    assert.equal(view.steps.length, settings.maxSteps);
    view.steps.forEach((s, i) => {
      const node = steps[i]!;
      assert.ok(Math.abs(s.loss - node.loss) <= 1e-3 * node.loss, `step ${i + 1}: page loss ${s.loss}, node ${node.loss}`);
      assert.ok(Math.abs(s.accuracy! - node.accuracy) <= 1 / settings.batchSize + 1e-9, `step ${i + 1}: page accuracy ${s.accuracy}, node ${node.accuracy}`);
    });
    const epoch = view.epochs[0]!;
    const nodeEpoch = result.epochs[0]!;
    assert.ok(Math.abs(epoch.testLoss - nodeEpoch.test_loss) <= 1e-3 * nodeEpoch.test_loss, `test loss ${epoch.testLoss} vs ${nodeEpoch.test_loss}`);
    assert.ok(Math.abs(epoch.testAccuracy! - nodeEpoch.test_acc!) <= 1 / 64 + 1e-9, `test accuracy ${epoch.testAccuracy} vs ${nodeEpoch.test_acc}`);
    // The same run through the CLI (kat train --max-steps, step events in its JSON output).
    const cliDir = mkdtempSync(join(tmpdir(), 'katjs-e2e-cli-'));
    try {
      const cli = await run(process.execPath, [CLI, 'train', '--model', 'kat-micro', '--backend', 'cpu', '--epochs', String(settings.epochs),
        '--batch-size', String(settings.batchSize), '--lr', String(settings.lr), '--warmup', String(settings.warmup), '--seed',
        String(settings.seed), '--max-steps', String(settings.maxSteps), '--json', '--log-steps', '--out', join(cliDir, 'cli.safetensors')]);
      const cliSteps = cli.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; loss: number; accuracy: number })
        .filter((e) => e.event === 'step');
      assert.equal(cliSteps.length, settings.maxSteps);
      view.steps.forEach((s, i) => {
        const c = cliSteps[i]!;
        assert.ok(Math.abs(s.loss - c.loss) <= 1e-3 * c.loss, `step ${i + 1}: page loss ${s.loss}, kat train ${c.loss}`);
        assert.ok(Math.abs(s.accuracy! - c.accuracy) <= 1 / settings.batchSize + 1e-9, `step ${i + 1}: page accuracy ${s.accuracy}, kat train ${c.accuracy}`);
      });
      console.log(`# kat-micro, ${settings.maxSteps} steps: kat train (cpu) losses ${cliSteps.map((c) => c.loss.toFixed(5)).join(' ')}`);
    } finally {
      rmSync(cliDir, { recursive: true, force: true });
    }
    console.log(`# kat-micro, ${settings.maxSteps} steps: page (WebGPU) losses ${view.steps.map((s) => s.loss.toFixed(5)).join(' ')}`);
    console.log(`# kat-micro, ${settings.maxSteps} steps: node (cpu)    losses ${steps.map((s) => s.loss.toFixed(5)).join(' ')}`);
    console.log(`# test loss page ${epoch.testLoss.toFixed(5)} node ${nodeEpoch.test_loss.toFixed(5)}, accuracy page ${epoch.testAccuracy} node ${nodeEpoch.test_acc}`);
    await screenshot(page, '03-kat-micro-trained');
  });

  it('a short kan-mlp run lowers the loss, and its activation plots render and move off their initial shapes', async () => {
    await configure(page, { model: 'kan-mlp', epochs: 1, batchSize: 32, lr: 5e-3, warmup: 0, seed: 1, maxSteps: 25, testImages: 100 });
    await page.click('#train');
    await waitFor(page, "v.state === 'done'", 120_000, 'the kan-mlp run');
    const view = await pageView(page);
    const losses = view.steps.map((s) => s.loss);
    const late = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    assert.ok(late < 0.75 * losses[0]!, `loss went from ${losses[0]} to ${late} (mean of the last five)`);
    assert.equal(await page.locator('#activations canvas').count(), 3 * 8);
    // Every plot shows a learned curve; after training the initial one shows beside it somewhere.
    let withInitial = 0;
    for (let i = 0; i < 24; i++) {
      const selector = `#activations canvas >> nth=${i}`;
      const handle = await page.locator(selector).elementHandle();
      await handle!.evaluate((c) => c.setAttribute('data-probe', '1'));
      assert.ok(await countColour(page, 'canvas[data-probe]', '#d64545') > 30, `activation plot ${i} has no learned curve`);
      if (await countColour(page, 'canvas[data-probe]', '#9aa5b1') > 20) withInitial++;
      await handle!.evaluate((c) => c.removeAttribute('data-probe'));
    }
    assert.ok(withInitial >= 1, 'no plot shows the initial curve apart from the learned one');
    await screenshot(page, '04-kan-mlp-trained');
  });

  it('saves a checkpoint the CLI reads, and loads it back into a fresh page with the same results', async () => {
    // The formula of one clicked activation, to compare with the file's coefficients.
    await page.locator('#activations canvas >> nth=11').click(); // layers.1.act, group 3
    const formulaShown = (await page.textContent('#formula-text'))!;
    await page.click('#evaluate');
    await waitFor(page, 'v.evaluation !== null', 60_000, 'the evaluation');
    const before = (await pageView(page)).evaluation!;
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const file = join(work, download.suggestedFilename());
    await download.saveAs(file);
    assert.equal(download.suggestedFilename(), 'kan-mlp.safetensors');

    // Node reads it: the formula the page showed, and the accuracy it measured.
    const loaded = decodeCheckpoint(new Uint8Array(readFileSync(file)), file);
    const acts = await rationalActivations(loaded.model);
    const act = acts.find((a) => a.name === 'layers.1.act')!;
    const { numerator, denominator } = groupCoefficients(act, 3);
    assert.equal(formulaShown, `F(x) = ${rationalFormula(numerator, denominator, { digits: 6 }).text}`);
    const nodeEval = await evaluate(loaded.model, firstImages(loadMnist().test, 100));
    assert.equal(before.images, 100);
    assert.ok(Math.abs(before.accuracy! - nodeEval.accuracy!) <= 1 / 100 + 1e-9, `page accuracy ${before.accuracy}, node ${nodeEval.accuracy}`);
    assert.ok(Math.abs(before.loss - nodeEval.loss) <= 1e-4 * nodeEval.loss, `page loss ${before.loss}, node ${nodeEval.loss}`);
    loaded.model.dispose();

    // The CLI reads it too.
    const info = await run(process.execPath, [CLI, 'info', '--checkpoint', file, '--json']);
    const parsed = JSON.parse(info.stdout) as { model: string; info: Record<string, string> };
    assert.equal(parsed.model, 'kan-mlp');
    assert.equal(parsed.info.source, 'katjs web playground');

    // A fresh page refuses a damaged file, naming it, then loads the real one and measures the same.
    const fresh = await openPage(session);
    await fresh.setInputFiles('#load', { name: 'damaged.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(file).subarray(0, 100) });
    await waitFor(fresh, 'v.errors.length > 0', 30_000, 'the error about the damaged file');
    assert.match((await fresh.textContent('#error'))!, /damaged\.safetensors/);
    assert.equal((await pageView(fresh)).model?.model, 'kat-micro', 'a damaged file replaced the model');
    await fresh.fill('#test-images', '100');
    await fresh.setInputFiles('#load', file);
    await waitFor(fresh, "v.model && v.model.fromFile === 'kan-mlp.safetensors'", 60_000, 'the loaded checkpoint');
    await fresh.click('#evaluate');
    await waitFor(fresh, 'v.evaluation !== null', 60_000, 'the evaluation of the loaded model');
    const again = (await pageView(fresh)).evaluation!;
    assert.ok(Math.abs(again.accuracy! - before.accuracy!) <= 1e-9 && Math.abs(again.loss - before.loss) <= 1e-5 * before.loss,
      `reloaded: ${JSON.stringify(again)}, before saving: ${JSON.stringify(before)}`);
    await fresh.close();
  });

  it('loads a checkpoint written by `kat train`, reaches its accuracy, and predicts a drawn digit as Node does', async () => {
    const file = join(work, 'cli-kan-mlp.safetensors');
    const trained = await run(process.execPath, [CLI, 'train', '--model', 'kan-mlp', '--epochs', '1', '--backend', 'cpu', '--seed', '2',
      '--out', file, '--json'], { env: { ...process.env, KATJS_THREADS: '1' }, timeout: 180_000 });
    const done = trained.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; test_acc?: number }).find((e) => e.event === 'done')!;
    assert.ok(done.test_acc! > 0.8, `kat train reached only ${done.test_acc}`);

    await page.fill('#test-images', '0');
    await page.setInputFiles('#load', file);
    await waitFor(page, "v.model && v.model.fromFile === 'cli-kan-mlp.safetensors'", 60_000, 'the CLI checkpoint');
    await page.click('#evaluate');
    await waitFor(page, 'v.evaluation !== null && v.evaluation.images === 2000', 120_000, 'the evaluation on all 2,000 test images');
    const evaluation = (await pageView(page)).evaluation!;
    assert.ok(Math.abs(evaluation.accuracy! - done.test_acc!) <= 1 / 2000 + 1e-9, `page ${evaluation.accuracy}, kat train ${done.test_acc}`);

    // A one: a slightly slanted vertical stroke.
    await draw(page, [[[0.55, 0.15], [0.5, 0.5], [0.45, 0.85]]]);
    await waitFor(page, 'v.probabilities !== null', 60_000, 'the prediction');
    const view = await pageView(page);
    const probabilities = view.probabilities!;
    assert.equal(probabilities.length, 10);
    assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    const best = probabilities.indexOf(Math.max(...probabilities));
    assert.match((await page.textContent('#prediction'))!, new RegExp(`^${best} \\(`));
    const loaded = decodeCheckpoint(new Uint8Array(readFileSync(file)), file);
    const node = await classify(loaded.model, Array.from(view.digit!));
    loaded.model.dispose();
    node.forEach((p, i) => assert.ok(Math.abs(p - probabilities[i]!) < 1e-4, `class ${i}: page ${probabilities[i]}, node ${p}`));
    assert.equal(best, 1, `the drawn one was read as ${best} (${probabilities.map((p) => p.toFixed(3)).join(' ')})`);
    await screenshot(page, '05-drawn-digit');
  });

  it('kan-mlp on the B-spline, RBF, AF-KAN and ReLU-KAN bases: a few steps on WebGPU, step for step like the library on the cpu backend', async () => {
    const { train, test } = loadMnist();
    for (const basis of ['bspline', 'rbf', 'af', 'relu'] as const) {
      const settings: Settings = { model: 'kan-mlp', basis, epochs: 1, batchSize: 16, lr: 1e-3, warmup: 0, seed: 4, maxSteps: 3, testImages: 16 };
      await configure(page, settings);
      assert.equal(await page.isVisible('#basis'), true);
      assert.match((await pageView(page)).model!.summary, new RegExp(`^kan-mlp \\(${basis} basis, 784 inputs`));
      // No rational activations to plot: the panel says so.
      assert.equal(await page.locator('#activations canvas').count(), 0);
      assert.match((await page.textContent('#no-activations'))!, /has no rational activations to plot/);
      await page.click('#train');
      await waitFor(page, "v.state === 'done'", 120_000, `the ${basis} run`);
      const view = await pageView(page);
      assert.deepEqual(view.errors, []);
      assert.equal(view.steps.length, settings.maxSteps);
      assert.ok(view.epochs.length === 1 && Number.isFinite(view.epochs[0]!.testLoss), `${basis}: test loss ${view.epochs[0]?.testLoss}`);

      const model = buildModel(modelSpec('kan-mlp', { channels: 1, imageSize: 28, classes: 10, basis }), settings.seed);
      const losses: number[] = [];
      await trainModel(model, train, firstImages(test, 16), cliConfig(settings), {
        onStep: (e) => { losses.push(e.loss); },
        shouldStop: () => losses.length >= settings.maxSteps,
      });
      model.dispose();
      view.steps.forEach((s, i) => {
        assert.ok(Number.isFinite(s.loss), `${basis} step ${i + 1}: loss ${s.loss}`);
        assert.ok(Math.abs(s.loss - losses[i]!) <= 1e-3 * losses[i]!, `${basis} step ${i + 1}: page loss ${s.loss}, node ${losses[i]}`);
      });
      console.log(`# kan-mlp ${basis}, ${settings.maxSteps} steps: page (WebGPU) losses ${view.steps.map((s) => s.loss.toFixed(5)).join(' ')}, ` +
        `node (cpu) ${losses.map((l) => l.toFixed(5)).join(' ')}`);
    }
    await screenshot(page, '05b-kan-mlp-relu-basis');
    // Back to kat-micro: the basis choice hides (kat-micro's KAN layers are group-rational).
    await page.selectOption('#model', 'kat-micro');
    assert.equal(await page.isVisible('#basis'), false);
  });

  it('without WebGPU says clearly that it trains on the CPU, and does', async () => {
    const context = await session.launch(['--no-sandbox', '--disable-dev-shm-usage', '--disable-features=WebGPU,Vulkan']);
    const cpuPage = await openPage(session, '', context);
    const view = await pageView(cpuPage);
    assert.equal(view.backend?.name, 'cpu');
    assert.match(view.backend?.fallback ?? '', /WebGPU could not start \(.+\): training on the CPU instead/);
    assert.match((await cpuPage.textContent('#backend-status'))!, /^CPU fallback: WebGPU could not start/);
    await configure(cpuPage, { model: 'kan-mlp', epochs: 1, batchSize: 32, lr: 5e-3, warmup: 0, seed: 1, maxSteps: 5, testImages: 50 });
    await cpuPage.click('#train');
    await waitFor(cpuPage, "v.state === 'done'", 60_000, 'training on the CPU');
    assert.equal((await pageView(cpuPage)).steps.length, 5);
    await screenshot(cpuPage, '07-cpu-fallback');
    assert.deepEqual(consoleErrors(cpuPage), [], 'the page logged errors');
    await cpuPage.close();
  });

  it('fits sin(x)·exp(-y²): the loss falls, the target and the fit are drawn side by side; a bad formula is named', async () => {
    await page.check('input[name="task"][value="fit"]');
    await page.fill('#formula', 'sin(x) + q');
    await page.dispatchEvent('#formula', 'input');
    assert.match((await page.textContent('#formula-error'))!, /unknown name 'q' at column 10/);
    await configure(page, { epochs: 60, batchSize: 128, lr: 0.02, warmup: 0, seed: 0, maxSteps: 60, formula: 'sin(x)*exp(-y^2)' });
    await page.click('#train');
    await waitFor(page, "v.state === 'done'", 120_000, 'the fit');
    const view = await pageView(page);
    assert.equal(view.fit?.dims, 2);
    // The page's target is the formula itself, evaluated here independently.
    const side = view.fit!.side;
    for (const [row, col] of [[0, 0], [5, 17], [side - 1, side - 3]] as const) {
      const x = -2 + (4 * col) / (side - 1);
      const y = -2 + (4 * row) / (side - 1);
      assert.ok(Math.abs(view.fit!.target[row * side + col]! - Math.sin(x) * Math.exp(-y * y)) < 1e-6);
    }
    const losses = view.steps.map((s) => s.loss);
    assert.ok(losses[losses.length - 1]! < 0.5 * losses[0]!, `MSE went from ${losses[0]} to ${losses[losses.length - 1]}`);
    // Both heatmaps hold a range of colours, not a blank canvas.
    for (const id of ['#fit-target', '#fit-fitted']) {
      const distinct = await page.evaluate((sel) => {
        const c = document.querySelector<HTMLCanvasElement>(sel)!;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        for (let i = 0; i < d.length; i += 4 * 97) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        return colours.size;
      }, id);
      assert.ok(distinct > 20, `${id} shows only ${distinct} colours`);
    }
    await screenshot(page, '06-function-fit');
    assert.deepEqual(consoleErrors(page), [], 'the page logged errors');
  });
});
