// Optimisers, schedules and gradient clipping against float64 references
// written here with plain arrays: AdamW and SGD (momentum, Nesterov, weight
// decay) over several steps with gradients from the library's autograd, the
// cosine schedule at its key steps, clipGradNorm's norm, scaling and NaN
// errors, zeroGrad, skipped parameters, state round trips and flat memory.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setBackend } from '../src/tensor/engine.js';
import { memory, tidy } from '../src/tensor/scope.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { Random } from '../src/tensor/random.js';
import { AdamW, clipGradNorm, cosineSchedule, NonFiniteGradientError, SGD } from '../src/optim/index.js';
import { collectGarbage, float64Backend, onBackendAsync } from './support/harness.js';

await setBackend('cpu');

/** |actual - expected| <= tol * max(1, |expected|) element-wise. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e) / Math.max(1, Math.abs(e));
    assert.ok(err <= tol, `${what}[${i}]: got ${a}, expected ${e} (scaled error ${err.toExponential(2)} > ${tol})`);
  }
}

/** Float32-representable values, so float32 tensors and the float64 reference start equal. */
const f32 = (values: number[]): number[] => Array.from(Float32Array.from(values));

// The test problem: L = sum(A ⊙ (P - C)^2) + sum(B ⊙ (Q - D)^2), so dL/dP = 2 A (P - C).
const P0 = f32([0.5, -1.25, 2, 3.5, -0.75, 1.5]);
const A = f32([1, 0.5, 2, 0.25, 3, 1.5]);
const C = f32([-1, 1, -0.5, 1, 1.5, -1]);
const Q0 = f32([1, -2, 0.25, 4]);
const B = f32([0.75, 2, 1, 0.5]);
const D = f32([-1.5, 1, 2, 1.25]);

function quadraticGrad(p: readonly number[], a: readonly number[], c: readonly number[]): number[] {
  return p.map((x, i) => 2 * a[i]! * (x - c[i]!));
}

interface Problem {
  P: Tensor;
  Q: Tensor;
  /** Runs forward and backward: P.grad and Q.grad hold the loss's gradients. */
  backward(): void;
}

function makeProblem(): Problem {
  const P = ops.tensor(P0, [2, 3], { requiresGrad: true, name: 'P' });
  const Q = ops.tensor(Q0, [4], { requiresGrad: true, name: 'Q' });
  const a = ops.tensor(A, [2, 3]);
  const c = ops.tensor(C, [2, 3]);
  const b = ops.tensor(B, [4]);
  const d = ops.tensor(D, [4]);
  return {
    P,
    Q,
    backward: () => tidy(() => {
      const loss = ops.add(ops.sum(ops.mul(a, ops.square(ops.sub(P, c)))), ops.sum(ops.mul(b, ops.square(ops.sub(Q, d)))));
      loss.backward();
    }),
  };
}

interface AdamRefState { m: number[]; v: number[]; t: number }

/** One AdamW step in float64, as written in the paper / PyTorch docs. */
function adamwRefStep(p: number[], g: readonly number[], s: AdamRefState, lr: number, wd: number,
  b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  s.t++;
  for (let i = 0; i < p.length; i++) {
    p[i] = p[i]! - lr * wd * p[i]!;
    s.m[i] = b1 * s.m[i]! + (1 - b1) * g[i]!;
    s.v[i] = b2 * s.v[i]! + (1 - b2) * g[i]! * g[i]!;
    const mhat = s.m[i]! / (1 - b1 ** s.t);
    const vhat = s.v[i]! / (1 - b2 ** s.t);
    p[i] = p[i]! - lr * mhat / (Math.sqrt(vhat) + eps);
  }
}

interface SgdRefOptions { lr: number; momentum: number; nesterov: boolean; wd: number; dampening?: number }

function sgdRefStep(p: number[], grad: readonly number[], buf: number[] | null, o: SgdRefOptions): number[] {
  const g = grad.map((x, i) => x + o.wd * p[i]!);
  const next = buf === null ? [...g] : buf.map((b, i) => o.momentum * b + (1 - (o.dampening ?? 0)) * g[i]!);
  for (let i = 0; i < p.length; i++) {
    const d = o.nesterov ? g[i]! + o.momentum * next[i]! : next[i]!;
    p[i] = p[i]! - o.lr * d;
  }
  return next;
}

