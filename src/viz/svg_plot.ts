// A grid of small plots, one per activation (row) and group (column): the
// learned curve over the curve it started from, and underneath the histogram
// of the inputs it saw. Pure string building (browser-safe). Each panel's <g>
// carries its plot box and axis ranges as data-* attributes, so a reader (or a
// test) can map drawn coordinates back to values.

import { groupCoefficients, evaluateRationalAt, type RationalActivation } from './activations.js';
import { rationalCoefficients } from '../nn/rational_init.js';
import { groupValues, type ActivationTraffic } from './capture.js';
import { escapeXml } from '../util/text.js';

/** Counts of values in equal bins over a range. */
export interface Histogram {
  /** bins + 1 equally spaced edges; bin i holds lo <= v < hi (the last bin includes its upper edge). */
  edges: Float64Array;
  counts: Uint32Array;
}

/** One plot panel: an activation group's curve, initial curve and input histogram. */
export interface ActivationPanel {
  name: string;
  group: number;
  mode: string;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  xs: Float64Array;
  learned: Float64Array;
  initial: Float64Array;
  /** Inputs seen by this group's channels (null without data). */
  histogram: Histogram | null;
  /** Smallest and largest input seen (null without data). */
  seen: [number, number] | null;
}

/** Options of activationPanels(): points, bins, range. */
export interface PanelOptions {
  /** Curve samples per panel (default 121). */
  points?: number;
  /** Histogram bins (default 30). */
  bins?: number;
  /** x range when there is no data (default [-3, 3]). */
  defaultRange?: [number, number];
}

