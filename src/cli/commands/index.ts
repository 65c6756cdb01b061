// Every `kat` command once: name, one-line summary, flag table and what runs
// it. main.ts dispatches from this list, and `kat help` prints it.

import type { FlagTable, FlagValues } from '../flags.js';
import type { CommandHelp } from '../help.js';
import { BENCH_FLAGS, runBench } from './bench.js';
import { COMPARE_FLAGS, runCompare } from './compare.js';
import { DEMO_FLAGS, runDemo } from './demo.js';
import { EVAL_FLAGS, runEval } from './eval.js';
import { EXPORT_FLAGS, runExport } from './export.js';
import { FORMULA_FLAGS, runFormula } from './formula.js';
import { INFO_FLAGS, runInfo } from './info.js';
import { PLOT_FLAGS, runPlot } from './plot.js';
import { PREDICT_FLAGS, runPredict } from './predict.js';
import { PROFILE_FLAGS, runProfile } from './profile.js';
import { PRUNE_FLAGS, runPrune } from './prune.js';
import { runTrain, TRAIN_FLAGS } from './train.js';

export interface Command extends CommandHelp {
  flags: FlagTable;
  /** Takes arguments that are not flags (predict's images); the others refuse them. */
  positional?: boolean;
  run(flags: FlagValues, positional: string[]): Promise<void>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'train', flags: TRAIN_FLAGS, run: runTrain,
    summary: 'train a model (default kat-micro on the embedded MNIST digits) and save a checkpoint',
    details: '--resume FILE continues a run that --checkpoint-every saved, bit for bit; flags left out come from the file, ' +
      'and the flags that decide what the run computes must match it.',
  },
  {
    name: 'compare', flags: COMPARE_FLAGS, run: runCompare,
    summary: 'several models x seeds on one dataset at one budget: a table, JSON and accuracy plots',
    details: 'One kat train run after another, then a table (params, test accuracy mean ± std, best epoch, img/s, time), ' +
      '--json, and accuracy.svg / .png per epoch (test RMSE instead of accuracy on regression data: csv or function:NAME). ' +
      'The training flags are as for kat train and the same for every run.',
  },
  {
    name: 'eval', flags: EVAL_FLAGS, run: runEval, usage: '--checkpoint SRC [flags]',
    summary: 'accuracy of a checkpoint on a dataset\'s test split (RMSE and R^2 for csv regression)',
  },
  {
    name: 'predict', flags: PREDICT_FLAGS, run: runPredict, positional: true, usage: '--checkpoint SRC IMAGE|DIR ... [flags]',
    summary: 'top-k classes of photos (JPEG, PNG), preprocessed as timm\'s eval transform',
  },
  { name: 'info', flags: INFO_FLAGS, run: runInfo, usage: '--checkpoint SRC [flags]', summary: 'what a checkpoint holds' },
  {
    name: 'export', flags: EXPORT_FLAGS, run: runExport, usage: '--checkpoint SRC --onnx FILE [flags]',
    summary: 'the model as ONNX (standard operators; preprocessing and labels in the metadata)',
  },
  {
    name: 'plot', flags: PLOT_FLAGS, run: runPlot, usage: '--checkpoint FILE --out FILE.svg|FILE.png [flags]',
    summary: 'every learned activation per layer and group, over its initial shape and its inputs (S-KAN: each space\'s strongest nodes)',
  },
  {
    name: 'formula', flags: FORMULA_FLAGS, run: runFormula, usage: '--checkpoint FILE [flags]',
    summary: 'exact P(x)/Q(x) of every activation (S-KAN: each node\'s spaces and strongest edge) and the closest simple functions a*f(b*x + c) + d',
    details: 'The rational functions in text and LaTeX; the simple functions with R^2 over the inputs each group saw. ' +
      'S-KAN checkpoints (kan-mlp --basis select): per layer, the --nodes strongest input nodes, their kept spaces, and their strongest ' +
      'edge\'s phi(x) written out in each space\'s terms with the exact coefficients (alpha folded in).',
  },
  {
    name: 'prune', flags: PRUNE_FLAGS, run: runPrune, usage: '--checkpoint FILE [flags]',
    summary: 'score GR-KAN hidden channels on data, keep a fraction per group, fine-tune, save',
  },
  {
    name: 'bench', flags: BENCH_FLAGS, run: runBench,
    summary: 'kernel and training speed: GR-KAN vs the bandwidth ceiling, matmul, KAN bases, img/s',
    details: 'GR-KAN forward/backward vs the copy-bandwidth ceiling at KAT\'s widths, matmul TFLOP/s, KAN layers by basis ' +
      '(rational, bspline, rbf, af, relu, cheby, mlp; time and memory at 256 -> 256), kat-tiny / vit-tiny training img/s. On the CPU also ' +
      'GEMM at KAT-T\'s shapes vs the measured FMA peak and over threads, the PyTorch peer\'s whole-model cases (ratios with --peer), ' +
      'matmul, group rational and a kat-micro step vs TensorFlow.js, and kat-tiny inference at batch 1 and 16 vs ONNX Runtime.',
  },
  {
    name: 'profile', flags: PROFILE_FLAGS, run: runProfile, usage: '--backend webgpu [flags]',
    summary: 'GPU time per kernel over a few training steps, from WebGPU timestamp queries',
    details: 'Per kernel: calls, total ms, mean us and share of the GPU time.',
  },
  {
    name: 'demo', flags: DEMO_FLAGS, run: runDemo,
    summary: 'a small GR-KAN fits sin(3x) exp(-x^2) with autograd',
    details: 'The network is rational -> linear -> rational -> linear, trained end to end through the library\'s modules and optimizer.',
  },
];

/** The command of that name, or undefined (hasOwn-safe: a name is compared, never looked up on an object). */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}
