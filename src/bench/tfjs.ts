// The same benchmarks written with TensorFlow.js, for `kat bench`'s comparison
// section: matmul, the group-rational activation (forward, and forward plus
// backward through tfjs's autodiff) and a full training step of kat-micro, on
// tfjs's wasm backend (XNNPACK) or its plain JavaScript cpu backend.
//
// TensorFlow.js is a devDependency, loaded lazily with import(): where it is not
// installed (or a backend cannot start) every function here resolves to null and
// tfjsStatus() says why. Nothing in this module's signatures is a tfjs type, so
// katjs's published types do not depend on TensorFlow.js.

import type * as Tf from '@tensorflow/tfjs-core';
import { rationalCoefficients, rationalGain } from '../nn/rational_init.js';
import { timeCalls, type BenchOptions, type BenchRow } from './bench.js';

export type TfjsBackendName = 'wasm' | 'cpu';

export interface TfjsStatus {
  backend: TfjsBackendName;
  available: boolean;
  /** What runs (version, SIMD, threads) or why it cannot. */
  detail: string;
}

type TF = typeof Tf;
type T = Tf.Tensor;

const BACKEND_PACKAGES: Record<TfjsBackendName, string> = {
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

const INSTALL_HINT = 'npm install --save-dev @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm @tensorflow/tfjs-backend-cpu';

/** The module namespace of a CommonJS package imported from ESM: named exports, or all of them under `default`. */
function namespaceOf<M>(mod: unknown, probe: string): M {
  const m = mod as Record<string, unknown>;
  return (probe in m ? m : (m.default ?? m)) as M;
}

let core: Promise<TF | string> | undefined;
const started = new Map<TfjsBackendName, Promise<TfjsStatus>>();

/** tfjs-core, or the reason it cannot be loaded. */
function loadCore(): Promise<TF | string> {
  core ??= (async () => {
    try {
      const specifier = '@tensorflow/tfjs-core';
      const tf = namespaceOf<TF>(await import(specifier), 'matMul');
      // Production mode: no per-op NaN checks and no "install tfjs-node" notice.
      tf.enableProdMode();
      registerMissingGradients(tf);
      return tf;
    } catch (error) {
      return `TensorFlow.js is not installed (${(error as Error).message.split('\n')[0]}); to compare, run: ${INSTALL_HINT}`;
    }
  })();
  return core;
}

/** Loads tfjs and starts `backend` once; says what runs or why it cannot. */
export function tfjsStatus(backend: TfjsBackendName): Promise<TfjsStatus> {
  let pending = started.get(backend);
  if (!pending) {
    pending = (async (): Promise<TfjsStatus> => {
      const tf = await loadCore();
      if (typeof tf === 'string') return { backend, available: false, detail: tf };
      let backendModule: Record<string, unknown>;
      try {
        const specifier = BACKEND_PACKAGES[backend];
        backendModule = namespaceOf<Record<string, unknown>>(await import(specifier), `version_${backend}`);
      } catch (error) {
        return { backend, available: false, detail: `${BACKEND_PACKAGES[backend]} is not installed (${(error as Error).message.split('\n')[0]})` };
      }
      try {
        if (!(await tf.setBackend(backend))) return { backend, available: false, detail: `tfjs backend '${backend}' failed to initialise` };
        await tf.ready();
      } catch (error) {
        return { backend, available: false, detail: `tfjs backend '${backend}' failed to initialise: ${(error as Error).message}` };
      }
      let detail = `TensorFlow.js ${tf.version_core} ${backend}`;
      if (backend === 'wasm') {
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        const getThreads = (backendModule as { getThreadsCount?: () => number }).getThreadsCount;
        detail += ` (XNNPACK, ${simd ? 'SIMD' : 'no SIMD'}, ${getThreads ? getThreads() : 1} thread(s))`;
      } else {
        detail += ' (plain JavaScript kernels, 1 thread)';
      }
      return { backend, available: true, detail };
    })();
    started.set(backend, pending);
  }
  return pending;
}

// ---------------------------------------------------------------------------
// Gradients
//
// tfjs-core's Node bundle registers no gradient functions (the @tensorflow/tfjs
// union package adds them). These are the ones the benchmarks differentiate
// through, written from the ops' definitions; each is registered only where
// tfjs has none, so a full tfjs install keeps its own.

type GradConfig = Parameters<TF['registerGradient']>[0];

/** Sums `g` (of a broadcast result's shape) back to `shape`: over missing leading axes and axes where shape has 1. */
function unbroadcast(tf: TF, g: T, shape: readonly number[]): T {
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(g, axes) : g;
  return tf.reshape(summed, [...shape]);
}

/** Axes of a reduction as non-negative integers. */
function reductionAxes(axis: unknown, rank: number): number[] {
  const list = axis === undefined || axis === null ? [...Array(rank).keys()] : Array.isArray(axis) ? axis as number[] : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a));
}

