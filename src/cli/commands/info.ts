// `kat info --checkpoint SRC`: what a checkpoint holds.

import { describeSpec } from '../../models/checkpoint.js';
import { checkpointOptions, CHECKPOINT_SOURCE_HELP, loadCheckpointSource } from '../checkpoint_source.js';
import { CliError, type FlagType, type FlagValues } from '../flags.js';

export const INFO_FLAGS: Record<string, FlagType> = { checkpoint: 'string', json: 'boolean', weights: 'string', heads: 'number' };

export async function runInfo(flags: FlagValues): Promise<void> {
  const path = flags.checkpoint as string | undefined;
  if (!path) throw new CliError(`info: --checkpoint SRC is required (${CHECKPOINT_SOURCE_HELP})`);
  const { spec, model, info, notes, labels, preprocess, name } = await loadCheckpointSource(path, { ...checkpointOptions('info', flags), quiet: Boolean(flags.json) });
  const tensors = model.namedParameters().map(([tensorName, t]) => ({ name: tensorName, shape: t.shape }));
  const params = model.parameterCount();
  model.dispose();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ event: 'info', checkpoint: name, model: spec.name, config: spec.config, params, info, notes, labels, preprocess, tensors })}\n`);
    return;
  }
  const lines = [`checkpoint ${name}`, `model      ${describeSpec(spec)}`, `parameters ${params.toLocaleString('en-US')} in ${tensors.length} tensors`];
  for (const note of notes) lines.push(`note       ${note}`);
  lines.push(`classes    ${labels.length}: ${labels.slice(0, 5).join(', ')}${labels.length > 5 ? ', ...' : ''}`);
  if ('imageSize' in spec.config) lines.push(`input      ${preprocess.inputSize.join('x')}, ${preprocess.interpolation} resize, crop ${preprocess.cropMode} ${preprocess.cropPct}, ` +
    `mean ${preprocess.mean.join('/')}, std ${preprocess.std.join('/')}`);
  for (const [key, value] of Object.entries(info)) lines.push(`${key.padEnd(10)} ${value}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
