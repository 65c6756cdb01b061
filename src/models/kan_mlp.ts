// KAN-MLP: KAN layers on flattened inputs. The basis is GR-KAN's group
// rational (fc(act(x)), the default), efficient-kan's B-splines or FastKAN's
// Gaussian radial basis functions, AF-KAN's activation bases, ReLU-KAN's
// squared ReLU bumps or ChebyKAN's Chebyshev polynomials (nn/kan_bases.ts); basis 'mlp' is the plain MLP of the
// same widths that KAN papers compare against.

import { reshape } from '../ops/layout.js';
import { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  BSplineKanLayer, createKanLayer, forwardNoGrad, type AfKanOptions, type BSplineKanOptions, type ChebyKanOptions, type KanBasis, type KanLayer, type MlpActivation,
  type RbfKanOptions, type ReluKanOptions,
} from '../nn/kan_bases.js';
import { Dropout } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { checkKanMlpConfig } from './config_check.js';

export interface KanMlpConfig {
  /** Flattened input size (C * H * W for images). */
  inputs: number;
  hidden: number[];
  classes: number;
  /** Channel groups of the rational layers. */
  groups: number;
  dropout: number;
  /** The layers' basis; absent (older checkpoints) means 'rational'. */
  basis?: KanBasis;
  /** B-spline layer options (basis 'bspline'). */
  bspline?: BSplineKanOptions;
  /** Radial-basis layer options (basis 'rbf'). */
  rbf?: RbfKanOptions;
  /** AF-KAN layer options (basis 'af'). */
  af?: AfKanOptions;
  /** ReLU-KAN layer options (basis 'relu'). */
  relu?: ReluKanOptions;
  /** ChebyKAN layer options (basis 'cheby'). */
  cheby?: ChebyKanOptions;
  /** The MLP baseline's activation (basis 'mlp'; default relu). */
  activation?: MlpActivation;
}

export class KanMlp extends Module {
  readonly layers: KanLayer[] = [];
  readonly basis: KanBasis;
  private readonly drop: Dropout;

  constructor(readonly config: KanMlpConfig, seed = 0) {
    super();
    checkKanMlpConfig(config, 'KanMlp');
    const rng = new Random(seed);
    this.basis = config.basis ?? 'rational';
    const widths = [config.inputs, ...config.hidden, config.classes];
    for (let i = 0; i + 1 < widths.length; i++) {
      // A first rational layer sees raw inputs: start it as the identity; later ones as swish.
      const rational = { mode: i === 0 ? 'identity' : 'swish', groups: config.groups };
      this.layers.push(this.module(`layers.${i}`,
        createKanLayer(this.basis, widths[i]!, widths[i + 1]!, rng, {
          rational, bspline: config.bspline, rbf: config.rbf, af: config.af, relu: config.relu, cheby: config.cheby,
          mlp: { activation: config.activation ?? 'relu', activateInput: i > 0 },
        })));
    }
    this.drop = this.module('drop', new Dropout(config.dropout));
    this.nameParameters();
  }

  /** inputs [B, ...] (flattened) -> logits [B, classes]. */
  forward(x: Tensor): Tensor {
    let h = reshape(x, [x.shape[0]!, -1]);
    this.layers.forEach((layer, i) => {
      h = layer.forward(i > 0 ? this.drop.forward(h) : h);
    });
    return h;
  }

  override dispose(): void {
    super.dispose();
    for (const [, grid] of this.namedBuffers()) grid.dispose();
  }

  /** The B-spline layers' knot grids (checkpoint state that is not a parameter). */
  namedBuffers(): [string, Tensor][] {
    return this.layers.flatMap((layer, i) => (layer instanceof BSplineKanLayer ? layer.namedBuffers(`layers.${i}.`) : []));
  }

  /**
   * Fits every B-spline layer's grid to the data (efficient-kan's update_grid):
   * inputs [B, ...] go through the layers in order, each B-spline layer's grid
   * is refitted to the values it receives. Returns how many grids changed.
   */
  async updateGrids(x: Tensor, margin = 0.01): Promise<number> {
    let h = reshape(x, [x.shape[0]!, -1]);
    let updated = 0;
    for (const [i, layer] of this.layers.entries()) {
      if (layer instanceof BSplineKanLayer) {
        await layer.updateGrid(h, margin);
        updated++;
      }
      if (i + 1 === this.layers.length) break;
      const next = forwardNoGrad(layer, h);
      if (h !== x) h.dispose();
      h = next;
    }
    if (h !== x) h.dispose();
    return updated;
  }
}