/** Equally spaced bins over [lo, hi] of the finite values. */
export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogram: bins must be a positive integer, got ${bins}`);
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) throw new Error(`histogram: need finite lo <= hi, got [${lo}, ${hi}]`);
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i <= bins; i++) edges[i] = i === bins ? hi : lo + ((hi - lo) * i) / bins;
  const counts = new Uint32Array(bins);
  const width = hi - lo;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= lo && v <= hi)) continue;
    const bin = width > 0 ? Math.min(bins - 1, Math.floor(((v - lo) / width) * bins)) : 0;
    counts[bin]!++;
  }
  return { edges, counts };
}

function finiteRange(values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** A range padded by `fraction` of its width on each side; a (near) empty one is widened to +-0.5 around its centre. */
function padded([lo, hi]: [number, number], fraction: number): [number, number] {
  const span = hi - lo;
  if (!(span > 1e-9 * Math.max(1, Math.abs(lo), Math.abs(hi)))) return [lo - 0.5, hi + 0.5];
  return [lo - span * fraction, hi + span * fraction];
}

/** One panel per activation and group, over the range of inputs that group saw (or the default range). */
export function activationPanels(activations: readonly RationalActivation[], traffic: ReadonlyMap<string, ActivationTraffic> | null,
  options: PanelOptions = {}): ActivationPanel[] {
  const points = options.points ?? 121;
  const bins = options.bins ?? 30;
  const fallback = options.defaultRange ?? [-3, 3];
  if (!Number.isInteger(points) || points < 2) throw new Error(`activationPanels: points must be an integer >= 2, got ${points}`);
  const panels: ActivationPanel[] = [];
  for (const act of activations) {
    const seenData = traffic?.get(act.name);
    if (seenData && seenData.channels !== act.channels) {
      throw new Error(`activation '${act.name}': captured data has ${seenData.channels} channels, the activation has ${act.channels}`);
    }
    const init = rationalCoefficients(act.mode);
    for (let group = 0; group < act.groups; group++) {
      const values = seenData ? groupValues(seenData.inputs, act.channels, act.groups, group) : null;
      const seen = values ? finiteRange(values) : null;
      const [xMin, xMax] = seen ? padded(seen, 0.05) : fallback;
      const xs = new Float64Array(points);
      for (let i = 0; i < points; i++) xs[i] = i === points - 1 ? xMax : xMin + ((xMax - xMin) * i) / (points - 1);
      const { numerator, denominator } = groupCoefficients(act, group);
      const learned = evaluateRationalAt(numerator, denominator, xs);
      const initial = evaluateRationalAt(init.numerator, init.denominator, xs);
      const yRange = finiteRange([...learned, ...initial]) ?? [-1, 1];
      const [yMin, yMax] = padded(yRange, 0.05);
      panels.push({
        name: act.name, group, mode: act.mode, xMin, xMax, yMin, yMax, xs, learned, initial,
        histogram: values && seen ? histogram(values, seen[0], seen[1], bins) : null, seen,
      });
    }
  }
  return panels;
}

/** Options of renderActivationSvg(): title and panel size. */
export interface SvgOptions {
  title?: string;
  /** Panel size in px (default 170 x 130). */
  panelWidth?: number;
  panelHeight?: number;
}

const COLORS = { learned: '#1f5fbf', initial: '#9a9a9a', histogram: '#f0b36a', axis: '#cccccc', text: '#333333', frame: '#e2e2e2' };
const FONT = "font-family=\"DejaVu Sans, Liberation Sans, Arial, sans-serif\"";

/** Compact number label: 3 significant digits, no trailing noise. */
function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/** Panels laid out with one row per activation name and one column per group. */
export function renderActivationSvg(panels: readonly ActivationPanel[], options: SvgOptions = {}): string {
  const panelWidth = options.panelWidth ?? 170;
  const panelHeight = options.panelHeight ?? 130;
  const rows = [...new Set(panels.map((p) => p.name))];
  const columns = Math.max(1, ...panels.map((p) => p.group + 1));
  const header = 44;
  const width = columns * panelWidth + 10;
  const height = header + rows.length * panelHeight + 10;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="8" y="18" font-size="13" fill="${COLORS.text}">${escapeXml(options.title ?? 'learned group-rational activations')}</text>`);
  // Legend.
  out.push(`<line x1="8" y1="32" x2="28" y2="32" stroke="${COLORS.learned}" stroke-width="2"/>`);
  out.push(`<text x="32" y="35" font-size="10" fill="${COLORS.text}">learned</text>`);
  out.push(`<line x1="80" y1="32" x2="100" y2="32" stroke="${COLORS.initial}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
  out.push(`<text x="104" y="35" font-size="10" fill="${COLORS.text}">initial</text>`);
  out.push(`<rect x="146" y="27" width="12" height="9" fill="${COLORS.histogram}"/>`);
  out.push(`<text x="162" y="35" font-size="10" fill="${COLORS.text}">inputs seen (histogram)</text>`);
  for (const panel of panels) {
    const row = rows.indexOf(panel.name);
    out.push(renderPanel(panel, 5 + panel.group * panelWidth, header + row * panelHeight, panelWidth, panelHeight));
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function renderPanel(panel: ActivationPanel, x0: number, y0: number, w: number, h: number): string {
  const left = x0 + 30;
  const top = y0 + 16;
  const plotWidth = w - 38;
  const plotHeight = h - 52;
  const histTop = top + plotHeight + 4;
  const histHeight = 16;
  const px = (x: number) => left + ((x - panel.xMin) / (panel.xMax - panel.xMin)) * plotWidth;
  const py = (y: number) => top + (1 - (y - panel.yMin) / (panel.yMax - panel.yMin)) * plotHeight;
  const polyline = (ys: Float64Array) => Array.from(panel.xs, (x, i) => `${px(x).toFixed(2)},${py(ys[i]!).toFixed(2)}`).join(' ');
  const parts: string[] = [];
  parts.push(`<g class="panel" data-activation="${escapeXml(panel.name)}" data-group="${panel.group}" data-mode="${escapeXml(panel.mode)}" ` +
    `data-plot="${left} ${top} ${plotWidth} ${plotHeight}" data-x-range="${panel.xMin} ${panel.xMax}" data-y-range="${panel.yMin} ${panel.yMax}">`);
  parts.push(`<text x="${x0 + 4}" y="${y0 + 11}" font-size="9" fill="${COLORS.text}">${escapeXml(`${panel.name} g${panel.group}`)}</text>`);
  parts.push(`<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="${COLORS.frame}"/>`);
  if (panel.xMin < 0 && panel.xMax > 0) {
    parts.push(`<line x1="${px(0).toFixed(2)}" y1="${top}" x2="${px(0).toFixed(2)}" y2="${top + plotHeight}" stroke="${COLORS.axis}"/>`);
  }
  if (panel.yMin < 0 && panel.yMax > 0) {
    parts.push(`<line x1="${left}" y1="${py(0).toFixed(2)}" x2="${left + plotWidth}" y2="${py(0).toFixed(2)}" stroke="${COLORS.axis}"/>`);
  }
  parts.push(`<polyline class="initial" points="${polyline(panel.initial)}" fill="none" stroke="${COLORS.initial}" stroke-width="1.2" stroke-dasharray="4 3"/>`);
  parts.push(`<polyline class="learned" points="${polyline(panel.learned)}" fill="none" stroke="${COLORS.learned}" stroke-width="1.6"/>`);
  // y labels at the plot's top and bottom, x labels under the histogram.
  parts.push(`<text x="${left - 2}" y="${top + 7}" font-size="7" text-anchor="end" fill="${COLORS.text}">${label(panel.yMax)}</text>`);
  parts.push(`<text x="${left - 2}" y="${top + plotHeight}" font-size="7" text-anchor="end" fill="${COLORS.text}">${label(panel.yMin)}</text>`);
  parts.push(`<text x="${left}" y="${histTop + histHeight + 9}" font-size="7" fill="${COLORS.text}">${label(panel.xMin)}</text>`);
  parts.push(`<text x="${left + plotWidth}" y="${histTop + histHeight + 9}" font-size="7" text-anchor="end" fill="${COLORS.text}">${label(panel.xMax)}</text>`);
  if (panel.histogram) {
    const { edges, counts } = panel.histogram;
    const most = Math.max(1, ...counts);
    parts.push(`<g class="histogram" data-hist="${histTop} ${histHeight}">`);
    for (let i = 0; i < counts.length; i++) {
      const barHeight = (counts[i]! / most) * histHeight;
      const xa = px(edges[i]!);
      const xb = px(edges[i + 1]!);
      parts.push(`<rect class="bin" data-count="${counts[i]}" data-edges="${edges[i]} ${edges[i + 1]}" x="${xa.toFixed(2)}" ` +
        `y="${(histTop + histHeight - barHeight).toFixed(2)}" width="${Math.max(0, xb - xa).toFixed(2)}" height="${barHeight.toFixed(2)}" fill="${COLORS.histogram}"/>`);
    }
    parts.push('</g>');
  }
  parts.push('</g>');
  return parts.join('\n');
}
