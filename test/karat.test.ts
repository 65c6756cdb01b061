// Fourier-KArAt attention (arXiv 2503.10632): the fused op against a naive
// float64 evaluation written straight from the formula (every feature
// cos(m A[k, q]), sin(m A[k, q]) materialised, sigma(A) = W H formed as an N x N
// matrix, then sigma(A) V), gradients against finite differences, the backends
// against each other (cpu, cpu-js, cpu-float64, webgpu when it starts), the
// models' parameter counts and layouts, checkpoints, and a short training run.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { exportOnnx } from '../src/io/onnx.js';
import { checkModelSpec, tensorLayout } from '../src/models/config_check.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { estimateTrainingMemory } from '../src/models/memory_estimate.js';
import { buildModel, countParameters, createModel, modelSpec } from '../src/models/registry.js';
import { parseKaratVariant } from '../src/nn/karat.js';
import { tensor } from '../src/ops/creation.js';
import { karatAttention } from '../src/ops/karat.js';
import { noGrad } from '../src/tensor/autograd.js';
import { Random } from '../src/tensor/random.js';
import { skipUnless, startBackend } from './support/backends.js';
import { kat } from './support/cli.js';
import {
  assertClose, float64Backend, forwardBackward, gradcheck, onBackend, onBackendAsync, randomValues, sizeOf, toFloat32Values,
  type InputSpec,
} from './support/harness.js';

interface Shape {
  batch: number;
  heads: number;
  tokens: number;
  rank: number;
  order: number;
  dim: number;
}

function specsFor(s: Shape, seed: number): InputSpec[] {
  const rng = new Random(seed);
  const terms = s.order + 1;
  const make = (shape: number[], scale: number): InputSpec =>
    ({ shape, values: toFloat32Values(randomValues(rng, sizeOf(shape), { scale })), grad: true });
  return [
    make([s.batch, s.heads, s.tokens, s.tokens], 1.5),
    make([s.heads, s.rank, s.tokens, terms], 0.5),
    make([s.heads, s.rank, s.tokens, terms], 0.5),
    make([s.heads, s.tokens, s.rank], 0.5),
    make([s.batch, s.heads, s.tokens, s.dim], 1),
  ];
}

const op = ([scores, a, b, w, v]: ReturnType<typeof tensor>[]) => karatAttention(scores!, a!, b!, w!, v!);

/** The formula, naively: features [N, N, G+1] twice, H [N, r], sigma(A) = W H as a full [N, N] matrix, out = sigma(A) V. */
function naive(s: Shape, [scores, a, b, w, v]: Float64Array[]): Float64Array {
  const { batch, heads, tokens: n, rank: r, order: g, dim: d } = s;
  const out = new Float64Array(batch * heads * n * d);
  for (let bi = 0; bi < batch; bi++) {
    for (let h = 0; h < heads; h++) {
      const item = bi * heads + h;
      const A = (k: number, q: number) => scores![(item * n + k) * n + q]!;
      const cosF: number[][][] = [];
      const sinF: number[][][] = [];
      for (let k = 0; k < n; k++) {
        cosF.push([]);
        sinF.push([]);
        for (let q = 0; q < n; q++) {
          cosF[k]!.push(Array.from({ length: g + 1 }, (_, m) => Math.cos(m * A(k, q))));
          sinF[k]!.push(Array.from({ length: g + 1 }, (_, m) => Math.sin(m * A(k, q))));
        }
      }
      const H: number[][] = [];
      for (let k = 0; k < n; k++) {
        H.push([]);
        for (let p = 0; p < r; p++) {
          let sum = 0;
          for (let q = 0; q < n; q++) {
            for (let m = 0; m <= g; m++) {
              const at = ((h * r + p) * n + q) * (g + 1) + m;
              sum += a![at]! * cosF[k]![q]![m]! + b![at]! * sinF[k]![q]![m]!;
            }
          }
          H[k]!.push(sum);
        }
      }
      const sigma: number[][] = [];
      for (let k = 0; k < n; k++) {
        sigma.push([]);
        for (let col = 0; col < n; col++) {
          let sum = 0;
          for (let p = 0; p < r; p++) sum += w![(h * n + col) * r + p]! * H[k]![p]!;
          sigma[k]!.push(sum);
        }
      }
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < d; j++) {
          let sum = 0;
          for (let col = 0; col < n; col++) sum += sigma[k]![col]! * v![(item * n + col) * d + j]!;
          out[(item * n + k) * d + j] = sum;
        }
      }
    }
  }
  return out;
}

