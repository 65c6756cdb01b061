// Flag parsing: `--name value` or `--name=value`, typed per command by one
// table (type, range, help, default) that the parser, `--help` and the resume
// comparison all read, with one clear error for anything unknown or malformed.

import { quote } from '../util/text.js';

export class CliError extends Error {}

/**
 * A number flag with a range, checked when it is parsed: every flag that
 * sizes work (counts, batch sizes, epochs, points) has one, so no flag can
 * ask for unbounded time or memory.
 */
export interface NumberRange {
  integer: boolean;
  min: number;
  max: number;
  /** min itself is not allowed (a fraction in (0, 1]). */
  minExclusive?: boolean;
  /** max itself is not allowed (a fraction in [0, 1)). */
  maxExclusive?: boolean;
}

export type FlagType = 'string' | 'number' | 'boolean' | NumberRange;
export type FlagValues = Record<string, string | number | boolean | undefined>;

/** An integer flag in [min, max]. */
export function integerIn(min: number, max: number): NumberRange {
  return { integer: true, min, max };
}

/** A number flag in a range; `(min` / `max)` with the exclusive options. */
export function numberIn(min: number, max: number, options: { minExclusive?: boolean; maxExclusive?: boolean } = {}): NumberRange {
  return { integer: false, min, max, ...options };
}

/** 1000000 -> 1,000,000: limits read more easily with separators. */
function formatLimit(n: number): string {
  return Number.isInteger(n) && Math.abs(n) >= 10000 ? n.toLocaleString('en-US') : String(n);
}

/** A number flag >= min (> min with minExclusive), with no upper bound: rates and norms, which size no work. */
export function numberFrom(min: number, options: { minExclusive?: boolean } = {}): NumberRange {
  return { integer: false, min, max: Infinity, ...options };
}

/** "a positive integer in [1, 100,000]", "a number in (0, 1]", "a number >= 0". */
export function describeRange(range: NumberRange): string {
  const kind = !range.integer ? 'a number' : range.min === 1 ? 'a positive integer' : range.min === 0 ? 'a non-negative integer' : 'an integer';
  if (range.max === Infinity) return `${kind} ${range.minExclusive ? '>' : '>='} ${formatLimit(range.min)}`;
  return `${kind} in ${range.minExclusive ? '(' : '['}${formatLimit(range.min)}, ${formatLimit(range.max)}${range.maxExclusive ? ')' : ']'}`;
}

export function inRange(value: number, range: NumberRange): boolean {
  return (!range.integer || Number.isInteger(value)) && (range.minExclusive ? value > range.min : value >= range.min) &&
    (range.maxExclusive ? value < range.max : value <= range.max);
}

/** Throws `command: --name must be <range>, got value` unless value is in range. */
export function checkRange(command: string, name: string, value: number, range: NumberRange): number {
  if (!inRange(value, range)) throw new CliError(`${command}: --${name} must be ${describeRange(range)}, got ${value}`);
  return value;
}

// Decimal only: Number() also takes 0x10, 0b11, 0o7, 'Infinity' and ' 5 ', none of which a user means as a count.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number (digits, optional fraction and exponent), or undefined for anything else. */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * One flag of a command: everything the parser, the validation, `--help` and
 * the resume comparison need to know about it, in one place.
 */
export interface FlagSpec {
  type: FlagType;
  /** What it does, for `kat CMD --help`: one or more sentences, wrapped when printed. */
  help: string;
  /** The value's placeholder in help (N, FILE, X); booleans take none. */
  value?: string;
  /** The value used when the flag is left out, shown in help; absent where it depends on other flags or on the input. */
  default?: string | number | boolean;
  /**
   * How `kat train --resume` treats it: 'setting' decides what the run computes (taken from the file and refused
   * when given differently), 'carried' is taken from the file unless given again.
   */
  resume?: 'setting' | 'carried';
}

/** A command's flags by name (without the leading --), in the order help lists them. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** A flag table with its literal types kept, so a command reads `TABLE.top.default` as a number. */
export function flagTable<const T extends FlagTable>(table: T): T {
  return table;
}

/** The flags `kat CMD --help` and `kat CMD -h` ask for help with. */
export const HELP_FLAGS: readonly string[] = ['--help', '-h'];

export function parseFlags(command: string, args: readonly string[], table: FlagTable): FlagValues {
  const { flags, positional } = parseArguments(command, args, table);
  if (positional.length > 0) throw new CliError(`${command}: unexpected argument ${quote(positional[0]!)}`);
  return flags;
}