/** AdamW over 5 steps, two groups (decayed P; Q with its own lr and no decay), lr from a schedule. */
async function adamwCase(tol: number): Promise<void> {
  const { P, Q, backward } = makeProblem();
  const schedule = (step: number): number => 0.1 * (1 - step / 8);
  const opt = new AdamW([{ params: [P] }, { params: [Q], weightDecay: 0, lr: 0.05 }], { weightDecay: 0.1, schedule });
  const p = [...P0];
  const q = [...Q0];
  const sp: AdamRefState = { m: P0.map(() => 0), v: P0.map(() => 0), t: 0 };
  const sq: AdamRefState = { m: Q0.map(() => 0), v: Q0.map(() => 0), t: 0 };
  for (let step = 0; step < 5; step++) {
    backward();
    // The autograd gradients agree with the hand-computed ones at the current values.
    assertClose(await P.grad!.dataFloat64(), quadraticGrad(Array.from(await P.dataFloat64()), A, C), tol, `dP at step ${step}`);
    opt.step();
    opt.zeroGrad();
    adamwRefStep(p, quadraticGrad(p, A, C), sp, schedule(step), 0.1);
    adamwRefStep(q, quadraticGrad(q, B, D), sq, 0.05, 0);
    assert.equal(opt.lr, schedule(step));
    assertClose(await P.dataFloat64(), p, tol, `P after step ${step + 1}`);
    assertClose(await Q.dataFloat64(), q, tol, `Q after step ${step + 1}`);
  }
  assert.equal(opt.stepCount, 5);
  const state = opt.state();
  assertClose(await state.tensors.get('0.exp_avg')!.dataFloat64(), sp.m, tol, 'exp_avg of P');
  assertClose(await state.tensors.get('1.exp_avg_sq')!.dataFloat64(), sq.v, tol, 'exp_avg_sq of Q');
  assert.equal(state.scalars['0.step'], 5);
  // The parameters moved (the test is not vacuous).
  assert.ok(Math.abs(p[0]! - P0[0]!) > 0.1);
  opt.dispose();
}

async function sgdCase(options: SgdRefOptions, tol: number): Promise<void> {
  const { P, Q, backward } = makeProblem();
  const opt = new SGD([P, Q], {
    lr: options.lr, momentum: options.momentum, nesterov: options.nesterov, weightDecay: options.wd, dampening: options.dampening ?? 0,
  });
  const p = [...P0];
  const q = [...Q0];
  let bp: number[] | null = null;
  let bq: number[] | null = null;
  for (let step = 0; step < 6; step++) {
    backward();
    opt.step();
    opt.zeroGrad();
    const gp = quadraticGrad(p, A, C);
    const gq = quadraticGrad(q, B, D);
    bp = sgdRefStep(p, gp, bp, options);
    bq = sgdRefStep(q, gq, bq, options);
    assertClose(await P.dataFloat64(), p, tol, `P after step ${step + 1}`);
    assertClose(await Q.dataFloat64(), q, tol, `Q after step ${step + 1}`);
  }
  if (options.momentum > 0) assertClose(await opt.state().tensors.get('0.momentum')!.dataFloat64(), bp!, tol, 'momentum buffer of P');
  opt.dispose();
}

