// `kat predict --checkpoint SRC IMAGE|DIR ...`: the top-k classes of photos,
// preprocessed as timm's eval transform, decoded in worker threads, batched.

import { stat } from 'node:fs/promises';
import { IMAGE_EXTENSIONS, listImages } from '../../data/image_folder.js';
import { ImageDecodePool } from '../../data/image_pool.js';
import { exportOnnx } from '../../io/onnx.js';
import type { KanMlpConfig } from '../../models/kan_mlp.js';
import type { VitConfig } from '../../models/vit.js';
import { tensor } from '../../ops/creation.js';
import { softmax } from '../../ops/nn.js';
import { noGrad } from '../../tensor/autograd.js';
import { tidy } from '../../tensor/scope.js';
import { selectBackend } from '../backend.js';
import { checkpointOptions, CHECKPOINT_SOURCE_HELP, loadCheckpointSource } from '../checkpoint_source.js';
import { excerpt } from '../../util/text.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC, WEIGHTS_FLAG } from '../common_flags.js';
import { CliError, flagTable, integerIn, type FlagValues } from '../flags.js';
import { createSession, requireOnnxRuntime, runSession } from '../onnxruntime.js';
import { bar, ProgressLine } from '../progress.js';

export const PREDICT_FLAGS = flagTable({
  checkpoint: CHECKPOINT_FLAG,
  top: { type: integerIn(1, 100_000), value: 'K', default: 5, help: 'classes listed per image' },
  json: { ...JSON_FLAG, help: 'one JSON object per image' },
  'batch-size': { type: integerIn(1, 4096), value: 'N', default: 16, help: 'images per forward pass' },
  backend: { ...BACKEND_FLAG, help: `--engine katjs: ${BACKEND_FLAG.help}` },
  'skip-bad': { type: 'boolean', help: 'report an image that cannot be decoded and go on, instead of stopping' },
  weights: WEIGHTS_FLAG,
  heads: HEADS_FLAG,
  logits: { type: 'boolean', help: 'with --json: every class\'s logit too' },
  'max-memory': MAX_MEMORY_SPEC,
  engine: {
    type: 'string', value: 'NAME', default: 'katjs',
    help: 'katjs, or onnxruntime: run an in-memory ONNX export in ONNX Runtime (needs the optional onnxruntime-node)',
  },
});

