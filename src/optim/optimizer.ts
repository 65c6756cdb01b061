// The optimiser base class: parameter groups, the learning rate (set by hand
// or by a schedule before each step), per-parameter state tensors, and the
// update loop. Updates run under noGrad inside tidy, so no intermediate
// outlives a step; parameters and state tensors keep their Tensor objects and
// take new values with assign(), so live buffers stay flat from step to step.

import { noGrad } from '../tensor/autograd.js';
import { keep, tidy } from '../tensor/scope.js';
import { formatShape, Tensor } from '../tensor/tensor.js';

/** Parameters sharing hyperparameters. Unset fields use the optimiser's. */
export interface ParamGroup {
  params: Tensor[];
  /** Weight decay for this group (e.g. 0 for biases and norms). */
  weightDecay?: number;
  /** Learning rate for this group: an absolute value that replaces (and is not changed by) the optimiser's `lr` or schedule. */
  lr?: number;
}

/** A flat list of parameters (one group) or several groups. */
export type Params = readonly Tensor[] | readonly ParamGroup[];

/** Maps a step index (0 for the first update) to a learning rate. */
export type LrSchedule = (step: number) => number;

/** Options every optimiser takes. */
export interface OptimizerOptions {
  lr?: number;
  weightDecay?: number;
  /** If given, step() sets `lr = schedule(stepCount)` before updating (so the first update uses schedule(0)). */
  schedule?: LrSchedule;
}

/** A group with its hyperparameters resolved. */
export interface ResolvedParamGroup {
  readonly params: readonly Tensor[];
  readonly weightDecay: number;
  /** The group's own learning rate, or undefined to follow the optimiser's `lr`. */
  readonly lr: number | undefined;
}

/** One parameter's optimiser state: its update count and named tensors (moments, momentum buffers). */
export interface ParamState {
  step: number;
  readonly tensors: Map<string, Tensor>;
}

/**
 * What state() returns and loadState() accepts. Tensors are named
 * `${index}.${slot}`, where index counts the parameters over all groups in
 * order; scalars hold `stepCount`, `lr` and each parameter's `${index}.step`.
 */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  scalars: Record<string, number>;
}

/** OptimizerState with copies of the values on the host (float32): what exportState() returns and importState() takes. */
export interface OptimizerSnapshot {
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
  scalars: Record<string, number>;
}

