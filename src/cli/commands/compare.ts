// `kat compare`: several models x several seeds on one dataset at one budget.
// Each run is a `kat train` child process (its memory is returned when it
// ends) writing into its own folder of --out: an epoch log, a resumable
// checkpoint each epoch, and on success run.json and the final weights. A
// rerun with the same arguments skips finished runs and resumes an
// interrupted one from its last epoch, so hours of comparison survive a stop.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../io/files.js';
import {
  entryTrainArgs, formatCompareTable, formatMetricValue, parseCompareEntries, parseSeeds, runFolderName, summariseRuns, type CompareEntry, type CompareRow,
  type CompareRun,
} from '../../train/compare.js';
import type { EpochEvent } from '../../train/trainer.js';
import { renderLinePlot } from '../../viz/line_plot.js';
import { svgToPng } from '../../viz/png.js';
import { JSON_FLAG } from '../common_flags.js';
import { CliError, type FlagTable, type FlagValues } from '../flags.js';
import { TRAIN_FLAGS } from './train.js';

/** Training flags passed on to every run, in this order (they are part of each run's identity). */
const FORWARDED = [
  'dataset', 'epochs', 'batch-size', 'lr', 'weight-decay', 'optimizer', 'warmup', 'label-smoothing', 'clip', 'shift', 'flip', 'rotate', 'scale',
  'ema', 'max-steps',
] as const;

export const DEFAULT_COMPARE_DIR = 'checkpoints/compare';
const DEFAULT_SEEDS = '3';

export const COMPARE_FLAGS: FlagTable = {
  models: {
    type: 'string', value: 'LIST',
    help: 'entries NAME[:VARIANT][@W1xW2], e.g. vit-micro,kat-micro,karat-micro:G1B or kan-mlp:mlp,kan-mlp:bspline@8 ' +
      '(variant: kan-mlp\'s basis, select:A+B+... for S-KAN over those spaces; a KArAt variant for karat-*/kat-*)',
  },
  seeds: { type: 'string', value: 'N|LIST', default: DEFAULT_SEEDS, help: 'a count (3: seeds 0,1,2) or a list: 0,5,9' },
  out: {
    type: 'string', value: 'DIR', default: DEFAULT_COMPARE_DIR,
    help: 'one folder per run: epoch log, final weights, run.json; rerun the same command to skip finished runs and resume an interrupted one',
  },
  json: { ...JSON_FLAG, help: 'one JSON object per line: run events, then a summary' },
  hidden: { ...TRAIN_FLAGS.hidden, help: `kan-mlp entries without @: ${TRAIN_FLAGS.hidden.help}` },
  activation: { ...TRAIN_FLAGS.activation, help: `kan-mlp:mlp entries: ${TRAIN_FLAGS.activation.help}` },
  backend: { ...TRAIN_FLAGS.backend },
  title: { type: 'string', value: 'TEXT', help: 'the plot\'s title' },
  // As for train, the same for every run (compare has no --resume: it resumes runs by their folders).
  ...Object.fromEntries(FORWARDED.map((name) => {
    const { resume: _resume, ...spec } = TRAIN_FLAGS[name];
    return [name, spec];
  })),
};

const RUN_FILE = 'run.json';
const EVENTS_FILE = 'events.jsonl';

interface PlannedRun {
  entry: CompareEntry;
  seed: number;
  dir: string;
  args: string[];
}

/** The `kat train` flags of one run: the entry's model, the shared budget, the seed. */
function runArgs(entry: CompareEntry, seed: number, flags: FlagValues): string[] {
  const args = entryTrainArgs(entry);
  if (entry.model === 'kan-mlp' && !entry.hidden && flags.hidden !== undefined) args.push('--hidden', String(flags.hidden));
  if (entry.basis === 'mlp' && flags.activation !== undefined) args.push('--activation', String(flags.activation));
  for (const name of FORWARDED) {
    const value = flags[name];
    if (value === undefined) continue;
    if (typeof value === 'boolean') {
      if (value) args.push(`--${name}`);
    } else args.push(`--${name}`, String(value));
  }
  args.push('--seed', String(seed));
  return args;
}

async function readRun(dir: string): Promise<CompareRun | undefined> {
  const path = join(dir, RUN_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const run = JSON.parse(await readFile(path, 'utf8')) as CompareRun;
    // A regression run's accuracy is NaN, which JSON writes as null.
    if (run.testAccuracy === null) run.testAccuracy = Number.NaN;
    if (!Array.isArray(run.args) || !Array.isArray(run.epochs) || (typeof run.testAccuracy !== 'number' && typeof run.testRmse !== 'number')) {
      throw new Error('fields missing');
    }
    return run;
  } catch (error) {
    throw new CliError(`compare: '${path}' is not a finished run's record (${(error as Error).message}); remove the folder '${dir}' to rerun it`);
  }
}

