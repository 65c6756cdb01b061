// An exponential moving average of the weights (Polyak averaging, as timm's
// ModelEma): after each optimiser step, average = d * average + (1 - d) * p.
// Evaluating the average instead of the last weights smooths out the noise of
// the final steps. The decay warms up as min(decay, (1 + t) / (10 + t)) over
// the t updates so far (TensorFlow's ExponentialMovingAverage with
// num_updates), so early averages are not dominated by the random
// initialisation. Averages are tensors on the parameters' backend; buffers are
// never written in place (assign swaps buffers), so a view is a snapshot.

import { add, mul, sub } from '../ops/elementwise.js';
import { noGrad } from '../tensor/autograd.js';
import { keep, tidy } from '../tensor/scope.js';
import { formatShape, type Tensor } from '../tensor/tensor.js';

/** An exponential moving average of a model's parameters (kat train --ema), swapped in for evaluation and saving. */
export class WeightAverage {
  /** Updates so far: the position of the decay's warmup. */
  updates = 0;
  private readonly averages: Tensor[];
  private swapped = false;

  constructor(readonly params: readonly Tensor[], readonly decay: number) {
    if (typeof decay !== 'number' || !(decay > 0 && decay < 1)) {
      throw new Error(`WeightAverage: decay must be in (0, 1), got ${String(decay)} (e.g. 0.999: about the last 1,000 steps)`);
    }
    this.averages = params.map((p) => keep(p.view(p.shape)));
  }

  /** The decay of the next update. */
  currentDecay(): number {
    return Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
  }

  /** Folds the parameters' current values into the averages (after an optimiser step). */
  update(): void {
    if (this.swapped) throw new Error('WeightAverage: update() while the averages are swapped into the model; swap back first');
    const d = this.currentDecay();
    noGrad(() => tidy(() => {
      // average + (1 - d) (p - average): exact when p equals the average.
      this.params.forEach((p, i) => this.averages[i]!.assign(add(this.averages[i]!, mul(sub(p, this.averages[i]!), 1 - d))));
    }));
    this.updates++;
  }

  /**
   * Starts the average again from the parameters' current values, with the
   * decay's warmup (after a change of the model's structure, such as S-KAN's
   * choice of spaces, averaging across it would mix two different functions).
   */
  restart(): void {
    if (this.swapped) throw new Error('WeightAverage: restart() while the averages are swapped into the model; swap back first');
    noGrad(() => tidy(() => {
      this.params.forEach((p, i) => this.averages[i]!.assign(mul(p, 1)));
    }));
    this.updates = 0;
  }

  /** Exchanges the parameters' values with the averages (call twice to restore). Cheap: buffers change hands, nothing is copied. */
  swap(): void {
    this.params.forEach((p, i) => {
      const live = p.view(p.shape);
      p.assign(this.averages[i]!);
      this.averages[i]!.assign(live);
      live.dispose();
    });
    this.swapped = !this.swapped;
  }

  /** The averages (live tensors owned by this object: read, do not dispose). */
  values(): readonly Tensor[] {
    return this.averages;
  }

  /** Sets the averages from saved values (resuming), checking each shape. */
  load(values: readonly { shape: readonly number[]; values: Float32Array }[], updates: number): void {
    if (values.length !== this.params.length) throw new Error(`WeightAverage: ${values.length} saved averages for ${this.params.length} parameters`);
    values.forEach((saved, i) => {
      const p = this.params[i]!;
      if (saved.shape.join() !== p.shape.join()) {
        throw new Error(`WeightAverage: the saved average of ${p.describe()} has shape ${formatShape(saved.shape)}`);
      }
    });
    values.forEach((saved, i) => this.averages[i]!.assignValues(saved.values));
    this.updates = updates;
  }

  dispose(): void {
    for (const average of this.averages) average.dispose();
  }
}
