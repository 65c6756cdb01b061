// katjs against ONNX Runtime on the same model's inference: the model is
// exported in memory (io/onnx.ts) and run by onnxruntime-node's CPU provider
// with every graph optimisation on. Node-only: the runtime module is passed in.

import type { Backend } from '../backends/backend.js';
import { exportOnnx } from '../io/onnx.js';
import { createModel, modelSpec } from '../models/registry.js';
import { tensor } from '../ops/creation.js';
import { noGrad } from '../tensor/autograd.js';
import { Random } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import { timeCalls, type BenchOptions, type BenchRow } from './bench.js';

type OnnxRuntime = typeof import('onnxruntime-node');

/**
 * Inference images/s of `modelName` at each batch: katjs on `backend`, then
 * ONNX Runtime on the exported model (same weights, same random images).
 * Ratios are rates / ONNX Runtime's (reference 'onnxruntime').
 */
export async function benchInferenceVsOnnxRuntime(ort: OnnxRuntime, backend: Backend, modelName: string, batches: readonly number[],
  options: BenchOptions): Promise<BenchRow[]> {
  const spec = modelSpec(modelName);
  const model = createModel(modelName).eval();
  const config = spec.config as { channels: number; imageSize: number };
  const shape = [config.channels, config.imageSize, config.imageSize];
  const rows: BenchRow[] = [];
  try {
    const bytes = await exportOnnx(model, spec);
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
    try {
      const rng = new Random(11);
      for (const batch of batches) {
        const pixels = Float32Array.from({ length: batch * shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
        const images = tensor(pixels, [batch, ...shape]);
        const katjsMs = await timeCalls(backend, () => noGrad(() => tidy(() => { model.forward(images); })), options);
        images.dispose();
        const feeds = { pixel_values: new ort.Tensor('float32', pixels, [batch, ...shape]) };
        await session.run(feeds); // warm up
        const times: number[] = [];
        for (let r = 0; r < options.runs; r++) {
          const started = performance.now();
          for (let c = 0; c < options.callsPerRun; c++) await session.run(feeds);
          times.push((performance.now() - started) / options.callsPerRun);
        }
        times.sort((a, b) => a - b);
        const ortMs = times[Math.floor(times.length / 2)]!;
        const label = `batch ${batch}, ${shape.join('x')}`;
        rows.push(
          { op: `infer ${modelName} (katjs)`, impl: 'katjs', shape: label, median_ms: katjsMs, images_per_s: (batch * 1000) / katjsMs,
            ratio: ortMs / katjsMs, reference: 'onnxruntime' },
          { op: `infer ${modelName} (onnxruntime)`, impl: 'onnxruntime', shape: label, median_ms: ortMs, images_per_s: (batch * 1000) / ortMs,
            ratio: 1, reference: 'onnxruntime' },
        );
      }
    } finally {
      await session.release();
    }
  } finally {
    model.dispose();
  }
  return rows;
}
