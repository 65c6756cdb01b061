// `kat info --checkpoint SRC`: what a checkpoint holds.

import { describeSpec } from '../../models/checkpoint.js';
import { KanMlp, type KanMlpConfig } from '../../models/kan_mlp.js';
import { choiceCounts } from '../../train/select_phases.js';
import { checkpointOptions, CHECKPOINT_SOURCE_HELP, loadCheckpointSource } from '../checkpoint_source.js';
import { escapeControl, excerpt } from '../../util/text.js';
import { TRAIN_STATE_KEY } from '../../train/resume.js';
import { CHECKPOINT_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC, WEIGHTS_FLAG } from '../common_flags.js';
import { CliError, flagTable, type FlagValues } from '../flags.js';

export const INFO_FLAGS = flagTable({
  checkpoint: CHECKPOINT_FLAG,
  json: { ...JSON_FLAG, help: 'print it as one JSON object' },
  weights: WEIGHTS_FLAG,
  heads: HEADS_FLAG,
  'max-memory': MAX_MEMORY_SPEC,
});

/** A metadata value shown in full up to this many characters, then cut short. */
const VALUE_LIMIT = 400;

/**
 * JSON with the characters JSON.stringify leaves raw that a terminal may act
 * on (DEL, C1 controls such as CSI, line separators) written as \u escapes:
 * the same value for a parser, inert on a screen.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export async function runInfo(flags: FlagValues): Promise<void> {
  const path = flags.checkpoint as string | undefined;
  if (!path) throw new CliError(`info: --checkpoint SRC is required (${CHECKPOINT_SOURCE_HELP})`);
  const { spec, model, info, notes, labels, preprocess, name } = await loadCheckpointSource(path, { ...checkpointOptions('info', flags), quiet: Boolean(flags.json) });
  const tensors = model.namedParameters().map(([tensorName, t]) => ({ name: tensorName, shape: t.shape }));
  const params = model.parameterCount();
  // S-KAN: which space each node chose, and with what weight (pruned: the spaces it kept, weights folded into W).
  let selection: { layers: { space: string[]; weight: number[] }[][]; counts: Record<string, number>[]; pruned: boolean } | undefined;
  try {
    if (model instanceof KanMlp && model.basis === 'select') {
      const choices = await model.spaceChoices();
      selection = {
        layers: choices.map((layer) => layer.map((node) => ({ space: node.spaces, weight: node.weights.map((w) => (Number.isNaN(w) ? 1 : w)) }))),
        counts: choiceCounts(choices), pruned: model.config.select?.inputs !== undefined,
      };
    }
  } finally {
    model.dispose();
  }
  if (flags.json) {
    process.stdout.write(`${inertJson({ event: 'info', checkpoint: name, model: spec.name, config: spec.config, params, info, notes, labels, preprocess, tensors, ...(selection ? { selection } : {}) })}\n`);
    return;
  }
  // Everything below came from the file: control characters escaped (an ANSI / OSC sequence must not reach the terminal).
  const lines = [`checkpoint ${escapeControl(name)}`, `model      ${escapeControl(describeSpec(spec))}`, `parameters ${params.toLocaleString('en-US')} in ${tensors.length} tensors`];
  for (const note of notes) lines.push(`note       ${excerpt(note, VALUE_LIMIT)}`);
  lines.push(`classes    ${labels.length}: ${labels.slice(0, 5).map((label) => excerpt(label)).join(', ')}${labels.length > 5 ? ', ...' : ''}`);
  if ('imageSize' in spec.config) lines.push(`input      ${preprocess.inputSize.join('x')}, ${preprocess.interpolation} resize, crop ${preprocess.cropMode} ${preprocess.cropPct}, ` +
    `mean ${preprocess.mean.join('/')}, std ${preprocess.std.join('/')}`);
  if (selection) {
    const spaces = (spec.config as KanMlpConfig).select?.spaces.length ?? 0;
    const chosen = selection.layers.every((layer) => layer.every((node) => node.space.length < spaces));
    const state = selection.pruned ? 'pruned to the spaces each node kept' : chosen ? 'spaces chosen (phase 2)' : 'every space in use (phase 1)';
    lines.push(`selection  ${state}; nodes per space (--json: every node's spaces and weights)`);
    selection.layers.forEach((layer, i) => {
      const strongest = (space: string) => Math.max(...layer.filter((node) => node.space[0] === space).map((node) => node.weight[0]!));
      const parts = Object.entries(selection!.counts[i]!).sort((a, b) => b[1] - a[1]).map(([space, count]) =>
        `${space} ${count}${selection!.pruned || !chosen ? '' : ` (top weight up to ${Number.isFinite(strongest(space)) ? strongest(space).toFixed(2) : '-'})`}`);
      lines.push(`  layer ${i}: ${layer.length} nodes: ${parts.join(', ')}`);
    });
  }
  for (const [key, value] of Object.entries(info)) {
    // A resume file's training state is a long JSON blob: one summary line says what it holds.
    const shown = key === TRAIN_STATE_KEY ? trainStateSummary(value) : value;
    lines.push(`${excerpt(key).padEnd(10)} ${excerpt(shown, VALUE_LIMIT)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function trainStateSummary(text: string): string {
  try {
    const state = JSON.parse(text) as { epoch?: unknown; globalStep?: unknown };
    return `training state for --resume: after epoch ${String(state.epoch)}, step ${String(state.globalStep)} (optimizer, schedule, RNG, data order)`;
  } catch {
    return 'training state for --resume (unreadable)';
  }
}
