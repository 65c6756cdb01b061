// `kat bench`: GR-KAN kernels against the copy-bandwidth ceiling, matmul
// throughput, and whole-model training speed, as a table and as JSON.

import { benchCopy, benchGroupRational, benchMatmul, benchTraining, type BenchRow } from '../../bench/bench.js';
import { selectBackend } from '../backend.js';
import { CliError, type FlagType, type FlagValues } from '../flags.js';

export const BENCH_FLAGS: Record<string, FlagType> = {
  backend: 'string', json: 'boolean', batch: 'number', runs: 'number', 'train-steps': 'number', 'skip-training': 'boolean',
};

/** KAT's activation widths (grkan.md): KAT-T act1 and act2, KAT-S act2, KAT-B act2. */
const RATIONAL_WIDTHS = [192, 768, 1536, 3072];

function formatRow(row: BenchRow): string {
  const rate = row.gbps !== undefined ? `${row.gbps.toFixed(1)} GB/s` : row.tflops !== undefined ? `${row.tflops.toFixed(3)} TFLOP/s`
    : row.images_per_s !== undefined ? `${row.images_per_s.toFixed(1)} img/s` : '';
  const ratio = row.ratio !== undefined ? `${(row.ratio * 100).toFixed(1)}%` : '';
  return `${row.op.padEnd(24)} ${row.shape.padEnd(28)} ${row.median_ms.toFixed(3).padStart(10)} ms ${rate.padStart(18)} ${ratio.padStart(8)}`;
}

export async function runBench(flags: FlagValues): Promise<void> {
  const { backend, notes: backendNotes } = await selectBackend((flags.backend as string | undefined) ?? 'auto');
  if (!flags.json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  const gpu = backend.name === 'webgpu';
  // Token rows = batch x 197 (224 / 16 patches + class token). The CPU default is smaller so a run takes seconds, not hours.
  const batch = (flags.batch as number | undefined) ?? (gpu ? 128 : 4);
  const runs = (flags.runs as number | undefined) ?? 5;
  if (!Number.isInteger(batch) || batch < 1) throw new CliError(`bench: --batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(runs) || runs < 1) throw new CliError(`bench: --runs must be a positive integer, got ${runs}`);
  const options = { runs, callsPerRun: gpu ? 20 : 1 };
  const rows: BenchRow[] = [];
  const emit = (row: BenchRow) => {
    rows.push(row);
    if (flags.json) process.stdout.write(`${JSON.stringify({ backend: backend.name, ...row })}\n`);
    else process.stdout.write(`${formatRow(row)}\n`);
  };
  if (!flags.json) process.stdout.write(`backend ${backend.name}: ${backend.description}\n${'op'.padEnd(24)} ${'shape'.padEnd(28)} ${'median'.padStart(13)} ${'rate'.padStart(18)} ${'ratio'.padStart(8)}\n`);
  const tokens = batch * 197;
  const copy = await benchCopy(backend, tokens * 3072, options);
  emit({ ...copy, ratio: 1 });
  for (const width of RATIONAL_WIDTHS) {
    for (const row of await benchGroupRational(backend, tokens, width, 8, copy.gbps!, options)) emit(row);
  }
  // KAT-T's linear layers: qkv, fc1, fc2.
  for (const [k, n] of [[192, 576], [192, 768], [768, 192]] as const) emit(await benchMatmul(backend, tokens, k, n, options));
  if (!flags['skip-training']) {
    const steps = (flags['train-steps'] as number | undefined) ?? (gpu ? 10 : 2);
    const trainBatch = gpu ? 128 : 8;
    // KAT's speed as a fraction of ViT's (FlashKAT reports about 70% on an H100).
    const vit = await benchTraining(backend, 'vit-tiny', trainBatch, 224, steps);
    const kat = await benchTraining(backend, 'kat-tiny', trainBatch, 224, steps);
    emit({ ...kat, ratio: kat.images_per_s! / vit.images_per_s! });
    emit({ ...vit, ratio: 1 });
  }
}
