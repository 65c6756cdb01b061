#!/usr/bin/env node
// The `kat` command line: dispatches to one module per subcommand (commands/index.ts lists them).

import { readFileSync } from 'node:fs';
import { COMMANDS, findCommand, type Command } from './commands/index.js';
import { CliError, parseArguments, parseFlags, wantsHelp } from './flags.js';
import { commandHelp, overviewHelp } from './help.js';
import { removeTempFilesOnInterrupt } from './output.js';
import { getBackend } from '../tensor/engine.js';
import { excerpt, quote } from '../util/text.js';

/** The longest error line printed (messages quote input briefly; this catches any that do not). */
const MESSAGE_LIMIT = 4000;

/** What `kat help` lists beside the commands. */
const OTHER_COMMANDS = [['help', 'this list; kat help CMD: that command\'s flags'], ['version', 'print the katjs version']] as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function commandNames(): string {
  return [...COMMANDS.map((c) => c.name), ...OTHER_COMMANDS.map(([name]) => name)].join(', ');
}

/** `kat help [CMD]`. */
function help(args: readonly string[]): void {
  if (args.length > 1) throw new CliError(`help: unexpected argument ${quote(args[1]!)}: kat help CMD takes one command`);
  const name = args[0];
  if (name === undefined || OTHER_COMMANDS.some(([other]) => other === name)) {
    process.stdout.write(overviewHelp(COMMANDS, OTHER_COMMANDS));
    return;
  }
  const command = findCommand(name);
  if (!command) throw new CliError(`help: unknown command ${quote(name)}: expected one of ${commandNames()}`);
  process.stdout.write(commandHelp(command));
}

async function run(command: Command, args: readonly string[]): Promise<void> {
  if (wantsHelp(args, command.flags)) {
    process.stdout.write(commandHelp(command));
    return;
  }
  if (command.positional) {
    const { flags, positional } = parseArguments(command.name, args, command.flags);
    await command.run(flags, positional);
  } else await command.run(parseFlags(command.name, args, command.flags), []);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') return help([]);
  if (name === 'help') return help(rest);
  if (name === 'version' || name === '--version') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const command = findCommand(name);
  if (!command) throw new CliError(`unknown command ${quote(name)}: expected one of ${commandNames()}`);
  await run(command, rest);
}

removeTempFilesOnInterrupt();
main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  // Last line of defence for text from files: escaped (one error, one line, no terminal escapes) and bounded.
  process.stderr.write(`kat: ${excerpt(message, MESSAGE_LIMIT)}\n`);
  process.exitCode = error instanceof CliError ? 2 : 1;
}).finally(() => {
  // A live GPU device keeps Node from exiting cleanly.
  getBackend().dispose?.();
});
