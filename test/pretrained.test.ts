// Pretrained KAT weights end to end, against what real PyTorch and timm
// computed (test/fixtures/expected.json): checkpoints of every kind through
// the model inference path, and `kat predict` on photos through a hub folder
// and a hub served over HTTP.
//
// Fixture fact (see the README of test/fixtures): expected.json's `logits`,
// `logits_ema` and `logits_32` were computed with the weights of the train
// checkpoint's `state_dict` (one optimizer step after kat_small32.pth was
// written), so the hub folders below carry that checkpoint as their weights;
// `logits_pth` are kat_small32.pth's own float64 logits.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseHubConfig } from '../src/io/hub_config.js';
import { loadPretrained } from '../src/models/pretrained.js';
import { tensor } from '../src/ops/creation.js';
import { noGrad } from '../src/tensor/autograd.js';
import { setBackend } from '../src/tensor/engine.js';
import { jsonLines, kat, katAsync } from './support/cli.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  input: number[]; input_shape: number[]; logits: number[]; logits_ema: number[]; logits_fp16: number[]; logits_bf16: number[]; logits_pth: number[];
  logits_32: Record<string, number[]>; label_names: string[];
};
const hubConfigText = readFileSync(join(FIXTURES, 'torch', 'hub_kat_small32', 'config.json'), 'utf8');

function relativeError(got: ArrayLike<number>, want: readonly number[]): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  return worst / scale;
}

async function logitsOf(file: string, backend: string, weights: 'default' | 'ema' = 'default'): Promise<Float32Array | Float64Array> {
  await setBackend(backend);
  // The hub config gives the heads (3 at width 48); the rest is inferred from the tensor shapes.
  const pretrained = loadPretrained(readFileSync(join(FIXTURES, 'torch', file)), file, { config: parseHubConfig(hubConfigText), weights });
  try {
    pretrained.model.eval();
    const out = noGrad(() => pretrained.model.forward(tensor(Float32Array.from(expected.input), expected.input_shape)));
    const values = backend === 'cpu-float64' ? await out.dataFloat64() : await out.data();
    out.dispose();
    return values;
  } finally {
    pretrained.model.dispose();
    await setBackend('cpu');
  }
}

describe('pretrained checkpoints through the inferred model', () => {
  const cases: [string, 'default' | 'ema', keyof typeof expected][] = [
    ['kat_small32_train_checkpoint.pth.tar', 'default', 'logits'],
    ['kat_small32_train_checkpoint.pth.tar', 'ema', 'logits_ema'],
    ['kat_small32_fp16.pth', 'default', 'logits_fp16'],
    ['kat_small32_bf16.pth', 'default', 'logits_bf16'],
    ['kat_small32.pth', 'default', 'logits_pth'],
    ['kat_small32_legacy.pth', 'default', 'logits_pth'],
    ['kat_small32_ddp.pth', 'default', 'logits_pth'],
    ['hub_kat_small32/pytorch_model.bin', 'default', 'logits_pth'],
  ];
  for (const [file, weights, key] of cases) {
    it(`${file}${weights === 'ema' ? ' --weights ema' : ''} gives ${key}: 1e-5 on cpu, 1e-9 on cpu-float64`, async () => {
      const want = expected[key] as number[];
      const float32 = relativeError(await logitsOf(file, 'cpu', weights), want);
      const float64 = relativeError(await logitsOf(file, 'cpu-float64', weights), want);
      assert.ok(float32 <= 1e-5, `cpu: ${float32}`);
      assert.ok(float64 <= 1e-9, `cpu-float64: ${float64}`);
    });
  }

  it('the plain, legacy, DDP and hub files hold the same weights (one optimizer step before expected.json\'s `logits`)', async () => {
    const reference = await logitsOf('kat_small32.pth', 'cpu-float64');
    for (const file of ['kat_small32_legacy.pth', 'kat_small32_ddp.pth', 'hub_kat_small32/pytorch_model.bin']) {
      assert.deepEqual(await logitsOf(file, 'cpu-float64'), reference, file);
    }
    // PyTorch's own numbers for each side: the step between the two weight sets is exactly what the fixtures say it is.
    assert.ok(relativeError(reference, expected.logits_pth) <= 1e-9, 'kat_small32.pth gives logits_pth');
    const step = relativeError(expected.logits_pth, expected.logits);
    assert.ok(Math.abs(relativeError(reference, expected.logits) - step) <= 1e-9, `the step's size in logits, ${step}`);
  });

  it('labels and preprocessing come from config.json', () => {
    const pretrained = loadPretrained(readFileSync(join(FIXTURES, 'torch', 'kat_small32.pth')), 'x', { config: parseHubConfig(hubConfigText) });
    assert.deepEqual(pretrained.labels, expected.label_names);
    assert.deepEqual(pretrained.preprocess.inputSize, [3, 32, 32]);
    assert.equal(pretrained.preprocess.interpolation, 'bicubic');
    assert.equal(pretrained.preprocess.cropPct, 0.875);
    pretrained.model.dispose();
  });

  it('a config that disagrees with the weights is an error', () => {
    const wrong = parseHubConfig(JSON.stringify({ ...JSON.parse(hubConfigText), num_classes: 1000, label_names: undefined }));
    assert.throws(() => loadPretrained(readFileSync(join(FIXTURES, 'torch', 'kat_small32.pth')), 'x.pth', { config: wrong }),
      /config\.json says num_classes 1000, but the weights have 10 classes/);
  });
});

