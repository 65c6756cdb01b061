// Learning-rate schedules: functions from a step index to a learning rate.

import type { LrSchedule } from './optimizer.js';

/** Options of cosineSchedule(): peak rate, warmup, length, floor. */
export interface CosineScheduleOptions {
  /** The peak learning rate, reached at the end of warmup. */
  baseLr: number;
  /** Steps of linear warmup (0 for none). */
  warmupSteps: number;
  /** The step at which the cosine decay reaches minLr; later steps stay there. */
  totalSteps: number;
  /** Default 0. */
  minLr?: number;
  /** The learning rate at step 0 when warming up; default 0. */
  warmupStartLr?: number;
}

function checkRate(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`cosineSchedule(): ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function checkSteps(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`cosineSchedule(): ${name} must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Linear warmup from warmupStartLr (step 0) to baseLr (step warmupSteps),
 * then half a cosine from baseLr down to minLr at step totalSteps, and minLr
 * after that:
 *   lr(s) = minLr + (baseLr - minLr) * (1 + cos(pi * (s - warmupSteps) / (totalSteps - warmupSteps))) / 2
 * If warmupSteps equals totalSteps there is no decay phase: minLr from totalSteps on.
 */
export function cosineSchedule(options: CosineScheduleOptions): LrSchedule {
  if (options === null || typeof options !== 'object') {
    throw new Error('cosineSchedule(): expected { baseLr, warmupSteps, totalSteps, minLr?, warmupStartLr? }');
  }
  const baseLr = checkRate('baseLr', options.baseLr);
  const minLr = checkRate('minLr', options.minLr ?? 0);
  const warmupStartLr = checkRate('warmupStartLr', options.warmupStartLr ?? 0);
  const warmupSteps = checkSteps('warmupSteps', options.warmupSteps);
  const totalSteps = checkSteps('totalSteps', options.totalSteps);
  if (warmupSteps > totalSteps) {
    throw new Error(`cosineSchedule(): warmupSteps (${warmupSteps}) must not exceed totalSteps (${totalSteps})`);
  }
  if (minLr > baseLr) throw new Error(`cosineSchedule(): minLr (${minLr}) must not exceed baseLr (${baseLr})`);
  const decaySteps = totalSteps - warmupSteps;
  return (step: number): number => {
    if (typeof step !== 'number' || Number.isNaN(step) || step < 0) {
      throw new Error(`cosineSchedule: step must be a number >= 0, got ${String(step)}`);
    }
    if (step >= totalSteps) return minLr;
    if (step < warmupSteps) return warmupStartLr + (baseLr - warmupStartLr) * (step / warmupSteps);
    const progress = (step - warmupSteps) / decaySteps;
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}
