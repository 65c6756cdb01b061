// ONNX export: a katjs model as an ONNX graph of standard operators only
// (default domain, opset 17 to 21), serialised by protobufjs from the official
// onnx.proto (io/onnx_schema.ts). Browser-safe: model in, bytes out.
//
// Lowering, layer by layer (eval mode: dropout and drop-path are identities):
//   PatchEmbed      Conv(kernel = stride = patch) -> Reshape -> Transpose
//   cls token       Shape(end = 1) -> Concat -> Expand, then Concat and Add(pos_embed)
//   LayerNorm       LayerNormalization (eps 1e-6; FastKAN's 1e-5)
//   Linear          MatMul(x, W^T) (+ Add bias); W^T is stored pre-transposed
//   Attention       Reshape -> Transpose -> Gather(q, k, v) -> MatMul -> Mul(scale) -> Softmax -> MatMul
//   GELU            exact: 0.5 x (1 + Erf(x / sqrt 2))
//   group rational  Reshape to [..., G, D/G], Split of the [1|G, 6] and Abs([G, 4])
//                   coefficient initializers, Horner form with Mul/Add, Div
//   B-spline        Cox-de Boor on the per-channel knots: comparisons -> Cast, then
//                   per order Sub/Mul/Add with the knots and inverse widths as initializers
//   RBF             Unsqueeze -> Sub(centres) -> Div(width) -> Mul -> Neg -> Exp
//   SiLU            x * Sigmoid(x)
//   AF-KAN          Unsqueeze -> Sub(grid) -> activation (SiLU, Relu, GELU, Tanh, Sigmoid) -> Mul/Add
//                   combination -> MatMul(w) + b0 -> Div(max(tau, 1)) -> Softmax; ReduceSum over the
//                   bases -> Mul(alpha) -> LayerNormalization -> SiLU -> MatMul
//   ReLU-KAN        LayerNormalization -> Unsqueeze -> Relu(Sub(e, x)) * Relu(Sub(x, s)) * r -> Mul
//                   (square) -> Reshape -> Linear
//   ChebyKAN        Tanh -> Unsqueeze -> T_0 = t * 0 + 1, T_1 = t, T_{k+1} = (t + t) T_k - T_{k-1} with
//                   Mul/Sub -> Concat over the degrees -> Reshape -> MatMul (no bias)

import protobuf from 'protobufjs';
import type { PreprocessConfig } from '../data/image_transforms.js';
import { GroupRational, KatMlp } from '../nn/kan.js';
import {
  AfKanLayer, BSplineKanLayer, ChebyKanLayer, KAN_BASES, MlpLayer, RationalKanLayer, RbfKanLayer, ReluKanLayer, type AfActivation, type AfCombination,
} from '../nn/kan_bases.js';
import { SELECT_SPACE_SETTINGS, SelectKanLayer } from '../nn/select_kan.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import { GeluMlp, type Attention, type Block } from '../nn/transformer.js';
import type { Tensor } from '../tensor/tensor.js';
import { KanMlp } from '../models/kan_mlp.js';
import type { Model, ModelSpec } from '../models/registry.js';
import { VisionTransformer } from '../models/vit.js';
import { ONNX_PROTO } from './onnx_schema.js';

/** The input name of exported ONNX models ([batch, C, H, W] pixels). */
export const ONNX_INPUT = 'pixel_values';
/** The output name of exported ONNX models ([batch, classes] logits). */
export const ONNX_OUTPUT = 'logits';
/** Opset 17: the first with LayerNormalization; ONNX Runtime (node and web) runs it. */
export const DEFAULT_OPSET = 17;
/** The IR version each opset came with (onnx/helper.py's VERSION_TABLE). */
const IR_VERSIONS: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** Options of exportOnnx(): labels, preprocessing and opset to record. */
export interface ExportOnnxOptions {
  /** Class names, stored as metadata 'labels' (JSON). */
  labels?: string[];
  /** The eval transform, stored as metadata (input_size, mean, std, interpolation, crop_pct, crop_mode). */
  preprocess?: PreprocessConfig;
  /** Default-domain opset, >= 17. */
  opset?: number;
}

// onnx.TensorProto.DataType
const FLOAT = 1;
const INT64 = 7;
// onnx.AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

type AttributeValue = number | number[] | string | { float: number };

let schema: protobuf.Root | null = null;

function modelProto(): protobuf.Type {
  schema ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
  return schema.lookupType('onnx.ModelProto');
}

/** Decodes ONNX bytes to a plain object by the same schema (for tests and inspection). */
export function decodeOnnx(bytes: Uint8Array): Record<string, unknown> {
  const type = modelProto();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}

function littleEndianFloats(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}

