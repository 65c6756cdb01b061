// Transformer pieces in timm's layout: patch embedding, attention, the GELU
// MLP of ViT, and the pre-norm residual block (whose MLP is ViT's or KAT's).

import { attention } from '../ops/attention.js';
import { add, gelu, mul } from '../ops/elementwise.js';
import { reshape, slice, transpose } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { karatAttention } from '../ops/karat.js';
import { softmax } from '../ops/nn.js';
import type { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { uniform } from './init.js';
import { KatMlp } from './kan.js';
import type { KaratConfig, KaratOperator } from './karat.js';
import { Dropout, DropPath, LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';
import { checkSize, checkValues } from './sizes.js';

/** A linear map of each flattened p x p patch (a stride-p convolution), weight [D, C, p, p]. */
export class PatchEmbed extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly patches: number;

  constructor(readonly imageSize: number, readonly patchSize: number, readonly channels: number, readonly dim: number, rng: Random) {
    super();
    for (const [what, size] of [['imageSize', imageSize], ['patchSize', patchSize], ['channels', channels], ['dim', dim]] as const) {
      checkSize('PatchEmbed', what, size);
    }
    if (imageSize % patchSize !== 0) throw new Error(`PatchEmbed: image size ${imageSize} is not a multiple of patch size ${patchSize}`);
    this.patches = (imageSize / patchSize) ** 2;
    checkValues('PatchEmbed', [dim, channels, patchSize, patchSize]);
    const fanIn = channels * patchSize * patchSize;
    // PyTorch's Conv2d default (kaiming-uniform with a = sqrt(5)): U(+-1/sqrt(fan_in)).
    this.weight = this.parameter('proj.weight', uniform(rng, [dim, channels, patchSize, patchSize], 1 / Math.sqrt(fanIn)));
    this.bias = this.parameter('proj.bias', uniform(rng, [dim], 1 / Math.sqrt(fanIn)));
  }

  /** images [B, C, H, W] -> tokens [B, N, D]. */
  forward(images: Tensor): Tensor {
    const [b, c, h, w] = images.shape as [number, number, number, number];
    if (images.rank !== 4 || c !== this.channels || h !== this.imageSize || w !== this.imageSize) {
      throw new Error(`PatchEmbed: images ${formatShape(images.shape)} do not match [B, ${this.channels}, ${this.imageSize}, ${this.imageSize}]`);
    }
    const p = this.patchSize;
    const grid = this.imageSize / p;
    // [B, C, gh, p, gw, p] -> [B, gh, gw, C, p, p]: each row one patch in the weight's (C, p, p) order.
    const patches = reshape(transpose(reshape(images, [b, c, grid, p, grid, p]), [0, 2, 4, 1, 3, 5]), [b * grid * grid, c * p * p]);
    const tokens = add(matmul(patches, reshape(this.weight, [this.dim, c * p * p]), { transposeB: true }), this.bias);
    return reshape(tokens, [b, grid * grid, this.dim]);
  }
}

/** Where an attention layer's Fourier-KArAt operator comes from: its own (registered as `karat`) or the model's shared one. */
export interface AttentionKarat {
  operator: KaratOperator;
  owned: boolean;
}

/** Multi-head self-attention (timm's names: qkv, proj); softmax or Fourier-KArAt scores. */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  private readonly drop: Dropout;
  /** Fourier-KArAt in place of softmax (null: softmax attention). */
  readonly karat: KaratOperator | null;

  constructor(readonly dim: number, readonly heads: number, rng: Random, dropout = 0, karat?: AttentionKarat) {
    super();
    checkSize('Attention', 'dim', dim);
    checkSize('Attention', 'heads', heads);
    if (dim % heads !== 0) throw new Error(`Attention: dim ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    this.qkv = this.module('qkv', new Linear(dim, 3 * dim, rng));
    this.proj = this.module('proj', new Linear(dim, dim, rng));
    this.drop = this.module('drop', new Dropout(dropout));
    if (karat && karat.operator.heads !== heads) throw new Error(`Attention: the KArAt operator has ${karat.operator.heads} heads, not ${heads}`);
    this.karat = karat ? (karat.owned ? this.module('karat', karat.operator) : karat.operator) : null;
  }

  /** x [B, N, D] -> [B, N, D]: softmax(q k^T / sqrt(d)) v per head, or Fourier-KArAt's sigma(q k^T / sqrt(d)) v. */
  forward(x: Tensor): Tensor {
    const [b, n] = x.shape as [number, number, number];
    const h = this.heads;
    const d = this.headDim;
    // [B, N, 3, H, d] -> [3, B, H, N, d]
    const qkv = transpose(reshape(this.qkv.forward(x), [b, n, 3, h, d]), [2, 0, 3, 1, 4]);
    const part = (i: number) => reshape(slice(qkv, [i, 0, 0, 0, 0], [1, b, h, n, d]), [b, h, n, d]);
    const k = this.karat;
    const scale = 1 / Math.sqrt(d);
    let heads: Tensor;
    if (k) {
      // [B, H, N, d]; KArAt has no attention matrix to drop out (sigma(A) is never formed).
      heads = karatAttention(mul(matmul(part(0), part(1), { transposeB: true }), scale), k.coefCos, k.coefSin, k.weight, part(2));
    } else if (this.drop.training && this.drop.p > 0) {
      // Dropout on the attention matrix needs it formed.
      heads = matmul(this.drop.forward(softmax(mul(matmul(part(0), part(1), { transposeB: true }), scale))), part(2));
    } else {
      // The fused op where the backend has it (no N x N matrix); the same composition elsewhere.
      heads = attention(part(0), part(1), part(2), { scale });
    }
    return this.drop.forward(this.proj.forward(reshape(transpose(heads, [0, 2, 1, 3]), [b, n, this.dim])));
  }
}

/** ViT's MLP: fc2(drop(gelu(fc1(x)))). */
export class GeluMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly drop: Dropout;

  constructor(dim: number, hidden: number, rng: Random, dropout = 0) {
    super();
    this.fc1 = this.module('fc1', new Linear(dim, hidden, rng));
    this.fc2 = this.module('fc2', new Linear(hidden, dim, rng));
    this.drop = this.module('drop', new Dropout(dropout));
  }

  forward(x: Tensor): Tensor {
    return this.drop.forward(this.fc2.forward(this.drop.forward(gelu(this.fc1.forward(x)))));
  }
}

/** The shape and regularisation of one transformer Block. */
export interface BlockOptions {
  dim: number;
  heads: number;
  mlpRatio: number;
  /** 'kan' (KAT: GR-KAN MLP) or 'gelu' (ViT). */
  mlp: 'kan' | 'gelu';
  groups: number;
  dropout: number;
  dropPath: number;
  /** Fourier-KArAt attention in place of softmax (absent: softmax). */
  karat?: KaratConfig;
}

/** x = x + droppath(attn(norm1(x))); x = x + droppath(mlp(norm2(x))). */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: KatMlp | GeluMlp;
  private readonly dropPath: DropPath;

  /** `karat`: the block's KArAt operator (owned: blockwise) or the model's shared one, when options.karat is set. */
  constructor(options: BlockOptions, rng: Random, karat?: AttentionKarat) {
    super();
    const hidden = Math.round(options.dim * options.mlpRatio);
    checkSize('Block', `MLP width (dim ${options.dim} x mlpRatio ${options.mlpRatio})`, hidden);
    if (options.mlp !== 'kan' && options.mlp !== 'gelu') throw new Error(`Block: mlp must be 'kan' or 'gelu', got ${String(options.mlp)}`);
    this.norm1 = this.module('norm1', new LayerNorm(options.dim));
    this.attn = this.module('attn', new Attention(options.dim, options.heads, rng, options.dropout, karat));
    this.norm2 = this.module('norm2', new LayerNorm(options.dim));
    this.mlp = this.module('mlp', options.mlp === 'kan'
      ? new KatMlp(options.dim, { hidden, groups: options.groups, dropout: options.dropout }, rng)
      : new GeluMlp(options.dim, hidden, rng, options.dropout));
    this.dropPath = this.module('drop_path', new DropPath(options.dropPath));
  }

  forward(x: Tensor): Tensor {
    const afterAttention = add(x, this.dropPath.forward(this.attn.forward(this.norm1.forward(x))));
    return add(afterAttention, this.dropPath.forward(this.mlp.forward(this.norm2.forward(afterAttention))));
  }
}

