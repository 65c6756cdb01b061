#!/usr/bin/env node
// The `kat` command line: dispatches to one module per subcommand.

import { readFileSync } from 'node:fs';
import { BENCH_FLAGS, runBench } from './commands/bench.js';
import { runDemo } from './commands/demo.js';
import { EVAL_FLAGS, runEval } from './commands/eval.js';
import { INFO_FLAGS, runInfo } from './commands/info.js';
import { runTrain, TRAIN_FLAGS } from './commands/train.js';
import { CliError, parseFlags } from './flags.js';
import { getBackend } from '../tensor/engine.js';

const USAGE = `usage: kat <command> [flags]

commands:
  train     train a model (default kat-micro on the embedded MNIST digits) and save a checkpoint
            --model NAME      kat-{micro,tiny,small,base}, vit-{micro,tiny,small,base}, kan-mlp (default kat-micro)
            --dataset SPEC    mnist (default), cifar10:DIR, synthetic:CxHxW[:classes[:count]]
            --epochs N --batch-size N --lr X --weight-decay X --optimizer adamw|sgd
            --warmup EPOCHS --label-smoothing X --clip NORM --seed N
            --backend auto|cpu|cpu-float64   --out FILE (default checkpoints/MODEL.safetensors)
            --json            one JSON object per line: epoch events, then a done event
  eval      accuracy of a checkpoint on a dataset's test split: --checkpoint FILE [--dataset SPEC] [--json]
  info      what a checkpoint holds: --checkpoint FILE [--json]
  bench     GR-KAN forward/backward vs the copy-bandwidth ceiling at KAT's widths, matmul TFLOP/s,
            kat-tiny / vit-tiny training img/s: --backend B --json --batch N --runs N --skip-training;
            on the CPU also matmul, group rational and a kat-micro step vs TensorFlow.js (--skip-compare)
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
    case 'train':
      await runTrain(parseFlags('train', rest, TRAIN_FLAGS));
      return;
    case 'eval':
      await runEval(parseFlags('eval', rest, EVAL_FLAGS));
      return;
    case 'info':
      await runInfo(parseFlags('info', rest, INFO_FLAGS));
      return;
    case 'bench':
      await runBench(parseFlags('bench', rest, BENCH_FLAGS));
      return;
    case 'demo':
      await runDemo(parseFlags('demo', rest, { steps: 'number', lr: 'number', seed: 'number', json: 'boolean' }));
      return;
    default:
      throw new CliError(`unknown command '${command}': expected one of train, eval, info, bench, demo, help, version`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`kat: ${message}\n`);
  process.exitCode = error instanceof CliError ? 2 : 1;
}).finally(() => {
  // A live GPU device keeps Node from exiting cleanly.
  getBackend().dispose?.();
});
