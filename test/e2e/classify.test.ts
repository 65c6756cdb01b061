// "Classify a photo" end to end: the built page in chromium (WebGPU on
// SwiftShader, and a browser without WebGPU for the CPU fallback) loads the
// timm hub fixture (picked files, and hf:owner/name from a local hub server)
// and classifies test/fixtures/images/chelsea.png. The page's numbers are
// checked against the library on Node's cpu backend and against PyTorch's
// (test/fixtures/expected.json), never against themselves.

import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { decodeImageExact } from '../../src/data/image_decode.js';
import { evalTransform } from '../../src/data/image_transforms.js';
import { parseHubConfig } from '../../src/io/hub_config.js';
import { loadPretrained } from '../../src/models/pretrained.js';
import { tensor } from '../../src/ops/creation.js';
import { softmax } from '../../src/ops/nn.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { setBackend } from '../../src/tensor/engine.js';
import { tidy } from '../../src/tensor/scope.js';
import { ROOT, SCREENSHOTS, consoleErrors, openPage, screenshot, startSession, type Session } from './browser.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const HUB = join(FIXTURES, 'torch', 'hub_kat_small32');
const WEIGHTS = join(HUB, 'pytorch_model.bin');
const CONFIG = join(HUB, 'config.json');
/** The weights expected.json's `logits` and `logits_32` were computed with (its README names kat_small32.pth, but they are these). */
const TRAIN_CHECKPOINT = join(FIXTURES, 'torch', 'kat_small32_train_checkpoint.pth.tar');
const PHOTO = join(FIXTURES, 'images', 'chelsea.png');
const JPEG = join(FIXTURES, 'images', 'chelsea_q90.jpg');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { logits_32: Record<string, number[]>; label_names: string[] };

/** What the page exposes as window.katPlayground (the parts read here). */
interface PageView {
  classify: {
    checkpoint: string | null; summary: string | null; labels: number; image: string | null; top: { label: string; probability: number }[];
    probabilities: number[]; logits: number[]; backend: string | null; milliseconds: number | null;
  } | null;
  classifier: { backend: { name: string; description: string; fallback: string | null } | null; loading: string | null };
  errors: string[];
}

async function pageView(page: Page): Promise<PageView> {
  const json = await page.evaluate(() => JSON.stringify((window as any).katPlayground, (_key, value) =>
    ArrayBuffer.isView(value) ? Array.from(value as unknown as number[]) : value));
  return JSON.parse(json) as PageView;
}

async function waitFor(page: Page, predicate: string, timeout: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(`(() => { const v = window.katPlayground; return ${predicate}; })()`, null, { timeout, polling: 200 });
  } catch (error) {
    const view = await pageView(page).catch(() => null);
    throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (${predicate}); classify ${JSON.stringify(view?.classify)}, ` +
      `errors ${JSON.stringify(view?.errors)}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** The page's classification of `image` with the checkpoint `checkpoint`, once it is there. */
async function waitForResult(page: Page, checkpoint: string, image: string, what: string): Promise<NonNullable<PageView['classify']>> {
  await waitFor(page, `v.classify && v.classify.checkpoint === ${JSON.stringify(checkpoint)} && v.classify.image === ${JSON.stringify(image)} ` +
    '&& v.classify.probabilities.length > 0', 180_000, what);
  return (await pageView(page)).classify!;
}

interface Reference {
  labels: string[];
  logits: Float32Array;
  probabilities: Float32Array;
}

/** The same computation in Node on the cpu backend: decodeImage (libjpeg-turbo loaded) -> evalTransform -> the model -> softmax. */
async function nodeClassify(weightsFile: string, weights: 'default' | 'ema' = 'default', photo = PHOTO): Promise<Reference> {
  const config = parseHubConfig(readFileSync(CONFIG, 'utf8'), CONFIG);
  const pretrained = loadPretrained(new Uint8Array(readFileSync(weightsFile)), weightsFile, { config, weights });
  try {
    const input = evalTransform(await decodeImageExact(new Uint8Array(readFileSync(photo)), photo), pretrained.preprocess);
    pretrained.model.eval();
    const [c, h, w] = pretrained.preprocess.inputSize;
    const [logits, probabilities] = noGrad(() => tidy(() => {
      const out = pretrained.model.forward(tensor(input, [1, c, h, w]));
      return [out, softmax(out, -1)];
    }));
    const result = { labels: pretrained.labels, logits: await logits.data(), probabilities: await probabilities.data() };
    logits.dispose();
    probabilities.dispose();
    return result;
  } finally {
    pretrained.model.dispose();
  }
}

const maxAbs = (values: ArrayLike<number>) => Math.max(...Array.from(values, Math.abs));

/** Largest |a - b| relative to max |b|. */
function relativeToScale(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const scale = maxAbs(b);
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

/** Largest elementwise |a - b| / |b|. */
function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!));
  return worst;
}

