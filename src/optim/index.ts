// Optimisers, learning-rate schedules and gradient clipping.

export { Optimizer } from './optimizer.js';
export type { LrSchedule, OptimizerOptions, OptimizerSnapshot, OptimizerState, ParamGroup, Params, ParamState, ResolvedParamGroup } from './optimizer.js';
export { AdamW } from './adamw.js';
export type { AdamWOptions } from './adamw.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { cosineSchedule } from './schedule.js';
export type { CosineScheduleOptions } from './schedule.js';
export { WeightAverage } from './ema.js';
export { clipGradNorm, NonFiniteGradientError } from './clip.js';