/**
 * op(a) op(b) with any transpose done explicitly first: tfjs-wasm multiplies
 * untransposed operands with XNNPACK but falls back to a loop 5 to 15x slower
 * when asked to transpose, so this is the fast way to write it there.
 */
function matMulT(tf: TF, a: T, b: T, transposeA = false, transposeB = false): T {
  const swapLast = (t: T) => tf.transpose(t, [...Array(t.rank - 2).keys(), t.rank - 1, t.rank - 2]);
  return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
}

function gradientConfigs(tf: TF): GradConfig[] {
  const both = (da: (a: T, b: T, dy: T) => T, db: (a: T, b: T, dy: T) => T) => (dy: T | T[], saved: T[]) => {
    const [a, b] = saved as [T, T];
    return { a: () => unbroadcast(tf, da(a, b, dy as T), a.shape), b: () => unbroadcast(tf, db(a, b, dy as T), b.shape) };
  };
  /** The gradient of a reduction over `axes`, broadcast back to x's shape (times `scale`). */
  const spread = (dy: T, x: T, axes: number[], scale: number) => {
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    return tf.mul(tf.reshape(dy, kept), tf.fill(x.shape, scale));
  };
  return [
    { kernelName: tf.Add, inputsToSave: ['a', 'b'], gradFunc: both((_a, _b, dy) => dy, (_a, _b, dy) => dy) },
    { kernelName: tf.Sub, inputsToSave: ['a', 'b'], gradFunc: both((_a, _b, dy) => dy, (_a, _b, dy) => tf.neg(dy)) },
    { kernelName: tf.Multiply, inputsToSave: ['a', 'b'], gradFunc: both((_a, b, dy) => tf.mul(dy, b), (a, _b, dy) => tf.mul(dy, a)) },
    {
      kernelName: tf.RealDiv, inputsToSave: ['a', 'b'],
      gradFunc: both((_a, b, dy) => tf.div(dy, b), (a, b, dy) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b)))),
    },
    { kernelName: tf.Neg, gradFunc: (dy) => ({ x: () => tf.neg(dy as T) }) },
    { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => tf.clone(dy as T) }) },
    { kernelName: tf.Identity, gradFunc: (dy) => ({ x: () => tf.clone(dy as T) }) },
    { kernelName: tf.Square, inputsToSave: ['x'], gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as T, tf.mul(saved[0]!, 2)) }) },
    {
      // d/dx x^(-1/2) = -1/2 x^(-3/2)
      kernelName: tf.Rsqrt, inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as T, tf.mul(tf.pow(tf.rsqrt(saved[0]!), 3), -0.5)) }),
    },
    { kernelName: tf.Reshape, inputsToSave: ['x'], gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as T, saved[0]!.shape) }) },
    {
      kernelName: tf.Transpose,
      gradFunc: (dy, _saved, attrs) => {
        const perm = attrs.perm as number[];
        const inverse = perm.map((_, i) => perm.indexOf(i));
        return { x: () => tf.transpose(dy as T, inverse) };
      },
    },
    {
      kernelName: tf.Slice, inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const x = saved[0]!;
        const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]);
        return { x: () => tf.pad(dy as T, x.shape.map((d, i) => [begin[i]!, d - begin[i]! - size[i]!] as [number, number])) };
      },
    },
    {
      kernelName: tf.Concat, saveAllInputs: true,
      gradFunc: (dy, saved, attrs) => {
        const g = dy as T;
        const axis = reductionAxes(attrs.axis, g.rank)[0]!;
        let offset = 0;
        return saved.map((input) => {
          const begin = g.shape.map((_, i) => (i === axis ? offset : 0));
          const size = [...input.shape];
          offset += input.shape[axis]!;
          return () => tf.slice(g, begin, size);
        }) as unknown as ReturnType<GradConfig['gradFunc']>;
      },
    },
    {
      // x [s0, s1, ...] tiled by reps: view dy as [r0, s0, r1, s1, ...] and sum over the r axes.
      kernelName: tf.Tile, inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const x = saved[0]!;
        const reps = attrs.reps as number[];
        const split = x.shape.flatMap((d, i) => [reps[i]!, d]);
        return { x: () => tf.reshape(tf.sum(tf.reshape(dy as T, split), x.shape.map((_, i) => 2 * i)), x.shape) };
      },
    },
    {
      kernelName: tf.Sum, inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => ({ x: () => spread(dy as T, saved[0]!, reductionAxes(attrs.axis, saved[0]!.rank), 1) }),
    },
    {
      kernelName: tf.Mean, inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const x = saved[0]!;
        const axes = reductionAxes(attrs.axis, x.rank);
        const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
        return { x: () => spread(dy as T, x, axes, 1 / count) };
      },
    },
    {
      // y = softmax(x): dx = y (dy - sum(dy y)) along the softmax axis.
      kernelName: tf.Softmax, outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const y = saved[0]!;
        const axes = reductionAxes(attrs.dim, y.rank);
        return { logits: () => tf.mul(y, tf.sub(dy as T, tf.sum(tf.mul(dy as T, y), axes, true))) };
      },
    },
    {
      // C = op(A) op(B) over matching batch axes; each case is the usual pair of products.
      kernelName: tf.BatchMatMul, inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved as [T, T];
        const g = dy as T;
        const ta = attrs.transposeA as boolean;
        const tb = attrs.transposeB as boolean;
        const mm = (x: T, y: T, tx = false, ty = false) => matMulT(tf, x, y, tx, ty);
        const da = !ta ? (tb ? () => mm(g, b) : () => mm(g, b, false, true))
          : (tb ? () => mm(b, g, true, true) : () => mm(b, g, false, true));
        const db = !tb ? (ta ? () => mm(a, g) : () => mm(a, g, true, false))
          : (ta ? () => mm(g, a, true, true) : () => mm(g, a, true, false));
        return { a: () => unbroadcast(tf, da(), a.shape), b: () => unbroadcast(tf, db(), b.shape) };
      },
    },
  ];
}