const SHAPES: Shape[] = [
  { batch: 2, heads: 3, tokens: 17, rank: 4, order: 3, dim: 8 },
  { batch: 1, heads: 2, tokens: 10, rank: 12, order: 1, dim: 5 },
  { batch: 3, heads: 1, tokens: 7, rank: 3, order: 5, dim: 3 },
];

const describeShape = (s: Shape) => `B ${s.batch}, h ${s.heads}, N ${s.tokens}, r ${s.rank}, G ${s.order}, d ${s.dim}`;
const projection = (shape: readonly number[]) => randomValues(new Random(3), sizeOf(shape));

describe('karatAttention: the op against the naive formula', () => {
  for (const s of SHAPES) {
    it(`matches a direct float64 evaluation (${describeShape(s)}) on cpu-float64, cpu-js and cpu`, async () => {
      const specs = specsFor(s, 11);
      const expected = naive(s, specs.map((x) => x.values));
      const f64 = await onBackendAsync(float64Backend, () => noGrad(() => op(specs.map((x) => tensor(x.values, x.shape)))).dataFloat64());
      assertClose(f64, expected, 1e-12, 'cpu-float64 forward');
      for (const name of ['cpu-js', 'cpu']) {
        const backend = (await startBackend(name))!;
        const y = await onBackendAsync(backend, () => noGrad(() => op(specs.map((x) => tensor(x.values, x.shape)))).dataFloat64());
        assertClose(y, expected, 2e-5, `${name} forward`);
      }
    });
  }

  it('rejects mismatched shapes with messages naming them', () => {
    onBackend(float64Backend, () => {
      const t = (shape: number[]) => tensor(new Float64Array(sizeOf(shape)), shape);
      assert.throws(() => karatAttention(t([1, 2, 4, 4]), t([2, 3, 4, 2]), t([2, 3, 4, 2]), t([2, 4, 2]), t([1, 2, 4, 5])), /weight must be \[h, N, r\]/);
      assert.throws(() => karatAttention(t([1, 2, 4, 5]), t([2, 3, 4, 2]), t([2, 3, 4, 2]), t([2, 4, 3]), t([1, 2, 4, 5])), /scores must be/);
      assert.throws(() => karatAttention(t([1, 3, 4, 4]), t([2, 3, 4, 2]), t([2, 3, 4, 2]), t([2, 4, 3]), t([1, 3, 4, 5])), /not a multiple of h = 2/);
      assert.throws(() => karatAttention(t([1, 2, 4, 4]), t([2, 3, 4, 2]), t([2, 3, 4, 3]), t([2, 4, 3]), t([1, 2, 4, 5])), /coefSin/);
      assert.throws(() => karatAttention(t([1, 2, 4, 4]), t([2, 3, 4, 2]), t([2, 3, 4, 2]), t([2, 4, 3]), t([1, 2, 3, 5])), /values must be/);
    });
  });
});

describe('karatAttention: gradients', () => {
  it('every input matches float64 finite differences (every element of a small case)', async () => {
    const s = { batch: 2, heads: 2, tokens: 4, rank: 3, order: 3, dim: 3 };
    await gradcheck('karatAttention', op, specsFor(s, 5), new Random(1), { samples: 1000, tolerance: 1e-6 });
  });

  it('every input matches float64 finite differences (samples of a larger case)', async () => {
    await gradcheck('karatAttention', op, specsFor(SHAPES[0]!, 6), new Random(2), { samples: 40, tolerance: 1e-6 });
  });
});