/** The page agrees with Node: probabilities within 1e-4 relative each, logits within 1e-4 of max |logit|, the same top 5 in order. */
function assertMatchesNode(page: NonNullable<PageView['classify']>, node: Reference, what: string): void {
  assert.equal(page.probabilities.length, node.probabilities.length);
  assert.equal(page.logits.length, node.logits.length);
  const p = relative(page.probabilities, node.probabilities);
  const l = relativeToScale(page.logits, node.logits);
  assert.ok(p <= 1e-4, `${what}: probabilities differ from Node's by ${p.toExponential(2)} relative`);
  assert.ok(l <= 1e-4, `${what}: logits differ from Node's by ${l.toExponential(2)} of max |logit|`);
  const order = Array.from(node.probabilities, (q, i) => [q, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
  assert.deepEqual(page.top.map((t) => t.label), order.map(([, i]) => node.labels[i]), `${what}: top 5`);
  page.top.forEach((t, k) => assert.ok(Math.abs(t.probability - order[k]![0]) <= 1e-4 * order[k]![0], `${what}: top ${k + 1} probability`));
  console.log(`# ${what}: page (${page.backend}) vs node (cpu): probabilities ${p.toExponential(2)} relative, logits ${l.toExponential(2)} of max |logit|`);
}

/** The rows the panel shows: label and percentage text. */
async function shownRows(page: Page): Promise<{ label: string; value: string; width: string }[]> {
  return page.$$eval('#classify-top li', (rows) => rows.map((row) => ({
    label: row.querySelector('.label')!.textContent!, value: row.querySelector('.value')!.textContent!,
    width: (row.querySelector('.bar span') as HTMLElement).style.width,
  })));
}

/** A local stand-in for the Hugging Face hub: /<owner>/<name>/resolve/<revision>/<file>, with CORS as the hub sends it. */
function startHub(repos: Record<string, string>): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? '');
    response.setHeader('Access-Control-Allow-Origin', '*');
    const match = /^\/([^/]+\/[^/]+)\/resolve\/main\/([A-Za-z0-9._-]+)$/.exec(request.url ?? '');
    const folder = match ? repos[match[1]!] : undefined;
    const file = folder && join(folder, match![2]!);
    if (!file || !existsSync(file)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Entry not found');
      return;
    }
    const body = readFileSync(file);
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests });
  }));
}