function registerMissingGradients(tf: TF): void {
  for (const config of gradientConfigs(tf)) {
    if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
  }
}

/** tfjs with `backend` selected, or null where it is unavailable. */
async function use(backend: TfjsBackendName): Promise<TF | null> {
  const status = await tfjsStatus(backend);
  if (!status.available) return null;
  const tf = (await loadCore()) as TF;
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
  return tf;
}

/** tfjs runs every op eagerly and synchronously on these backends: nothing to wait for. */
const SYNCHRONOUS = { sync: async () => {} };

const label = (backend: TfjsBackendName) => `tfjs-${backend}`;

// ---------------------------------------------------------------------------
// matmul

/** n x n matmuls, A [n, n] x B [n, n] with neither transposed (tfjs-wasm's fast path), one row per size. */
export async function tfjsBenchMatmul(backend: TfjsBackendName, sizes: readonly number[], options: BenchOptions): Promise<BenchRow[] | null> {
  const tf = await use(backend);
  if (!tf) return null;
  const rows: BenchRow[] = [];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 5);
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 6);
    const ms = await timeCalls(SYNCHRONOUS, () => tf.tidy(() => { tf.matMul(a, b); }), options);
    a.dispose();
    b.dispose();
    rows.push({ op: `matmul (${label(backend)})`, impl: label(backend), shape: `[${n}, ${n}] x [${n}, ${n}]`, median_ms: ms, tflops: (2 * n ** 3) / (ms * 1e9) });
  }
  return rows;
}

// ---------------------------------------------------------------------------
// The group-rational activation, in tfjs ops

