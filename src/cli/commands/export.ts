// `kat export --checkpoint SRC --onnx FILE`: the model as ONNX (standard
// operators, dynamic batch, preprocessing and labels in the metadata), thin
// over io/onnx.ts; --verify runs it in ONNX Runtime against katjs.

import { writeFileAtomic } from '../../io/files.js';
import { DEFAULT_OPSET, exportOnnx, modelInputShape } from '../../io/onnx.js';
import type { KanMlpConfig } from '../../models/kan_mlp.js';
import { tensor } from '../../ops/creation.js';
import { noGrad } from '../../tensor/autograd.js';
import { setBackend } from '../../tensor/engine.js';
import { Random } from '../../tensor/random.js';
import { checkpointOptions, CHECKPOINT_SOURCE_HELP, loadCheckpointSource } from '../checkpoint_source.js';
import { CHECKPOINT_FLAG, HEADS_FLAG, JSON_FLAG, WEIGHTS_FLAG } from '../common_flags.js';
import { CliError, flagTable, integerIn, type FlagValues } from '../flags.js';
import { createSession, requireOnnxRuntime, runSession } from '../onnxruntime.js';
import { checkOutput } from '../output.js';

export const EXPORT_FLAGS = flagTable({
  checkpoint: CHECKPOINT_FLAG,
  onnx: { type: 'string', value: 'FILE', help: 'where to write the ONNX model' },
  opset: { type: integerIn(DEFAULT_OPSET, 21), value: 'N', default: DEFAULT_OPSET, help: 'the ONNX opset' },
  weights: WEIGHTS_FLAG,
  heads: HEADS_FLAG,
  verify: { type: 'boolean', help: 'run the export in ONNX Runtime (the optional onnxruntime-node) and compare it with katjs' },
  json: { ...JSON_FLAG, help: 'print the result as one JSON object' },
});

export async function runExport(flags: FlagValues): Promise<void> {
  const source = flags.checkpoint as string | undefined;
  const out = flags.onnx as string | undefined;
  if (!source) throw new CliError(`export: --checkpoint SRC is required (${CHECKPOINT_SOURCE_HELP})`);
  if (!out) throw new CliError('export: --onnx FILE is required (where to write the model)');
  const json = Boolean(flags.json);
  await checkOutput('export', out, [source]);
  // Weights are read once on the CPU; float32 as ONNX stores them.
  await setBackend('cpu');
  const loaded = await loadCheckpointSource(source, { ...checkpointOptions('export', flags), quiet: json });
  const { model, spec, labels, preprocess } = loaded;
  try {
    model.eval();
    // kan-mlp checkpoints of non-image data have no image preprocessing to record.
    const fits = 'imageSize' in spec.config || preprocess.inputSize.reduce((a, b) => a * b, 1) === (spec.config as KanMlpConfig).inputs;
    const bytes = await exportOnnx(model, spec, { labels, ...(fits ? { preprocess } : {}), ...(flags.opset ? { opset: flags.opset as number } : {}) });
    const shape = modelInputShape(model, fits ? preprocess : undefined);
    let verified: number | undefined;
    if (flags.verify) {
      const ort = await requireOnnxRuntime('export --verify');
      const rng = new Random(0);
      const batch = 2;
      const per = shape.reduce((a, b) => a * b, 1);
      const pixels = Float32Array.from({ length: batch * per }, () => rng.normal());
      const logits = noGrad(() => model.forward(tensor(pixels, [batch, ...shape])));
      const want = await logits.data();
      logits.dispose();
      const session = await createSession(ort, bytes);
      const got = await runSession(ort, session, pixels, [batch, ...shape]);
      await session.release();
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]!));
        diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
      }
      verified = diff / scale;
      if (!(verified <= 1e-4)) throw new Error(`export: ONNX Runtime's logits differ from katjs's by ${verified} (relative); the export is wrong`);
    }
    await writeFileAtomic(out, bytes);
    if (json) {
      process.stdout.write(`${JSON.stringify({ event: 'export', checkpoint: loaded.name, model: spec.name, onnx: out, bytes: bytes.length,
        opset: flags.opset ?? DEFAULT_OPSET, input: ['batch', ...shape], classes: labels.length, ...(verified === undefined ? {} : { maxRelativeError: verified }) })}\n`);
    } else {
      process.stdout.write(`wrote ${out} (${(bytes.length / 2 ** 20).toFixed(2)} MiB): ${spec.name}, opset ${flags.opset ?? DEFAULT_OPSET}, ` +
        `pixel_values [batch, ${shape.join(', ')}] -> logits [batch, ${labels.length}]\n`);
      if (verified !== undefined) process.stdout.write(`verified with ONNX Runtime: max relative error ${verified.toExponential(2)}\n`);
    }
  } finally {
    model.dispose();
  }
}
