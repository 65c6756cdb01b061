// What an S-KAN model chose, drawn: for each layer and space, the nodes that
// chose that space, each as its strongest edge's function phi_ij(x) over the
// inputs it saw. phi_ij is read from the layer itself: with every other input
// at 0, y_j(x e_i) - y_j(0) = phi_ij(x) - phi_ij(0), so the curves are the
// learned functions up to a constant (0 at x = 0), whatever the spaces.

import { escapeXml } from '../util/text.js';
import { tensor } from '../ops/creation.js';
import { reshape } from '../ops/layout.js';
import type { KanMlp } from '../models/kan_mlp.js';
import { SelectKanLayer, type NodeChoice } from '../nn/select_kan.js';
import { noGrad } from '../tensor/autograd.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** One node's drawn function. */
export interface NodeCurve {
  layer: number;
  input: number;
  /** The output of the strongest edge (largest range of phi_ij over the inputs seen). */
  output: number;
  /** The node's spaces, best first, and their weights (NaN: pruned, folded into W). */
  choice: NodeChoice;
  xs: Float64Array;
  ys: Float64Array;
}

/** Each layer's inputs on a batch of data: per node, the 1st and 99th percentiles of what it saw. */
export async function layerInputRanges(model: KanMlp, images: Tensor): Promise<[number, number][][]> {
  const ranges: [number, number][][] = [];
  let h = noGrad(() => reshape(images, [images.shape[0]!, -1]));
  for (const [index, layer] of model.layers.entries()) {
    const values = await h.data();
    const [rows, width] = [h.shape[0]!, h.shape[1]!];
    ranges.push(Array.from({ length: width }, (_, i) => {
      const column = Float64Array.from({ length: rows }, (_, r) => values[r * width + i]!).sort();
      const at = (q: number) => column[Math.min(rows - 1, Math.max(0, Math.round(q * (rows - 1))))]!;
      const [lo, hi] = [at(0.01), at(0.99)];
      return hi > lo ? [lo, hi] : [lo - 1, hi + 1];
    }));
    if (index + 1 < model.layers.length) {
      const next = noGrad(() => layer.forward(h));
      h.dispose();
      h = next;
    }
  }
  h.dispose();
  return ranges;
}

/**
 * Curves of up to `perSpace` nodes per layer and space (those whose strongest
 * edge varies most), `points` samples each over the node's input range.
 */
export async function selectNodeCurves(model: KanMlp, ranges: [number, number][][], options: { perSpace?: number; points?: number } = {}):
  Promise<NodeCurve[]> {
  const perSpace = options.perSpace ?? 4;
  const curves: NodeCurve[] = [];
  for (const [l, layer] of model.layers.entries()) {
    if (!(layer instanceof SelectKanLayer)) throw new Error(`selectNodeCurves: layer ${l} is not an S-KAN layer (basis '${model.basis}')`);
    const candidates = await selectLayerCurves(layer, l, [...Array(layer.inFeatures).keys()], ranges[l]!, options.points);
    const amplitude = (c: NodeCurve) => Math.max(...c.ys) - Math.min(...c.ys);
    for (const space of layer.spaces) {
      curves.push(...candidates.filter((c) => c.choice.spaces[0] === space).sort((a, b) => amplitude(b) - amplitude(a)).slice(0, perSpace));
    }
  }
  return curves;
}

/**
 * The curves of the given nodes (input indices) of one S-KAN layer, in that
 * order: each node's strongest edge, phi_ij(x) - phi_ij(0), at `points`
 * samples over the node's input range (`ranges[i]`, as layerInputRanges
 * gives); `index` is the layer's index in its model (for the curves' labels).
 */
export async function selectLayerCurves(layer: SelectKanLayer, index: number, nodes: readonly number[], ranges: readonly [number, number][],
  points = 81): Promise<NodeCurve[]> {
  const choices = await layer.choices();
  const [n, out] = [layer.inFeatures, layer.outFeatures];
  for (const i of nodes) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`selectLayerCurves: node ${i} is not an input of layer ${index} (0..${n - 1})`);
  }
  const zero = await noGrad(() => tidy(() => layer.forward(tensor(new Float32Array(n), [1, n])))).data();
  const curves: NodeCurve[] = [];
  // Nodes in batches: each row of the batch varies one node's input, the others stay 0.
  const batch = 32;
  for (let first = 0; first < nodes.length; first += batch) {
    const chunk = nodes.slice(first, first + batch);
    const grids = chunk.map((i) => {
      const [lo, hi] = ranges[i]!;
      return Float64Array.from({ length: points }, (_, k) => lo + ((hi - lo) * k) / (points - 1));
    });
    const grid = new Float32Array(chunk.length * points * n);
    chunk.forEach((i, b) => {
      for (let k = 0; k < points; k++) grid[(b * points + k) * n + i] = grids[b]![k]!;
    });
    const y = noGrad(() => tidy(() => layer.forward(tensor(grid, [chunk.length * points, n]))));
    const values = await y.data();
    y.dispose();
    chunk.forEach((i, b) => {
      const at = (k: number, j: number) => values[(b * points + k) * out + j]! - zero[j]!;
      let best = 0;
      let bestRange = -1;
      for (let j = 0; j < out; j++) {
        let min = Infinity;
        let max = -Infinity;
        for (let k = 0; k < points; k++) {
          min = Math.min(min, at(k, j));
          max = Math.max(max, at(k, j));
        }
        if (max - min > bestRange) [best, bestRange] = [j, max - min];
      }
      curves.push({
        layer: index, input: i, output: best, choice: choices[i]!, xs: grids[b]!, ys: Float64Array.from({ length: points }, (_, k) => at(k, best)),
      });
    });
  }
  return curves;
}