/** Epoch events of a run from its log, the last record of each epoch winning (a resumed epoch repeats). */
async function readEpochs(dir: string): Promise<EpochEvent[]> {
  const path = join(dir, EVENTS_FILE);
  if (!existsSync(path)) return [];
  const byEpoch = new Map<number, EpochEvent>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    try {
      const event = JSON.parse(line) as EpochEvent;
      if (event.event === 'epoch') byEpoch.set(event.epoch, event);
    } catch {
      // a line cut by an interrupt
    }
  }
  return [...byEpoch.keys()].sort((a, b) => a - b).map((k) => byEpoch.get(k)!);
}

let activeChild: ReturnType<typeof spawn> | undefined;

/** Runs `kat train` for one planned run; resolves with its done event, rejects with the child's last error line. */
function trainChild(plan: PlannedRun, backend: string | undefined, onEpoch: (e: EpochEvent) => void): Promise<Record<string, unknown>> {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const resume = join(plan.dir, 'model.resume.safetensors');
  const args = [main, 'train', ...plan.args, '--json', '--checkpoint-every', '1', '--out', join(plan.dir, 'model.safetensors'),
    ...(backend ? ['--backend', backend] : []), ...(existsSync(resume) ? ['--resume', resume] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    activeChild = child;
    let done: Record<string, unknown> | undefined;
    let buffered = '';
    let lastError = '';
    let log = Promise.resolve();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (event.event === 'epoch') {
          log = log.then(() => appendFile(join(plan.dir, EVENTS_FILE), `${line}\n`));
          onEpoch(event as unknown as EpochEvent);
        } else if (event.event === 'done') done = event;
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      const lines = chunk.split('\n').filter((l) => l.trim() !== '');
      if (lines.length > 0) lastError = lines[lines.length - 1]!;
      log = log.then(() => appendFile(join(plan.dir, 'train.log'), chunk));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      activeChild = undefined;
      void log.then(() => {
        if (code === 0 && done) resolve(done);
        else reject(new Error(`${plan.entry.label} seed ${plan.seed}: kat train ${signal ? `stopped by ${signal}` : `exited with ${code}`}` +
          `${lastError ? `: ${lastError.replace(/^kat: /, '')}` : ''} (log: ${join(plan.dir, 'train.log')})`));
      });
    });
  });
}

function stopChildOnSignal(): () => void {
  const handler = (signal: NodeJS.Signals) => {
    // The child writes its checkpoints atomically and cleans its own temp files; wait for it, then stop.
    process.stderr.write(`\nkat compare: interrupted; finished runs are kept, rerun the same command to continue\n`);
    if (activeChild) {
      activeChild.once('close', () => process.exit(130));
      activeChild.kill(signal);
    } else process.exit(130);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, handler);
  return () => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, handler);
  };
}

/** The metric-per-epoch plot of the rows (accuracy in %, or RMSE), as SVG. */
export function comparePlot(rows: readonly CompareRow[], title: string): string {
  const percent = rows[0]?.metric !== 'rmse';
  const scale = percent ? 100 : 1;
  return renderLinePlot(rows.map((r) => ({
    label: `${r.label} (${formatMetricValue(r.metric, r.mean)}${percent ? '%' : ''})`, xs: r.curve.epochs, ys: r.curve.mean.map((v) => v * scale),
    band: r.runs > 1 ? r.curve.min.map((lo, k) => [lo * scale, r.curve.max[k]! * scale] as [number, number]) : undefined,
  })), { title, xLabel: 'epoch', yLabel: `test ${percent ? 'accuracy %' : 'RMSE'} (mean; band: min-max over seeds)` });
}

