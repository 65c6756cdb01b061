// Comparing models at one budget: which runs a comparison makes (entries x
// seeds), and the summary of their results (mean +- std over seeds, best
// epoch, speed, the accuracy curve). `kat compare` runs the training; this is
// the part a test or another front end can use without a process.

import type { EpochEvent } from './trainer.js';

/** One model of a comparison: `NAME[:VARIANT][@W1xW2...]` (see parseCompareEntries). */
export interface CompareEntry {
  /** As written: names the entry in tables, plots and run folders. */
  label: string;
  model: string;
  /** kan-mlp's basis (the variant of a kan-mlp entry). */
  basis?: string;
  /** Fourier-KArAt variant (the variant of a karat-* or kat-* entry). */
  karat?: string;
  /** kan-mlp's hidden widths (after '@'). */
  hidden?: number[];
}

/** Most entries and seeds one comparison takes. */
export const MAX_COMPARE_ENTRIES = 32;
export const MAX_COMPARE_SEEDS = 32;

const ENTRY_SYNTAX = 'NAME[:VARIANT][@W1xW2...], e.g. kat-micro, karat-micro:G3B, kan-mlp:bspline, kan-mlp:rbf@64 or kan-mlp:select:rational+cheby@16';

/**
 * Parses a comma-separated list of entries. VARIANT is the basis of a kan-mlp
 * (rational, bspline, rbf, af, relu, cheby, mlp) or the KArAt variant of a karat-* /
 * kat-* model (G1B, G3U, ...); `select:A+B+...` is S-KAN over those spaces
 * (`select` alone: all six); `@64` or `@256x128` sets a kan-mlp's hidden widths.
 */
export function parseCompareEntries(text: string): CompareEntry[] {
  const labels = text.split(',').map((s) => s.trim());
  if (text.trim() === '' || labels.some((l) => l === '')) throw new Error(`models '${text}': expected a comma-separated list of ${ENTRY_SYNTAX}`);
  if (labels.length > MAX_COMPARE_ENTRIES) throw new Error(`models: ${labels.length} entries, more than the ${MAX_COMPARE_ENTRIES} one comparison takes`);
  const seen = new Set<string>();
  return labels.map((label) => {
    const match = /^([a-z][a-z0-9-]*)(?::([A-Za-z0-9]+(?::[a-z]+(?:\+[a-z]+)*)?))?(?:@(\d+(?:x\d+)*))?$/.exec(label);
    if (!match) throw new Error(`models: '${label}' is not an entry: expected ${ENTRY_SYNTAX}`);
    if (seen.has(label)) throw new Error(`models: '${label}' is listed twice`);
    seen.add(label);
    const [, model, variant, widths] = match as unknown as [string, string, string | undefined, string | undefined];
    const entry: CompareEntry = { label, model };
    if (variant !== undefined) {
      if (variant.includes(':') && !(model === 'kan-mlp' && variant.startsWith('select:'))) {
        throw new Error(`models: '${label}': only kan-mlp's select basis lists spaces (kan-mlp:select:A+B)`);
      }
      if (model === 'kan-mlp') entry.basis = variant.replaceAll('+', ',');
      else if (/^(kat|karat)-/.test(model)) entry.karat = variant;
      else throw new Error(`models: '${label}': ${model} takes no variant (a basis is for kan-mlp, a KArAt variant for karat-* and kat-*)`);
    }
    if (widths !== undefined) {
      if (model !== 'kan-mlp') throw new Error(`models: '${label}': hidden widths (@W) are for kan-mlp only`);
      entry.hidden = widths.split('x').map(Number);
      if (entry.hidden.some((w) => w < 1)) throw new Error(`models: '${label}': hidden widths must be positive`);
    }
    return entry;
  });
}

/** `--seeds 3` is seeds 0, 1, 2; `--seeds 0,4,7` (any list with a comma) those seeds. */
export function parseSeeds(text: string): number[] {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const count = Number(trimmed);
    if (count < 1 || count > MAX_COMPARE_SEEDS) throw new Error(`seeds ${trimmed}: expected a count from 1 to ${MAX_COMPARE_SEEDS}, or a list like 0,1,2`);
    return Array.from({ length: count }, (_, i) => i);
  }
  const parts = trimmed.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0 || parts.length > MAX_COMPARE_SEEDS || !parts.every((p) => /^\d{1,9}$/.test(p))) {
    throw new Error(`seeds '${text}': expected a count (3: seeds 0, 1, 2) or a comma-separated list of up to ${MAX_COMPARE_SEEDS} non-negative integers`);
  }
  const seeds = parts.map(Number);
  if (new Set(seeds).size !== seeds.length) throw new Error(`seeds '${text}': a seed is listed twice`);
  return seeds;
}

/** The `kat train` flags that make an entry's model. */
export function entryTrainArgs(entry: CompareEntry): string[] {
  return [
    '--model', entry.model,
    ...(entry.basis ? ['--basis', entry.basis] : []),
    ...(entry.karat ? ['--karat', entry.karat] : []),
    ...(entry.hidden ? ['--hidden', entry.hidden.join(',')] : []),
  ];
}

/** A run's folder name: the label with anything unsafe in a file name replaced, and the seed. */
export function runFolderName(entry: CompareEntry, seed: number): string {
  return `${entry.label.replace(/[^A-Za-z0-9._-]/g, '_')}.seed${seed}`;
}

