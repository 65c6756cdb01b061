// The Vision Transformer family in timm's layout. With GR-KAN MLPs it is KAT
// (Kolmogorov-Arnold Transformer); with GELU MLPs it is the ViT baseline.

import { add } from '../ops/elementwise.js';
import { broadcastTo, concat, reshape, slice } from '../ops/layout.js';
import { mean } from '../ops/reduce.js';
import { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { normal, truncNormal } from '../nn/init.js';
import { Dropout, LayerNorm, Linear } from '../nn/layers.js';
import { KaratOperator } from '../nn/karat.js';
import { Module } from '../nn/module.js';
import { Block, PatchEmbed, type BlockOptions } from '../nn/transformer.js';
import { checkVitConfig } from './config_check.js';

/** A block's options ('kan' MLPs make KAT, 'gelu' ViT) plus the model's; dropPath is the last block's rate. */
export interface VitConfig extends BlockOptions {
  imageSize: number;
  patchSize: number;
  channels: number;
  classes: number;
  depth: number;
  /**
   * How the head sees the tokens, as timm's global_pool: 'token' (default: the
   * class token after the final norm) or 'avg' (the mean of the patch tokens,
   * then the norm, registered as fc_norm).
   */
  pool?: 'token' | 'avg';
}

/** A ViT or KAT (GR-KAN MLPs) with timm's tensor names: patch embedding, class token, position embedding, blocks, head. */
export class VisionTransformer extends Module {
  readonly patchEmbed: PatchEmbed;
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly blocks: Block[] = [];
  /** The shared Fourier-KArAt operator of a universal ('GnU') model, registered as `karat`; null otherwise. */
  readonly karat: KaratOperator | null = null;
  readonly norm: LayerNorm;
  readonly head: Linear;
  private readonly posDrop: Dropout;

  constructor(readonly config: VitConfig, seed = 0) {
    super();
    // Checked whole before the first allocation: depth 1e9 must not start building.
    checkVitConfig(config, 'VisionTransformer');
    const rng = new Random(seed);
    const { dim } = config;
    // Registration order gives timm's names: cls_token, pos_embed, patch_embed.*, blocks.*, norm.*, head.*.
    this.clsToken = this.parameter('cls_token', normal(rng, [1, 1, dim], 1e-6));
    this.patchEmbed = new PatchEmbed(config.imageSize, config.patchSize, config.channels, dim, rng);
    this.posEmbed = this.parameter('pos_embed', truncNormal(rng, [1, this.patchEmbed.patches + 1, dim], 0.02));
    this.module('patch_embed', this.patchEmbed);
    this.posDrop = this.module('pos_drop', new Dropout(config.dropout));
    const tokens = this.patchEmbed.patches + 1;
    if (config.karat?.universal) this.karat = this.module('karat', new KaratOperator(config.heads, tokens, config.karat, rng));
    for (let i = 0; i < config.depth; i++) {
      // Stochastic depth grows linearly with depth, as in timm.
      const dropPath = config.depth > 1 ? (config.dropPath * i) / (config.depth - 1) : config.dropPath;
      const karat = !config.karat ? undefined : this.karat
        ? { operator: this.karat, owned: false }
        : { operator: new KaratOperator(config.heads, tokens, config.karat, rng), owned: true };
      this.blocks.push(this.module(`blocks.${i}`, new Block({ ...config, dropPath }, rng, karat)));
    }
    this.norm = this.module(config.pool === 'avg' ? 'fc_norm' : 'norm', new LayerNorm(dim));
    this.head = this.module('head', new Linear(dim, config.classes, rng));
    this.nameParameters();
  }

  /** images [B, C, H, W] -> logits [B, classes]. */
  forward(images: Tensor): Tensor {
    const tokens = this.patchEmbed.forward(images);
    const batch = tokens.shape[0]!;
    const { dim } = this.config;
    let x = concat([broadcastTo(this.clsToken, [batch, 1, dim]), tokens], 1);
    x = this.posDrop.forward(add(x, this.posEmbed));
    for (const block of this.blocks) x = block.forward(x);
    if (this.config.pool === 'avg') {
      const tokens = x.shape[1]!;
      return this.head.forward(this.norm.forward(mean(slice(x, [0, 1, 0], [batch, tokens - 1, dim]), 1)));
    }
    x = this.norm.forward(x);
    const cls = reshape(slice(x, [0, 0, 0], [batch, 1, dim]), [batch, dim]);
    return this.head.forward(cls);
  }
}
