// `kat demo`: a two-layer GR-KAN fits a 1-D function in about a second, end to
// end through the library's modules, autograd and optimiser.

import { JSON_FLAG } from '../common_flags.js';
import { CliError, flagTable, integerIn, SEED_RANGE, type FlagValues } from '../flags.js';
import { GroupRational } from '../../nn/kan.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { AdamW } from '../../optim/index.js';
import { mean, square, sub, tensor, tidy, type Tensor } from '../../index.js';
import { Random } from '../../tensor/random.js';

export const DEMO_FLAGS = flagTable({
  steps: { type: integerIn(1, 1_000_000), value: 'N', default: 3000, help: 'optimizer steps' },
  lr: { type: 'number', value: 'X', default: 0.03, help: 'the learning rate' },
  seed: { type: SEED_RANGE, value: 'N', default: 0, help: 'initialisation' },
  json: { ...JSON_FLAG, help: 'one JSON object per line: a step event every 100 steps, then a done event' },
});

const target = (x: number) => Math.sin(3 * x) * Math.exp(-x * x);

/** rational(1) -> linear(1 -> 16) -> rational(16, 4 groups, one numerator each) -> linear(16 -> 1) */
class TinyKan extends Module {
  private readonly act1 = this.module('act1', new GroupRational(1, { groups: 1 }));
  private readonly fc1: Linear;
  private readonly act2 = this.module('act2', new GroupRational(16, { groups: 4, mode: 'swish', sharedNumerator: false }));
  private readonly fc2: Linear;

  constructor(seed: number) {
    super();
    const rng = new Random(seed);
    this.fc1 = this.module('fc1', new Linear(1, 16, rng, { std: 1, untruncated: true }));
    // Spread the 16 hidden units over the input range (a 1-D input gives zero biases nothing to break symmetry).
    this.fc1.bias!.assignValues(Array.from({ length: 16 }, () => rng.normal() * 0.5));
    this.fc2 = this.module('fc2', new Linear(16, 1, rng, { std: 0.25, untruncated: true }));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act2.forward(this.fc1.forward(this.act1.forward(x))));
  }
}

export async function runDemo(flags: FlagValues): Promise<void> {
  const steps = (flags.steps as number | undefined) ?? DEMO_FLAGS.steps.default;
  const lr = (flags.lr as number | undefined) ?? DEMO_FLAGS.lr.default;
  const seed = (flags.seed as number | undefined) ?? DEMO_FLAGS.seed.default;
  if (!Number.isInteger(steps) || steps < 1) throw new CliError(`demo: --steps must be a positive integer, got ${steps}`);
  if (!(lr > 0)) throw new CliError(`demo: --lr must be positive, got ${lr}`);

  const n = 256;
  const xs = Array.from({ length: n }, (_, i) => -2 + (4 * i) / (n - 1));
  const x = tensor(xs, [n, 1]);
  const y = tensor(xs.map(target), [n, 1]);
  const model = new TinyKan(seed);
  const optimizer = new AdamW(model.parameters(), { lr, weightDecay: 0 });
  const started = performance.now();
  let loss = NaN;
  for (let step = 1; step <= steps; step++) {
    const lossTensor = tidy(() => {
      const l = mean(square(sub(model.forward(x), y)));
      l.backward();
      return l;
    });
    loss = await lossTensor.item();
    lossTensor.dispose();
    if (!Number.isFinite(loss)) throw new Error(`demo: the loss became ${loss} at step ${step}; try a smaller --lr`);
    optimizer.step();
    optimizer.zeroGrad();
    if (flags.json) {
      if (step % 100 === 0 || step === steps) process.stdout.write(`${JSON.stringify({ event: 'step', step, loss })}\n`);
    } else if (step % 500 === 0 || step === steps) {
      process.stdout.write(`step ${String(step).padStart(5)}  mse ${loss.toExponential(3)}\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (flags.json) process.stdout.write(`${JSON.stringify({ event: 'done', mse: loss, seconds })}\n`);
  else process.stdout.write(`fitted sin(3x) exp(-x^2) on [-2, 2]: mse ${loss.toExponential(3)} in ${seconds.toFixed(1)} s\n`);
}
