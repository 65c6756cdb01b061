#!/usr/bin/env node
// The `kat` command line: dispatches to one module per subcommand.

import { readFileSync } from 'node:fs';
import { runDemo } from './commands/demo.js';
import { CliError, parseFlags } from './flags.js';

const USAGE = `usage: kat <command> [flags]

commands:
  demo      train a small GR-KAN (rational -> linear -> rational -> linear) to fit
            sin(3x) exp(-x^2) with autograd; flags: --steps N --lr X --seed N --json
  help      show this text
  version   print the katjs version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return;
    case 'demo':
      await runDemo(parseFlags('demo', rest, { steps: 'number', lr: 'number', seed: 'number', json: 'boolean' }));
      return;
    default:
      throw new CliError(`unknown command '${command}': expected one of demo, help, version`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`kat: ${message}\n`);
  process.exitCode = error instanceof CliError ? 2 : 1;
});