describe('AdamW', () => {
  it('matches a float64 reference over 5 steps (weight decay, groups, a schedule, changing gradients)', async () => {
    await adamwCase(1e-6);
  });

  it('matches it to 1e-12 on the float64 backend', async () => {
    await onBackendAsync(float64Backend, () => adamwCase(1e-12));
  });

  it('defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weight decay 0.01', async () => {
    const { P, backward } = makeProblem();
    const opt = new AdamW([P]);
    assert.equal(opt.lr, 1e-3);
    assert.deepEqual([opt.beta1, opt.beta2, opt.eps, opt.groups[0]!.weightDecay], [0.9, 0.999, 1e-8, 0.01]);
    const p = [...P0];
    const s: AdamRefState = { m: P0.map(() => 0), v: P0.map(() => 0), t: 0 };
    for (let step = 0; step < 3; step++) {
      backward();
      opt.step();
      opt.zeroGrad();
      adamwRefStep(p, quadraticGrad(p, A, C), s, 1e-3, 0.01);
    }
    assertClose(await P.dataFloat64(), p, 1e-6, 'P');
    opt.dispose();
  });

  it('minimises a least-squares problem', async () => {
    const rng = new Random(7);
    const n = 32;
    const k = 4;
    const wTrue = [1.5, -2, 0.5, 3];
    const xs = Array.from({ length: n * k }, () => rng.normal());
    const ys = Array.from({ length: n }, (_, r) => wTrue.reduce((acc, w, j) => acc + w * xs[r * k + j]!, 0));
    const X = ops.tensor(xs, [n, k]);
    const y = ops.tensor(ys, [n, 1]);
    const w = ops.zeros([k, 1], { requiresGrad: true, name: 'w' });
    const opt = new AdamW([w], { lr: 0.05, weightDecay: 0 });
    let first = 0;
    let last = 0;
    for (let step = 0; step < 400; step++) {
      const loss = tidy(() => {
        const l = ops.mean(ops.square(ops.sub(ops.matmul(X, w), y)));
        l.backward();
        return l;
      });
      const value = await loss.item();
      loss.dispose();
      if (step === 0) first = value;
      last = value;
      opt.step();
      opt.zeroGrad();
    }
    assert.ok(last < 1e-4 * first, `loss went from ${first} to ${last}`);
    assertClose(await w.dataFloat64(), wTrue, 1e-2, 'w');
    opt.dispose();
  });

  it('skips parameters without a gradient; each parameter counts its own steps', async () => {
    const { P, Q } = makeProblem();
    const opt = new AdamW([P, Q], { lr: 0.1, weightDecay: 0 });
    tidy(() => ops.sum(ops.mul(P, ops.tensor(A, [2, 3]))).backward()); // only P gets a gradient
    opt.step();
    opt.zeroGrad();
    assert.deepEqual(Array.from(await Q.dataFloat64()), Q0, 'Q untouched');
    let state = opt.state();
    assert.deepEqual([...state.tensors.keys()].sort(), ['0.exp_avg', '0.exp_avg_sq']);
    assert.deepEqual(state.scalars, { stepCount: 1, lr: 0.1, '0.step': 1 });
    // Q's first update, at optimiser step 2, uses t = 1: each element moves by lr * sign(g).
    const g = [3, -0.5, 0.001, -20];
    tidy(() => ops.sum(ops.mul(Q, ops.tensor(g))).backward());
    opt.step();
    assertClose(await Q.dataFloat64(), Q0.map((x, i) => x - 0.1 * Math.sign(g[i]!)), 1e-5, 'Q');
    state = opt.state();
    assert.equal(state.scalars['1.step'], 1);
    assert.equal(state.scalars['0.step'], 1, 'P had no gradient at step 2');
    opt.zeroGrad();
    opt.dispose();
  });

  it('state() / loadState() continue training identically', async () => {
    const a = makeProblem();
    const b = makeProblem();
    const optA = new AdamW([a.P, a.Q], { lr: 0.05 });
    for (let i = 0; i < 3; i++) {
      a.backward();
      optA.step();
      optA.zeroGrad();
    }
    b.P.assign(a.P);
    b.Q.assign(a.Q);
    const optB = new AdamW([b.P, b.Q], { lr: 0.05 });
    optB.loadState(optA.state());
    assert.equal(optB.stepCount, 3);
    for (let i = 0; i < 2; i++) {
      for (const [x, opt] of [[a, optA], [b, optB]] as const) {
        x.backward();
        opt.step();
        opt.zeroGrad();
      }
    }
    assert.deepEqual(await b.P.data(), await a.P.data());
    assert.deepEqual(await b.Q.data(), await a.Q.data());
    assert.throws(() => optB.loadState({ tensors: new Map([['0.exp_avg', ops.zeros([3])]]), scalars: { '0.step': 1 } }),
      /AdamW.loadState\(\): tensor '0.exp_avg' \[3\] on 'cpu' does not match tensor 'P'/);
    assert.throws(() => optB.loadState({ tensors: new Map(), scalars: { '5.step': 1 } }), /refers to parameter 5, but there are 2 parameters/);
    assert.throws(() => optB.loadState({ tensors: new Map(), scalars: { '0.step': 1 } }), /tensor '0.exp_avg' is missing/);
    optA.dispose();
    optB.dispose();
  });

  it('clear errors for bad hyperparameters and parameters', () => {
    const { P } = makeProblem();
    assert.throws(() => new AdamW([]), /AdamW: expected a non-empty array of parameters/);
    assert.throws(() => new AdamW([P], { lr: -1 }), /AdamW: lr must be a finite number >= 0, got -1/);
    assert.throws(() => new AdamW([P], { lr: NaN }), /lr must be a finite number >= 0, got NaN/);
    assert.throws(() => new AdamW([P], { betas: [0.9, 1] }), /betas\[1\] must be in \[0, 1\), got 1/);
    assert.throws(() => new AdamW([{ params: [P], weightDecay: -0.1 }]), /weightDecay of group 0 must be a finite number >= 0/);
    assert.throws(() => new AdamW([P, P]), /tensor 'P' #\d+ \[2, 3\] appears more than once/);
    assert.throws(() => new AdamW([ops.mul(P, 2)]), /computed by 'mul'; parameters must be leaf tensors/);
    const opt = new AdamW([P]);
    assert.throws(() => { opt.lr = -0.5; }, /lr must be a finite number >= 0, got -0.5/);
  });
});

describe('SGD', () => {
  it('momentum (first step buf = g) with coupled weight decay matches the reference over 6 steps', async () => {
    await sgdCase({ lr: 0.05, momentum: 0.9, nesterov: false, wd: 0.01 }, 1e-6);
  });

  it('Nesterov momentum matches the reference', async () => {
    await sgdCase({ lr: 0.05, momentum: 0.9, nesterov: true, wd: 0 }, 1e-6);
  });

  it('dampening, and plain gradient descent without momentum', async () => {
    await sgdCase({ lr: 0.05, momentum: 0.5, nesterov: false, wd: 0, dampening: 0.3 }, 1e-6);
    await sgdCase({ lr: 0.1, momentum: 0, nesterov: false, wd: 0.05 }, 1e-6);
  });

  it('matches to 1e-12 on the float64 backend', async () => {
    await onBackendAsync(float64Backend, () => sgdCase({ lr: 0.05, momentum: 0.9, nesterov: true, wd: 0.01 }, 1e-12));
  });

  it('defaults lr 0.01, momentum 0.9; nesterov needs momentum', () => {
    const { P } = makeProblem();
    const opt = new SGD([P]);
    assert.deepEqual([opt.lr, opt.momentum, opt.nesterov, opt.dampening], [0.01, 0.9, false, 0]);
    assert.throws(() => new SGD([P], { momentum: 0, nesterov: true }), /SGD: nesterov momentum needs momentum > 0 and dampening 0/);
  });
});

describe('optimiser bookkeeping', () => {
  it('zeroGrad disposes and clears every gradient', () => {
    const { P, Q, backward } = makeProblem();
    const opt = new SGD([P, Q]);
    backward();
    const grads = [P.grad!, Q.grad!];
    const before = memory();
    opt.zeroGrad();
    assert.equal(P.grad, null);
    assert.equal(Q.grad, null);
    assert.ok(grads.every((g) => g.isDisposed));
    assert.equal(memory().tensors, before.tensors - 2);
    opt.zeroGrad(); // nothing left to clear
  });

  it('memory stays flat over 50 steps of backward + clip + step + zeroGrad (AdamW and SGD)', async () => {
    for (const make of [(ps: Tensor[]) => new AdamW(ps, { lr: 0.01 }), (ps: Tensor[]) => new SGD(ps, { nesterov: true, weightDecay: 0.01 })]) {
      const { P, Q, backward } = makeProblem();
      const opt = make([P, Q]);
      await collectGarbage(); // garbage of earlier tests is freed by the finalizer backstop at the reads' yields
      const start = memory();
      let afterFirst: ReturnType<typeof memory> | null = null;
      for (let step = 0; step < 50; step++) {
        backward();
        await clipGradNorm([P, Q], 0.5); // clips: the norm stays well above 0.5
        opt.step();
        opt.zeroGrad();
        const now = memory();
        if (!afterFirst) {
          afterFirst = now;
          const slots = opt instanceof AdamW ? 4 : 2; // state tensors for two parameters
          assert.equal(now.tensors, start.tensors + slots, `${opt.name}: tensors after the first step`);
          assert.equal(now.buffers, start.buffers + slots, `${opt.name}: buffers after the first step`);
        } else {
          assert.deepEqual(now, afterFirst, `${opt.name}: memory at step ${step + 1}`);
        }
      }
      opt.dispose();
      assert.deepEqual(memory(), start, `${opt.name}: dispose() frees the state`);
    }
  });
});

describe('cosineSchedule', () => {
  it('linear warmup, cosine decay, clamped after the end', () => {
    const lr = cosineSchedule({ baseLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-5, warmupStartLr: 1e-4 });
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-15, `${a} vs ${b}`);
    near(lr(0), 1e-4);
    near(lr(5), 1e-4 + (1e-3 - 1e-4) / 2);
    near(lr(10), 1e-3);
    near(lr(60), (1e-3 + 1e-5) / 2);
    near(lr(35), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.cos(Math.PI / 4)));
    near(lr(110), 1e-5);
    near(lr(1000), 1e-5);
    for (let s = 10; s < 110; s++) assert.ok(lr(s + 1) <= lr(s), `decreasing at ${s}`);
  });

  it('defaults minLr 0 and warmupStartLr 0; no warmup', () => {
    const lr = cosineSchedule({ baseLr: 0.5, warmupSteps: 4, totalSteps: 8 });
    assert.deepEqual([lr(0), lr(2), lr(4), lr(6), lr(8)], [0, 0.25, 0.5, 0.25 + 0.25 * Math.cos(Math.PI / 2), 0]);
    const noWarmup = cosineSchedule({ baseLr: 2, warmupSteps: 0, totalSteps: 10 });
    assert.equal(noWarmup(0), 2);
    assert.ok(Math.abs(noWarmup(5) - 1) < 1e-15);
  });

  it('drives an optimiser: step k uses schedule(k)', () => {
    const { P } = makeProblem();
    const schedule = cosineSchedule({ baseLr: 0.1, warmupSteps: 2, totalSteps: 6 });
    const opt = new SGD([P], { schedule });
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      opt.step(); // no gradient: nothing moves, but the lr follows the schedule
      seen.push(opt.lr);
    }
    assert.deepEqual(seen, [0, 1, 2, 3].map(schedule));
  });

  it('clear errors', () => {
    assert.throws(() => cosineSchedule({ baseLr: -1, warmupSteps: 0, totalSteps: 10 }), /cosineSchedule\(\): baseLr must be a finite number >= 0, got -1/);
    assert.throws(() => cosineSchedule({ baseLr: NaN, warmupSteps: 0, totalSteps: 10 }), /baseLr must be a finite number >= 0, got NaN/);
    assert.throws(() => cosineSchedule({ baseLr: 1, warmupSteps: 0, totalSteps: 10, minLr: -0.1 }), /minLr must be a finite number >= 0/);
    assert.throws(() => cosineSchedule({ baseLr: 1, warmupSteps: -1, totalSteps: 10 }), /warmupSteps must be an integer >= 0, got -1/);
    assert.throws(() => cosineSchedule({ baseLr: 1, warmupSteps: 0, totalSteps: NaN }), /totalSteps must be an integer >= 0, got NaN/);
    assert.throws(() => cosineSchedule({ baseLr: 1, warmupSteps: 20, totalSteps: 10 }), /warmupSteps \(20\) must not exceed totalSteps \(10\)/);
    assert.throws(() => cosineSchedule({ baseLr: 1, warmupSteps: 0, totalSteps: 10, minLr: 2 }), /minLr \(2\) must not exceed baseLr \(1\)/);
    const lr = cosineSchedule({ baseLr: 1, warmupSteps: 0, totalSteps: 10 });
    assert.throws(() => lr(-1), /step must be a number >= 0, got -1/);
    assert.throws(() => lr(NaN), /step must be a number >= 0, got NaN/);
  });
});