/** The images named on the command line: files as given, directories searched for image files. */
export async function collectImages(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new CliError(`predict: image '${path}' does not exist`);
    }
    if (info.isDirectory()) {
      const found = await listImages(path);
      if (found.length === 0) throw new CliError(`predict: directory '${path}' holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
      files.push(...found);
    } else if (info.isFile()) {
      files.push(path);
    } else {
      throw new CliError(`predict: '${path}' is not a regular file or a directory`);
    }
  }
  return files;
}

interface Ranked {
  label: string;
  index: number;
  probability: number;
}

function topK(probabilities: Float32Array, labels: readonly string[], k: number): Ranked[] {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
  return order.slice(0, k).map((index) => ({ label: labels[index]!, index, probability: probabilities[index]! }));
}

export async function runPredict(flags: FlagValues, paths: string[]): Promise<void> {
  const source = flags.checkpoint as string | undefined;
  if (!source) throw new CliError(`predict: --checkpoint SRC is required (${CHECKPOINT_SOURCE_HELP})`);
  if (paths.length === 0) throw new CliError('predict: name at least one image file or directory');
  const top = (flags.top as number | undefined) ?? PREDICT_FLAGS.top.default;
  if (!Number.isInteger(top) || top < 1) throw new CliError(`predict: --top must be a positive integer, got ${top}`);
  const batchSize = (flags['batch-size'] as number | undefined) ?? PREDICT_FLAGS['batch-size'].default;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 4096) {
    throw new CliError(`predict: --batch-size must be an integer in [1, 4096], got ${batchSize}`);
  }
  const json = Boolean(flags.json);
  const skipBad = Boolean(flags['skip-bad']);
  // --engine onnxruntime: the model is exported to ONNX in memory and run by onnxruntime-node (native CPU kernels).
  const engine = (flags.engine as string | undefined) ?? PREDICT_FLAGS.engine.default;
  if (engine !== 'katjs' && engine !== 'onnxruntime') throw new CliError(`predict: --engine must be katjs or onnxruntime, got '${engine}'`);
  if (engine === 'onnxruntime' && flags.backend !== undefined) throw new CliError('predict: --backend applies to --engine katjs only');
  const ort = engine === 'onnxruntime' ? await requireOnnxRuntime('predict --engine onnxruntime') : null;
  const files = await collectImages(paths);
  const { backend, notes: backendNotes } = await selectBackend(ort ? 'cpu' : (flags.backend as string | undefined) ?? 'auto');
  if (!json) for (const note of backendNotes) process.stderr.write(`backend: ${note}\n`);
  const loaded = await loadCheckpointSource(source, { ...checkpointOptions('predict', flags), quiet: json });
  const { model, preprocess, labels } = loaded;
  const config = loaded.spec.config as Partial<VitConfig & KanMlpConfig>;
  const [channels, height, width] = preprocess.inputSize;
  const inputs = config.inputs ?? config.channels! * config.imageSize! * config.imageSize!;
  if ((channels !== 3 && channels !== 1) || inputs !== channels * height * width || config.imageSize === undefined) {
    model.dispose();
    throw new CliError(`predict: ${loaded.spec.name} from '${loaded.name}' takes ${config.imageSize ? `${config.channels}x${config.imageSize}x${config.imageSize}` : `${inputs}-value`} ` +
      'inputs; kat predict classifies images with an image model (3 channels: RGB; 1: grayscale, e.g. Fashion-MNIST)');
  }
  if (!json) {
    // Notes quote tensor names from the file: escaped and cut short.
    for (const note of loaded.notes) process.stderr.write(`checkpoint: ${excerpt(note, 400)}\n`);
    process.stderr.write(`model ${loaded.spec.name} (${labels.length} classes), input ${preprocess.inputSize.join('x')}, ` +
      `${preprocess.interpolation} resize, crop ${preprocess.cropMode} ${preprocess.cropPct}; ${ort ? `engine onnxruntime ${ort.env.versions.common}` : `backend ${backend.name}`}\n`);
  }
  model.eval();
  let session: Awaited<ReturnType<typeof createSession>> | null = null;
  if (ort) {
    try {
      session = await createSession(ort, await exportOnnx(model, loaded.spec, { labels, preprocess }));
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  const pool = new ImageDecodePool();
  const progress = new ProgressLine(process.stderr);
  const per = channels * height * width;
  const k = Math.min(top, labels.length);
  let done = 0;
  let skipped = 0;
  try {
    for (let start = 0; start < files.length; start += batchSize) {
      const batchFiles = files.slice(start, start + batchSize);
      const decoded = await Promise.allSettled(batchFiles.map((file) => pool.decode(file, preprocess)));
      const good: { file: string; pixels: Float32Array }[] = [];
      for (const [i, result] of decoded.entries()) {
        if (result.status === 'fulfilled') good.push({ file: batchFiles[i]!, pixels: result.value });
        else if (!skipBad) throw new Error(`${(result.reason as Error).message} (--skip-bad goes on past unreadable images)`);
        else {
          skipped++;
          const message = (result.reason as Error).message;
          if (json) process.stdout.write(`${JSON.stringify({ event: 'skipped', file: batchFiles[i], error: message })}\n`);
          else process.stderr.write(`skipped: ${message}\n`);
        }
      }
      if (good.length > 0) {
        const images = new Float32Array(good.length * per);
        good.forEach((g, i) => images.set(g.pixels, i * per));
        const shape = [good.length, channels, height, width];
        // ONNX Runtime's logits go through the same softmax op as katjs's.
        const onnxLogits = session ? tensor(await runSession(ort!, session, images, shape), [good.length, labels.length]) : null;
        const [logits, probabilities] = noGrad(() => tidy(() => {
          const out = onnxLogits ?? model.forward(tensor(images, shape));
          return [out, softmax(out, -1)];
        }));
        const logitValues = await logits.data();
        const probabilityValues = await probabilities.data();
        logits.dispose();
        probabilities.dispose();
        const classes = labels.length;
        for (const [i, { file }] of good.entries()) {
          const ranked = topK(probabilityValues.subarray(i * classes, (i + 1) * classes), labels, k);
          if (json) {
            const record: Record<string, unknown> = { event: 'prediction', file, top: ranked };
            if (flags.logits) record.logits = Array.from(logitValues.subarray(i * classes, (i + 1) * classes));
            process.stdout.write(`${JSON.stringify(record)}\n`);
          } else {
            if (progress.interactive) process.stderr.write('\r\x1b[K'); // clear the progress line first
            process.stdout.write(`${file}\n`);
            const width = Math.max(...ranked.map((r) => r.label.length));
            for (const [rank, r] of ranked.entries()) {
              process.stdout.write(`  ${rank + 1}. ${r.label.padEnd(width)}  ${(r.probability * 100).toFixed(2).padStart(6)}%\n`);
            }
          }
        }
      }
      done += batchFiles.length;
      if (!json && files.length > batchSize) progress.update(`${bar(done, files.length)} ${done}/${files.length} images`);
    }
  } finally {
    model.dispose();
    await session?.release();
    await pool.close();
  }
  if (!json && skipped > 0) process.stderr.write(`${skipped} of ${files.length} images could not be read and were skipped\n`);
}
