#!/usr/bin/env node
// The `kat` command line: dispatches to one module per subcommand.

import { readFileSync } from 'node:fs';
import { BENCH_FLAGS, runBench } from './commands/bench.js';
import { COMPARE_FLAGS, runCompare } from './commands/compare.js';
import { DEMO_FLAGS, runDemo } from './commands/demo.js';
import { EVAL_FLAGS, runEval } from './commands/eval.js';
import { EXPORT_FLAGS, runExport } from './commands/export.js';
import { INFO_FLAGS, runInfo } from './commands/info.js';
import { FORMULA_FLAGS, runFormula } from './commands/formula.js';
import { PLOT_FLAGS, runPlot } from './commands/plot.js';
import { PREDICT_FLAGS, runPredict } from './commands/predict.js';
import { PROFILE_FLAGS, runProfile } from './commands/profile.js';
import { PRUNE_FLAGS, runPrune } from './commands/prune.js';
import { runTrain, TRAIN_FLAGS } from './commands/train.js';
import { CliError, parseArguments, parseFlags } from './flags.js';
import { removeTempFilesOnInterrupt } from './output.js';
import { getBackend } from '../tensor/engine.js';
import { excerpt } from '../util/text.js';

/** The longest error line printed (messages quote input briefly; this catches any that do not). */
const MESSAGE_LIMIT = 4000;