/** |v| whose gradient uses sign(0) = +1, as grkan.md specifies (tfjs's Abs gradient, dy * step(x, -1), is -1 at 0). */
const absCache = new WeakMap<TF, (v: T) => T>();
function safeAbs(tf: TF): (v: T) => T {
  let f = absCache.get(tf);
  if (!f) {
    const custom = tf.customGrad((...args: (T | Tf.GradSaveFunc)[]) => {
      const v = args[0] as T;
      const save = args[1] as Tf.GradSaveFunc;
      save([v]);
      return {
        value: tf.abs(v),
        gradFunc: (dy: T, saved: T[]) => tf.mul(dy, tf.sub(tf.mul(tf.cast(tf.greaterEqual(saved[0]!, 0), 'float32'), 2), 1)),
      };
    });
    f = (v: T) => custom(v);
    absCache.set(tf, f);
  }
  return f;
}

/**
 * F(x) = P(x) / Q(x) over the last axis of x ([..., D]) in G contiguous channel
 * groups, G = denominator rows. P by Horner; Q = 1 + |b0||x| + ... + |b3||x|^4,
 * also by Horner in |x|. x is viewed as [rows, G, D/G] and each per-group
 * coefficient as [1, G, 1], so broadcasting applies one group's coefficients to
 * its channel block; a coefficient shared by every group (the [1, 6] numerator)
 * is a scalar, which keeps tfjs-cpu on its fast non-broadcasting loop. tfjs's
 * autodiff sums the gradients over the broadcast axes.
 */
function groupRationalTf(tf: TF, x: T, numerator: T, denominator: T): T {
  const groups = denominator.shape[0]!;
  const channels = x.shape[x.rank - 1]!;
  const xg = tf.reshape(x, [-1, groups, channels / groups]);
  const column = (m: T, k: number) => {
    const rows = m.shape[0]!;
    return tf.reshape(tf.slice(m, [0, k], [rows, 1]), rows === 1 ? [] : [1, rows, 1]);
  };
  let p: T = column(numerator, 5);
  for (let k = 4; k >= 0; k--) p = tf.add(tf.mul(p, xg), column(numerator, k));
  const abs = safeAbs(tf);
  const ax = abs(xg);
  const b = abs(denominator);
  let q: T = column(b, 3);
  for (let j = 2; j >= 0; j--) q = tf.add(tf.mul(q, ax), column(b, j));
  q = tf.add(tf.mul(q, ax), 1);
  return tf.reshape(tf.div(p, q), x.shape);
}

export interface GroupRationalValues {
  y: Float32Array;
  dx: Float32Array;
  dNumerator: Float32Array;
  dDenominator: Float32Array;
}

/**
 * The tfjs group-rational on host values: y = F(x) and the gradients of
 * sum(F(x) * gy) with respect to x, the numerator ([1, 6] or [G, 6]) and the
 * denominator ([G, 4]). For tests against katjs; null where tfjs is unavailable.
 */
