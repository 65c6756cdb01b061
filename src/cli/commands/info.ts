// `kat info --checkpoint F`: what a checkpoint holds.

import { describeSpec } from '../../models/checkpoint.js';
import { readCheckpointFile } from '../../models/checkpoint_files.js';
import { CliError, type FlagType, type FlagValues } from '../flags.js';

export const INFO_FLAGS: Record<string, FlagType> = { checkpoint: 'string', json: 'boolean' };

export async function runInfo(flags: FlagValues): Promise<void> {
  const path = flags.checkpoint as string | undefined;
  if (!path) throw new CliError('info: --checkpoint FILE is required');
  const { spec, model, info } = await readCheckpointFile(path);
  const tensors = model.namedParameters().map(([name, t]) => ({ name, shape: t.shape }));
  const params = model.parameterCount();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ event: 'info', checkpoint: path, model: spec.name, config: spec.config, params, info, tensors })}\n`);
    return;
  }
  const lines = [`checkpoint ${path}`, `model      ${describeSpec(spec)}`, `parameters ${params.toLocaleString('en-US')} in ${tensors.length} tensors`];
  for (const [key, value] of Object.entries(info)) lines.push(`${key.padEnd(10)} ${value}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
