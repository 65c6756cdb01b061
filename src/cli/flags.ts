// Minimal flag parsing: `--name value` or `--name=value`, typed per command,
// with one clear error for anything unknown or malformed.

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

/** "a positive integer in [1, 100,000]", "a number in (0, 1]". */
export function describeRange(range: NumberRange): string {
  const kind = !range.integer ? 'a number' : range.min === 1 ? 'a positive integer' : range.min === 0 ? 'a non-negative integer' : 'an integer';
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

export function parseFlags(command: string, args: readonly string[], spec: Record<string, FlagType>): FlagValues {
  const { flags, positional } = parseArguments(command, args, spec);
  if (positional.length > 0) throw new CliError(`${command}: unexpected argument ${quote(positional[0]!)}`);
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
    // hasOwn: '--constructor' or '--__proto__' must not find Object.prototype's members.
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!type) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw new CliError(`${command}: unknown flag ${quote(`--${name}`)}: expected one of ${known}`);
    }
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
