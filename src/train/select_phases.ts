// S-KAN's three phases around ordinary training (nn/select_kan.ts): train
// everything for `chooseAfter` epochs, then keep each node's best spaces and
// go on training, then prune what was not kept. The trainer only sees an
// epoch-start hook; pruning builds a new, smaller model of the same function.

import { KanMlp } from '../models/kan_mlp.js';
import { buildModel, type ModelSpec } from '../models/registry.js';
import type { NodeChoice, SelectSpace } from '../nn/select_kan.js';
import type { Tensor } from '../tensor/tensor.js';
import type { EpochStartResult } from './trainer.js';

/** Phase 1 ends at this fraction of the base temperature: the weights sharpen before the choice, so dropping the rest changes little. */
export const SELECT_ANNEAL_RATIO = 0.05;

/** The selection temperature in epoch `epoch` (1-based): geometric from `base` in epoch 1 to base x SELECT_ANNEAL_RATIO in the last epoch of phase 1, then held. */
export function selectTemperature(base: number, epoch: number, chooseAfter: number): number {
  const progress = chooseAfter <= 1 ? 1 : Math.min(1, (epoch - 1) / (chooseAfter - 1));
  return base * SELECT_ANNEAL_RATIO ** progress;
}

/** When phase 2 starts and what each node keeps then. */
export interface SelectPhaseOptions {
  /** Epochs of phase 1 (every space trains); the choice is made at the start of the next epoch. */
  chooseAfter: number;
  /** The selection's base temperature (annealed during phase 1). */
  temperature: number;
  /** Spaces each node keeps (default 1), or with `threshold` those whose weight reaches it. */
  keep?: number;
  threshold?: number;
}

/** Per layer, how many nodes kept each space (after the choice). */
export function choiceCounts(choices: readonly NodeChoice[][]): Record<string, number>[] {
  return choices.map((layer) => {
    const counts: Record<string, number> = {};
    for (const node of layer) for (const space of node.spaces) counts[space] = (counts[space] ?? 0) + 1;
    return counts;
  });
}

/** One line per layer: "layer 0: rational 512, cheby 200, bspline 72". */
export function describeChoices(choices: readonly NodeChoice[][]): string[] {
  return choiceCounts(choices).map((counts, i) => `layer ${i}: ${Object.entries(counts).sort((a, b) => b[1] - a[1])
    .map(([space, n]) => `${space} ${n}`).join(', ') || 'no nodes'}`);
}

/**
 * The epoch-start hook of the phases: the temperature of the epoch (annealed
 * through phase 1), and at epoch chooseAfter + 1 every S-KAN layer keeps its
 * nodes' best spaces, ranked by their contributions on `sample()` (training
 * inputs; disposed after) when given, else by alpha. The choice changes the
 * model's function, so the hook asks the trainer to restart its weight average there.
 */
export function selectionHook(model: KanMlp, options: SelectPhaseOptions, onChoice?: (choices: NodeChoice[][]) => void,
  sample?: () => Tensor): (epoch: number) => Promise<EpochStartResult | undefined> {
  return async (epoch) => {
    model.setSelectTemperature(selectTemperature(options.temperature, epoch, options.chooseAfter));
    if (epoch !== options.chooseAfter + 1) return undefined;
    const inputs = sample?.();
    try {
      const choices = await model.chooseSpaces({ keep: options.keep, threshold: options.threshold, ...(inputs ? { sample: inputs } : {}) });
      onChoice?.(choices);
    } finally {
      inputs?.dispose();
    }
    return { restartAverage: true };
  };
}


/** Whether phase 2 has begun: some node of some layer dropped a space. */
export async function hasChosen(model: KanMlp): Promise<boolean> {
  return (await model.spaceChoices()).some((layer) => layer.some((node) => node.spaces.length < (model.config.select?.spaces.length ?? 0)));
}

/**
 * Phase 3: a new model holding only the kept (input, space) blocks, the
 * selection weights folded into them (same outputs to float32 rounding).
 * The given model is left as it was.
 */
export async function pruneSelectModel(model: KanMlp, spec: ModelSpec): Promise<{ model: KanMlp; spec: ModelSpec }> {
  const { config, values } = await model.prunedState();
  const prunedSpec: ModelSpec = { name: spec.name, config };
  const pruned = buildModel(prunedSpec, 0) as KanMlp;
  try {
    const parameterNames = new Set(pruned.namedParameters().map(([name]) => name));
    pruned.loadStateDict(new Map([...values].filter(([name]) => parameterNames.has(name))), { source: 'the pruned S-KAN state' });
    for (const [name, buffer] of pruned.namedBuffers()) {
      const value = values.get(name);
      if (!value) throw new Error(`pruneSelectModel: no values for buffer '${name}'`);
      buffer.assignValues(value.values);
    }
  } catch (error) {
    pruned.dispose();
    throw error;
  }
  pruned.train(model.training);
  return { model: pruned, spec: prunedSpec };
}

/** Parses `select` or `select:rational,bspline,...` (the --basis value) to its spaces (all when none are named). */
export function parseSelectBasis(text: string, allSpaces: readonly SelectSpace[], isSpace: (s: string) => s is SelectSpace): SelectSpace[] {
  if (text === 'select') return [...allSpaces];
  const names = text.slice('select:'.length).split(',').map((s) => s.trim());
  for (const name of names) {
    if (!isSpace(name)) throw new Error(`unknown activation space '${name}' in --basis ${text}: expected select:SPACE,SPACE,... of ${allSpaces.join(', ')}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`--basis ${text} names a space twice`);
  return names as SelectSpace[];
}