/** Levenshtein distance (insertions, deletions, substitutions), for suggesting a flag. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The known flag a mistyped one most likely meant: the closest by edit distance, if within a third of its length
 * (at least 1, at most 3), else the only known flag it begins (--batch for --batch-size); undefined when none is close.
 */
export function closestFlag(name: string, known: readonly string[]): string | undefined {
  // Long inputs are cut: the distance of a 1,000-character flag to every known one is not worth computing.
  const typed = name.slice(0, 64).toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const d = editDistance(typed, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best !== undefined) return best;
  const prefixed = typed.length >= 2 ? known.filter((candidate) => candidate.startsWith(typed)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function unknownFlag(command: string, name: string, table: FlagTable): CliError {
  const known = Object.keys(table);
  const suggestion = closestFlag(name, known);
  if (suggestion !== undefined) {
    return new CliError(`${command}: unknown flag ${quote(`--${name}`)}: did you mean --${suggestion}? (kat ${command} --help lists the flags)`);
  }
  return new CliError(`${command}: unknown flag ${quote(`--${name}`)}: expected one of ${known.map((k) => `--${k}`).join(', ')}`);
}

/** The spec of a flag, or undefined (hasOwn: '--constructor' or '--__proto__' must not find Object.prototype's members). */
function lookup(table: FlagTable, name: string): FlagSpec | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * Whether the arguments ask for help: `--help` or `-h` where a flag could stand (not as another flag's value),
 * whatever else they hold, so `kat train --epoch 3 --help` shows the flags rather than the typo's error.
 */
export function wantsHelp(args: readonly string[], table: FlagTable): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (HELP_FLAGS.includes(arg)) return true;
    if (!arg.startsWith('--') || arg.includes('=')) continue;
    const spec = lookup(table, arg.slice(2));
    if (spec && spec.type !== 'boolean') i++; // its value, which may be spelt '-h'
  }
  return false;
}

/**
 * Checks a value that did not come from the command line (a resumed run's recorded flags) against its table entry,
 * as the parser checks typed ones; `source` names where it came from in the message.
 */
export function checkFlagValue(command: string, name: string, value: unknown, table: FlagTable, source: string): void {
  const spec = lookup(table, name);
  if (!spec) throw new CliError(`${command}: ${source} records an unknown flag ${quote(`--${name}`)}`);
  const expected = spec.type === 'boolean' ? 'boolean' : spec.type === 'string' ? 'string' : 'number';
  if (typeof value !== expected || (expected === 'number' && !Number.isFinite(value))) {
    throw new CliError(`${command}: ${source} records --${name} as ${quote(String(value))}, not a ${expected}`);
  }
  if (typeof spec.type === 'object' && !inRange(value as number, spec.type)) {
    throw new CliError(`${command}: ${source} records --${name} ${value}: it must be ${describeRange(spec.type)}`);
  }
}

/** Flags plus the arguments that are not flags (file names), in order. */
export function parseArguments(command: string, args: readonly string[], table: FlagTable):
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
    const type = lookup(table, name)?.type;
    if (!type) throw unknownFlag(command, name, table);
    if (type === 'boolean') {
      values[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new CliError(`${command}: flag '--${name}' needs a value`);
    if (type === 'string') {
      values[name] = raw;
      continue;
    }
    const n = parseDecimal(raw);
    if (n === undefined) {
      throw new CliError(`${command}: flag '--${name}' expects a number, got ${quote(raw)} (decimal digits, optional fraction and exponent)`);
    }
    if (type !== 'number') checkRange(command, name, n, type);
    values[name] = n;
  }
  return { flags: values, positional };
}

// Bounds shared by several commands' flags.
export const EPOCHS_RANGE = integerIn(1, 100_000);
export const BATCH_SIZE_RANGE = integerIn(1, 65_536);
/** Optimizer steps: --max-steps, demo's --steps. */
export const STEPS_RANGE = integerIn(1, 1_000_000_000);
/** Seeds are 32-bit (Random takes seed >>> 0): a larger one would silently repeat a smaller one. */
export const SEED_RANGE = integerIn(0, 2 ** 32 - 1);
/** Images run through a model to capture activations (plot, formula, prune); every value is kept in memory. */
export const IMAGES_RANGE = integerIn(1, 4096);
export const HEADS_RANGE = integerIn(1, 1024);