describe('clipGradNorm', () => {
  function withGrads(values: number[][], names: string[]): Tensor[] {
    return values.map((v, i) => {
      const p = ops.zeros([v.length], { requiresGrad: true, name: names[i]! });
      tidy(() => ops.sum(ops.mul(p, ops.tensor(v))).backward()); // grad = v
      return p;
    });
  }

  const G1 = f32([3, -4, 0.5, 1.25]);
  const G2 = f32([12, -0.75]);
  const refNorm = Math.sqrt([...G1, ...G2].reduce((s, x) => s + x * x, 0));

  it('returns the total L2 norm and scales every gradient by maxNorm / (norm + 1e-6)', async () => {
    const [p1, p2] = withGrads([G1, G2], ['a', 'b']);
    const skipped = ops.zeros([3], { requiresGrad: true }); // no gradient: ignored
    const norm = await clipGradNorm([p1!, skipped, p2!], 2);
    assert.ok(Math.abs(norm - refNorm) <= 1e-6 * refNorm, `norm ${norm} vs ${refNorm}`);
    const scale = 2 / (refNorm + 1e-6);
    assertClose(await p1!.grad!.dataFloat64(), G1.map((x) => x * scale), 1e-6, 'grad a');
    assertClose(await p2!.grad!.dataFloat64(), G2.map((x) => x * scale), 1e-6, 'grad b');
    assert.equal(skipped.grad, null);
    const clipped = Math.hypot(...(await p1!.grad!.dataFloat64()), ...(await p2!.grad!.dataFloat64()));
    assert.ok(Math.abs(clipped - 2) < 1e-5);
    // With a tiny norm the 1e-6 in the denominator shows: 5e-6 clipped to 1e-6 scales by 1e-6 / 6e-6.
    const [tiny] = withGrads([[3e-6, 4e-6]], ['tiny']);
    assert.ok(Math.abs((await clipGradNorm([tiny!], 1e-6)) - 5e-6) < 1e-12);
    assertClose(await tiny!.grad!.dataFloat64(), [3e-6 / 6, 4e-6 / 6], 1e-12, 'tiny grads');
  });

  it('leaves gradients alone when the norm is within maxNorm, and returns 0 with no gradients', async () => {
    const [p1, p2] = withGrads([G1, G2], ['a', 'b']);
    const g1 = p1!.grad;
    const norm = await clipGradNorm([p1!, p2!], 100);
    assert.ok(Math.abs(norm - refNorm) <= 1e-6 * refNorm);
    assert.equal(p1!.grad, g1);
    assert.deepEqual(Array.from(await p1!.grad!.dataFloat64()), G1);
    assert.equal(await clipGradNorm([ops.zeros([2], { requiresGrad: true })], 1), 0);
    await assert.rejects(clipGradNorm([p1!], -1), /clipGradNorm\(\): maxNorm must be a number >= 0, got -1/);
  });

  it('names the parameters with non-finite gradients when the norm is NaN', async () => {
    const [p1, p2, p3] = withGrads([[1, NaN, 2], [1, 2], [Infinity, 0]], ['blocks.0.ffn.numerator', 'head.bias', 'embed.weight']);
    const before = memory();
    await assert.rejects(clipGradNorm([p1!, p2!, p3!], 1), (error: unknown) => {
      assert.ok(error instanceof NonFiniteGradientError);
      assert.equal(error.message, 'gradient norm is NaN (non-finite values in the gradients of: blocks.0.ffn.numerator, embed.weight)');
      assert.deepEqual(error.params, ['blocks.0.ffn.numerator', 'embed.weight']);
      return true;
    });
    assert.deepEqual(memory(), before, 'nothing leaked');
    assert.deepEqual(Array.from(await p2!.grad!.dataFloat64()), [1, 2], 'gradients untouched');
    // An unnamed parameter is described by index and shape.
    const [anon] = withGrads([[NaN]], [undefined as unknown as string]);
    await assert.rejects(clipGradNorm([p2!, anon!], 1), /gradients of: parameter 1 \(tensor #\d+ \[1\]\)\)$/);
  });

  it('a float32 overflow of the sum of squares alone is not an error', async () => {
    const [p] = withGrads([[3e19, 4e19]], ['big']);
    const norm = await clipGradNorm([p!], 1);
    assert.ok(Math.abs(norm - 5e19) <= 1e-6 * 5e19, `norm ${norm}`);
    assertClose(await p!.grad!.dataFloat64(), [0.6, 0.8], 1e-6, 'clipped');
  });
});
