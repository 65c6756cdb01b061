// The CPU backend against its ceilings and its peer: GEMM at KAT-T's shapes
// as a fraction of the single-thread FMA peak measured in the same run (and
// its scaling over threads), and whole-model cases that a PyTorch script can
// time the same way (kat/vit-micro training, kat/vit-tiny inference), whose
// JSON `kat bench --peer FILE` reads to print ratios.

import type { Backend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu/index.js';
import { createModel } from '../models/registry.js';
import { randn } from '../ops/creation.js';
import { matmul } from '../ops/matmul.js';
import { noGrad } from '../tensor/autograd.js';
import { onBackendAsync } from '../tensor/engine.js';
import { tidy } from '../tensor/scope.js';
import { benchTraining, median, timeCalls, type BenchOptions, type BenchRow } from './bench.js';

/** KAT-T's linear layers [k, n] (qkv, fc1, fc2) at batch 16 x 197 tokens. */
export const KAT_T_GEMMS: readonly (readonly [number, number, number])[] = [[16 * 197, 192, 576], [16 * 197, 192, 768], [16 * 197, 768, 192]];

/** GFLOP/s of op(A) [m, k] x W^T ([n, k] weights, as Linear does) on `backend`. */
async function gemmGflops(backend: Backend, m: number, k: number, n: number, options: BenchOptions): Promise<number> {
  return onBackendAsync(backend, async () => {
    const a = randn([m, k], { seed: 5 });
    const w = randn([n, k], { seed: 6 });
    const ms = await timeCalls(backend, () => tidy(() => { matmul(a, w, { transposeB: true }); }), options);
    a.dispose();
    w.dispose();
    return (2 * m * k * n) / (ms * 1e6);
  });
}

/**
 * One thread and every thread, timed in alternating rounds: on shared vCPUs
 * the machine's speed drifts, and drift moves both halves of a round alike.
 * The scaling is the median of the rounds' ratios, not a ratio of medians
 * taken minutes apart.
 */
async function pairedGemm(single: Backend, all: Backend, m: number, k: number, n: number, options: BenchOptions):
  Promise<{ one: number; many: number; scaling: number; bestScaling: number }> {
  const ones: number[] = [];
  const manys: number[] = [];
  const ratios: number[] = [];
  const round = { ...options, runs: 3, maxMs: undefined };
  for (let r = 0; r < Math.max(3, options.runs); r++) {
    const one = await gemmGflops(single, m, k, n, round);
    const many = await gemmGflops(all, m, k, n, round);
    ones.push(one);
    manys.push(many);
    ratios.push(many / one);
  }
  return { one: median(ones), many: median(manys), scaling: median(ratios), bestScaling: Math.max(...manys) / Math.max(...ones) };
}

/**
 * GEMM rows: the register-only FMA peak of one thread, then per KAT-T shape
 * the rate on one thread (ratio: / peak) and on every thread of `backend`
 * (ratio: the median over alternating rounds of all threads / one thread).
 */
export async function benchGemmVsPeak(backend: CpuBackend, options: BenchOptions): Promise<BenchRow[]> {
  const wasm = backend.wasm;
  if (!wasm) return [];
  await wasm.ready;
  const single = await CpuBackend.create('float32', { threads: 1 });
  try {
    const peak = Math.max(wasm.fmaPeakGflops(150), wasm.fmaPeakGflops(150));
    // Reported per 10^6 iterations of the loop (96 flops each).
    const rows: BenchRow[] = [{ op: 'fma peak (1 thread)', shape: 'f32x4 FMA loop, 10^6 x 96 flops', median_ms: 96 / peak, tflops: peak / 1000 }];
    for (const [m, k, n] of KAT_T_GEMMS) {
      const shape = `[${m}, ${k}] x [${k}, ${n}]`;
      const { one, many, scaling, bestScaling } = wasm.threads > 1
        ? await pairedGemm(single, backend, m, k, n, options)
        : { one: await gemmGflops(single, m, k, n, options), many: 0, scaling: 0, bestScaling: 0 };
      rows.push({ op: 'gemm (1 thread)', shape, median_ms: (2 * m * k * n) / (one * 1e6), tflops: one / 1000, ratio: one / peak,
        reference: 'fma peak' });
      if (wasm.threads > 1) {
        rows.push({ op: `gemm (${wasm.threads} threads)`, shape, median_ms: (2 * m * k * n) / (many * 1e6), tflops: many / 1000,
          ratio: scaling, best_ratio: bestScaling, reference: 'gemm (1 thread), paired rounds' });
      }
    }
    return rows;
  } finally {
    single.dispose();
  }
}

/** One whole-model case, named as the peer names it. */
export interface PeerCase {
  case: string;
  images_per_s: number;
  ms_per_batch?: number;
}

/**
 * The whole-model cases: kat/vit-micro training steps at batch 64 (28 px
 * digits, AdamW, label smoothing) and kat/vit-tiny inference at batch 1 and 16
 * (224 px), on the current backend.
 */
export async function benchPeerCases(backend: Backend, options: BenchOptions, trainSteps: number): Promise<PeerCase[]> {
  const cases: PeerCase[] = [];
  for (const name of ['kat', 'vit']) {
    // The best of three windows: the first includes the engines' warm-up (tiering), the others are noise-limited.
    let best = 0;
    for (let window = 0; window < 3; window++) {
      const row = await benchTraining(backend, `${name}-micro`, 64, 28, trainSteps, { channels: 1, classes: 10 });
      best = Math.max(best, row.images_per_s!);
    }
    cases.push({ case: `${name}-micro train step, batch 64`, images_per_s: best });
    const model = createModel(`${name}-tiny`).eval();
    for (const batch of [1, 16]) {
      const x = randn([batch, 3, 224, 224], { seed: 1 });
      const ms = await timeCalls(backend, () => noGrad(() => tidy(() => { model.forward(x); })),
        { ...options, runs: Math.max(options.runs, batch === 1 ? 15 : 5), callsPerRun: 1 });
      x.dispose();
      cases.push({ case: `${name}-tiny inference, batch ${batch}`, images_per_s: (1000 * batch) / ms, ms_per_batch: ms });
    }
    model.dispose();
  }
  return cases;
}

/** The peer's JSON (../shared/bench/torch_peer.py's output: { torch, threads, cases: [{ case, images_per_s, ms_per_batch? }] }). */
export interface PeerReport {
  label: string;
  cases: Map<string, number>;
}

/** Parses a peer report, or throws an error naming what is wrong with it. */
export function parsePeerReport(text: string, source: string): PeerReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not JSON (${(error as Error).message}): expected the peer's output, {"cases": [{"case", "images_per_s"}]}`);
  }
  const record = data as { torch?: unknown; threads?: unknown; cases?: unknown };
  if (!record || typeof record !== 'object' || !Array.isArray(record.cases)) {
    throw new Error(`${source}: no "cases" array: expected the peer's output, {"cases": [{"case", "images_per_s"}]}`);
  }
  const cases = new Map<string, number>();
  for (const entry of record.cases as unknown[]) {
    const item = entry as { case?: unknown; images_per_s?: unknown };
    if (typeof item?.case !== 'string' || typeof item.images_per_s !== 'number' || !(item.images_per_s > 0)) {
      throw new Error(`${source}: a case without a name and a positive images_per_s: ${JSON.stringify(entry).slice(0, 120)}`);
    }
    cases.set(item.case, item.images_per_s);
  }
  const version = typeof record.torch === 'string' ? `PyTorch ${record.torch}` : 'peer';
  const threads = typeof record.threads === 'number' ? `, ${record.threads} thread${record.threads === 1 ? '' : 's'}` : '';
  return { label: `${version}${threads}`, cases };
}

/** Bench rows of the cases, each with its ratio to the peer's rate (katjs images/s / the peer's) where the peer has the case. */
export function peerRows(cases: readonly PeerCase[], peer: PeerReport | null): BenchRow[] {
  return cases.map((item) => {
    const peerRate = peer?.cases.get(item.case);
    const [model, rest] = item.case.split(/ (.*)/s) as [string, string];
    return {
      op: `${model} ${rest.startsWith('train') ? 'train' : 'infer'}`, shape: rest.replace(/^(train step|inference), /, ''),
      median_ms: item.ms_per_batch ?? 64_000 / item.images_per_s, images_per_s: item.images_per_s,
      ...(peerRate ? { ratio: item.images_per_s / peerRate, reference: 'peer' } : {}),
    };
  });
}