describe('the playground classifies a photo', { timeout: 600_000 }, () => {
  let session: Session;
  let hub: Awaited<ReturnType<typeof startHub>>;
  let node: Reference;

  before(async () => {
    session = await startSession();
    hub = await startHub({ 'katjs-test/kat_small32': HUB });
    await setBackend('cpu');
    node = await nodeClassify(WEIGHTS);
  });

  after(async () => {
    await session?.close();
    await new Promise((resolve) => hub?.server.close(resolve));
  });

  it('picked files (pytorch_model.bin + config.json) on WebGPU: the top 5 and every probability as Node computes them', async () => {
    const page = await openPage(session);
    await page.setInputFiles('#classify-files', [WEIGHTS, CONFIG]);
    await waitFor(page, "v.classify && v.classify.checkpoint === 'pytorch_model.bin'", 120_000, 'the checkpoint');
    let view = await pageView(page);
    assert.equal(view.classify!.labels, 10);
    assert.equal(view.classify!.image, null);
    assert.match((await page.textContent('#classify-model'))!, /^pytorch_model\.bin: kat-\S+ \(dim 48, depth 2, heads 3, patch 8, .*10 classes\), [\d,]+ parameters; labels from config\.json; input 32 × 32, bicubic, crop 0\.875/);
    await page.setInputFiles('#classify-image', PHOTO);
    const result = await waitForResult(page, 'pytorch_model.bin', 'chelsea.png', 'the classification');
    view = await pageView(page);
    assert.equal(view.classifier.backend?.name, 'webgpu', `the classifier fell back: ${view.classifier.backend?.fallback}`);
    assert.equal(result.backend, 'webgpu');
    assert.deepEqual(view.errors, []);
    assertMatchesNode(result, node, 'hub pytorch_model.bin, chelsea.png');
    assert.ok(Math.abs(result.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);

    // What the panel shows: five rows, best first, each label with its percentage and a bar of that width.
    const rows = await shownRows(page);
    assert.equal(rows.length, 5);
    rows.forEach((row, k) => {
      assert.equal(row.label, result.top[k]!.label);
      assert.equal(row.value, `${(result.top[k]!.probability * 100).toFixed(1)}%`);
      assert.equal(row.width, `${(result.top[k]!.probability * 100).toFixed(2)}%`);
    });
    assert.match((await page.textContent('#classify-summary'))!, /^chelsea\.png \(451 × 300\): top 5 of 10 classes, webgpu, \d+ ms$/);
    assert.match((await page.textContent('#classify-backend'))!, /^classifying on webgpu: WebGPU on/);
    // The model's input, drawn de-normalised: a 32 x 32 picture, not a blank canvas.
    const colours = await page.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>('#classify-input')!;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const set = new Set<number>();
      for (let i = 0; i < d.length; i += 4) set.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return { width: c.width, height: c.height, distinct: set.size };
    });
    assert.deepEqual([colours.width, colours.height], [32, 32]);
    assert.ok(colours.distinct > 200, `the model's input shows only ${colours.distinct} colours`);
    console.log(`# hub pytorch_model.bin, chelsea.png: top 5 ${result.top.map((t) => `${t.label} ${t.probability.toFixed(5)}`).join(', ')}`);
    console.log(`# page (webgpu) logits ${result.logits.map((v) => v.toFixed(6)).join(' ')}`);
    console.log(`# node (cpu)    logits ${Array.from(node.logits, (v) => v.toFixed(6)).join(' ')}`);
    await screenshot(page, '08-classify-photo');
    await page.locator('#classify').screenshot({ path: join(SCREENSHOTS, '08-classify-panel.png') });

    // Mistakes are named and leave the loaded model in place.
    await page.setInputFiles('#classify-files', CONFIG);
    await waitFor(page, 'v.errors.length >= 1', 30_000, 'the error about a config without weights');
    assert.match((await page.textContent('#classify-error'))!, /^no weights among config\.json/);
    await page.setInputFiles('#classify-files', { name: 'damaged.bin', mimeType: 'application/octet-stream', buffer: readFileSync(WEIGHTS).subarray(0, 1000) });
    await waitFor(page, 'v.errors.length >= 2', 60_000, 'the error about the damaged checkpoint');
    assert.match((await page.textContent('#classify-error'))!, /damaged\.bin/);
    await page.setInputFiles('#classify-image', join(FIXTURES, 'images', 'truncated.jpg'));
    await waitFor(page, 'v.errors.length >= 3', 60_000, 'the error about the truncated photo');
    assert.match((await page.textContent('#classify-error'))!, /truncated\.jpg/);
    view = await pageView(page);
    assert.equal(view.classify!.checkpoint, 'pytorch_model.bin', 'a failed load replaced the model');
    assert.deepEqual(consoleErrors(page), [], 'the page logged errors');
    await page.close();
  });

  it("the training checkpoint (.pth.tar) gives PyTorch's logits of expected.json, and its EMA weights Node's", async () => {
    const page = await openPage(session);
    // The photo first: it is classified as soon as the checkpoint is in.
    await page.setInputFiles('#classify-image', PHOTO);
    await page.setInputFiles('#classify-files', [CONFIG, TRAIN_CHECKPOINT]);
    const result = await waitForResult(page, 'kat_small32_train_checkpoint.pth.tar', 'chelsea.png', 'the training checkpoint');
    assert.equal(result.backend, 'webgpu');
    const torch = expected.logits_32['chelsea.png']!;
    const vsTorch = relativeToScale(result.logits, torch);
    assert.ok(vsTorch <= 1e-4, `page logits vs expected.json logits_32: ${vsTorch.toExponential(2)} of max |logit|`);
    assert.deepEqual(result.top.map((t) => t.label), Array.from(torch, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5)
      .map(([, i]) => expected.label_names[i]));
    const train = await nodeClassify(TRAIN_CHECKPOINT);
    assertMatchesNode(result, train, 'train checkpoint, chelsea.png');
    console.log(`# train checkpoint, chelsea.png: page vs expected.json logits_32 ${vsTorch.toExponential(2)} of max |logit|, ` +
      `node vs expected.json ${relativeToScale(train.logits, torch).toExponential(2)}`);
    console.log(`# page (webgpu) logits ${result.logits.map((v) => v.toFixed(6)).join(' ')}`);
    console.log(`# expected.json logits ${torch.map((v) => v.toFixed(6)).join(' ')}`);
    // The hub folder's weights are not those logits_32 were made with (a fact of the fixtures).
    console.log(`# hub pytorch_model.bin (node) vs expected.json logits_32: ${relativeToScale(node.logits, torch).toExponential(2)} of max |logit|`);

    // A JPEG: decoded as PIL does (libjpeg-turbo in WebAssembly, in the page's worker too).
    await page.setInputFiles('#classify-image', JPEG);
    const jpeg = await waitForResult(page, 'kat_small32_train_checkpoint.pth.tar', 'chelsea_q90.jpg', 'the JPEG\'s classification');
    const torchJpeg = expected.logits_32['chelsea_q90.jpg']!;
    const jpegVsTorch = relativeToScale(jpeg.logits, torchJpeg);
    assert.ok(jpegVsTorch <= 1e-4, `page logits vs expected.json logits_32 of chelsea_q90.jpg: ${jpegVsTorch.toExponential(2)} of max |logit|`);
    assertMatchesNode(jpeg, await nodeClassify(TRAIN_CHECKPOINT, 'default', JPEG), 'train checkpoint, chelsea_q90.jpg');
    assert.doesNotMatch((await page.textContent('#classify-summary'))!, /jpeg-js/);
    console.log(`# train checkpoint, chelsea_q90.jpg: page vs expected.json logits_32 ${jpegVsTorch.toExponential(2)} of max |logit|`);

    await page.click('#classify-options summary');
    await page.check('#classify-ema');
    await waitFor(page, 'v.classify && v.classify.probabilities.length > 0 && v.classify.logits[0] !== ' + JSON.stringify(jpeg.logits[0]), 120_000,
      'the EMA weights\' classification');
    const ema = (await pageView(page)).classify!;
    assertMatchesNode(ema, await nodeClassify(TRAIN_CHECKPOINT, 'ema', JPEG), 'train checkpoint EMA weights, chelsea_q90.jpg');
    assert.ok(relativeToScale(ema.logits, jpeg.logits) > 1e-2, 'the EMA weights gave the same logits');
    assert.deepEqual((await pageView(page)).errors, []);
    await page.close();
  });

  it('hf:owner/name from a hub endpoint (?hf_endpoint=), and a dropped photo', async () => {
    const page = await openPage(session, `?hf_endpoint=${encodeURIComponent(hub.url)}`);
    assert.equal(await page.inputValue('#classify-endpoint'), hub.url);
    await page.fill('#classify-source', 'hf:katjs-test/kat_small32');
    await page.click('#classify-fetch');
    const checkpoint = 'hf:katjs-test/kat_small32@main/pytorch_model.bin';
    await waitFor(page, `v.classify && v.classify.checkpoint === '${checkpoint}'`, 120_000, 'the hub checkpoint');
    assert.match((await page.textContent('#classify-model'))!, /labels from hf:katjs-test\/kat_small32@main\/config\.json/);
    // config.json, then model.safetensors (404 here), then pytorch_model.bin.
    assert.deepEqual(hub.requests, ['config.json', 'model.safetensors', 'pytorch_model.bin'].map((f) => `/katjs-test/kat_small32/resolve/main/${f}`));

    const bytes = readFileSync(PHOTO).toString('base64');
    const dataTransfer = await page.evaluateHandle((b64) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], 'chelsea.png', { type: 'image/png' }));
      return transfer;
    }, bytes);
    await page.dispatchEvent('#classify-drop', 'drop', { dataTransfer });
    const result = await waitForResult(page, checkpoint, 'chelsea.png', 'the classification of the dropped photo');
    assert.equal(result.backend, 'webgpu');
    assertMatchesNode(result, node, 'hf:katjs-test/kat_small32, dropped chelsea.png');

    // A repo that is not there is named.
    await page.fill('#classify-source', 'hf:katjs-test/missing');
    await page.click('#classify-fetch');
    await waitFor(page, 'v.errors.length > 0', 60_000, 'the error about the missing repo');
    assert.match((await page.textContent('#classify-error'))!, /hf:katjs-test\/missing@main has no weights/);
    assert.equal((await pageView(page)).classify!.checkpoint, checkpoint);
    await page.close();
  });

  it('without WebGPU classifies on the CPU, says so, and gives the same numbers', async () => {
    const context = await session.launch(['--no-sandbox', '--disable-dev-shm-usage', '--disable-features=WebGPU,Vulkan']);
    const page = await openPage(session, '', context);
    await page.setInputFiles('#classify-files', [WEIGHTS, CONFIG]);
    await page.setInputFiles('#classify-image', PHOTO);
    const result = await waitForResult(page, 'pytorch_model.bin', 'chelsea.png', 'the classification on the CPU');
    const view = await pageView(page);
    assert.equal(result.backend, 'cpu');
    assert.match(view.classifier.backend?.fallback ?? '', /^WebGPU could not start \(.+\): classifying on the CPU instead$/);
    assert.match((await page.textContent('#classify-backend'))!, /^CPU fallback: WebGPU could not start/);
    assertMatchesNode(result, node, 'CPU fallback, chelsea.png');
    await screenshot(page, '09-classify-cpu-fallback');
    await page.locator('#classify').screenshot({ path: join(SCREENSHOTS, '09-classify-cpu-fallback-panel.png') });
    assert.deepEqual(consoleErrors(page), [], 'the page logged errors');
    await page.close();
  });
});
