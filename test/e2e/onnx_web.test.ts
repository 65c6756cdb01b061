// ONNX export in the browser: chromium loads onnxruntime-web (its WebAssembly
// provider) from a local page and runs kat-micro as exported by katjs; its
// logits must equal the library's on Node's cpu backend within 1e-5.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { exportOnnx } from '../../src/io/onnx.js';
import { buildModel, modelSpec } from '../../src/models/registry.js';
import { tensor } from '../../src/ops/creation.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { setBackend } from '../../src/tensor/engine.js';
import { Random } from '../../src/tensor/random.js';
import { CHROMIUM_FLAGS, ROOT } from './browser.js';

const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAGE = `<!doctype html><meta charset="utf-8"><title>onnxruntime-web</title>
<script type="module">
import * as ort from './ort/ort.wasm.min.mjs';
ort.env.wasm.numThreads = 1; // no cross-origin isolation here, so no SharedArrayBuffer
window.runOnnx = async (modelBase64, input, shape) => {
  const bytes = Uint8Array.from(atob(modelBase64), (c) => c.charCodeAt(0));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const result = await session.run({ pixel_values: new ort.Tensor('float32', Float32Array.from(input), shape) });
  const out = { names: [session.inputNames, session.outputNames], logits: Array.from(result.logits.data), dims: result.logits.dims };
  await session.release();
  return out;
};
window.ortReady = true;
</script>`;
const TYPES: Record<string, string> = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** The page at / and onnxruntime-web's dist files under /ort/. */
function serve(): Promise<Server> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? '/').split('?')[0]!);
    if (path === '/') {
      response.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
      return;
    }
    const file = normalize(join(ORT_DIST, path.replace(/^\/ort\//, '')));
    if (!path.startsWith('/ort/') || !file.startsWith(ORT_DIST) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('onnxruntime-web runs the exported kat-micro in chromium', () => {
  let server: Server;
  let browser: Browser;
  before(async () => {
    if (!existsSync(ORT_DIST)) throw new Error('onnxruntime-web is not installed (a devDependency: npm install)');
    server = await serve();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  it('its logits equal katjs\'s (cpu) within 1e-5 at batch 1 and 3', async () => {
    await setBackend('cpu');
    const spec = modelSpec('kat-micro');
    const model = buildModel(spec, 4).eval();
    const bytes = await exportOnnx(model, spec);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as unknown as { ortReady?: boolean }).ortReady === true, null, { timeout: 60_000 });
    const rng = new Random(9);
    try {
      for (const batch of [1, 3]) {
        const shape = [batch, 1, 28, 28];
        const input = Float32Array.from({ length: batch * 784 }, () => rng.normal());
        const out = noGrad(() => model.forward(tensor(input, shape)));
        const want = await out.data();
        out.dispose();
        const got = await page.evaluate(([b64, values, dims]) => (window as unknown as {
          runOnnx(m: string, i: number[], s: number[]): Promise<{ names: string[][]; logits: number[]; dims: number[] }>;
        }).runOnnx(b64, values, dims), [Buffer.from(bytes).toString('base64'), Array.from(input), shape] as [string, number[], number[]]);
        assert.deepEqual(got.names, [['pixel_values'], ['logits']]);
        assert.deepEqual(got.dims, [batch, 10]);
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < want.length; i++) {
          scale = Math.max(scale, Math.abs(want[i]!));
          diff = Math.max(diff, Math.abs(got.logits[i]! - want[i]!));
        }
        console.log(`# onnxruntime-web kat-micro batch ${batch}: max relative error ${(diff / scale).toExponential(2)}`);
        assert.ok(diff / scale <= 1e-5, `batch ${batch}: relative error ${diff / scale}`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
      model.dispose();
    }
  });
});