export async function tfjsGroupRationalValues(backend: TfjsBackendName, input: {
  x: ArrayLike<number>; shape: readonly number[]; numerator: ArrayLike<number>; denominator: ArrayLike<number>; groups: number;
  gy: ArrayLike<number>;
}): Promise<GroupRationalValues | null> {
  const tf = await use(backend);
  if (!tf) return null;
  const numeratorRows = input.numerator.length / 6;
  const tensors = tf.tidy(() => {
    const x = tf.tensor(Array.from(input.x), [...input.shape], 'float32');
    const a = tf.tensor(Array.from(input.numerator), [numeratorRows, 6], 'float32');
    const b = tf.tensor(Array.from(input.denominator), [input.groups, 4], 'float32');
    const gy = tf.tensor(Array.from(input.gy), [...input.shape], 'float32');
    const y = groupRationalTf(tf, x, a, b);
    const [dx, da, db] = tf.grads((xs: T, as: T, bs: T) => groupRationalTf(tf, xs, as, bs))([x, a, b], gy);
    return [y, dx!, da!, db!];
  });
  const [y, dx, dNumerator, dDenominator] = tensors.map((t) => t.dataSync() as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
  tf.dispose(tensors);
  return { y, dx, dNumerator, dDenominator };
}

/** Swish-initialised coefficients (act2's init in KAT): numerator [1, 6] shared, denominator [G, 4]. */
function swishCoefficients(groups: number): { numerator: number[]; denominator: number[] } {
  const init = rationalCoefficients('swish');
  return { numerator: [...init.numerator], denominator: Array.from({ length: groups }, () => [...init.denominator]).flat() };
}

/**
 * Group-rational throughput at [rows, channels], G groups, shared numerator:
 * forward, and forward plus backward (tf.grads with respect to x, numerator and
 * denominator, upstream gradient gy), in elements (rows x channels) per second.
 */
export async function tfjsBenchGroupRational(backend: TfjsBackendName, rows: number, channels: number, groups: number,
  options: BenchOptions): Promise<BenchRow[] | null> {
  const tf = await use(backend);
  if (!tf) return null;
  const coefficients = swishCoefficients(groups);
  const x = tf.randomNormal([rows, channels], 0, 1, 'float32', 2);
  const gy = tf.randomNormal([rows, channels], 0, 1, 'float32', 3);
  const a = tf.tensor(coefficients.numerator, [1, 6], 'float32');
  const b = tf.tensor(coefficients.denominator, [groups, 4], 'float32');
  const gradients = tf.grads((xs: T, as: T, bs: T) => groupRationalTf(tf, xs, as, bs));
  const forwardMs = await timeCalls(SYNCHRONOUS, () => tf.tidy(() => { groupRationalTf(tf, x, a, b); }), options);
  const backwardMs = await timeCalls(SYNCHRONOUS, () => tf.tidy(() => { gradients([x, a, b], gy); }), options);
  tf.dispose([x, gy, a, b]);
  const elements = rows * channels;
  const shape = `[${rows}, ${channels}] G=${groups}`;
  return [
    { op: `groupRational fwd (${label(backend)})`, impl: label(backend), shape, median_ms: forwardMs, elements_per_s: elements / (forwardMs / 1000) },
    { op: `groupRational fwd+bwd (${label(backend)})`, impl: label(backend), shape, median_ms: backwardMs, elements_per_s: elements / (backwardMs / 1000) },
  ];
}

// ---------------------------------------------------------------------------
// kat-micro, one full training step

/** kat-micro's configuration (src/models/registry.ts). */
export const KAT_MICRO = { imageSize: 28, channels: 1, patchSize: 7, dim: 64, depth: 3, heads: 4, mlpRatio: 4, groups: 8, classes: 10 } as const;

/** weight [in, out] (tfjs's layout, so the forward product is untransposed); katjs stores [out, in]. */
interface TfLinear { weight: Tf.Variable; bias: Tf.Variable }
interface TfNorm { weight: Tf.Variable; bias: Tf.Variable }
interface TfRational { numerator: Tf.Variable; denominator: Tf.Variable }
interface TfBlock { norm1: TfNorm; qkv: TfLinear; proj: TfLinear; norm2: TfNorm; act1: TfRational; fc1: TfLinear; act2: TfRational; fc2: TfLinear }

interface TfKatMicro {
  patchWeight: Tf.Variable; // [C * p * p, D]
  patchBias: Tf.Variable;
  cls: Tf.Variable; // [1, 1, D]
  pos: Tf.Variable; // [1, 1 + N, D]
  blocks: TfBlock[];
  norm: TfNorm;
  head: TfLinear;
  variables: Tf.Variable[];
  /** The variables under katjs's (timm's) parameter names. */
  named: Map<string, Tf.Variable>;
  /** Names of the variables stored transposed with respect to katjs ([in, out] against [out, in]). */
  transposed: Set<string>;
}

/** KAT's initialisation (vit.ts, transformer.ts, kan.ts): same distributions, tfjs's generators; katjs's parameter names. */
function buildKatMicro(tf: TF, seed: number): TfKatMicro {
  const { channels, patchSize, imageSize, dim, depth, mlpRatio, groups, classes } = KAT_MICRO;
  const variables: Tf.Variable[] = [];
  const named = new Map<string, Tf.Variable>();
  const transposed = new Set<string>();
  let nextSeed = seed;
  const v = (name: string, init: T) => {
    const variable = tf.variable(init);
    init.dispose();
    variables.push(variable);
    named.set(name, variable);
    return variable;
  };
  const trunc = (name: string, shape: number[], std: number) => v(name, tf.truncatedNormal(shape, 0, std, 'float32', nextSeed++));
  const normal = (name: string, shape: number[], std: number) => v(name, tf.randomNormal(shape, 0, std, 'float32', nextSeed++));
  const linear = (name: string, inF: number, outF: number, std = 0.02, untruncated = false): TfLinear => {
    transposed.add(`${name}.weight`);
    return {
      weight: untruncated ? normal(`${name}.weight`, [inF, outF], std) : trunc(`${name}.weight`, [inF, outF], std),
      bias: v(`${name}.bias`, tf.zeros([outF])),
    };
  };
  const norm = (name: string): TfNorm => ({ weight: v(`${name}.weight`, tf.ones([dim])), bias: v(`${name}.bias`, tf.zeros([dim])) });
  const rational = (name: string, mode: string): TfRational => {
    const init = rationalCoefficients(mode);
    return {
      numerator: v(`${name}.weight_numerator`, tf.tensor([...init.numerator], [1, 6])),
      denominator: v(`${name}.weight_denominator`, tf.tensor(Array.from({ length: groups }, () => [...init.denominator]).flat(), [groups, 4])),
    };
  };
  const fanIn = channels * patchSize * patchSize;
  const patches = (imageSize / patchSize) ** 2;
  const bound = 1 / Math.sqrt(fanIn);
  const cls = normal('cls_token', [1, 1, dim], 1e-6);
  const patchWeight = v('patch_embed.proj.weight', tf.randomUniform([fanIn, dim], -bound, bound, 'float32', nextSeed++));
  transposed.add('patch_embed.proj.weight');
  const patchBias = v('patch_embed.proj.bias', tf.randomUniform([dim], -bound, bound, 'float32', nextSeed++));
  const pos = trunc('pos_embed', [1, patches + 1, dim], 0.02);
  const hidden = dim * mlpRatio;
  const gain = (mode: string) => rationalGain(rationalCoefficients(mode).numerator, rationalCoefficients(mode).denominator);
  const blocks: TfBlock[] = [];
  for (let i = 0; i < depth; i++) {
    const at = `blocks.${i}`;
    blocks.push({
      norm1: norm(`${at}.norm1`), qkv: linear(`${at}.attn.qkv`, dim, 3 * dim), proj: linear(`${at}.attn.proj`, dim, dim), norm2: norm(`${at}.norm2`),
      act1: rational(`${at}.mlp.act1`, 'identity'), fc1: linear(`${at}.mlp.fc1`, dim, hidden, gain('identity') / Math.sqrt(dim), true),
      act2: rational(`${at}.mlp.act2`, 'swish'), fc2: linear(`${at}.mlp.fc2`, hidden, dim, gain('swish') / Math.sqrt(hidden), true),
    });
  }
  return { patchWeight, patchBias, cls, pos, blocks, norm: norm('fc_norm'), head: linear('head', dim, classes), variables, named, transposed };
}

function linearTf(tf: TF, x: T, layer: TfLinear): T {
  const [inF, outF] = layer.weight.shape as [number, number];
  const y = tf.add(tf.matMul(tf.reshape(x, [-1, inF]), layer.weight), layer.bias);
  return tf.reshape(y, [...x.shape.slice(0, -1), outF]);
}

/** LayerNorm over the last axis, eps 1e-6 (timm's ViT). */
function layerNormTf(tf: TF, x: T, norm: TfNorm): T {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-6))), norm.weight), norm.bias);
}

