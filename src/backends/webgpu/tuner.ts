// The WebGPU autotuner. Kernels with several equivalent configurations (matmul
// tile shapes, GR-KAN workgroup shapes) ask it for the winner of a shape
// class. The first time a class is seen the kernel runs with its fixed default
// and the class is queued; at the next point where the backend waits anyway
// (read or sync), every queued class is timed: each candidate runs on the
// class's first real shape (timestamp queries around one compute pass where
// the device has them, else queue-completion time), the fastest wins, and
// later calls of that class use it. Winners are kept per adapter in memory
// and, in Node, in a JSON file (tune_store.ts), so a class is timed once per
// adapter, not once per process. Every candidate computes the same values
// (tests check each against the float64 reference), so tuning changes speed,
// not results; for matmul not even bits (each output is the same chain of
// FMAs over k whatever the tile).

import type { GpuContext } from './context.js';
import type { TuningEntries, TuningStore } from './tune_store.js';

/** Runs one candidate on the queued shape; resolves to milliseconds per run. */
export type Measure = (candidate: string) => Promise<number>;

interface Job {
  key: string;
  candidates: readonly string[];
  measure: Measure;
}

export interface TunerOptions {
  /** Off: every kernel uses its fixed default (deterministic, nothing timed). */
  enabled: boolean;
  /** Identifies the adapter in the cache (vendor / architecture / device / description). */
  adapterKey: string;
  store: TuningStore;
}

/** Size classes 1, 2, 3, 4, 6, 8, 12, 16, 24, ...: the smallest of the form 2^k or 3 * 2^k that holds `n`. */
export function sizeClass(n: number): number {
  if (n <= 1) return Math.max(0, n);
  let p = 1;
  while (p < n) {
    if (p * 1.5 >= n && p >= 2) return p * 1.5;
    p *= 2;
  }
  return p;
}

export class Tuner {
  readonly enabled: boolean;
  readonly adapterKey: string;
  readonly store: TuningStore;
  /** Winners known for this adapter: "<kernel>|<shape class>" -> candidate. */
  private readonly winners = new Map<string, string>();
  private readonly pending = new Map<string, Job>();
  private running: Promise<void> | null = null;
  /** Candidate timings done so far (for tests and reports). */
  measurements = 0;
  /** Classes tuned in this process, with each candidate's time (ms per run). */
  readonly log: { key: string; winner: string; times: Record<string, number> }[] = [];
  /** The first store error, kept instead of thrown (a read-only cache must not stop the work). */
  storeError: string | null = null;

  constructor(options: TunerOptions) {
    this.enabled = options.enabled;
    this.adapterKey = options.adapterKey;
    this.store = options.store;
  }

  /** Reads the stored winners of this adapter (call once, before the first kernel). */
  async load(): Promise<void> {
    if (!this.enabled) return;
    let entries: TuningEntries = {};
    try {
      entries = await this.store.load(this.adapterKey);
    } catch (error) {
      this.storeError ??= (error as Error).message;
    }
    for (const [key, winner] of Object.entries(entries)) this.winners.set(key, winner);
  }

  /**
   * The winner of `kernel` for `shapeClass` among `candidates`, or undefined
   * (use the default). Unknown classes are queued with `measure` (built
   * lazily: it should capture only the shape, not tensors).
   */
  choose(kernel: string, shapeClass: string, candidates: readonly string[], measure: () => Measure): string | undefined {
    if (!this.enabled || candidates.length < 2) return undefined;
    const key = `${kernel}|${shapeClass}`;
    const winner = this.winners.get(key);
    if (winner !== undefined && candidates.includes(winner)) return winner;
    if (!this.pending.has(key)) this.pending.set(key, { key, candidates, measure: measure() });
    return undefined;
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Times every queued class (one run at a time; concurrent callers share it), then saves the winners. */
  runPending(): Promise<void> {
    if (!this.enabled || this.pending.size === 0) return this.running ?? Promise.resolve();
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    const fresh: TuningEntries = {};
    while (this.pending.size > 0) {
      const [key, job] = this.pending.entries().next().value as [string, Job];
      this.pending.delete(key);
      const times: Record<string, number> = {};
      let best: string | undefined;
      for (const candidate of job.candidates) {
        let ms = Infinity;
        try {
          ms = await job.measure(candidate);
        } catch {
          // A candidate that cannot run here simply loses.
        }
        this.measurements++;
        times[candidate] = ms;
        if (Number.isFinite(ms) && (best === undefined || ms < times[best]!)) best = candidate;
      }
      if (best === undefined) best = job.candidates[0]!;
      this.winners.set(key, best);
      fresh[key] = best;
      this.log.push({ key, winner: best, times });
    }
    try {
      await this.store.save(this.adapterKey, fresh);
    } catch (error) {
      this.storeError ??= (error as Error).message;
    }
  }

  /** The winners known now (for reports). */
  entries(): TuningEntries {
    return Object.fromEntries(this.winners);
  }
}

/** Off with KATJS_WEBGPU_AUTOTUNE=0/off/false, on with 1/on/true; undefined when unset or unrecognised. */
export function autotuneFromEnv(env: Record<string, string | undefined> | undefined): boolean | undefined {
  const v = env?.KATJS_WEBGPU_AUTOTUNE?.trim().toLowerCase();
  if (v === '0' || v === 'off' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'on' || v === 'true' || v === 'yes') return true;
  return undefined;
}

/** A timed batch should last at least this long (timestamps may be quantised; submits cost ~10 us). */
const MIN_BATCH_MS = 1;
const MAX_REPS = 32;

/**
 * Milliseconds per call of `record`: one untimed warm-up (pipeline creation),
 * then batches of growing size until one lasts MIN_BATCH_MS (or MAX_REPS
 * calls), and the best of that batch and two more of the same size.
 */
export async function timeRecording(ctx: GpuContext, record: () => void): Promise<number> {
  await ctx.time(record, 1);
  let reps = 2;
  let ms = await ctx.time(record, reps);
  while (ms * reps < MIN_BATCH_MS && reps < MAX_REPS) {
    reps = Math.min(MAX_REPS, reps * 4);
    ms = await ctx.time(record, reps);
  }
  for (let i = 0; i < 2; i++) ms = Math.min(ms, await ctx.time(record, reps));
  return ms;
}
