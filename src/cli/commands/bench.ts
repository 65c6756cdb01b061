// `kat bench`: GR-KAN kernels against the copy-bandwidth ceiling, matmul
// throughput, and whole-model training speed, as a table and as JSON. On the
// CPU backends it then compares katjs with TensorFlow.js (its wasm backend,
// XNNPACK, and its plain JavaScript cpu backend) on the same shapes.

import {
  benchCopy, benchGroupRational, benchGroupRationalRate, benchKanLayers, benchMatmul, benchTraining, type BenchOptions, type BenchRow,
} from '../../bench/bench.js';
import { benchGemmVsPeak, benchPeerCases, parsePeerReport, peerRows, type PeerReport } from '../../bench/cpu_peer.js';
import { benchInferenceVsOnnxRuntime } from '../../bench/onnxruntime.js';
import { CpuBackend } from '../../backends/cpu/index.js';
import { readFileSync } from 'node:fs';
import { tfjsBenchGroupRational, tfjsBenchMatmul, tfjsBenchTraining, tfjsStatus, type TfjsBackendName } from '../../bench/tfjs.js';
import type { Backend } from '../../backends/backend.js';
import { selectBackend } from '../backend.js';
import { BACKEND_FLAG, JSON_FLAG } from '../common_flags.js';
import { CliError, flagTable, integerIn, type FlagValues } from '../flags.js';
import { loadOnnxRuntime } from '../onnxruntime.js';

export const BENCH_FLAGS = flagTable({
  backend: BACKEND_FLAG,
  json: { ...JSON_FLAG, help: 'one JSON object per result row' },
  // batch x 197 tokens per tensor: 1024 already needs gigabytes at KAT-B's widths.
  batch: { type: integerIn(1, 1024), value: 'N', help: 'images (of 197 tokens) per kernel and training case (default 128 on a GPU, 4 on the CPU)' },
  runs: { type: integerIn(1, 1000), value: 'N', default: 5, help: 'timed runs per case (the median is reported)' },
  'train-steps': { type: integerIn(1, 10_000), value: 'N', help: 'steps per training case (default 10 on a GPU, 2 on the CPU; 15 for the PyTorch peer\'s cases)' },
  'skip-training': { type: 'boolean', help: 'leave out the whole-model training cases' },
  compare: { type: 'boolean', help: 'compare with TensorFlow.js and ONNX Runtime on any backend (default: on the float32 CPU backends)' },
  'skip-compare': { type: 'boolean', help: 'leave out the comparison with TensorFlow.js and ONNX Runtime' },
  'skip-onnxruntime': { type: 'boolean', help: 'leave out kat-tiny inference vs ONNX Runtime (needs onnxruntime-node)' },
  peer: { type: 'string', value: 'FILE.json', help: 'the PyTorch peer\'s output, for ratios to its whole-model cases' },
});

/** Width (in = out) of the KAN layers whose bases are compared: GR-KAN, B-spline, RBF. */
const KAN_LAYER_WIDTH = 256;

/** KAT's activation widths (grkan.md): KAT-T act1 and act2, KAT-S act2, KAT-B act2. */
const RATIONAL_WIDTHS = [192, 768, 1536, 3072];

/** The comparison with TensorFlow.js: square matmul sizes, the group-rational width, the training batch. */
const COMPARE_MATMUL_SIZES = [256, 512, 1024];
const COMPARE_RATIONAL_CHANNELS = 768;
const COMPARE_RATIONAL_IMAGES = 8; // rows = 8 x 197 tokens, unless --batch says otherwise
const COMPARE_TRAIN_BATCH = 32;
/** Each comparison measurement stops after about this long (tfjs's cpu backend needs seconds per 1024 matmul). */
const COMPARE_MAX_MS = 1500;
const TFJS_BACKENDS: readonly TfjsBackendName[] = ['wasm', 'cpu'];
const REFERENCE = 'tfjs-wasm';

const OP_WIDTH = 34;

function formatRow(row: BenchRow): string {
  const rate = row.gbps !== undefined ? `${row.gbps.toFixed(1)} GB/s` : row.tflops !== undefined ? `${row.tflops.toFixed(3)} TFLOP/s`
    : row.images_per_s !== undefined ? `${row.images_per_s.toFixed(1)} img/s`
      : row.elements_per_s !== undefined ? `${(row.elements_per_s / 1e6).toFixed(1)} Melem/s` : '';
  // Comparison rows are a speed-up over their reference (x); the others a fraction of the copy ceiling (%).
  const ratio = row.ratio === undefined ? '' : row.reference !== undefined ? `${row.ratio.toFixed(2)}x` : `${(row.ratio * 100).toFixed(1)}%`;
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const extra = row.live_bytes !== undefined ? `  live ${mb(row.live_bytes)}` : row.peak_bytes !== undefined ? `  peak ${mb(row.peak_bytes)}`
    : row.best_ratio !== undefined ? `  best ${row.best_ratio.toFixed(2)}x` : '';
  return `${row.op.padEnd(OP_WIDTH)} ${row.shape.padEnd(28)} ${row.median_ms.toFixed(3).padStart(10)} ms ${rate.padStart(18)} ${ratio.padStart(8)}${extra}`;
}

