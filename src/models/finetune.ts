// Starting a model from pretrained weights: every tensor that fits is copied,
// a classifier head for another class count stays freshly initialised, and
// position embeddings are resampled to a new patch grid as timm's
// resample_abs_pos_embed does (bicubic, antialiased, the class token kept).
// Browser-safe.

import type { NamedValues } from '../nn/module.js';
import { formatShape } from '../util/shape.js';
import type { Model } from './registry.js';

/** The cubic convolution kernel with a = -0.5 (what torch's antialiased bicubic and PIL use). */
function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/**
 * Weights of a 1-D antialiased resample from `inSize` to `outSize` samples
 * (align_corners = false): the filter widens by the scale when shrinking.
 */
function resampleWeights(inSize: number, outSize: number): { start: number; weights: Float64Array }[] {
  const scale = inSize / outSize;
  const support = 2 * Math.max(scale, 1);
  const inverse = 1 / Math.max(scale, 1);
  const rows: { start: number; weights: Float64Array }[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const start = Math.max(Math.trunc(center - support + 0.5), 0);
    const end = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = new Float64Array(end - start);
    let total = 0;
    for (let j = 0; j < weights.length; j++) {
      weights[j] = cubic((j + start - center + 0.5) * inverse);
      total += weights[j]!;
    }
    if (total !== 0) for (let j = 0; j < weights.length; j++) weights[j]! /= total;
    rows.push({ start, weights });
  }
  return rows;
}

/**
 * Resamples position embeddings [1, prefix + oldGrid^2, dim] to
 * [1, prefix + newGrid^2, dim]; the `prefix` tokens (the class token) are kept.
 */
export function resamplePosEmbed(values: Float32Array, dim: number, oldGrid: number, newGrid: number, prefix = 1): Float32Array {
  if (values.length !== (prefix + oldGrid * oldGrid) * dim) {
    throw new Error(`resamplePosEmbed: ${values.length} values are not [1, ${prefix} + ${oldGrid}^2, ${dim}]`);
  }
  const out = new Float32Array((prefix + newGrid * newGrid) * dim);
  out.set(values.subarray(0, prefix * dim));
  const rows = resampleWeights(oldGrid, newGrid);
  // Separable: along x into a float64 [oldGrid, newGrid, dim] buffer, then along y.
  const across = new Float64Array(oldGrid * newGrid * dim);
  for (let y = 0; y < oldGrid; y++) {
    for (let x = 0; x < newGrid; x++) {
      const { start, weights } = rows[x]!;
      const target = (y * newGrid + x) * dim;
      for (let j = 0; j < weights.length; j++) {
        const w = weights[j]!;
        const from = (prefix + y * oldGrid + start + j) * dim;
        for (let c = 0; c < dim; c++) across[target + c]! += w * values[from + c]!;
      }
    }
  }
  for (let y = 0; y < newGrid; y++) {
    const { start, weights } = rows[y]!;
    for (let x = 0; x < newGrid; x++) {
      const target = (prefix + y * newGrid + x) * dim;
      for (let c = 0; c < dim; c++) {
        let sum = 0;
        for (let j = 0; j < weights.length; j++) sum += weights[j]! * across[((start + j) * newGrid + x) * dim + c]!;
        out[target + c] = sum;
      }
    }
  }
  return out;
}

/**
 * Copies pretrained weights into `target`. Returns notes for the user (a
 * re-initialised head, resampled position embeddings); throws when another
 * tensor does not fit.
 */
export async function initFromPretrained(target: Model, pretrained: Model, source: string): Promise<string[]> {
  const from = await pretrained.stateDict();
  const into = await target.stateDict();
  const notes: string[] = [];
  const values = new Map<string, NamedValues>();
  const problems: string[] = [];
  let headKept = true;
  for (const [name, own] of into) {
    const given = from.get(name);
    if (given === undefined) {
      problems.push(`it has no '${name}'`);
      continue;
    }
    if (given.shape.join() === own.shape.join()) {
      values.set(name, given);
    } else if (name.startsWith('head.')) {
      headKept = false;
      values.set(name, own);
    } else if (name === 'pos_embed' && given.shape.length === 3 && given.shape[2] === own.shape[2]) {
      const oldGrid = Math.round(Math.sqrt(given.shape[1]! - 1));
      const newGrid = Math.round(Math.sqrt(own.shape[1]! - 1));
      if (oldGrid * oldGrid !== given.shape[1]! - 1 || newGrid * newGrid !== own.shape[1]! - 1) {
        problems.push(`'pos_embed' ${formatShape(given.shape)} is not 1 + a square grid of patches`);
        continue;
      }
      values.set(name, { shape: own.shape, values: resamplePosEmbed(given.values, own.shape[2]!, oldGrid, newGrid) });
      notes.push(`position embeddings resampled from a ${oldGrid}x${oldGrid} to a ${newGrid}x${newGrid} patch grid (bicubic)`);
    } else {
      problems.push(`'${name}' is ${formatShape(given.shape)}, the model needs ${formatShape(own.shape)}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`${source} does not fit the model being trained: ${problems.slice(0, 4).join('; ')}` +
      `${problems.length > 4 ? `; and ${problems.length - 4} more` : ''}`);
  }
  if (!headKept) {
    const classes = into.get('head.weight')?.shape[0];
    const before = from.get('head.weight')?.shape[0];
    notes.push(`the classifier head was re-initialised: ${before} classes in the checkpoint, ${classes} in the data`);
  }
  target.loadStateDict(values, { source });
  return notes;
}
