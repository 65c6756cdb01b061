// KAN-MLP: GR-KAN layers (group rational, then linear) on flattened inputs.

import { reshape } from '../ops/layout.js';
import { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { GroupRational } from '../nn/kan.js';
import { Dropout, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';

export interface KanMlpConfig {
  /** Flattened input size (C * H * W for images). */
  inputs: number;
  hidden: number[];
  classes: number;
  groups: number;
  dropout: number;
}

/** One GR-KAN layer: fc(act(x)), with variance-preserving init of fc. */
class KanLayer extends Module {
  readonly act: GroupRational;
  readonly fc: Linear;

  constructor(inputs: number, outputs: number, mode: string, groups: number, rng: Random) {
    super();
    this.act = this.module('act', new GroupRational(inputs, { groups: gcdGroups(inputs, groups), mode }));
    this.fc = this.module('fc', new Linear(inputs, outputs, rng, { std: this.act.initialGain() / Math.sqrt(inputs), untruncated: true }));
  }

  forward(x: Tensor): Tensor {
    return this.fc.forward(this.act.forward(x));
  }
}

/** The largest group count <= wanted that divides the width. */
function gcdGroups(width: number, wanted: number): number {
  for (let g = Math.min(wanted, width); g > 1; g--) if (width % g === 0) return g;
  return 1;
}

export class KanMlp extends Module {
  readonly layers: KanLayer[] = [];
  private readonly drop: Dropout;

  constructor(readonly config: KanMlpConfig, seed = 0) {
    super();
    const rng = new Random(seed);
    const widths = [config.inputs, ...config.hidden, config.classes];
    for (let i = 0; i + 1 < widths.length; i++) {
      // The first layer sees raw inputs: start it as the identity; later ones as swish.
      this.layers.push(this.module(`layers.${i}`, new KanLayer(widths[i]!, widths[i + 1]!, i === 0 ? 'identity' : 'swish', config.groups, rng)));
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
}