/** The throughput a comparison ratio divides. */
function rateOf(row: BenchRow): number | undefined {
  return row.tflops ?? row.elements_per_s ?? row.images_per_s;
}

export async function runBench(flags: FlagValues): Promise<void> {
  const { backend, notes: backendNotes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if (!flags.json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  const gpu = backend.name === 'webgpu';
  // Token rows = batch x 197 (224 / 16 patches + class token). The CPU default is smaller so a run takes seconds, not hours.
  const batchFlag = flags.batch as number | undefined;
  const batch = batchFlag ?? (gpu ? 128 : 4);
  const runs = (flags.runs as number | undefined) ?? BENCH_FLAGS.runs.default;
  if (!Number.isInteger(batch) || batch < 1) throw new CliError(`bench: --batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(runs) || runs < 1) throw new CliError(`bench: --runs must be a positive integer, got ${runs}`);
  const trainSteps = flags['train-steps'] as number | undefined;
  if (trainSteps !== undefined && (!Number.isInteger(trainSteps) || trainSteps < 1)) {
    throw new CliError(`bench: --train-steps must be a positive integer, got ${trainSteps}`);
  }
  // The comparison is on by default on the float32 CPU backends; --compare asks for it anywhere, --skip-compare (or --compare=false) drops it.
  // The peer's JSON is read (and rejected with a clear error) before anything is timed.
  const peerFile = flags.peer as string | undefined;
  let peer: PeerReport | null = null;
  if (peerFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(peerFile, 'utf8');
    } catch (error) {
      throw new CliError(`bench: cannot read --peer ${peerFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      peer = parsePeerReport(text, peerFile);
    } catch (error) {
      throw new CliError(`bench: --peer ${(error as Error).message}`);
    }
  }
  const compare = flags['skip-compare'] ? false : (flags.compare as boolean | undefined) ?? (backend.name === 'cpu' || backend.name === 'cpu-js');
  const options = { runs, callsPerRun: gpu ? 20 : 1 };
  const rows: BenchRow[] = [];
  const emit = (row: BenchRow) => {
    rows.push(row);
    if (flags.json) process.stdout.write(`${JSON.stringify({ backend: backend.name, ...row })}\n`);
    else process.stdout.write(`${formatRow(row)}\n`);
  };
  if (!flags.json) {
    process.stdout.write(`backend ${backend.name}: ${backend.description}\n` +
      `${'op'.padEnd(OP_WIDTH)} ${'shape'.padEnd(28)} ${'median'.padStart(13)} ${'rate'.padStart(18)} ${'ratio'.padStart(8)}\n`);
  }
  const tokens = batch * 197;
  const copy = await benchCopy(backend, tokens * 3072, options);
  emit({ ...copy, ratio: 1 });
  for (const width of RATIONAL_WIDTHS) {
    for (const row of await benchGroupRational(backend, tokens, width, 8, copy.gbps!, options)) emit(row);
  }
  // KAT-T's linear layers: qkv, fc1, fc2.
  for (const [k, n] of [[192, 576], [192, 768], [768, 192]] as const) emit(await benchMatmul(backend, tokens, k, n, options));
  // KAN bases at equal widths (ratio: rate / GR-KAN's; memory above the layer's own parameters and inputs).
  for (const row of await benchKanLayers(backend, tokens, KAN_LAYER_WIDTH, KAN_LAYER_WIDTH, options)) emit(row);
  if (backend instanceof CpuBackend && backend.wasm) {
    if (!flags.json) process.stdout.write(`\nGEMM at KAT-T's shapes vs the FMA peak of one thread measured now (ratio: / peak; threads: / 1 thread, ` +
      'median over alternating rounds, and the best times\' ratio)\n');
    for (const row of await benchGemmVsPeak(backend, options)) emit(row);
  }
  if (!flags['skip-training'] && backend instanceof CpuBackend) {
    if (!flags.json) {
      process.stdout.write(`\nwhole models, the cases of the PyTorch peer (ratio: katjs images/s / ${peer ? peer.label : 'the peer (--peer FILE)'})\n`);
    }
    for (const row of peerRows(await benchPeerCases(backend, options, trainSteps ?? 15), peer)) emit(row);
  }
  if (!flags['skip-training']) {
    const steps = trainSteps ?? (gpu ? 10 : 2);
    const trainBatch = gpu ? 128 : 8;
    // KAT's speed as a fraction of ViT's (FlashKAT reports about 70% on an H100).
    const vit = await benchTraining(backend, 'vit-tiny', trainBatch, 224, steps);
    const kat = await benchTraining(backend, 'kat-tiny', trainBatch, 224, steps);
    emit({ ...kat, ratio: kat.images_per_s! / vit.images_per_s! });
    emit({ ...vit, ratio: 1 });
  }
  if (compare) {
    await compareWithTfjs(backend, flags, emit, {
      runs, callsPerRun: gpu ? 20 : 1, maxMs: COMPARE_MAX_MS,
    }, (batchFlag ?? COMPARE_RATIONAL_IMAGES) * 197, trainSteps ?? 3);
  }
  if (compare && !flags['skip-onnxruntime']) await compareWithOnnxRuntime(backend, flags, emit, { runs, callsPerRun: gpu ? 20 : 1 });
}

/** kat-tiny inference at these batches: katjs vs ONNX Runtime on the exported model (skipped with a note without onnxruntime-node). */
const ONNX_BATCHES = [1, 16];

async function compareWithOnnxRuntime(backend: Backend, flags: FlagValues, emit: (row: BenchRow) => void, options: BenchOptions): Promise<void> {
  const ort = await loadOnnxRuntime();
  if (!ort) {
    process.stderr.write('bench: onnxruntime rows skipped: the optional package onnxruntime-node is not installed (npm install onnxruntime-node)\n');
    return;
  }
  if (!flags.json) {
    process.stdout.write(`\nvs ONNX Runtime ${ort.env.versions.common} (kat-tiny exported by katjs, CPU provider, graph optimisations on; ` +
      'ratio = rate / onnxruntime\'s rate)\n');
  }
  for (const row of await benchInferenceVsOnnxRuntime(ort, backend, 'kat-tiny', ONNX_BATCHES, options)) emit(row);
}

/**
 * katjs, tfjs-wasm and tfjs-cpu on the same shapes: matmul n x n, the group
 * rational's forward and forward+backward elements/s, kat-micro's training
 * images/s. Every row's ratio is its rate / tfjs-wasm's (reference 'tfjs-wasm').
 */
async function compareWithTfjs(backend: Backend, flags: FlagValues, emit: (row: BenchRow) => void, options: BenchOptions,
  rationalRows: number, trainSteps: number): Promise<void> {
  const statuses = await Promise.all(TFJS_BACKENDS.map((name) => tfjsStatus(name)));
  const note = (text: string) => process.stderr.write(`bench: ${text}\n`);
  if (!flags.json) process.stdout.write(`\nvs TensorFlow.js (same shapes; ratio = rate / ${REFERENCE}'s rate, so ${REFERENCE} is 1.00x)\n`);
  for (const status of statuses) {
    const line = status.available ? `tfjs-${status.backend}: ${status.detail}` : `tfjs-${status.backend} rows skipped: ${status.detail}`;
    if (flags.json || !status.available) note(line);
    else process.stdout.write(`  ${line}\n`);
  }
  if (!flags.json) process.stdout.write(`  katjs: ${backend.name}: ${backend.description}\n`);
  /** Emits one group (the katjs row first), each with its ratio to the tfjs-wasm row of the same shape. */
  const emitGroup = (group: (BenchRow | undefined)[]) => {
    const present = group.filter((row): row is BenchRow => row !== undefined);
    const reference = present.find((row) => row.impl === REFERENCE);
    const referenceRate = reference && rateOf(reference);
    for (const row of present) {
      const rate = rateOf(row);
      emit(referenceRate && rate !== undefined ? { ...row, ratio: rate / referenceRate, reference: REFERENCE } : row);
    }
  };
  const tfjsRows = async <R>(measure: (name: TfjsBackendName) => Promise<R | null>): Promise<(R | null)[]> => {
    const out: (R | null)[] = [];
    for (const name of TFJS_BACKENDS) out.push(await measure(name));
    return out;
  };

  const matmuls: BenchRow[] = [];
  for (const n of COMPARE_MATMUL_SIZES) {
    const row = await benchMatmul(backend, n, n, n, options, { transposeB: false });
    matmuls.push({ ...row, op: 'matmul (katjs)', impl: 'katjs', shape: `[${n}, ${n}] x [${n}, ${n}]` });
  }
  // tfjs's backends here are synchronous: one call per timed run is enough.
  const tfjsOptions: BenchOptions = { ...options, callsPerRun: 1 };
  const tfjsMatmuls = await tfjsRows((name) => tfjsBenchMatmul(name, COMPARE_MATMUL_SIZES, tfjsOptions));
  COMPARE_MATMUL_SIZES.forEach((_, i) => emitGroup([matmuls[i], ...tfjsMatmuls.map((rows) => rows?.[i])]));

  const groups = 8;
  const rational = await benchGroupRationalRate(backend, rationalRows, COMPARE_RATIONAL_CHANNELS, groups, options);
  const tfjsRational = await tfjsRows((name) => tfjsBenchGroupRational(name, rationalRows, COMPARE_RATIONAL_CHANNELS, groups, tfjsOptions));
  for (let i = 0; i < 2; i++) emitGroup([rational[i], ...tfjsRational.map((rows) => rows?.[i])]);

  if (!flags['skip-training']) {
    const kat = await benchTraining(backend, 'kat-micro', COMPARE_TRAIN_BATCH, 28, trainSteps, { channels: 1, classes: 10 });
    const tfjsTraining = await tfjsRows((name) => tfjsBenchTraining(name, COMPARE_TRAIN_BATCH, trainSteps));
    emitGroup([{ ...kat, op: 'train kat-micro (katjs)', impl: 'katjs' }, ...tfjsTraining.map((row) => row ?? undefined)]);
  }
}