function attentionTf(tf: TF, x: T, block: TfBlock): T {
  const [b, n, d] = x.shape as [number, number, number];
  const h = KAT_MICRO.heads;
  const hd = d / h;
  // qkv's 3D outputs are ordered (3, H, hd), as katjs's [B, N, 3, H, hd] view. Each third sliced off and
  // viewed [B, N, H, hd] -> [B, H, N, hd]: the same q, k, v as one rank-5 transpose, which tfjs-wasm runs
  // some 60x slower than these rank-4 ones.
  const qkv = linearTf(tf, x, block.qkv);
  const part = (i: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, i * d], [b, n, d]), [b, n, h, hd]), [0, 2, 1, 3]);
  const scores = tf.mul(matMulT(tf, part(0), part(1), false, true), 1 / Math.sqrt(hd));
  const heads = tf.matMul(tf.softmax(scores), part(2)); // [B, H, N, hd]
  return linearTf(tf, tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [b, n, d]), block.proj);
}

/** images [B, C, H, W] -> logits [B, classes], exactly VisionTransformer.forward with KAT's MLP. */
function katMicroForward(tf: TF, model: TfKatMicro, images: T): T {
  const { channels: c, patchSize: p, imageSize, dim } = KAT_MICRO;
  const b = images.shape[0]!;
  const grid = imageSize / p;
  // [B, C, gh, p, gw, p] -> [B, gh, gw, C, p, p]: one patch per row, in the weight's (C, p, p) order.
  const patches = tf.reshape(tf.transpose(tf.reshape(images, [b, c, grid, p, grid, p]), [0, 2, 4, 1, 3, 5]), [b * grid * grid, c * p * p]);
  const tokens = tf.reshape(tf.add(tf.matMul(patches, model.patchWeight), model.patchBias), [b, grid * grid, dim]);
  let x = tf.add(tf.concat([tf.tile(model.cls, [b, 1, 1]), tokens], 1), model.pos);
  for (const block of model.blocks) {
    x = tf.add(x, attentionTf(tf, layerNormTf(tf, x, block.norm1), block));
    const act1 = groupRationalTf(tf, layerNormTf(tf, x, block.norm2), block.act1.numerator, block.act1.denominator);
    const act2 = groupRationalTf(tf, linearTf(tf, act1, block.fc1), block.act2.numerator, block.act2.denominator);
    x = tf.add(x, linearTf(tf, act2, block.fc2));
  }
  // kat-micro pools the patch tokens' mean (timm's global_pool 'avg'), then normalises.
  const pooled = tf.mean(tf.slice(x, [0, 1, 0], [b, grid * grid, dim]), 1);
  return linearTf(tf, layerNormTf(tf, pooled, model.norm), model.head);
}