/** One finished training run of a comparison, as its run.json records it. */
export interface CompareRun {
  entry: string;
  seed: number;
  /** The `kat train` flags the run was made with (what a rerun must match to skip it). */
  args: string[];
  params: number;
  /** S-KAN runs: the parameters left after phase 3's pruning (the saved model's). */
  prunedParams?: number;
  /** Final test accuracy (classification; NaN for regression). */
  testAccuracy: number;
  /** Final test RMSE in target units (regression only). */
  testRmse?: number;
  trainSeconds: number;
  imagesPerSecond: number;
  epochs: EpochEvent[];
  checkpoint: string;
}

/** One entry's summary over its seeds: a row of `kat compare`'s table. */
export interface CompareRow {
  label: string;
  params: number;
  /** S-KAN entries: the pruned models' parameters, mean over seeds (each node's choice can differ per seed). */
  prunedParams?: number;
  runs: number;
  seeds: number[];
  /** What the numbers are: test accuracy (a fraction, higher is better) or test RMSE (regression, lower is better). */
  metric: 'accuracy' | 'rmse';
  /** The final epoch's metric over seeds; std is the sample std (0 for one run). */
  mean: number;
  std: number;
  /** Each run's best epoch value, averaged; and the median epoch it came at. */
  meanBest: number;
  bestEpoch: number;
  imagesPerSecond: number;
  trainSeconds: number;
  /** The metric per epoch: mean, min and max over seeds (epochs every run reached). */
  curve: { epochs: number[]; mean: number[]; min: number[]; max: number[] };
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample standard deviation (n - 1); 0 for fewer than two values. */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One row per entry that has finished runs, in the entries' order. */
export function summariseRuns(entries: readonly CompareEntry[], runs: readonly CompareRun[]): CompareRow[] {
  const rows: CompareRow[] = [];
  for (const entry of entries) {
    const own = runs.filter((r) => r.entry === entry.label).sort((a, b) => a.seed - b.seed);
    if (own.length === 0) continue;
    const metric = own.every((r) => r.testRmse !== undefined) ? 'rmse' : 'accuracy';
    const value = (e: EpochEvent) => (metric === 'rmse' ? e.test_rmse! : e.test_acc);
    const better = (a: number, b: number) => (metric === 'rmse' ? a < b : a > b);
    const best = own.map((r) => r.epochs.reduce((b, e) => (better(value(e), value(b)) ? e : b), r.epochs[0]!));
    const reached = Math.min(...own.map((r) => r.epochs.length));
    const curve = { epochs: [] as number[], mean: [] as number[], min: [] as number[], max: [] as number[] };
    for (let k = 0; k < reached; k++) {
      const values = own.map((r) => value(r.epochs[k]!));
      curve.epochs.push(own[0]!.epochs[k]!.epoch);
      curve.mean.push(mean(values));
      curve.min.push(Math.min(...values));
      curve.max.push(Math.max(...values));
    }
    const finals = own.map((r) => (metric === 'rmse' ? r.testRmse! : r.testAccuracy));
    const pruned = own.every((r) => r.prunedParams !== undefined) ? Math.round(mean(own.map((r) => r.prunedParams!))) : undefined;
    rows.push({
      label: entry.label, params: own[0]!.params, ...(pruned === undefined ? {} : { prunedParams: pruned }), runs: own.length, seeds: own.map((r) => r.seed), metric,
      mean: mean(finals), std: sampleStd(finals),
      meanBest: mean(best.map(value)), bestEpoch: median(best.map((e) => e.epoch)),
      imagesPerSecond: mean(own.map((r) => r.imagesPerSecond)), trainSeconds: mean(own.map((r) => r.trainSeconds)), curve,
    });
  }
  return rows;
}

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

/** A metric value as tables show it: accuracy in percent with 2 decimals, RMSE to 4 significant digits. */
export function formatMetricValue(metric: CompareRow['metric'], value: number): string {
  return metric === 'accuracy' ? (value * 100).toFixed(2) : Number(value.toPrecision(4)).toString();
}

/** A row's parameter count; S-KAN rows as trained -> pruned (mean over seeds). */
export function formatParams(row: Pick<CompareRow, 'params' | 'prunedParams'>): string {
  const trained = row.params.toLocaleString('en-US');
  return row.prunedParams === undefined ? trained : `${trained} -> ${row.prunedParams.toLocaleString('en-US')}`;
}

/** The summary as a text table: params, the metric's mean +- std (final epoch), best epoch, speed and time. */
export function formatCompareTable(rows: readonly CompareRow[]): string {
  const metric = rows[0]?.metric ?? 'accuracy';
  const name = metric === 'accuracy' ? 'test acc %' : 'test RMSE';
  const header = ['model', 'params', 'runs', `${name} (final)`, `best ${metric === 'accuracy' ? 'acc %' : 'RMSE'} @ epoch`, metric === 'accuracy' ? 'img/s' : 'rows/s', 'train s'];
  const body = rows.map((r) => [
    r.label, formatParams(r), String(r.runs),
    `${formatMetricValue(r.metric, r.mean)} ± ${formatMetricValue(r.metric, r.std)}`,
    `${formatMetricValue(r.metric, r.meanBest)} @ ${Number.isInteger(r.bestEpoch) ? r.bestEpoch : r.bestEpoch.toFixed(1)}`,
    r.imagesPerSecond.toFixed(0), r.trainSeconds.toFixed(0),
  ]);
  return `${pad([header, ...body])}\n`;
}
