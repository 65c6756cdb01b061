// `kat CMD --help`, `kat CMD -h`, `kat help CMD` and `kat help`: printed from
// the same flag tables the parser reads, so help cannot list a flag the parser
// refuses or leave out one it takes.

import { describeRange, type FlagSpec, type FlagTable } from './flags.js';

/** What help needs to know of a command (the registry's entries are these plus a run function). */
export interface CommandHelp {
  name: string;
  /** One line for `kat help`. */
  summary: string;
  /** The usage line after `kat NAME`; default `[flags]`. */
  usage?: string;
  /** More about the command, printed after the summary. */
  details?: string;
  flags: FlagTable;
}

const WIDTH = 100;
/** Where the help text of a flag starts. */
const HELP_COLUMN = 26;

/** Words wrapped to lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/** `--name VALUE`, the left column of a flag's line. */
export function flagUsage(name: string, spec: FlagSpec): string {
  if (spec.type === 'boolean') return `--${name}`;
  return `--${name} ${spec.value ?? (spec.type === 'string' ? 'TEXT' : 'N')}`;
}

/** The help of one flag: its text, then the range of a bounded number and the default. */
export function flagDescription(spec: FlagSpec): string {
  const notes: string[] = [];
  if (typeof spec.type === 'object') notes.push(describeRange(spec.type));
  if (spec.default !== undefined && spec.type !== 'boolean') notes.push(`default ${spec.default}`);
  return notes.length > 0 ? `${spec.help.trim()} (${notes.join('; ')})` : spec.help.trim();
}

function column(left: string, text: string): string[] {
  const body = wrap(text, WIDTH - HELP_COLUMN);
  const indent = ' '.repeat(HELP_COLUMN);
  if (left.length + 2 >= HELP_COLUMN) return [`  ${left}`, ...body.map((line) => indent + line)];
  return [`  ${left.padEnd(HELP_COLUMN - 2)}${body[0] ?? ''}`, ...body.slice(1).map((line) => indent + line)];
}

/** `kat NAME --help`: usage line, summary, details and every flag of the command's table. */
export function commandHelp(command: CommandHelp): string {
  const lines = [`usage: kat ${command.name} ${command.usage ?? '[flags]'}`, '', ...wrap(command.summary, WIDTH)];
  if (command.details) for (const paragraph of command.details.split('\n\n')) lines.push('', ...wrap(paragraph, WIDTH));
  lines.push('', 'flags:');
  for (const [name, spec] of Object.entries(command.flags)) lines.push(...column(flagUsage(name, spec), flagDescription(spec)));
  lines.push(...column('-h, --help', 'show this help'));
  return `${lines.join('\n')}\n`;
}

/** `kat help`: the commands, one line each. */
export function overviewHelp(commands: readonly CommandHelp[], extra: readonly (readonly [string, string])[]): string {
  const width = Math.max(...[...commands.map((c) => c.name), ...extra.map(([name]) => name)].map((n) => n.length)) + 2;
  const line = (name: string, summary: string) => {
    const [first, ...rest] = wrap(summary, WIDTH - 2 - width);
    return [`  ${name.padEnd(width)}${first ?? ''}`, ...rest.map((l) => ' '.repeat(width + 2) + l)];
  };
  const lines = ['usage: kat <command> [flags]', '', 'commands:'];
  for (const command of commands) lines.push(...line(command.name, command.summary));
  for (const [name, summary] of extra) lines.push(...line(name, summary));
  lines.push('', "kat help CMD (or kat CMD --help) lists a command's flags.");
  return `${lines.join('\n')}\n`;
}