/** Nodes and initializers in topological order, with unique value names. */
class GraphBuilder {
  readonly nodes: object[] = [];
  readonly initializers: object[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  private unique(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  floats(name: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: [...dims], data_type: FLOAT, raw_data: littleEndianFloats(values) });
    return unique;
  }

  ints(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: [...dims], data_type: INT64, int64_data: [...values] });
    return unique;
  }

  scalar(name: string, value: number): string {
    return this.floats(name, [value], []);
  }

  node(op: string, inputs: string[], name: string, attributes: Record<string, AttributeValue> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.unique(outputs === 1 ? name : `${name}_${i}`));
    const attribute = Object.entries(attributes).map(([key, value]) => {
      if (typeof value === 'string') return { name: key, type: ATTR.STRING, s: new TextEncoder().encode(value) };
      if (Array.isArray(value)) return { name: key, type: ATTR.INTS, ints: value };
      if (typeof value === 'object') return { name: key, type: ATTR.FLOAT, f: value.float };
      return { name: key, type: ATTR.INT, i: value };
    });
    this.nodes.push({ op_type: op, domain: '', name: this.unique(`${name}/${op}`), input: inputs, output: outs, attribute });
    return outs;
  }

  one(op: string, inputs: string[], name: string, attributes: Record<string, AttributeValue> = {}): string {
    return this.node(op, inputs, name, attributes)[0]!;
  }
}

async function floatsOf(t: Tensor): Promise<Float64Array> {
  return t.dataFloat64();
}