interface AdamWState { m: Tf.Variable; v: Tf.Variable }

/** katjs's AdamW (decoupled weight decay, bias-corrected moments) in tfjs ops. */
function adamwStepTf(tf: TF, variables: Tf.Variable[], grads: Tf.NamedTensorMap, state: Map<Tf.Variable, AdamWState>, step: number,
  lr: number, weightDecay: number): void {
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  for (const p of variables) {
    const g = grads[p.name]!;
    let s = state.get(p);
    if (!s) {
      s = { m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) };
      state.set(p, s);
    }
    s.m.assign(tf.add(tf.mul(s.m, beta1), tf.mul(g, 1 - beta1)));
    s.v.assign(tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2)));
    const denominator = tf.add(tf.div(tf.sqrt(s.v), Math.sqrt(1 - beta2 ** step)), eps);
    p.assign(tf.sub(tf.mul(p, 1 - lr * weightDecay), tf.mul(tf.div(s.m, denominator), lr / (1 - beta1 ** step))));
  }
}

interface TrainingRun { msPerStep: number; losses: number[] }

/** The mean softmax cross-entropy with label smoothing, as katjs's softmaxCrossEntropy. */
function katMicroLoss(tf: TF, model: TfKatMicro, images: T, targets: T, labelSmoothing: number): Tf.Scalar {
  return tf.losses.softmaxCrossEntropy(targets, katMicroForward(tf, model, images), undefined, labelSmoothing, tf.Reduction.MEAN) as Tf.Scalar;
}

function oneHotTargets(tf: TF, labels: readonly number[]): T {
  const { classes } = KAT_MICRO;
  const oneHot = new Float32Array(labels.length * classes);
  labels.forEach((label, i) => { oneHot[i * classes + label] = 1; });
  return tf.tensor(oneHot, [labels.length, classes]);
}

async function runKatMicroTraining(tf: TF, batch: number, steps: number, lr: number, recordLosses: boolean): Promise<TrainingRun> {
  const { channels, imageSize, classes } = KAT_MICRO;
  const model = buildKatMicro(tf, 11);
  const images = tf.randomNormal([batch, channels, imageSize, imageSize], 0, 1, 'float32', 7);
  const targets = oneHotTargets(tf, Array.from({ length: batch }, (_, i) => (i * 7 + 3) % classes));
  const state = new Map<Tf.Variable, AdamWState>();
  const losses: number[] = [];
  let step = 0;
  const trainStep = () => {
    step++;
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => katMicroLoss(tf, model, images, targets, 0.1), model.variables);
      adamwStepTf(tf, model.variables, grads, state, step, lr, 0.05);
      return value;
    });
    if (recordLosses) losses.push(loss.dataSync()[0]!);
    loss.dispose();
  };
  const msPerStep = await timeCalls(SYNCHRONOUS, trainStep, { runs: 1, callsPerRun: steps });
  tf.dispose([images, targets, ...model.variables]);
  for (const s of state.values()) tf.dispose([s.m, s.v]);
  return { msPerStep, losses };
}

