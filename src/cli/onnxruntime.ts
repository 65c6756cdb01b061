// onnxruntime-node, an optional dependency: loaded only by the commands that
// run exported models (export --verify, predict --engine onnxruntime, bench).

import { CliError } from './flags.js';

export type OnnxRuntime = typeof import('onnxruntime-node');

/** The package, or null when it is not installed. */
export async function loadOnnxRuntime(): Promise<OnnxRuntime | null> {
  try {
    const mod = (await import('onnxruntime-node')) as OnnxRuntime & { default?: OnnxRuntime };
    return mod.default ?? mod;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return null;
    throw error;
  }
}

/** The package, or a usage error that names it. */
export async function requireOnnxRuntime(what: string): Promise<OnnxRuntime> {
  const ort = await loadOnnxRuntime();
  if (!ort) throw new CliError(`${what} needs the optional package onnxruntime-node, which is not installed: npm install onnxruntime-node`);
  return ort;
}

/** A session on ONNX bytes with every graph optimisation on. */
export function createSession(ort: OnnxRuntime, bytes: Uint8Array): Promise<import('onnxruntime-node').InferenceSession> {
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
}

/** Runs `pixel_values` [batch, ...inputShape] through a session: the logits. */
export async function runSession(ort: OnnxRuntime, session: import('onnxruntime-node').InferenceSession, pixels: Float32Array,
  shape: readonly number[]): Promise<Float32Array> {
  const result = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [...shape]) });
  return result.logits!.data as Float32Array;
}
