// Curves over epochs (one colour per series, a shaded band for the spread
// over seeds), as an SVG string: what `kat compare` draws of test accuracy.
// Pure string building (browser-safe). The plot box and axis ranges are
// data-* attributes of the <svg>, so a reader can map drawn points back to values.

import { escapeXml } from '../util/text.js';

/** One curve of a line plot, with an optional band around it. */
export interface LineSeries {
  label: string;
  /** x values (epochs), ascending. */
  xs: number[];
  /** Mean y at each x. */
  ys: number[];
  /** Optional band around the mean at each x: [low, high] (e.g. min and max over seeds). */
  band?: [number, number][];
}

/** A line plot's title, axis labels, size and y range. */
export interface LinePlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** y range; default the data's, padded. */
  yRange?: [number, number];
}

// Colour-blind-safe categorical palette (Okabe-Ito, then darker extras).
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#8C564B', '#7F7F7F', '#BCBD22'];

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  return Number(value.toPrecision(6)).toString();
}

/** Renders the series as one SVG: axes, grid, a band per series, the mean curves with markers and a legend. */
export function renderLinePlot(series: readonly LineSeries[], options: LinePlotOptions = {}): string {
  // Room for the legend: about 7 px per character of the longest label.
  const legendWidth = 70 + 7 * Math.max(0, ...series.map((s) => s.label.length));
  const width = options.width ?? 540 + legendWidth;
  const legendRows = series.length;
  const height = options.height ?? Math.max(420, 120 + legendRows * 18);
  const box = { left: 70, top: options.title ? 44 : 20, right: width - legendWidth, bottom: height - 56 };
  const xs = series.flatMap((s) => s.xs);
  const ys = series.flatMap((s) => [...s.ys, ...(s.band ?? []).flat()]).filter((v) => Number.isFinite(v));
  if (xs.length === 0 || ys.length === 0) throw new Error('renderLinePlot: no finite points to draw');
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs) > xMin ? Math.max(...xs) : xMin + 1;
  let [yMin, yMax] = options.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!options.yRange) {
    const pad = (yMax - yMin) * 0.05 || Math.abs(yMax) * 0.05 || 1;
    yMin -= pad;
    yMax += pad;
  }
  const px = (x: number) => box.left + ((x - xMin) / (xMax - xMin)) * (box.right - box.left);
  const py = (y: number) => box.bottom - ((y - yMin) / (yMax - yMin)) * (box.bottom - box.top);
  const f = (v: number) => v.toFixed(2);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="sans-serif" font-size="12" data-box="${box.left} ${box.top} ${box.right} ${box.bottom}" ` +
    `data-x-range="${xMin} ${xMax}" data-y-range="${yMin} ${yMax}">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (options.title) out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`);
  for (const t of niceTicks(yMin, yMax)) {
    if (t < yMin || t > yMax) continue;
    out.push(`<line x1="${box.left}" x2="${box.right}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${box.left - 6}" y="${f(py(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  const xTicks = niceTicks(xMin, xMax, Math.min(10, Math.max(1, Math.round(xMax - xMin)))).filter((t) => Number.isInteger(t) || xMax - xMin < 5);
  for (const t of xTicks) {
    if (t < xMin || t > xMax) continue;
    out.push(`<line x1="${f(px(t))}" x2="${f(px(t))}" y1="${box.bottom}" y2="${box.bottom + 5}" stroke="#333"/>`);
    out.push(`<text x="${f(px(t))}" y="${box.bottom + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push(`<rect x="${box.left}" y="${box.top}" width="${box.right - box.left}" height="${box.bottom - box.top}" fill="none" stroke="#333"/>`);
  if (options.xLabel) out.push(`<text x="${(box.left + box.right) / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  if (options.yLabel) {
    out.push(`<text transform="translate(18 ${(box.top + box.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  }
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const points = s.xs.map((x, k) => [x, s.ys[k]!] as const).filter(([, y]) => Number.isFinite(y));
    out.push(`<g data-series="${escapeXml(s.label)}">`);
    if (s.band && s.band.length === s.xs.length) {
      const upper = s.xs.map((x, k) => `${f(px(x))},${f(py(s.band![k]![1]))}`);
      const lower = s.xs.map((x, k) => `${f(px(x))},${f(py(s.band![k]![0]))}`).reverse();
      out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${colour}" fill-opacity="0.15" stroke="none"/>`);
    }
    out.push(`<polyline points="${points.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const [x, y] of points) out.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="2.5" fill="${colour}"/>`);
    out.push('</g>');
    const ly = box.top + 10 + i * 18;
    out.push(`<line x1="${box.right + 16}" x2="${box.right + 40}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${box.right + 46}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