export interface KatMicroGradients {
  loss: number;
  /** d loss / d parameter, under katjs's parameter names, in katjs's shapes (flat). */
  grads: Map<string, Float32Array>;
}

/**
 * The tfjs kat-micro's loss (label smoothing 0.1) and every parameter gradient
 * at the given parameters (katjs's names and flat values; patch_embed.proj.weight
 * [D, C, p, p] is the same memory as tfjs's [D, C p p]), images [B, 1, 28, 28]
 * and integer labels. For tests: the tfjs model must compute what katjs's does.
 */
export async function tfjsKatMicroGradients(backend: TfjsBackendName, parameters: ReadonlyMap<string, ArrayLike<number>>,
  images: ArrayLike<number>, labels: readonly number[]): Promise<KatMicroGradients | null> {
  const tf = await use(backend);
  if (!tf) return null;
  const { channels, imageSize } = KAT_MICRO;
  const model = buildKatMicro(tf, 11);
  try {
    for (const [name, variable] of model.named) {
      const values = parameters.get(name);
      if (!values || values.length !== variable.size) {
        throw new Error(`tfjsKatMicroGradients: parameter '${name}' needs ${variable.size} values, got ${values ? values.length : 'none'}`);
      }
      tf.tidy(() => {
        const [rows, cols] = variable.shape as [number, number];
        variable.assign(model.transposed.has(name)
          ? tf.transpose(tf.tensor(Array.from(values), [cols, rows], 'float32'))
          : tf.tensor(Array.from(values), variable.shape, 'float32'));
      });
    }
    const input = tf.tensor(Array.from(images), [labels.length, channels, imageSize, imageSize], 'float32');
    const targets = oneHotTargets(tf, labels);
    const { value, grads } = tf.variableGrads(() => katMicroLoss(tf, model, input, targets, 0.1), model.variables);
    const loss = value.dataSync()[0]!;
    const out = new Map<string, Float32Array>();
    for (const [name, variable] of model.named) {
      const grad = grads[variable.name]!;
      const katjsLayout = model.transposed.has(name) ? tf.transpose(grad) : grad;
      out.set(name, katjsLayout.dataSync() as Float32Array);
      if (katjsLayout !== grad) katjsLayout.dispose();
    }
    tf.dispose([input, targets, value, ...Object.values(grads)]);
    return { loss, grads: out };
  } finally {
    tf.dispose(model.variables);
  }
}

/**
 * Training images per second of kat-micro written in tfjs ops (patch embedding,
 * class token, position embedding, 3 pre-norm blocks of attention and KAT's MLP,
 * head on the class token, softmax cross-entropy with label smoothing 0.1, AdamW
 * lr 1e-4 wd 0.05) on a batch of random 28 x 28 x 1 images: one warm-up step,
 * then the mean of `steps` steps, as katjs's benchTraining measures.
 */
export async function tfjsBenchTraining(backend: TfjsBackendName, batch: number, steps: number): Promise<BenchRow | null> {
  const tf = await use(backend);
  if (!tf) return null;
  const { msPerStep } = await runKatMicroTraining(tf, batch, steps, 1e-4, false);
  return {
    op: `train kat-micro (${label(backend)})`, impl: label(backend), shape: `batch ${batch}, ${KAT_MICRO.imageSize}x${KAT_MICRO.imageSize}`,
    median_ms: msPerStep, images_per_s: (batch * 1000) / msPerStep,
  };
}

/** The loss before each of `steps` + 1 training steps on one fixed batch (a check that the tfjs model learns). */
export async function tfjsTrainingLosses(backend: TfjsBackendName, batch: number, steps: number, lr = 1e-3): Promise<number[] | null> {
  const tf = await use(backend);
  if (!tf) return null;
  return (await runKatMicroTraining(tf, batch, steps, lr, true)).losses;
}