/** [rows, cols] row-major -> its transpose. */
function transposed(values: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/** Lowers one model's layers into a GraphBuilder. */
class Lowering {
  constructor(readonly g: GraphBuilder, readonly opset: number) {}

  /** Split into n equal parts along axis 1 (opset 18 made num_outputs required when no sizes are given). */
  split(x: string, n: number, name: string): string[] {
    return this.g.node('Split', [x], name, this.opset >= 18 ? { axis: 1, num_outputs: n } : { axis: 1 }, n);
  }

  async linear(x: string, layer: Linear, name: string): Promise<string> {
    const w = this.g.floats(`${name}.weight.T`, transposed(await floatsOf(layer.weight), layer.outFeatures, layer.inFeatures),
      [layer.inFeatures, layer.outFeatures]);
    const y = this.g.one('MatMul', [x, w], `${name}.matmul`);
    if (!layer.bias) return y;
    return this.g.one('Add', [y, this.g.floats(`${name}.bias`, await floatsOf(layer.bias), [layer.outFeatures])], name);
  }

  async layerNorm(x: string, norm: LayerNorm, name: string): Promise<string> {
    const w = this.g.floats(`${name}.weight`, await floatsOf(norm.weight), [norm.dim]);
    const b = this.g.floats(`${name}.bias`, await floatsOf(norm.bias), [norm.dim]);
    return this.g.one('LayerNormalization', [x, w, b], name, { axis: -1, epsilon: { float: norm.eps } });
  }

  silu(x: string, name: string): string {
    return this.g.one('Mul', [x, this.g.one('Sigmoid', [x], `${name}.sigmoid`)], `${name}.silu`);
  }

  gelu(x: string, name: string): string {
    const erf = this.g.one('Erf', [this.g.one('Mul', [x, this.g.scalar(`${name}.rsqrt2`, Math.SQRT1_2)], `${name}.scaled`)], `${name}.erf`);
    const onePlus = this.g.one('Add', [erf, this.g.scalar(`${name}.one`, 1)], `${name}.erf1`);
    return this.g.one('Mul', [this.g.one('Mul', [x, onePlus], `${name}.xerf`), this.g.scalar(`${name}.half`, 0.5)], `${name}.gelu`);
  }

  /** y = P(x) / Q(x) on x [..., D] (rank `rank`), channels in G contiguous groups. */
  async rational(x: string, act: GroupRational, rank: number, name: string): Promise<string> {
    const { g } = this;
    const groups = act.groups;
    const d = act.channels;
    const numerator = g.floats(`${name}.weight_numerator`, await floatsOf(act.numerator), act.numerator.shape);
    const denominator = g.floats(`${name}.weight_denominator`, await floatsOf(act.denominator), act.denominator.shape);
    // 0 keeps an input dimension (batch, tokens): [..., D] -> [..., G, D/G], coefficients [G|1, 1] broadcast per group.
    const keep = Array<number>(rank - 1).fill(0);
    const xg = g.one('Reshape', [x, g.ints(`${name}.grouped_shape`, [...keep, groups, d / groups])], `${name}.grouped`);
    const a = this.split(numerator, 6, `${name}.a`);
    const b = this.split(g.one('Abs', [denominator], `${name}.abs_b`), 4, `${name}.b`);
    let p = a[5]!;
    for (let i = 4; i >= 0; i--) p = g.one('Add', [g.one('Mul', [p, xg], `${name}.p${i}x`), a[i]!], `${name}.p${i}`);
    const ax = g.one('Abs', [xg], `${name}.abs_x`);
    let q = b[3]!;
    for (let i = 2; i >= 0; i--) q = g.one('Add', [g.one('Mul', [q, ax], `${name}.q${i}x`), b[i]!], `${name}.q${i}`);
    q = g.one('Add', [g.one('Mul', [q, ax], `${name}.qx`), g.scalar(`${name}.one`, 1)], `${name}.q`);
    const y = g.one('Div', [p, q], `${name}.rational`);
    return g.one('Reshape', [y, g.ints(`${name}.shape`, [...keep, d])], name);
  }

  async attention(x: string, attn: Attention, name: string): Promise<string> {
    const { g } = this;
    const qkv = g.one('Reshape', [await this.linear(x, attn.qkv, `${name}.qkv`), g.ints(`${name}.qkv_shape`, [0, 0, 3, attn.heads, attn.headDim])],
      `${name}.qkv_heads`);
    const split = g.one('Transpose', [qkv], `${name}.qkv_t`, { perm: [2, 0, 3, 1, 4] }); // [3, B, H, N, d]
    const part = (i: number, label: string) => g.one('Gather', [split, g.ints(`${name}.${label}_index`, [i], [])], `${name}.${label}`, { axis: 0 });
    const [q, k, v] = [part(0, 'q'), part(1, 'k'), part(2, 'v')];
    const kT = g.one('Transpose', [k], `${name}.k_t`, { perm: [0, 1, 3, 2] });
    const scores = g.one('Mul', [g.one('MatMul', [q, kT], `${name}.qk`), g.scalar(`${name}.scale`, 1 / Math.sqrt(attn.headDim))], `${name}.scores`);
    const weights = g.one('Softmax', [scores], `${name}.softmax`, { axis: -1 });
    const heads = g.one('Transpose', [g.one('MatMul', [weights, v], `${name}.av`)], `${name}.heads_t`, { perm: [0, 2, 1, 3] });
    const merged = g.one('Reshape', [heads, g.ints(`${name}.merge_shape`, [0, 0, attn.dim])], `${name}.merged`);
    return this.linear(merged, attn.proj, `${name}.proj`);
  }

  async block(x: string, block: Block, name: string): Promise<string> {
    const { g } = this;
    const attended = g.one('Add', [x, await this.attention(await this.layerNorm(x, block.norm1, `${name}.norm1`), block.attn, `${name}.attn`)],
      `${name}.residual1`);
    const h = await this.layerNorm(attended, block.norm2, `${name}.norm2`);
    const mlp = block.mlp;
    let m: string;
    if (mlp instanceof KatMlp) {
      const a1 = await this.rational(h, mlp.act1, 3, `${name}.mlp.act1`);
      const a2 = await this.rational(await this.linear(a1, mlp.fc1, `${name}.mlp.fc1`), mlp.act2, 3, `${name}.mlp.act2`);
      m = await this.linear(a2, mlp.fc2, `${name}.mlp.fc2`);
    } else if (mlp instanceof GeluMlp) {
      m = await this.linear(this.gelu(await this.linear(h, mlp.fc1, `${name}.mlp.fc1`), `${name}.mlp`), mlp.fc2, `${name}.mlp.fc2`);
    } else {
      throw new Error(`exportOnnx: ${name}.mlp is neither KAT's nor ViT's MLP`);
    }
    return g.one('Add', [attended, m], `${name}.residual2`);
  }

  async vit(x: string, model: VisionTransformer): Promise<string> {
    if (model.config.karat) {
      throw new Error('exportOnnx: Fourier-KArAt attention (karat) has no ONNX lowering; export covers softmax attention only');
    }
    const { g } = this;
    const { dim, patchSize: p } = model.config;
    const pe = model.patchEmbed;
    const conv = g.one('Conv', [x, g.floats('patch_embed.proj.weight', await floatsOf(pe.weight), pe.weight.shape),
      g.floats('patch_embed.proj.bias', await floatsOf(pe.bias), [dim])], 'patch_embed.proj', { kernel_shape: [p, p], strides: [p, p] });
    const tokens = g.one('Transpose', [g.one('Reshape', [conv, g.ints('patch_embed.flat_shape', [0, dim, -1])], 'patch_embed.flat')],
      'patch_embed', { perm: [0, 2, 1] });
    // The cls token broadcast to [B, 1, D]: the batch comes from the input's shape (a dynamic axis).
    const batch = g.one('Shape', [x], 'batch', { end: 1 });
    const clsShape = g.one('Concat', [batch, g.ints('cls_token.ones', [1, 1])], 'cls_token.shape', { axis: 0 });
    const cls = g.one('Expand', [g.floats('cls_token', await floatsOf(model.clsToken), model.clsToken.shape), clsShape], 'cls_token.expand');
    let h = g.one('Add', [g.one('Concat', [cls, tokens], 'tokens', { axis: 1 }),
      g.floats('pos_embed', await floatsOf(model.posEmbed), model.posEmbed.shape)], 'pos_embed.add');
    for (const [i, block] of model.blocks.entries()) h = await this.block(h, block, `blocks.${i}`);
    if (model.config.pool === 'avg') {
      // The patch tokens' mean (the class token left out), then fc_norm.
      const count = model.posEmbed.shape[1]!;
      const patches = g.one('Slice', [h, g.ints('pool.start', [1]), g.ints('pool.end', [count]), g.ints('pool.axis', [1])], 'pool.patches');
      const pooled = this.opset >= 18
        ? g.one('ReduceMean', [patches, g.ints('pool.axes', [1])], 'pool', { keepdims: 0 })
        : g.one('ReduceMean', [patches], 'pool', { axes: [1], keepdims: 0 });
      return this.linear(await this.layerNorm(pooled, model.norm, 'fc_norm'), model.head, 'head');
    }
    h = await this.layerNorm(h, model.norm, 'norm');
    const first = g.one('Gather', [h, g.ints('cls_index', [0], [])], 'cls', { axis: 1 });
    return this.linear(first, model.head, 'head');
  }

  /** efficient-kan's layer on x [B, C]: silu(x) base^T + B(x) spline^T. */
  async bspline(x: string, layer: BSplineKanLayer, name: string): Promise<string> {
    const { g } = this;
    const c = layer.inFeatures;
    const base = g.one('MatMul', [this.silu(x, name), g.floats(`${name}.base_weight.T`,
      transposed(await floatsOf(layer.baseWeight), layer.outFeatures, c), [c, layer.outFeatures])], `${name}.base`);
    const basis = this.bsplineBases(x, await floatsOf(layer.grid), c, layer.order, name);
    const k = layer.bases;
    const flat = g.one('Reshape', [basis, g.ints(`${name}.bases_shape`, [0, c * k])], `${name}.bases`);
    const spline = g.one('MatMul', [flat, g.floats(`${name}.spline_weight.T`,
      transposed(await floatsOf(layer.splineWeight), layer.outFeatures, c * k), [c * k, layer.outFeatures])], `${name}.spline`);
    return g.one('Add', [base, spline], name);
  }

  /** The order-`order` B-spline bases [B, C, K] of x [B, C] on per-channel knots (`knots`: C rows), by Cox-de Boor. */
  bsplineBases(x: string, knots: ArrayLike<number>, c: number, order: number, name: string): string {
    const { g } = this;
    const m = knots.length / c;
    const xe = g.one('Unsqueeze', [x, g.ints(`${name}.axis2`, [2])], `${name}.x3`); // [B, C, 1]
    // An initializer [C, n] of per-channel knot values.
    const column = (label: string, n: number, map: (j: number, row: number) => number) => {
      const out = new Float64Array(c * n);
      for (let r = 0; r < c; r++) for (let j = 0; j < n; j++) out[r * n + j] = map(j, r);
      return g.floats(`${name}.${label}`, out, [c, n]);
    };
    const t = (r: number, j: number) => knots[r * m + j]!;
    // Order 0: t_j <= x < t_{j+1}, which also makes every basis 0 outside [t_0, t_{M-1}).
    const lower = column('knots_lo', m - 1, (j, r) => t(r, j));
    const upper = column('knots_hi', m - 1, (j, r) => t(r, j + 1));
    const inside = g.one('And', [g.one('GreaterOrEqual', [xe, lower], `${name}.ge`), g.one('Less', [xe, upper], `${name}.lt`)], `${name}.span`);
    let basis = g.one('Cast', [inside], `${name}.b0`, { to: FLOAT });
    // A span of zero width contributes 0 (its inverse width is stored as 0), as in katjs's kernel.
    const inverse = (w: number) => (w > 0 ? 1 / w : 0);
    for (let d = 1; d <= order; d++) {
      const n = m - 1 - d;
      const tj = column(`t${d}_j`, n, (j, r) => t(r, j));
      const invLeft = column(`t${d}_inv_left`, n, (j, r) => inverse(t(r, j + d) - t(r, j)));
      const tEnd = column(`t${d}_end`, n, (j, r) => t(r, j + d + 1));
      const invRight = column(`t${d}_inv_right`, n, (j, r) => inverse(t(r, j + d + 1) - t(r, j + 1)));
      const head = g.one('Slice', [basis, g.ints(`${name}.b${d}_s0`, [0]), g.ints(`${name}.b${d}_e0`, [n]), g.ints(`${name}.b${d}_a0`, [2])],
        `${name}.b${d}_head`);
      const tail = g.one('Slice', [basis, g.ints(`${name}.b${d}_s1`, [1]), g.ints(`${name}.b${d}_e1`, [n + 1]), g.ints(`${name}.b${d}_a1`, [2])],
        `${name}.b${d}_tail`);
      const left = g.one('Mul', [g.one('Mul', [g.one('Sub', [xe, tj], `${name}.b${d}_dl`), invLeft], `${name}.b${d}_wl`), head], `${name}.b${d}_l`);
      const right = g.one('Mul', [g.one('Mul', [g.one('Sub', [tEnd, xe], `${name}.b${d}_dr`), invRight], `${name}.b${d}_wr`), tail], `${name}.b${d}_r`);
      basis = g.one('Add', [left, right], `${name}.b${d}`);
    }
    return basis;
  }

  /** FastKAN's layer on x [B, C]: spline_linear(rbf(layernorm(x))) + base_linear(silu(x)). */
  async rbf(x: string, layer: RbfKanLayer, name: string): Promise<string> {
    const { g } = this;
    const { low, high, centers, width } = layer.basis;
    const c = layer.inFeatures;
    const normed = layer.layernorm ? await this.layerNorm(x, layer.layernorm, `${name}.layernorm`) : x;
    const spacing = centers > 1 ? (high - low) / (centers - 1) : 0;
    const grid = g.floats(`${name}.centers`, Float64Array.from({ length: centers }, (_, k) => low + k * spacing), [centers]);
    const z = g.one('Div', [g.one('Sub', [g.one('Unsqueeze', [normed, g.ints(`${name}.axis2`, [2])], `${name}.x3`), grid], `${name}.dx`),
      g.scalar(`${name}.width`, width)], `${name}.z`);
    const phi = g.one('Exp', [g.one('Neg', [g.one('Mul', [z, z], `${name}.z2`)], `${name}.nz2`)], `${name}.phi`);
    const flat = g.one('Reshape', [phi, g.ints(`${name}.phi_shape`, [0, c * centers])], `${name}.phi_flat`);
    const y = await this.linear(flat, layer.splineLinear, `${name}.spline_linear`);
    if (!layer.baseLinear) return y;
    return g.one('Add', [y, await this.linear(this.silu(x, name), layer.baseLinear, `${name}.base_linear`)], name);
  }

  activation(x: string, activation: AfActivation, name: string): string {
    switch (activation) {
      case 'silu': return this.silu(x, name);
      case 'relu': return this.g.one('Relu', [x], `${name}.relu`);
      case 'gelu': return this.gelu(x, name);
      case 'tanh': return this.g.one('Tanh', [x], `${name}.tanh`);
      case 'sigmoid': return this.g.one('Sigmoid', [x], `${name}.sigmoid`);
    }
  }

  combination(a: string, c: string, combination: AfCombination, name: string): string {
    const { g } = this;
    const mul = (x: string, y: string, label: string) => g.one('Mul', [x, y], `${name}.${label}`);
    const add = (x: string, y: string, label: string) => g.one('Add', [x, y], `${name}.${label}`);
    switch (combination) {
      case 'sum': return add(a, c, 'sum');
      case 'prod': return mul(a, c, 'prod');
      case 'quad1': { const ac = mul(a, c, 'ac'); return mul(ac, ac, 'quad1'); }
      case 'quad2': return add(mul(a, c, 'ac'), add(mul(a, a, 'a2'), mul(c, c, 'c2'), 'squares'), 'quad2');
      case 'cubic1': return mul(add(a, c, 'sum'), add(mul(a, a, 'a2'), mul(c, c, 'c2'), 'squares'), 'cubic1');
      case 'cubic2': { const ac = mul(a, c, 'ac'); return mul(mul(ac, ac, 'ac2'), ac, 'cubic2'); }
    }
  }

  /** AF-KAN's layer on x [B, C]: W silu(LayerNorm(softmax(attention logits) * sum of the bases)). */
  async af(x: string, layer: AfKanLayer, name: string): Promise<string> {
    const { g } = this;
    const [c, k] = [layer.inFeatures, layer.bases];
    const xe = g.one('Unsqueeze', [x, g.ints(`${name}.axis2`, [2])], `${name}.x3`); // [B, C, 1]
    const start = g.floats(`${name}.grid_start`, await floatsOf(layer.gridStart), [k]);
    const end = g.floats(`${name}.grid_end`, await floatsOf(layer.gridEnd), [k]);
    const a = this.activation(g.one('Sub', [xe, start], `${name}.x_s`), layer.activation, `${name}.a`);
    const cc = this.activation(g.one('Sub', [end, xe], `${name}.e_x`), layer.activation, `${name}.c`);
    const basis = this.combination(a, cc, layer.combination, `${name}.basis`); // [B, C, K]
    const logits = g.one('Reshape', [await this.linear(basis, layer.attention, `${name}.attention`), g.ints(`${name}.logits_shape`, [0, c])],
      `${name}.logits`);
    const temperature = Math.max((await floatsOf(layer.temperature))[0]!, 1);
    const alpha = g.one('Softmax', [g.one('Div', [logits, g.scalar(`${name}.temperature`, temperature)], `${name}.scaled`)], `${name}.alpha`,
      { axis: -1 });
    const total = g.one('ReduceSum', [basis, g.ints(`${name}.bases_axis`, [2])], `${name}.total`, { keepdims: 0 });
    const z = g.one('Mul', [alpha, total], `${name}.z`);
    const h = this.silu(await this.layerNorm(z, layer.layernorm, `${name}.layernorm`), name);
    return g.one('MatMul', [h, g.floats(`${name}.weight.T`, transposed(await floatsOf(layer.weight), layer.outFeatures, c),
      [c, layer.outFeatures])], name);
  }

  /** ReLU-KAN's layer on x [B, C]: fc((r relu(e - u) relu(u - s))^2), u = LayerNorm(x). */
  async reluKan(x: string, layer: ReluKanLayer, name: string): Promise<string> {
    const { g } = this;
    const [c, k] = [layer.inFeatures, layer.bases];
    const u = g.one('Unsqueeze', [await this.layerNorm(x, layer.layernorm, `${name}.layernorm`), g.ints(`${name}.axis2`, [2])], `${name}.u3`);
    const start = g.floats(`${name}.grid_start`, await floatsOf(layer.gridStart), [c, k]);
    const end = g.floats(`${name}.grid_end`, await floatsOf(layer.gridEnd), [c, k]);
    const r = (4 * layer.gridSize ** 2) / (layer.order + 1) ** 2;
    const product = g.one('Mul', [g.one('Relu', [g.one('Sub', [end, u], `${name}.e_u`)], `${name}.right`),
      g.one('Relu', [g.one('Sub', [u, start], `${name}.u_s`)], `${name}.left`)], `${name}.product`);
    const bump = g.one('Mul', [product, g.scalar(`${name}.r`, r)], `${name}.bump`);
    const flat = g.one('Reshape', [g.one('Mul', [bump, bump], `${name}.bump2`), g.ints(`${name}.bases_shape`, [0, c * k])], `${name}.bases`);
    return this.linear(flat, layer.fc, `${name}.fc`);
  }

  /** ChebyKAN's layer on x [B, C]: cheby_linear(T_0..T_degree(tanh x)), the Chebyshev recurrence unrolled. */
  async chebyKan(x: string, layer: ChebyKanLayer, name: string): Promise<string> {
    const { g } = this;
    const [c, degree] = [layer.inFeatures, layer.degree];
    const basis = this.chebyshevBases(x, degree, name);
    const flat = g.one('Reshape', [basis, g.ints(`${name}.bases_shape`, [0, c * (degree + 1)])], `${name}.bases`);
    return this.linear(flat, layer.chebyLinear, `${name}.cheby_linear`);
  }

  /** T_0..T_degree(tanh x) [B, C, degree + 1] of x [B, C], the Chebyshev recurrence unrolled. */
  chebyshevBases(x: string, degree: number, name: string): string {
    const { g } = this;
    const t = g.one('Unsqueeze', [g.one('Tanh', [x], `${name}.tanh`), g.ints(`${name}.axis2`, [2])], `${name}.t3`); // [B, C, 1]
    const terms = [g.one('Add', [g.one('Mul', [t, g.scalar(`${name}.zero`, 0)], `${name}.t0_zero`), g.scalar(`${name}.one`, 1)], `${name}.T0`)];
    if (degree >= 1) terms.push(t);
    const twoT = degree >= 2 ? g.one('Add', [t, t], `${name}.two_t`) : '';
    for (let k = 2; k <= degree; k++) {
      terms.push(g.one('Sub', [g.one('Mul', [twoT, terms[k - 1]!], `${name}.T${k}_product`), terms[k - 2]!], `${name}.T${k}`));
    }
    return terms.length > 1 ? g.one('Concat', terms, `${name}.bases3`, { axis: 2 }) : terms[0]!; // [B, C, degree + 1]
  }

  /**
   * An S-KAN layer on x [B, C]: bias + sum over spaces of MatMul(features of
   * the space's inputs, W_s^T). A pruned layer gathers its kept inputs; an
   * unpruned one folds its (constant) selection weights into W.
   */
  async selectLayer(x: string, layer: SelectKanLayer, name: string): Promise<string> {
    const { g } = this;
    const S = layer.spaces.length;
    const alpha = layer.inputs ? null : await layer.alpha().data();
    const s = SELECT_SPACE_SETTINGS;
    let y = g.floats(`${name}.bias`, await floatsOf(layer.bias), [layer.outFeatures]);
    for (const [index, member] of layer.members.entries()) {
      if (!member) continue;
      const space = member.space;
      const at = `${name}.${space}`;
      const n = member.inputs;
      const K = member.features;
      const kept = layer.inputs?.[index];
      const xs = kept && kept.length < layer.inFeatures ? g.one('Gather', [x, g.ints(`${at}.inputs`, [...kept])], `${at}.x`, { axis: 1 }) : x;
      const column = () => g.one('Unsqueeze', [xs, g.ints(`${at}.axis2`, [2])], `${at}.x3`);
      let features: string;
      if (space === 'rational') {
        const act = { groups: 1, channels: n, numerator: member.numerator!, denominator: member.denominator! } as unknown as GroupRational;
        features = g.one('Unsqueeze', [await this.rational(xs, act, 2, `${at}.act`), g.ints(`${at}.axis2r`, [2])], `${at}.f`);
      } else if (space === 'bspline') {
        const silu = g.one('Unsqueeze', [this.silu(xs, at), g.ints(`${at}.axis2s`, [2])], `${at}.silu3`);
        features = g.one('Concat', [silu, this.bsplineBases(xs, await floatsOf(member.grid!), n, s.bspline.order, `${at}.b`)], `${at}.f`, { axis: 2 });
      } else if (space === 'rbf') {
        const spacing = (s.rbf.high - s.rbf.low) / (s.rbf.centers - 1);
        const centers = g.floats(`${at}.centers`, Float64Array.from({ length: s.rbf.centers }, (_, c) => s.rbf.low + c * spacing), [s.rbf.centers]);
        const z = g.one('Div', [g.one('Sub', [column(), centers], `${at}.dx`), g.scalar(`${at}.width`, spacing)], `${at}.z`);
        const phi = g.one('Exp', [g.one('Neg', [g.one('Mul', [z, z], `${at}.z2`)], `${at}.nz2`)], `${at}.phi`);
        const silu = g.one('Unsqueeze', [this.silu(xs, at), g.ints(`${at}.axis2s`, [2])], `${at}.silu3`);
        features = g.one('Concat', [silu, phi], `${at}.f`, { axis: 2 });
      } else if (space === 'cheby') {
        features = this.chebyshevBases(xs, s.cheby.degree, at);
      } else if (space === 'relu') {
        const u = column();
        const start = g.floats(`${at}.grid_start`, await floatsOf(member.gridStart!), [n, K]);
        const end = g.floats(`${at}.grid_end`, await floatsOf(member.gridEnd!), [n, K]);
        const r = (4 * s.relu.gridSize ** 2) / (s.relu.order + 1) ** 2;
        const product = g.one('Mul', [g.one('Relu', [g.one('Sub', [end, u], `${at}.e_u`)], `${at}.right`),
          g.one('Relu', [g.one('Sub', [u, start], `${at}.u_s`)], `${at}.left`)], `${at}.product`);
        const bump = g.one('Mul', [product, g.scalar(`${at}.r`, r)], `${at}.bump`);
        features = g.one('Mul', [bump, bump], `${at}.f`);
      } else {
        const u = column();
        const start = g.floats(`${at}.grid_start`, await floatsOf(member.gridStart!), [K]);
        const end = g.floats(`${at}.grid_end`, await floatsOf(member.gridEnd!), [K]);
        const a = this.activation(g.one('Sub', [u, start], `${at}.x_s`), s.af.activation, `${at}.a`);
        const c = this.activation(g.one('Sub', [end, u], `${at}.e_x`), s.af.activation, `${at}.c`);
        features = this.combination(a, c, s.af.combination, `${at}.f`);
      }
      const weight = await floatsOf(member.weight);
      if (alpha) {
        // The node's share of this space folded into its block of W (constant at inference).
        for (let j = 0; j < layer.outFeatures; j++) {
          for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) weight[(j * n + i) * K + k] = Math.fround(weight[(j * n + i) * K + k]! * alpha[i * S + index]!);
        }
      }
      const flat = g.one('Reshape', [features, g.ints(`${at}.flat_shape`, [0, n * K])], `${at}.flat`);
      const term = g.one('MatMul', [flat, g.floats(`${at}.weight.T`, transposed(weight, layer.outFeatures, n * K), [n * K, layer.outFeatures])], `${at}.term`);
      y = g.one('Add', [term, y], `${at}.sum`);
    }
    return y;
  }

  async kanMlp(x: string, model: KanMlp): Promise<string> {
    let h = this.g.one('Flatten', [x], 'flatten', { axis: 1 });
    for (const [i, layer] of model.layers.entries()) {
      const name = `layers.${i}`;
      if (layer instanceof RationalKanLayer) h = await this.linear(await this.rational(h, layer.act, 2, `${name}.act`), layer.fc, `${name}.fc`);
      else if (layer instanceof BSplineKanLayer) h = await this.bspline(h, layer, name);
      else if (layer instanceof RbfKanLayer) h = await this.rbf(h, layer, name);
      else if (layer instanceof AfKanLayer) h = await this.af(h, layer, name);
      else if (layer instanceof ReluKanLayer) h = await this.reluKan(h, layer, name);
      else if (layer instanceof ChebyKanLayer) h = await this.chebyKan(h, layer, name);
      else if (layer instanceof SelectKanLayer) h = await this.selectLayer(h, layer, name);
      else if (layer instanceof MlpLayer) h = await this.linear(layer.activateInput ? this.activation(h, layer.activation, name) : h, layer.fc, `${name}.fc`);
      else throw new Error(`exportOnnx: ${name} has basis '${model.basis}', which ONNX export does not support (it covers ${KAN_BASES.join(', ')})`);
    }
    return h;
  }
}