describe('karatAttention: backends agree and are deterministic', async () => {
  const names = ['cpu', 'cpu-js', 'webgpu'];
  const backends = await Promise.all(names.map(startBackend));
  for (const [i, name] of names.entries()) {
    const backend = backends[i]! as Backend;
    const skip = skipUnless(backends[i], name);
    for (const s of SHAPES) {
      it(`${name}: forward and every gradient match cpu-float64 (${describeShape(s)})`, { skip }, async () => {
        const specs = specsFor(s, 21);
        const expected = await onBackendAsync(float64Backend, () => forwardBackward(op, specs, projection));
        const actual = await onBackendAsync(backend, () => forwardBackward(op, specs, projection));
        assertClose(actual.output, expected.output, 2e-5, `${name} forward`);
        expected.grads.forEach((g, j) => assertClose(actual.grads[j]!, g!, 5e-5, `${name} gradient of input ${j}`));
      });
    }
    it(`${name}: two backward passes give the same bits`, { skip }, async () => {
      const specs = specsFor(SHAPES[0]!, 4);
      const first = await onBackendAsync(backend, () => forwardBackward(op, specs, projection));
      const second = await onBackendAsync(backend, () => forwardBackward(op, specs, projection));
      assert.deepEqual(second.output, first.output);
      first.grads.forEach((g, j) => assert.deepEqual(second.grads[j], g, `gradient of input ${j}`));
    });
  }
});