export async function runCompare(flags: FlagValues): Promise<void> {
  if (flags.models === undefined) {
    throw new CliError('compare: --models is required: a comma-separated list such as vit-micro,kat-micro or kan-mlp:mlp,kan-mlp:rational');
  }
  let entries: CompareEntry[];
  let seeds: number[];
  try {
    entries = parseCompareEntries(String(flags.models));
    seeds = parseSeeds(flags.seeds === undefined ? DEFAULT_SEEDS : String(flags.seeds));
  } catch (error) {
    throw new CliError(`compare: ${(error as Error).message}`);
  }
  const json = Boolean(flags.json);
  const outDir = (flags.out as string | undefined) ?? DEFAULT_COMPARE_DIR;
  const dataset = (flags.dataset as string | undefined) ?? 'mnist';
  // Seed-major: after the first pass every model has one run, so a stopped comparison already compares.
  const plans: PlannedRun[] = seeds.flatMap((seed) => entries.map((entry) => ({
    entry, seed, dir: join(outDir, runFolderName(entry, seed)), args: runArgs(entry, seed, flags),
  })));
  // Every finished run is checked before anything starts: a folder of other settings is an error, never overwritten.
  const finished: CompareRun[] = [];
  for (const plan of plans) {
    const run = await readRun(plan.dir);
    if (!run) continue;
    if (JSON.stringify(run.args) !== JSON.stringify(plan.args)) {
      throw new CliError(`compare: '${plan.dir}' holds a run made with other settings (kat train ${run.args.join(' ')}; now ` +
        `${plan.args.join(' ')}): pass another --out, or remove that folder to rerun it`);
    }
    finished.push(run);
  }
  await mkdir(outDir, { recursive: true });
  const log = (text: string) => process.stderr.write(text);
  const todo = plans.filter((p) => !finished.some((r) => r.entry === p.entry.label && r.seed === p.seed));
  log(`compare: ${entries.length} model${entries.length === 1 ? '' : 's'} x ${seeds.length} seed${seeds.length === 1 ? '' : 's'} on ${dataset}; ` +
    `${finished.length} run${finished.length === 1 ? '' : 's'} already finished in ${outDir}, ${todo.length} to run\n`);
  const release = stopChildOnSignal();
  try {
    for (const [index, plan] of todo.entries()) {
      await mkdir(plan.dir, { recursive: true });
      const prefix = `[${finished.length + 1}/${plans.length}] ${plan.entry.label} seed ${plan.seed}`;
      log(`${prefix}: kat train ${plan.args.join(' ')}\n`);
      const done = await trainChild(plan, flags.backend as string | undefined, (e) => {
        const score = e.test_rmse === undefined ? `test acc ${(e.test_acc * 100).toFixed(2)}%` : `test RMSE ${formatMetricValue('rmse', e.test_rmse)}`;
        log(`${prefix}: epoch ${e.epoch}/${e.epochs} ${score}  ${e.images_per_s.toFixed(0)}/s\n`);
      });
      const epochs = await readEpochs(plan.dir);
      if (epochs.length === 0) throw new CliError(`compare: ${plan.entry.label} seed ${plan.seed} finished without epoch records in ${join(plan.dir, EVENTS_FILE)}`);
      const run: CompareRun = {
        entry: plan.entry.label, seed: plan.seed, args: plan.args, params: Number(done.params),
        ...(done.pruned_params === undefined ? {} : { prunedParams: Number(done.pruned_params) }),
        testAccuracy: done.test_acc === undefined ? Number.NaN : Number(done.test_acc),
        ...(done.test_rmse === undefined ? {} : { testRmse: Number(done.test_rmse) }),
        trainSeconds: Number(done.train_seconds), imagesPerSecond: Number(done.images_per_s), epochs, checkpoint: join(plan.dir, 'model.safetensors'),
      };
      await writeFileAtomic(join(plan.dir, RUN_FILE), new TextEncoder().encode(`${JSON.stringify(run, null, 1)}\n`));
      // The optimizer state is only needed to resume; the final weights stay.
      await rm(join(plan.dir, 'model.resume.safetensors'), { force: true });
      finished.push(run);
      if (json) process.stdout.write(`${JSON.stringify({ event: 'run', ...run, epochs: undefined })}\n`);
      const score = run.testRmse === undefined ? `test accuracy ${(run.testAccuracy * 100).toFixed(2)}%` : `test RMSE ${formatMetricValue('rmse', run.testRmse)}`;
      log(`${prefix}: ${score} in ${run.trainSeconds.toFixed(0)} s (${todo.length - index - 1} to go)\n`);
    }
  } finally {
    release();
  }
  const rows = summariseRuns(entries, finished);
  const title = (flags.title as string | undefined) ??
    `${dataset}: test ${rows[0]?.metric === 'rmse' ? 'RMSE' : 'accuracy'} per epoch (${seeds.length} seed${seeds.length === 1 ? '' : 's'})`;
  const svg = comparePlot(rows, title);
  await writeFileAtomic(join(outDir, 'accuracy.svg'), new TextEncoder().encode(svg));
  await writeFileAtomic(join(outDir, 'accuracy.png'), (await svgToPng(svg)).png);
  const summary = { event: 'summary', dataset, seeds, rows: rows.map(({ curve: _curve, ...row }) => row) };
  await writeFileAtomic(join(outDir, 'compare.json'), new TextEncoder().encode(`${JSON.stringify({ ...summary, rows, runs: finished }, null, 1)}\n`));
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${formatCompareTable(rows)}plot: ${join(outDir, 'accuracy.svg')} and .png; runs and summary: ${outDir}\n`);
}