/** The input's shape after the batch: [C, H, W] for images (kan-mlp: from the preprocessing or a square of its inputs). */
export function modelInputShape(model: Model, preprocess?: PreprocessConfig): number[] {
  if (model instanceof VisionTransformer) {
    const { channels, imageSize } = model.config;
    return [channels, imageSize, imageSize];
  }
  const inputs = (model as KanMlp).config.inputs;
  if (preprocess && preprocess.inputSize.reduce((a, b) => a * b, 1) === inputs) return [...preprocess.inputSize];
  const side = Math.round(Math.sqrt(inputs));
  return side * side === inputs ? [1, side, side] : [inputs];
}

function tensorType(dims: (number | string)[]): object {
  return { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } };
}

/**
 * The model as ONNX bytes: input `pixel_values` [batch, ...] -> output
 * `logits` [batch, classes], batch dynamic; metadata_props carry the model
 * name, its config, the preprocessing and the labels. Async because weights
 * are read from the model's backend (WebGPU reads are asynchronous).
 */
export async function exportOnnx(model: Model, spec: ModelSpec, options: ExportOnnxOptions = {}): Promise<Uint8Array> {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < DEFAULT_OPSET) throw new Error(`exportOnnx: opset ${opset} must be an integer >= ${DEFAULT_OPSET}`);
  if (opset > 21) throw new Error(`exportOnnx: opset ${opset} is newer than this exporter was checked against (17 to 21)`);
  const { labels, preprocess } = options;
  const classes = (spec.config as { classes: number }).classes;
  if (labels && labels.length !== classes) throw new Error(`exportOnnx: ${labels.length} labels for ${classes} classes`);
  const shape = modelInputShape(model, preprocess);
  if (preprocess && preprocess.inputSize.join() !== shape.join()) {
    throw new Error(`exportOnnx: the preprocessing makes ${preprocess.inputSize.join('x')} inputs, but the model takes ${shape.join('x')}`);
  }
  const g = new GraphBuilder();
  const lowering = new Lowering(g, opset);
  let out: string;
  if (model instanceof VisionTransformer) out = await lowering.vit(ONNX_INPUT, model);
  else if (model instanceof KanMlp) out = await lowering.kanMlp(ONNX_INPUT, model);
  else throw new Error(`exportOnnx: model '${spec.name}' is not a KAT, ViT or kan-mlp`);
  // The last node writes the graph output: give it the public name.
  const last = g.nodes[g.nodes.length - 1] as { output: string[] };
  if (last.output[0] !== out) throw new Error('exportOnnx: internal error: the output is not the last node\'s');
  last.output = [ONNX_OUTPUT];

  const metadata: Record<string, string> = { model: spec.name, config: JSON.stringify(spec.config) };
  if (preprocess) {
    metadata.input_size = JSON.stringify(preprocess.inputSize);
    metadata.mean = JSON.stringify(preprocess.mean);
    metadata.std = JSON.stringify(preprocess.std);
    metadata.interpolation = preprocess.interpolation;
    metadata.crop_pct = String(preprocess.cropPct);
    metadata.crop_mode = preprocess.cropMode;
  }
  if (labels) metadata.labels = JSON.stringify(labels);

  const type = modelProto();
  const message = type.fromObject({
    ir_version: IR_VERSIONS[opset],
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'katjs',
    model_version: 1,
    doc_string: `katjs ${spec.name}`,
    graph: {
      name: spec.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: ONNX_INPUT, type: tensorType(['batch', ...shape]) }],
      output: [{ name: ONNX_OUTPUT, type: tensorType(['batch', classes]) }],
    },
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return type.encode(message).finish();
}

/** Reads exportOnnx's metadata back from a decoded model (decodeOnnx). */
export function onnxMetadata(decoded: Record<string, unknown>): Record<string, string> {
  const props = (decoded.metadata_props ?? []) as { key: string; value: string }[];
  return Object.fromEntries(props.map((p) => [p.key, p.value]));
}
