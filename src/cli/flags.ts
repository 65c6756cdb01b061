// Minimal flag parsing: `--name value` or `--name=value`, typed per command,
// with one clear error for anything unknown or malformed.

export class CliError extends Error {}

export type FlagType = 'string' | 'number' | 'boolean';
export type FlagValues = Record<string, string | number | boolean | undefined>;

export function parseFlags(command: string, args: readonly string[], spec: Record<string, FlagType>): FlagValues {
  const { flags, positional } = parseArguments(command, args, spec);
  if (positional.length > 0) throw new CliError(`${command}: unexpected argument '${positional[0]}'`);
  return flags;
}

/** Flags plus the arguments that are not flags (file names), in order. */
export function parseArguments(command: string, args: readonly string[], spec: Record<string, FlagType>):
  { flags: FlagValues; positional: string[] } {
  const values: FlagValues = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const type = spec[name];
    if (!type) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw new CliError(`${command}: unknown flag '--${name}': expected one of ${known}`);
    }
    if (type === 'boolean') {
      values[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new CliError(`${command}: flag '--${name}' needs a value`);
    if (type === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new CliError(`${command}: flag '--${name}' expects a number, got '${raw}'`);
      values[name] = n;
    } else {
      values[name] = raw;
    }
  }
  return { flags: values, positional };
}