export function checkNonNegative(owner: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${owner}: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function isParamGroupList(params: Params): params is readonly ParamGroup[] {
  return params.length > 0 && !(params[0] instanceof Tensor);
}

/** Base of the optimisers: parameter groups, learning rate (or a schedule), step(), zeroGrad() and a state snapshot for resuming. */
export abstract class Optimizer {
  readonly groups: readonly ResolvedParamGroup[];
  /** Number of step() calls so far. */
  stepCount = 0;
  /** Sets `lr` before each step when present. */
  schedule: LrSchedule | undefined;
  private currentLr: number;
  private readonly paramState = new Map<Tensor, ParamState>();
  private readonly ordered: readonly Tensor[];

  /** The names of the per-parameter state tensors this optimiser keeps. */
  protected abstract readonly slots: readonly string[];

  protected constructor(readonly name: string, params: Params, defaults: { lr: number; weightDecay: number }, schedule?: LrSchedule) {
    if (!Array.isArray(params) || params.length === 0) {
      throw new Error(`${name}: expected a non-empty array of parameters (Tensor[]) or parameter groups ({ params: Tensor[] }[])`);
    }
    this.currentLr = checkNonNegative(name, 'lr', defaults.lr);
    const defaultDecay = checkNonNegative(name, 'weightDecay', defaults.weightDecay);
    if (schedule !== undefined && typeof schedule !== 'function') {
      throw new Error(`${name}: schedule must be a function (step) => lr, got ${typeof schedule}`);
    }
    this.schedule = schedule;
    const rawGroups: readonly ParamGroup[] = isParamGroupList(params) ? params : [{ params: params as Tensor[] }];
    const seen = new Set<Tensor>();
    this.groups = rawGroups.map((group, g) => {
      if (group === null || typeof group !== 'object' || !Array.isArray(group.params)) {
        throw new Error(`${name}: parameter group ${g} must be an object { params: Tensor[], weightDecay?, lr? }`);
      }
      group.params.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new Error(`${name}: parameter ${i} of group ${g} is not a Tensor`);
        if (p.gradNode) {
          throw new Error(`${name}: ${p.describe()} was computed by '${p.gradNode.op}'; parameters must be leaf tensors`);
        }
        if (seen.has(p)) throw new Error(`${name}: ${p.describe()} appears more than once in the parameters`);
        seen.add(p);
      });
      return Object.freeze({
        params: Object.freeze([...group.params]),
        weightDecay: group.weightDecay === undefined ? defaultDecay : checkNonNegative(name, `weightDecay of group ${g}`, group.weightDecay),
        lr: group.lr === undefined ? undefined : checkNonNegative(name, `lr of group ${g}`, group.lr),
      });
    });
    this.ordered = Object.freeze(this.groups.flatMap((group) => group.params));
  }

  /** The current learning rate (groups with their own `lr` use that instead). */
  get lr(): number {
    return this.currentLr;
  }

  set lr(value: number) {
    this.currentLr = checkNonNegative(this.name, 'lr', value);
  }

  /** Every parameter, over all groups in order. */
  get params(): readonly Tensor[] {
    return this.ordered;
  }

  /**
   * One update of every parameter that has a gradient (those whose `.grad`
   * is null are skipped, their state untouched). Gradients are not reset:
   * call zeroGrad() before the next backward().
   */
  step(): void {
    if (this.schedule) this.lr = this.schedule(this.stepCount);
    noGrad(() => tidy(() => {
      for (const group of this.groups) {
        const lr = group.lr ?? this.currentLr;
        for (const param of group.params) {
          const grad = param.grad;
          if (grad === null) continue;
          if (grad.shape.join() !== param.shape.join()) {
            throw new Error(`${this.name}: the gradient of ${param.describe()} has shape ${formatShape(grad.shape)}`);
          }
          let state = this.paramState.get(param);
          if (!state) {
            state = { step: 0, tensors: new Map() };
            this.paramState.set(param, state);
          }
          state.step++;
          param.assign(this.update(param, grad, state, lr, group.weightDecay));
        }
      }
    }));
    this.stepCount++;
  }

  /** The new value of `param` (computed with ops; the caller assigns it). Runs under noGrad inside tidy. */
  protected abstract update(param: Tensor, grad: Tensor, state: ParamState, lr: number, weightDecay: number): Tensor;

  /** Stores a state tensor: the existing one takes the new values (assign), or a kept one is created. */
  protected setSlot(state: ParamState, slot: string, value: Tensor): Tensor {
    const existing = state.tensors.get(slot);
    if (existing) return existing.assign(value);
    // A view owns its own reference to the buffer: safe even when `value` is a gradient disposed later.
    const created = keep(value.view(value.shape));
    state.tensors.set(slot, created);
    return created;
  }

  /** Disposes and clears each parameter's gradient. */
  zeroGrad(): void {
    for (const param of this.ordered) {
      if (param.grad) {
        param.grad.dispose();
        param.grad = null;
      }
    }
  }

  /**
   * The optimiser's state (see OptimizerState). The tensors are the live
   * state, owned by the optimiser: read them, do not dispose them; the next
   * step() gives them new values.
   */
  state(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    const scalars: Record<string, number> = { stepCount: this.stepCount, lr: this.currentLr };
    this.ordered.forEach((param, index) => {
      const state = this.paramState.get(param);
      if (!state) return;
      scalars[`${index}.step`] = state.step;
      for (const [slot, t] of state.tensors) tensors.set(`${index}.${slot}`, t);
    });
    return { tensors, scalars };
  }

  /**
   * Restores state saved by state() for the same parameters in the same order.
   * Tensor values are shared, not copied (tensors are immutable to the library);
   * the caller may dispose its own tensors afterwards.
   */
  loadState(saved: OptimizerState): void {
    const fail = (message: string): never => {
      throw new Error(`${this.name}.loadState(): ${message}`);
    };
    if (!saved || !(saved.tensors instanceof Map) || saved.scalars === null || typeof saved.scalars !== 'object') {
      fail('expected { tensors: Map<string, Tensor>, scalars: Record<string, number> }');
    }
    const count = this.ordered.length;
    const indexOf = (key: string, what: string): number => {
      const index = Number(key);
      if (!/^\d+$/.test(key) || index >= count) fail(`${what} refers to parameter ${key}, but there are ${count} parameters`);
      return index;
    };
    // Validate everything before changing anything.
    const steps = new Map<number, number>();
    let stepCount = this.stepCount;
    let lr = this.currentLr;
    for (const [key, value] of Object.entries(saved.scalars)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`scalar '${key}' must be a finite number >= 0, got ${String(value)}`);
      if (key === 'stepCount') stepCount = value;
      else if (key === 'lr') lr = value;
      else {
        const match = /^(.*)\.step$/.exec(key);
        if (!match) fail(`unknown scalar '${key}'`);
        steps.set(indexOf(match![1]!, `scalar '${key}'`), value);
      }
    }
    const incoming = new Map<number, Map<string, Tensor>>();
    for (const [key, t] of saved.tensors) {
      const dot = key.indexOf('.');
      const slot = key.slice(dot + 1);
      if (dot < 0 || !this.slots.includes(slot)) fail(`unknown tensor '${key}' (expected INDEX.SLOT with SLOT one of ${this.slots.join(', ')})`);
      const index = indexOf(key.slice(0, dot), `tensor '${key}'`);
      const param = this.ordered[index]!;
      if (!(t instanceof Tensor) || t.isDisposed) fail(`tensor '${key}' is not a live Tensor`);
      if (t.shape.join() !== param.shape.join() || t.backend !== param.backend) {
        fail(`tensor '${key}' ${formatShape(t.shape)} on '${t.backend.name}' does not match ${param.describe()} on '${param.backend.name}'`);
      }
      if (!steps.has(index)) fail(`tensor '${key}' has no scalar '${index}.step'`);
      let slots = incoming.get(index);
      if (!slots) incoming.set(index, (slots = new Map()));
      slots.set(slot, t);
    }
    for (const index of steps.keys()) {
      for (const slot of this.slots) {
        if (!incoming.get(index)?.has(slot)) fail(`tensor '${index}.${slot}' is missing`);
      }
    }
    // Apply: parameters absent from the saved state start fresh.
    for (const state of this.paramState.values()) {
      for (const t of state.tensors.values()) t.dispose();
    }
    this.paramState.clear();
    for (const [index, step] of steps) {
      const state: ParamState = { step, tensors: new Map() };
      for (const [slot, t] of incoming.get(index) ?? []) state.tensors.set(slot, keep(t.view(t.shape)));
      this.paramState.set(this.ordered[index]!, state);
    }
    this.stepCount = stepCount;
    this.currentLr = lr;
  }

  /** A host copy of state() (e.g. to write to a file): later steps do not change it. */
  async exportState(): Promise<OptimizerSnapshot> {
    const { tensors, scalars } = this.state();
    const copies = new Map<string, { shape: number[]; values: Float32Array }>();
    // slice(): a backend may hand out its live buffer, which the next step() overwrites.
    for (const [key, t] of tensors) copies.set(key, { shape: [...t.shape], values: (await t.data()).slice() });
    return { tensors: copies, scalars: { ...scalars } };
  }

  /** Restores a snapshot from exportState(), checked as loadState() checks it, on the parameters' backend. */
  importState(saved: OptimizerSnapshot): void {
    if (!saved || !(saved.tensors instanceof Map)) throw new Error(`${this.name}.importState(): expected { tensors: Map, scalars }`);
    const uploaded = new Map<string, Tensor>();
    try {
      for (const [key, { shape, values }] of saved.tensors) {
        if (!(values instanceof Float32Array) || !Array.isArray(shape) || shape.reduce((a, b) => a * b, 1) !== values.length) {
          throw new Error(`${this.name}.importState(): tensor '${key}' holds ${String(values?.length)} values for shape ${formatShape(shape ?? [])}`);
        }
        const backend = (this.ordered[Number(key.split('.')[0])] ?? this.ordered[0]!).backend;
        uploaded.set(key, Tensor.fromBuffer(backend, backend.upload(values), shape));
      }
      this.loadState({ tensors: uploaded, scalars: saved.scalars });
    } finally {
      // loadState keeps views of its own.
      for (const t of uploaded.values()) t.dispose();
    }
  }

  /** Frees the optimiser's state tensors (not the parameters or their gradients). */
  dispose(): void {
    for (const state of this.paramState.values()) {
      for (const t of state.tensors.values()) t.dispose();
    }
    this.paramState.clear();
  }
}
