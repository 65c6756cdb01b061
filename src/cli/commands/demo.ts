// `kat demo`: a two-layer GR-KAN fits a 1-D function, end to end through the
// public ops and autograd (a smoke test a user can run in a second).

import { CliError, type FlagValues } from '../flags.js';
import {
  add, groupRational, matmul, mean, randn, square, sub, tensor, tidy, type Tensor,
} from '../../index.js';

const target = (x: number) => Math.sin(3 * x) * Math.exp(-x * x);

export async function runDemo(flags: FlagValues): Promise<void> {
  const steps = (flags.steps as number | undefined) ?? 3000;
  const lr = (flags.lr as number | undefined) ?? 0.03;
  const seed = (flags.seed as number | undefined) ?? 0;
  if (!Number.isInteger(steps) || steps < 1) throw new CliError(`demo: --steps must be a positive integer, got ${steps}`);
  if (!(lr > 0)) throw new CliError(`demo: --lr must be positive, got ${lr}`);

  const n = 256;
  const hidden = 16;
  const xs = Array.from({ length: n }, (_, i) => -2 + (4 * i) / (n - 1));
  const x = tensor(xs, [n, 1]);
  const y = tensor(xs.map(target), [n, 1]);
  // rational(1 -> 1) -> linear(1 -> 16) -> rational(16, 4 groups) -> linear(16 -> 1)
  const params: Tensor[] = [
    tensor([0, 1, 0, 0, 0, 0], [1, 6], { requiresGrad: true, name: 'act1.numerator' }),
    tensor([0, 0, 0, 0], [1, 4], { requiresGrad: true, name: 'act1.denominator' }),
    randn([1, hidden], { seed, std: 1, requiresGrad: true, name: 'fc1.weight' }),
    randn([hidden], { seed: seed + 1, std: 0.5, requiresGrad: true, name: 'fc1.bias' }),
    tensor(Array(4).fill([0, 0.5, 0.25, 0.05, 0.005, 0.0003]).flat(), [4, 6], { requiresGrad: true, name: 'act2.numerator' }),
    tensor(Array(16).fill(0).map((_, i) => (i % 4 === 1 ? 0.1 : 0)), [4, 4], { requiresGrad: true, name: 'act2.denominator' }),
    randn([hidden, 1], { seed: seed + 2, std: 1 / Math.sqrt(hidden), requiresGrad: true, name: 'fc2.weight' }),
    tensor([0], [1], { requiresGrad: true, name: 'fc2.bias' }),
  ];
  const forward = () => {
    const [a1, b1, w1, c1, a2, b2, w2, c2] = params as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    return add(matmul(groupRational(add(matmul(groupRational(x, a1, b1), w1), c1), a2, b2), w2), c2);
  };

  // Adam, written out: this demo uses only tensors, ops and autograd.
  const m = params.map((p) => new Float64Array(p.size));
  const v = params.map((p) => new Float64Array(p.size));
  const started = performance.now();
  let loss = NaN;
  for (let step = 1; step <= steps; step++) {
    const lossTensor = tidy(() => {
      const l = mean(square(sub(forward(), y)));
      l.backward();
      return l;
    });
    loss = await lossTensor.item();
    lossTensor.dispose();
    if (!Number.isFinite(loss)) throw new Error(`demo: the loss became ${loss} at step ${step}; try a smaller --lr`);
    for (const [i, p] of params.entries()) {
      const g = await p.grad!.data();
      const values = await p.data();
      for (let j = 0; j < p.size; j++) {
        m[i]![j] = 0.9 * m[i]![j]! + 0.1 * g[j]!;
        v[i]![j] = 0.999 * v[i]![j]! + 0.001 * g[j]! * g[j]!;
        const mHat = m[i]![j]! / (1 - 0.9 ** step);
        const vHat = v[i]![j]! / (1 - 0.999 ** step);
        values[j] = values[j]! - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
      const updated = tensor(values, p.shape, { requiresGrad: true, name: p.name });
      p.dispose();
      params[i] = updated;
    }
    if (flags.json) {
      if (step % 100 === 0 || step === steps) process.stdout.write(`${JSON.stringify({ event: 'step', step, loss })}\n`);
    } else if (step % 250 === 0 || step === steps) {
      process.stdout.write(`step ${String(step).padStart(5)}  mse ${loss.toExponential(3)}\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (flags.json) process.stdout.write(`${JSON.stringify({ event: 'done', mse: loss, seconds })}\n`);
  else process.stdout.write(`fitted sin(3x) exp(-x^2) on [-2, 2]: mse ${loss.toExponential(3)} in ${seconds.toFixed(1)} s\n`);
}