/** A hub folder holding config.json and, as its weights, the checkpoint expected.json was computed from. */
function makeHubFolder(root: string): string {
  const dir = join(root, 'katjs', 'kat-small32');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(FIXTURES, 'torch', 'hub_kat_small32', 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(FIXTURES, 'torch', 'kat_small32_train_checkpoint.pth.tar'), join(dir, 'pytorch_model.bin'));
  return dir;
}

const PHOTOS = Object.keys(expected.logits_32).map((name) => join(FIXTURES, 'images', name));

function checkPredictions(stdout: string): void {
  const predictions = jsonLines(stdout).filter((e) => e.event === 'prediction');
  assert.equal(predictions.length, PHOTOS.length);
  for (const p of predictions) {
    const name = (p.file as string).split('/').pop()!;
    const error = relativeError(p.logits as number[], expected.logits_32[name]!);
    // Adobe CMYK JPEGs decode through jpeg-js (the libjpeg build cannot convert CMYK): its IDCT rounds differently.
    const limit = name.endsWith('_cmyk.jpg') ? 3e-3 : 1e-4;
    assert.ok(error <= limit, `${name}: logits off by ${error} relative`);
    const top = p.top as { label: string; probability: number }[];
    assert.equal(top.length, 5);
    const best = expected.logits_32[name]!.indexOf(Math.max(...expected.logits_32[name]!));
    assert.equal(top[0]!.label, expected.label_names[best], name);
  }
}

describe('kat predict on photos, as timm computes them', () => {
  const root = mkdtempSync(join(tmpdir(), 'kat-hub-'));
  const folder = makeHubFolder(root);

  it('through a hub folder: logits_32 for every photo', () => {
    const run = kat('predict', '--checkpoint', folder, '--json', '--logits', ...PHOTOS);
    assert.equal(run.code, 0, run.stderr);
    checkPredictions(run.stdout);
  });

  describe('through hf: on a local hub server', () => {
    let server: Server;
    let endpoint = '';
    let requests = 0;
    before(async () => {
      server = createServer((request, response) => {
        requests++;
        const match = /^\/(katjs\/kat-small32)\/resolve\/main\/([\w.]+)$/.exec(request.url ?? '');
        const file = match ? join(root, match[1]!, match[2]!) : '';
        let body: Buffer;
        try {
          body = readFileSync(file);
        } catch {
          response.writeHead(404).end('not found');
          return;
        }
        response.writeHead(200, { 'content-length': body.length }).end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('downloads into KATJS_CACHE, predicts logits_32, and reruns offline from the cache', async () => {
      const cache = mkdtempSync(join(tmpdir(), 'kat-cache-'));
      const env = { ...process.env, HF_ENDPOINT: endpoint, KATJS_CACHE: cache };
      const run = await katAsync(env, 'predict', '--checkpoint', 'hf:katjs/kat-small32', '--json', '--logits', ...PHOTOS);
      assert.equal(run.code, 0, run.stderr);
      checkPredictions(run.stdout);
      const cached = readdirSync(join(cache, 'hub', 'katjs--kat-small32', 'main')).sort();
      assert.deepEqual(cached, ['config.json', 'pytorch_model.bin']);
      const before = requests;
      const again = await katAsync({ ...env, HF_ENDPOINT: 'http://127.0.0.1:9' }, 'predict', '--checkpoint', 'hf:katjs/kat-small32', '--json', '--logits', PHOTOS[0]!);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(requests, before, 'the cached repo was fetched again');
      const missing = await katAsync(env, 'predict', '--checkpoint', 'hf:katjs/no-such-model', PHOTOS[0]!);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /^kat: .*katjs\/no-such-model/m);
    });
  });

  it('evil.pth is refused, runs nothing', () => {
    const run = kat('predict', '--checkpoint', join(FIXTURES, 'torch', 'evil.pth'), PHOTOS[0]!);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /^kat: .*refusing to load 'posix\.system'/m);
  });
});