const USAGE = `usage: kat <command> [flags]

commands:
  train     train a model (default kat-micro on the embedded MNIST digits) and save a checkpoint
            --model NAME      kat-{micro,tiny,small,base}, vit-{micro,tiny,small,base}, karat-{micro,tiny,small,base}
                              (ViT with Fourier-KArAt attention), kan-mlp (default kat-micro)
            --karat G<n><B|U> Fourier-KArAt variant for karat-* (default G3B) or kat-* models: order n (harmonics 0..n),
                              B = one operator per head per block, U = one per head shared by all blocks (rank 12)
            --basis B         kan-mlp's layers: rational (GR-KAN, default), bspline (efficient-kan), rbf (FastKAN),
                              af (AF-KAN), relu (ReLU-KAN), cheby (ChebyKAN, Chebyshev degree 4 of tanh x),
                              mlp (no KAN: Linear + --activation relu|gelu|silu, default relu)
            --hidden W1,W2    kan-mlp's hidden widths (default 256,128; --hidden 64 makes 784-64-10)
            --grid-update N   bspline: refit the knot grids to 1,024 training rows at the start of the first N epochs (default 0)
            --dataset SPEC    mnist (default: 10,000 embedded digits), mnist:DIR (the full MNIST as IDX files),
                              fashion-mnist (Debian's dataset-fashion-mnist) or fashion-mnist:DIR, cifar10:DIR,
                              folder:DIR, synthetic:CxHxW[:classes[:count]], csv:FILE
                              folder:DIR: photos in DIR/<class>/ (or DIR/train + DIR/val), streamed; --image-size N
            --init SRC        fine-tune pretrained weights (a file, hub folder, URL or hf:owner/name[@rev]); a head for
                              another class count is re-initialised, position embeddings resampled; --weights ema, --heads N
            --target COLUMN   csv: the column to predict (kan-mlp only); --task classification|regression
                              (default: classification for text or <= 20 distinct integers), --test-fraction X (0.2)
            --epochs N --batch-size N --lr X --weight-decay X --optimizer adamw|sgd
            --warmup EPOCHS --label-smoothing X --clip NORM --seed N
            --ema DECAY       evaluate and save an exponential moving average of the weights (e.g. 0.999; 0: off)
            --shift PIXELS --rotate DEGREES --scale X --flip   random image augmentation
            --backend auto|cpu|cpu-float64   --out FILE (default checkpoints/MODEL.safetensors)
            --max-steps N     stop after N optimizer steps (then evaluate and save as after an epoch)
            --max-memory SIZE refuse, before allocating, a run estimated to need more (parameters, gradients, AdamW
                              moments, one batch's activations, data); 512MiB, 4GiB or bytes; default half the RAM.
                              Every command that loads a checkpoint takes it too (parameters and buffers)
            --checkpoint-every N  every N epochs, write OUT.resume.safetensors: the weights plus optimizer state,
                              schedule position, RNG states and data order (atomically)
            --resume FILE     continue such a run bit for bit (flags left out come from the file)
            --json            one JSON object per line: epoch events, then a done event; --log-steps adds step events
  compare   several models x seeds on one dataset at one budget, one kat train run after another, then a table
            (params, test accuracy mean ± std, best epoch, img/s, time), --json, and accuracy.svg / .png per epoch:
            --models LIST     entries NAME[:VARIANT][@W1xW2], e.g. vit-micro,kat-micro,karat-micro:G1B or
                              kan-mlp:mlp,kan-mlp:bspline@8 (variant: kan-mlp's basis, a KArAt variant for karat-*/kat-*)
            --seeds N|LIST    3 (default) = seeds 0,1,2; or a list: 0,5,9
            --out DIR         (default checkpoints/compare) one folder per run: epoch log, final weights, run.json;
                              rerun the same command to skip finished runs and resume an interrupted one
            --hidden, --activation (kan-mlp entries), --dataset, --epochs, --batch-size, --lr, --weight-decay,
            --optimizer, --warmup, --label-smoothing, --clip, --shift, --flip, --rotate, --scale, --ema,
            --max-steps: as for train, the same for every run; --backend; --title TEXT (the plot's)
  eval      accuracy of a checkpoint on a dataset's test split: --checkpoint SRC [--dataset SPEC] [--json]
            (RMSE and R^2 for csv regression; the checkpoint's scaling and split: [--target COLUMN] [--test-fraction X, 1: all rows])
  predict   top-k classes of photos (JPEG, PNG), preprocessed as timm's eval transform:
            --checkpoint SRC IMAGE|DIR ... [--top 5] [--json] [--logits] [--batch-size 16] [--skip-bad] [--weights ema]
            --engine onnxruntime: run an in-memory ONNX export in ONNX Runtime (needs the optional onnxruntime-node)
            SRC: a .safetensors / .pth / .bin / .pth.tar file, a hub folder, an https:// URL or hf:owner/name[@revision]
            (downloads are cached in KATJS_CACHE, else $XDG_CACHE_HOME/katjs or ~/.cache/katjs; HF_ENDPOINT, HF_TOKEN)
  info      what a checkpoint holds: --checkpoint SRC [--json]
  export    the model as ONNX (standard operators, opset 17+, dynamic batch; preprocessing and labels in the
            metadata): --checkpoint SRC --onnx FILE [--opset N] [--verify: check it in ONNX Runtime] [--json]
  plot      every learned activation per layer and group, over its initial shape and a histogram of the
            inputs it saw: --checkpoint FILE --out FILE.svg|FILE.png [--dataset SPEC] [--images N] [--scale X]
  formula   exact P(x)/Q(x) of every activation (text and LaTeX) and the closest simple functions
            a*f(b*x + c) + d with R^2: --checkpoint FILE [--dataset SPEC] [--activation NAME] [--digits N] [--top N] [--json]
            (plot, formula: --heads N for timm checkpoints, which do not store the attention heads)
  prune     score GR-KAN hidden channels on data, keep a fraction per group, fine-tune, save:
            --checkpoint FILE [--keep 0.5] [--epochs 1] [--lr X] [--out FILE] [--dataset SPEC] [--json]
  bench     GR-KAN forward/backward vs the copy-bandwidth ceiling at KAT's widths, matmul TFLOP/s,
            KAN layers by basis (rational, bspline, rbf, af, relu, cheby, mlp; time and memory at 256 -> 256),
            kat-tiny / vit-tiny training img/s: --backend B --json --batch N --runs N --skip-training;
            on the CPU also GEMM at KAT-T's shapes vs the measured FMA peak and over threads, the
            PyTorch peer's whole-model cases (ratios with --peer FILE.json, its output),
            matmul, group rational and a kat-micro step vs TensorFlow.js (--skip-compare)
            and kat-tiny inference at batch 1 and 16 vs ONNX Runtime (needs onnxruntime-node; --skip-onnxruntime)
  profile   GPU time per kernel over a few training steps, from WebGPU timestamp queries (calls, total ms,
            mean us, share): --backend webgpu [--model NAME (kat-micro)] [--batch N (32)] [--image-size N]
            [--steps N (2, after one untimed)] [--json]; an adapter without 'timestamp-query' is an error
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
    case 'compare':
      await runCompare(parseFlags('compare', rest, COMPARE_FLAGS));
      return;
    case 'eval':
      await runEval(parseFlags('eval', rest, EVAL_FLAGS));
      return;
    case 'info':
      await runInfo(parseFlags('info', rest, INFO_FLAGS));
      return;
    case 'export':
      await runExport(parseFlags('export', rest, EXPORT_FLAGS));
      return;
    case 'predict': {
      const { flags, positional } = parseArguments('predict', rest, PREDICT_FLAGS);
      await runPredict(flags, positional);
      return;
    }
    case 'plot':
      await runPlot(parseFlags('plot', rest, PLOT_FLAGS));
      return;
    case 'formula':
      await runFormula(parseFlags('formula', rest, FORMULA_FLAGS));
      return;
    case 'prune':
      await runPrune(parseFlags('prune', rest, PRUNE_FLAGS));
      return;
    case 'bench':
      await runBench(parseFlags('bench', rest, BENCH_FLAGS));
      return;
    case 'profile':
      await runProfile(parseFlags('profile', rest, PROFILE_FLAGS));
      return;
    case 'demo':
      await runDemo(parseFlags('demo', rest, DEMO_FLAGS));
      return;
    default:
      throw new CliError(`unknown command '${command}': expected one of train, compare, eval, predict, info, export, plot, formula, prune, bench, profile, demo, help, version`);
  }
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