/** Each activation space's colour in S-KAN plots (colour-blind-safe Okabe-Ito hues); other names draw in dark grey. */
export const SPACE_COLOURS: Record<string, string> = {
  rational: '#0072B2', bspline: '#D55E00', rbf: '#009E73', cheby: '#CC79A7', relu: '#E69F00', af: '#56B4E9',
};

/** A grid of small panels, one per node curve, coloured and labelled by the node's space. */
export function renderSelectSvg(curves: readonly NodeCurve[], options: { title?: string; columns?: number } = {}): string {
  const columns = options.columns ?? 4;
  const [pw, ph] = [200, 150];
  const rows = Math.max(1, Math.ceil(curves.length / columns));
  const top = options.title ? 36 : 8;
  const width = columns * pw;
  const height = top + rows * ph;
  const f = (v: number) => v.toFixed(2);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="${width}" height="${height}" fill="white"/>`];
  if (options.title) out.push(`<text x="8" y="22" font-size="11">${escapeXml(options.title)}</text>`);
  curves.forEach((c, index) => {
    const [x0, y0] = [(index % columns) * pw, top + Math.floor(index / columns) * ph];
    const box = { left: x0 + 34, right: x0 + pw - 8, top: y0 + 30, bottom: y0 + ph - 18 };
    const [xMin, xMax] = [c.xs[0]!, c.xs[c.xs.length - 1]!];
    let [yMin, yMax] = [Math.min(...c.ys), Math.max(...c.ys)];
    if (!(yMax > yMin)) [yMin, yMax] = [yMin - 1, yMax + 1];
    const px = (x: number) => box.left + ((x - xMin) / (xMax - xMin)) * (box.right - box.left);
    const py = (y: number) => box.bottom - ((y - yMin) / (yMax - yMin)) * (box.bottom - box.top);
    const space = c.choice.spaces[0] ?? '?';
    const colour = SPACE_COLOURS[space] ?? '#333333';
    const weights = c.choice.weights.map((w, k) => `${c.choice.spaces[k]}${Number.isNaN(w) ? '' : ` ${w.toFixed(2)}`}`).join(' + ');
    out.push(`<g data-layer="${c.layer}" data-input="${c.input}" data-output="${c.output}" data-space="${escapeXml(space)}" ` +
      `data-box="${box.left} ${box.top} ${box.right} ${box.bottom}" data-x-range="${xMin} ${xMax}" data-y-range="${yMin} ${yMax}">`);
    out.push(`<text x="${x0 + 6}" y="${y0 + 12}" font-weight="bold" fill="${colour}">${escapeXml(`layer ${c.layer}, node ${c.input} -> ${c.output}`)}</text>`);
    out.push(`<text x="${x0 + 6}" y="${y0 + 24}" fill="${colour}">${escapeXml(weights)}</text>`);
    out.push(`<rect x="${box.left}" y="${box.top}" width="${box.right - box.left}" height="${box.bottom - box.top}" fill="none" stroke="#999"/>`);
    out.push(`<text x="${box.left - 3}" y="${f(box.top + 8)}" text-anchor="end">${Number(yMax.toPrecision(3))}</text>`);
    out.push(`<text x="${box.left - 3}" y="${f(box.bottom)}" text-anchor="end">${Number(yMin.toPrecision(3))}</text>`);
    out.push(`<text x="${box.left}" y="${box.bottom + 12}">${Number(xMin.toPrecision(3))}</text>`);
    out.push(`<text x="${box.right}" y="${box.bottom + 12}" text-anchor="end">${Number(xMax.toPrecision(3))}</text>`);
    const pointsText = Array.from(c.xs, (x, k) => `${f(px(x))},${f(py(c.ys[k]!))}`).join(' ');
    out.push(`<polyline points="${pointsText}" fill="none" stroke="${colour}" stroke-width="1.8"/>`);
    out.push('</g>');
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
