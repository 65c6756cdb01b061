// `kat bench`'s comparison with TensorFlow.js: the tfjs group-rational and the
// tfjs kat-micro (independent implementations written with tfjs ops and its
// autodiff) agree with katjs's float64 reference, and the CLI prints the
// comparison rows (or, without tfjs, a note and no crash).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tfjsGroupRationalValues, tfjsKatMicroGradients, tfjsStatus, tfjsTrainingLosses, type TfjsBackendName } from '../src/bench/tfjs.js';
import { createModel } from '../src/models/registry.js';
import { tensor } from '../src/ops/creation.js';
import { groupRational } from '../src/ops/group_rational.js';
import { softmaxCrossEntropy } from '../src/ops/nn.js';
import { Random } from '../src/tensor/random.js';
import { float64Backend, onBackendAsync, randomValues, scaledMaxError, toFloat32Values } from './support/harness.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TFJS_BACKENDS: TfjsBackendName[] = ['wasm', 'cpu'];

/** Skips (loudly) where tfjs or one of its backends is not installed. */
async function skipWithoutTfjs(t: { skip(message: string): void }, backend: TfjsBackendName): Promise<boolean> {
  const status = await tfjsStatus(backend);
  if (!status.available) t.skip(`tfjs-${backend} unavailable: ${status.detail}`);
  return !status.available;
}

interface RationalCase {
  name: string;
  shape: number[];
  groups: number;
  sharedNumerator: boolean;
}

const RATIONAL_CASES: RationalCase[] = [
  { name: 'shared [1, 6] numerator, G = 8', shape: [5, 16], groups: 8, sharedNumerator: true },
  { name: 'per-group [G, 6] numerator, G = 3, rank 3', shape: [2, 3, 12], groups: 3, sharedNumerator: false },
];

describe('tfjs group-rational matches katjs (cpu-float64)', () => {
  for (const backend of TFJS_BACKENDS) {
    for (const c of RATIONAL_CASES) {
      it(`tfjs-${backend}: ${c.name}, with x = 0 and b = 0 entries`, async (t) => {
        if (await skipWithoutTfjs(t, backend)) return;
        const rng = new Random(17 + c.groups);
        const size = c.shape.reduce((p, d) => p * d, 1);
        const x = toFloat32Values(randomValues(rng, size, { scale: 1.5 }));
        for (let i = 0; i < size; i += 7) x[i] = 0; // sign(0) = +1 in Q'(x)
        const numeratorRows = c.sharedNumerator ? 1 : c.groups;
        const a = toFloat32Values(randomValues(rng, numeratorRows * 6, { scale: 0.6 }));
        const b = toFloat32Values(randomValues(rng, c.groups * 4, { scale: 0.6 }));
        for (let i = 0; i < b.length; i += 3) b[i] = 0; // sign(0) = +1 in dF/db
        const gy = toFloat32Values(randomValues(rng, size));

        const expected = await onBackendAsync(float64Backend, async () => {
          const xt = tensor(x, c.shape, { requiresGrad: true });
          const at = tensor(a, [numeratorRows, 6], { requiresGrad: true });
          const bt = tensor(b, [c.groups, 4], { requiresGrad: true });
          const y = groupRational(xt, at, bt);
          y.backward(tensor(gy, c.shape));
          return { y: await y.dataFloat64(), dx: await xt.grad!.dataFloat64(), dNumerator: await at.grad!.dataFloat64(), dDenominator: await bt.grad!.dataFloat64() };
        });
        const actual = await tfjsGroupRationalValues(backend, { x, shape: c.shape, numerator: a, denominator: b, groups: c.groups, gy });
        assert.ok(actual);
        for (const key of ['y', 'dx', 'dNumerator', 'dDenominator'] as const) {
          const error = scaledMaxError(actual[key], expected[key]);
          assert.ok(error <= 1e-4, `${key}: scaled max error ${error.toExponential(2)} > 1e-4`);
        }
      });
    }
  }
});

