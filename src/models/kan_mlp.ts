// KAN-MLP: KAN layers on flattened inputs. The basis is GR-KAN's group
// rational (fc(act(x)), the default), efficient-kan's B-splines or FastKAN's
// Gaussian radial basis functions, AF-KAN's activation bases, ReLU-KAN's
// squared ReLU bumps or ChebyKAN's Chebyshev polynomials (nn/kan_bases.ts); basis 'mlp' is the plain MLP of the
// same widths that KAN papers compare against; basis 'select' makes S-KAN
// layers whose nodes choose among several of these spaces (nn/select_kan.ts).

import { reshape } from '../ops/layout.js';
import { noGrad } from '../tensor/autograd.js';
import { tidy } from '../tensor/scope.js';
import { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  BSplineKanLayer, createKanLayer, forwardNoGrad, type AfKanOptions, type BSplineKanOptions, type ChebyKanOptions, type KanBasis, type KanLayer, type MlpActivation,
  type RbfKanOptions, type ReluKanOptions,
} from '../nn/kan_bases.js';
import { Dropout } from '../nn/layers.js';
import { Module, type NamedValues } from '../nn/module.js';
import { SelectKanLayer, type NodeChoice, type SelectSpace } from '../nn/select_kan.js';
import { checkKanMlpConfig } from './config_check.js';

/** kan-mlp's configuration: widths, basis and the basis options (stored in checkpoints). */
export interface KanMlpConfig {
  /** Flattened input size (C * H * W for images). */
  inputs: number;
  hidden: number[];
  classes: number;
  /** Channel groups of the rational layers. */
  groups: number;
  dropout: number;
  /** The layers' basis; absent (older checkpoints) means 'rational'; 'select': S-KAN layers (`select`). */
  basis?: KanBasis | 'select';
  /**
   * S-KAN (basis 'select'): the spaces each node chooses among, the selection's
   * softmax temperature, and once pruned the inputs each layer's spaces kept
   * (inputs[layer][space] = ascending input indices).
   */
  select?: { spaces: SelectSpace[]; temperature?: number; inputs?: number[][][] };
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

/** A stack of KAN layers on flattened inputs (kan-mlp): any basis, or S-KAN layers that choose their basis. */
export class KanMlp extends Module {
  readonly layers: (KanLayer | SelectKanLayer)[] = [];
  readonly basis: KanBasis | 'select';
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
      if (this.basis === 'select') {
        const select = config.select!;
        this.layers.push(this.module(`layers.${i}`, new SelectKanLayer(widths[i]!, widths[i + 1]!, rng, {
          spaces: select.spaces, temperature: select.temperature, rationalMode: rational.mode, inputs: select.inputs?.[i],
        })));
        continue;
      }
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
    for (const layer of this.layers) if (layer instanceof SelectKanLayer) layer.dispose();
    for (const [, grid] of this.namedBuffers()) grid.dispose();
  }

  /** The B-spline layers' knot grids and S-KAN layers' kept spaces (checkpoint state that is not a parameter). */
  namedBuffers(): [string, Tensor][] {
    return this.layers.flatMap((layer, i) =>
      (layer instanceof BSplineKanLayer || layer instanceof SelectKanLayer ? layer.namedBuffers(`layers.${i}.`) : []));
  }

  /**
   * S-KAN phase 2: every layer keeps each node's best spaces (see
   * SelectKanLayer.choose). With `sample` (inputs [rows, ...]), ranked by each
   * space's contribution on them, layer by layer (each layer's sample is what
   * the layers before it, as chosen, make of it); else by alpha.
   */
  async chooseSpaces(options: { keep?: number; threshold?: number; sample?: Tensor } = {}): Promise<NodeChoice[][]> {
    const choices: NodeChoice[][] = [];
    let h = options.sample ? noGrad(() => reshape(options.sample!, [options.sample!.shape[0]!, -1])) : null;
    try {
      for (const layer of this.layers) {
        if (!(layer instanceof SelectKanLayer)) throw new Error(`KanMlp.chooseSpaces: basis '${this.basis}' has no activation spaces to choose (basis 'select' has)`);
        const scores = h ? await layer.contributions(h) : undefined;
        choices.push(await layer.choose({ keep: options.keep, threshold: options.threshold, scores }));
        if (h) {
          const next = noGrad(() => tidy(() => layer.forward(h!)));
          if (h !== options.sample) h.dispose();
          h = next;
        }
      }
    } finally {
      if (h && h !== options.sample) h.dispose();
    }
    return choices;
  }

  /** Sets every S-KAN layer's selection temperature (the phases anneal it). */
  setSelectTemperature(temperature: number): void {
    for (const layer of this.layers) if (layer instanceof SelectKanLayer) layer.setTemperature(temperature);
  }

  /** Each S-KAN layer's node choices (spaces with weight > 0, best first). */
  async spaceChoices(): Promise<NodeChoice[][]> {
    return Promise.all(this.layers.map((layer) => (layer instanceof SelectKanLayer ? layer.choices() : Promise.resolve([]))));
  }

  /**
   * S-KAN phase 3: the pruned model's config and values (parameters and
   * buffers by name): only the (input, space) blocks each node kept, with its
   * selection weights folded in. buildModel + loadStateDict of these computes
   * what this model computes.
   */
  async prunedState(): Promise<{ config: KanMlpConfig; values: Map<string, NamedValues> }> {
    if (this.basis !== 'select' || !this.config.select) throw new Error(`KanMlp.prunedState: basis '${this.basis}' has nothing to prune (basis 'select' has)`);
    const values = new Map<string, NamedValues>();
    const inputs: number[][][] = [];
    for (const [i, layer] of this.layers.entries()) {
      const state = await (layer as SelectKanLayer).prunedState();
      inputs.push(state.inputs);
      for (const [name, value] of state.values) values.set(`layers.${i}.${name}`, value);
    }
    return { config: { ...this.config, select: { ...this.config.select, inputs } }, values };
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