describe('KArAt models', () => {
  it('karat-tiny G3B adds 765,936 parameters to vit-tiny, G3U 63,828', () => {
    const vit = countParameters(modelSpec('vit-tiny'));
    assert.equal(countParameters(modelSpec('karat-tiny', { karat: 'G3B' })) - vit, 765_936);
    assert.equal(countParameters(modelSpec('karat-tiny', { karat: 'G3U' })) - vit, 63_828);
    assert.equal(countParameters(modelSpec('karat-tiny')), countParameters(modelSpec('karat-tiny', { karat: 'G3B' })), 'G3B is the default');
    // 2 r N (G + 1) + N r per head: G1B at 12 blocks x 3 heads.
    assert.equal(countParameters(modelSpec('karat-tiny', { karat: 'G1B' })) - vit, 36 * (2 * 12 * 197 * 2 + 197 * 12));
    assert.equal(countParameters(modelSpec('kat-tiny', { karat: 'G3U' })) - countParameters(modelSpec('kat-tiny')), 63_828);
  });

  for (const variant of ['G3B', 'G2U']) {
    it(`karat-micro ${variant}: the built model's tensors are the layout's, and a checkpoint round-trips`, async () => {
      const spec = modelSpec('karat-micro', { karat: variant });
      const model = buildModel(spec, 3);
      const built = model.namedParameters().map(([n, t]) => [n, [...t.shape]]);
      assert.deepEqual(built, tensorLayout(spec).parameters);
      const names = built.map(([n]) => n as string);
      if (variant === 'G3B') {
        assert.ok(names.includes('blocks.0.attn.karat.coef_cos') && names.includes('blocks.2.attn.karat.weight'));
        assert.ok(!names.some((n) => n.startsWith('karat.')));
      } else {
        assert.deepEqual(names.filter((n) => n.includes('karat')), ['karat.coef_cos', 'karat.coef_sin', 'karat.weight']);
      }
      const images = tensor(randomValues(new Random(1), 2 * 28 * 28), [2, 1, 28, 28]);
      const before = await noGrad(() => model.forward(images)).dataFloat64();
      const loaded = decodeCheckpoint(await encodeCheckpoint(model, spec), 'karat test');
      assert.deepEqual(loaded.spec, spec);
      const after = await noGrad(() => loaded.model.forward(images)).dataFloat64();
      assert.deepEqual(after, before);
    });
  }

  it('the variant parser and the config check say what they expected', () => {
    assert.deepEqual(parseKaratVariant('G3B'), { order: 3, rank: 12, universal: false });
    assert.deepEqual(parseKaratVariant('G1U'), { order: 1, rank: 12, universal: true });
    for (const bad of ['G3', 'g3b', 'G0B', 'G3X', '3B', 'G99B']) assert.throws(() => parseKaratVariant(bad), /expected G<n><B\|U>/);
    assert.throws(() => modelSpec('vit-tiny', { karat: 'G3B' }), /use karat-tiny/);
    const spec = modelSpec('karat-micro');
    assert.throws(() => checkModelSpec('karat-micro', { ...spec.config, karat: undefined }), /no karat settings/);
    assert.throws(() => checkModelSpec('vit-micro', spec.config), /name it karat-\*/);
    assert.throws(() => checkModelSpec('karat-micro', { ...spec.config, karat: { order: 0, rank: 12, universal: false } }), /order is 0/);
    assert.throws(() => checkModelSpec('karat-micro', { ...spec.config, karat: { order: 3, rank: 12 } }), /universal/);
    assert.throws(() => checkModelSpec('karat-micro', { ...spec.config, karat: { order: 3, rank: 12, universal: false, x: 1 } }), /unknown field/);
  });

  it('the memory estimate does not grow with G (no [N, N, 2(G + 1)] features are kept)', () => {
    const bytes = (karat: string) => estimateTrainingMemory(modelSpec('karat-tiny', { karat }), { batchSize: 8, evalBatchSize: 1 }).bytes;
    const g1 = bytes('G1B');
    const g3 = bytes('G3B');
    // Only the parameters (and their gradients and moments) grow: 4 x 4 bytes x the extra coefficients.
    assert.equal(g3 - g1, 16 * 36 * (2 * 12 * 197 * 2));
  });

  it('W is initialised so that sigma(A) V has about the variance of softmax attention (Var(V) / N)', async () => {
    const model = createModel('karat-micro', { seed: 1 });
    const attn = (model as unknown as { blocks: { attn: { karat: { coefCos: unknown; coefSin: unknown; weight: unknown } } }[] }).blocks[0]!.attn.karat;
    const tokens = 17;
    const rng = new Random(2);
    const scores = tensor(randomValues(rng, 8 * 4 * tokens * tokens), [8, 4, tokens, tokens]);
    const values = tensor(randomValues(rng, 8 * 4 * tokens * 16), [8, 4, tokens, 16]);
    const out = await noGrad(() => karatAttention(scores, attn.coefCos as never, attn.coefSin as never, attn.weight as never, values)).dataFloat64();
    const inValues = await values.dataFloat64();
    const variance = (x: Float64Array) => x.reduce((s, v) => s + v * v, 0) / x.length;
    const ratio = variance(out) / (variance(inValues) / tokens);
    // Seeded, so the measurement is fixed (1.015 with the paper's init): 15% catches W's std off by 7% either way
    // (the variance goes with its square), where (0.5, 2) let a std 1.35x too large pass.
    assert.ok(Math.abs(ratio - 1) < 0.15, `Var(out) / (Var(V) / N) = ${ratio.toFixed(3)}, expected 1 within 0.15`);
  });

  it('karat-micro trains on synthetic data (--karat G3B then G1U): the loss goes down', () => {
    const dir = mkdtempSync(join(tmpdir(), 'karat-'));
    for (const variant of ['G3B', 'G1U']) {
      const run = kat('train', '--model', 'karat-micro', '--karat', variant, '--dataset', 'synthetic:1x28x28:10:256', '--epochs', '3',
        '--batch-size', '32', '--lr', '0.003', '--backend', 'cpu', '--json', '--out', join(dir, `${variant}.safetensors`));
      assert.equal(run.code, 0, run.stderr);
      const epochs = run.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'epoch');
      assert.equal(epochs.length, 3);
      assert.ok(epochs[2].train_loss < epochs[0].train_loss * 0.85, `${variant}: train loss ${epochs.map((e) => e.train_loss.toFixed(3)).join(' -> ')}`);
      assert.ok(readFileSync(join(dir, `${variant}.safetensors`)).length > 0);
    }
  });

  it('ONNX export refuses KArAt models instead of writing softmax attention', async () => {
    const spec = modelSpec('karat-micro');
    await assert.rejects(() => exportOnnx(buildModel(spec), spec), /Fourier-KArAt attention \(karat\) has no ONNX lowering/);
  });

  it('--karat rejects a bad variant and models without KArAt support, naming what it expected', () => {
    const bad = kat('train', '--model', 'karat-micro', '--karat', 'G3', '--dataset', 'synthetic:1x28x28:10:64');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--karat: unknown KArAt variant 'G3': expected G<n><B\|U>/);
    const vit = kat('train', '--model', 'vit-micro', '--karat', 'G3B', '--dataset', 'synthetic:1x28x28:10:64');
    assert.notEqual(vit.code, 0);
    assert.match(vit.stderr, /applies to --model karat-\* or kat-\*/);
  });
});