describe('tfjs kat-micro computes what katjs kat-micro computes', () => {
  for (const backend of TFJS_BACKENDS) {
    it(`tfjs-${backend}: loss and every parameter gradient at katjs's parameters`, async (t) => {
      if (await skipWithoutTfjs(t, backend)) return;
      const labels = [3, 7, 0];
      const images = toFloat32Values(randomValues(new Random(5), labels.length * 28 * 28));
      const expected = await onBackendAsync(float64Backend, async () => {
        const model = createModel('kat-micro', { seed: 3 });
        const loss = softmaxCrossEntropy(model.forward(tensor(images, [labels.length, 1, 28, 28])), tensor(labels, [labels.length]),
          { labelSmoothing: 0.1 });
        loss.backward();
        const parameters = new Map<string, Float64Array>();
        const grads = new Map<string, Float64Array>();
        for (const [name, p] of model.namedParameters()) {
          parameters.set(name, await p.dataFloat64());
          grads.set(name, await p.grad!.dataFloat64());
        }
        const value = await loss.item();
        model.dispose();
        return { loss: value, parameters, grads };
      });
      const actual = await tfjsKatMicroGradients(backend, expected.parameters, images, labels);
      assert.ok(actual);
      assert.ok(Math.abs(actual.loss - expected.loss) <= 1e-5 * Math.abs(expected.loss), `loss ${actual.loss} vs ${expected.loss}`);
      assert.deepEqual([...actual.grads.keys()].sort(), [...expected.grads.keys()].sort());
      for (const [name, grad] of expected.grads) {
        const error = scaledMaxError(actual.grads.get(name)!, grad);
        assert.ok(error <= 1e-4, `${name}: scaled max error ${error.toExponential(2)} > 1e-4`);
      }
    });
  }

  it('tfjs-wasm: a few AdamW steps on one batch lower the loss', async (t) => {
    if (await skipWithoutTfjs(t, 'wasm')) return;
    const losses = await tfjsTrainingLosses('wasm', 4, 4);
    assert.ok(losses && losses.length === 5);
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses[4]! < losses[0]!, `losses ${losses.join(', ')}`);
  });
});

function bench(args: string[], nodeArgs: string[] = []) {
  const result = spawnSync(process.execPath, [...nodeArgs, cli, 'bench', ...args], { encoding: 'utf8', timeout: 90_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const jsonLines = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('kat bench --backend cpu: the TensorFlow.js comparison', () => {
  it('--json prints every row with its fields, comparison rows with impl and a ratio to tfjs-wasm', async () => {
    // The ONNX Runtime rows (kat-tiny inference) have their own test (onnx_export.test.ts).
    const run = bench(['--backend', 'cpu', '--batch', '1', '--runs', '1', '--skip-training', '--skip-onnxruntime', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const rows = jsonLines(run.stdout);
    for (const row of rows) {
      assert.equal(row.backend, 'cpu');
      assert.equal(typeof row.op, 'string');
      assert.equal(typeof row.shape, 'string');
      assert.ok(typeof row.median_ms === 'number' && row.median_ms > 0, JSON.stringify(row));
    }
    assert.ok(rows.some((row) => row.op === 'copy'));
    assert.ok(!rows.some((row) => String(row.op).startsWith('train')), '--skip-training drops the training rows');
    const tfjs = (await tfjsStatus('wasm')).available && (await tfjsStatus('cpu')).available;
    const impls = tfjs ? ['katjs', 'tfjs-wasm', 'tfjs-cpu'] : ['katjs'];
    for (const n of [256, 512, 1024]) {
      for (const impl of impls) {
        const row = rows.find((r) => r.op === `matmul (${impl})` && r.shape === `[${n}, ${n}] x [${n}, ${n}]`);
        assert.ok(row, `matmul ${n} ${impl}`);
        assert.equal(row.impl, impl);
        assert.ok(typeof row.tflops === 'number' && row.tflops > 0);
        if (tfjs) {
          assert.equal(row.reference, 'tfjs-wasm');
          assert.ok(typeof row.ratio === 'number' && row.ratio > 0);
          if (impl === 'tfjs-wasm') assert.equal(row.ratio, 1);
        }
      }
    }
    for (const kind of ['fwd', 'fwd+bwd']) {
      for (const impl of impls) {
        const row = rows.find((r) => r.op === `groupRational ${kind} (${impl})`);
        assert.ok(row, `groupRational ${kind} ${impl}`);
        assert.equal(row.shape, '[197, 768] G=8'); // --batch 1: 197 token rows
        assert.ok(typeof row.elements_per_s === 'number' && row.elements_per_s > 0);
        if (tfjs) assert.equal(row.reference, 'tfjs-wasm');
      }
    }
  });

  it('without TensorFlow.js installed: a note on stderr, the katjs rows, exit 0', () => {
    // A resolve hook that makes every @tensorflow/* package missing, as in an install without devDependencies.
    const hook = 'export async function resolve(specifier, context, next) { if (specifier.startsWith("@tensorflow/")) ' +
      '{ const e = new Error("Cannot find package " + specifier); e.code = "ERR_MODULE_NOT_FOUND"; throw e; } return next(specifier, context); }';
    const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const run = bench(['--backend', 'cpu', '--batch', '1', '--runs', '1', '--skip-training', '--skip-onnxruntime'], ['--import', `data:text/javascript,${encodeURIComponent(register)}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /tfjs-wasm rows skipped: TensorFlow\.js is not installed/);
    assert.match(run.stdout, /vs TensorFlow\.js/);
    assert.match(run.stdout, /matmul \(katjs\)/);
    assert.match(run.stdout, /groupRational fwd\+bwd \(katjs\)/);
    assert.doesNotMatch(run.stdout, /tfjs-wasm\)/);
  });

  it('--skip-compare drops the comparison', () => {
    const run = bench(['--backend', 'cpu', '--batch', '1', '--runs', '1', '--skip-training', '--skip-compare', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!jsonLines(run.stdout).some((row) => row.impl !== undefined));
  });
});
