// Canvas drawing for the page: line charts, activation curves, function views
// and probability bars. Pure drawing: the numbers come from the worker.

export const COLORS = {
  ink: '#1f2933',
  muted: '#7b8794',
  grid: '#e4e7eb',
  learned: '#d64545',
  initial: '#9aa5b1',
  train: '#2680c2',
  test: '#e12d39',
  target: '#3e4c59',
  fitted: '#d64545',
  highlight: '#fff3c4',
} as const;

/** Sizes the canvas's backing store to its CSS size on this screen; returns the context in CSS pixels. */
export function prepare(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; width: number; height: number } {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  return abs >= 1e4 || abs < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

export interface Series {
  points: [number, number][];
  color: string;
  label: string;
  /** Dots instead of a line (e.g. one point per epoch). */
  dots?: boolean;
}

/** A chart of several series against a shared x axis, with ticks and a legend. */
export function drawChart(canvas: HTMLCanvasElement, series: Series[], options: { xLabel: string; yMin?: number; yMax?: number; empty?: string }): void {
  const { ctx, width, height } = prepare(canvas);
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const left = 44;
  const right = 10;
  const top = 22;
  const bottom = 26;
  ctx.font = '11px system-ui, sans-serif';
  if (all.length === 0) {
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(options.empty ?? 'no data yet', left, top + 20);
    return;
  }
  const xLow = Math.min(...all.map(([x]) => x));
  const xHigh = Math.max(xLow + 1, ...all.map(([x]) => x));
  // A little room at both ends, so end points (dots) show whole.
  const xMin = xLow - (xHigh - xLow) * 0.02;
  const xMax = xHigh + (xHigh - xLow) * 0.02;
  let yMin = options.yMin ?? Math.min(...all.map(([, y]) => y));
  let yMax = options.yMax ?? Math.max(...all.map(([, y]) => y));
  if (yMax - yMin < 1e-9) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (width - left - right);
  const py = (y: number) => top + (1 - (y - yMin) / (yMax - yMin)) * (height - top - bottom);
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.muted;
  ctx.lineWidth = 1;
  for (const t of niceTicks(yMin, yMax, 4)) {
    ctx.beginPath();
    ctx.moveTo(left, py(t));
    ctx.lineTo(width - right, py(t));
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText(formatTick(t), left - 4, py(t) + 4);
  }
  ctx.textAlign = 'center';
  for (const t of niceTicks(xLow, xHigh, 5)) ctx.fillText(formatTick(t), px(t), height - bottom + 14);
  ctx.fillText(options.xLabel, (left + width - right) / 2, height - 2);
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width - left - right, height - top - bottom);
  ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 1.5;
    if (s.dots) {
      for (const [x, y] of s.points) {
        ctx.beginPath();
        ctx.arc(px(x), py(y), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
      continue;
    }
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
    ctx.stroke();
  }
  ctx.restore();
  let legendX = left;
  ctx.textAlign = 'left';
  for (const s of series) {
    ctx.fillStyle = s.color;
    ctx.fillRect(legendX, 7, 10, 3);
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(s.label, legendX + 14, 12);
    legendX += ctx.measureText(s.label).width + 30;
  }
}

/** Exponential moving average of a series, bias-corrected so the first points are not pulled towards 0. */
export function smooth(points: [number, number][], weight = 0.9): [number, number][] {
  let average = 0;
  return points.map(([x, y], i) => {
    average = weight * average + (1 - weight) * y;
    return [x, average / (1 - weight ** (i + 1))];
  });
}

/**
 * A small plot of one activation: the learned curve (in `color`, red by
 * default) over the initial one when there is one, with the axes through 0.
 * Without an initial curve the y range is the learned curve's own (S-KAN nodes).
 */
export function drawActivation(canvas: HTMLCanvasElement, xs: Float64Array, learned: Float64Array, initial: Float64Array | null, selected: boolean,
  color: string = COLORS.learned): void {
  const { ctx, width, height } = prepare(canvas);
  if (selected) {
    ctx.fillStyle = COLORS.highlight;
    ctx.fillRect(0, 0, width, height);
  }
  const values = [...learned, ...(initial ?? [])].filter(Number.isFinite);
  let yMin: number;
  let yMax: number;
  if (initial) {
    yMin = Math.min(...values, -1);
    yMax = Math.max(...values, 1);
    // Keep a wild curve readable: clip to a range around the initial one.
    const limit = Math.max(4, ...initial.map(Math.abs)) * 2;
    yMin = Math.max(yMin, -limit);
    yMax = Math.min(yMax, limit);
  } else {
    yMin = Math.min(...values);
    yMax = Math.max(...values);
    const margin = (yMax - yMin) * 0.08 || 1;
    yMin -= margin;
    yMax += margin;
  }
  const pad = 4;
  const px = (x: number) => pad + ((x - xs[0]!) / (xs[xs.length - 1]! - xs[0]!)) * (width - 2 * pad);
  const py = (y: number) => pad + (1 - (y - yMin) / (yMax - yMin)) * (height - 2 * pad);
  ctx.strokeStyle = COLORS.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(px(0), pad);
  ctx.lineTo(px(0), height - pad);
  ctx.moveTo(pad, py(0));
  ctx.lineTo(width - pad, py(0));
  ctx.stroke();
  const curve = (ys: Float64Array, color: string, dash: number[], lineWidth: number) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.setLineDash(dash);
    ctx.beginPath();
    ys.forEach((y, i) => {
      const v = Math.min(Math.max(y, yMin - 1), yMax + 1);
      if (i === 0) ctx.moveTo(px(xs[i]!), py(v));
      else ctx.lineTo(px(xs[i]!), py(v));
    });
    ctx.stroke();
    ctx.setLineDash([]);
  };
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, width, height);
  ctx.clip();
  if (initial) curve(initial, COLORS.initial, [4, 3], 1.2);
  curve(learned, color, [], 1.8);
  ctx.restore();
}

/** Colour of v in [-1, 1] on a diverging blue-white-red scale. */
function diverging(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  const white = 247;
  if (t >= 0) return [white - t * (white - 178), white - t * (white - 24), white - t * (white - 43)];
  const s = -t;
  return [white - s * (white - 33), white - s * (white - 102), white - s * (white - 172)];
}

/** A function of (x, y) on a side x side grid (row = y, from -d at the bottom), coloured on a shared scale. */
export function drawHeatmap(canvas: HTMLCanvasElement, values: Float32Array, side: number, scale: number): void {
  const { ctx, width, height } = prepare(canvas);
  const image = ctx.createImageData(side, side);
  for (let row = 0; row < side; row++) {
    for (let col = 0; col < side; col++) {
      const [r, g, b] = diverging(values[row * side + col]! / scale);
      const at = 4 * ((side - 1 - row) * side + col);
      image.data[at] = r;
      image.data[at + 1] = g;
      image.data[at + 2] = b;
      image.data[at + 3] = 255;
    }
  }
  const scratch = document.createElement('canvas');
  scratch.width = side;
  scratch.height = side;
  scratch.getContext('2d')!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(scratch, 0, 0, width, height);
}

/** Probability bars for the ten digits, the most likely highlighted. */
export function drawBars(canvas: HTMLCanvasElement, probabilities: ArrayLike<number>): void {
  const { ctx, width, height } = prepare(canvas);
  const n = probabilities.length;
  let best = 0;
  for (let i = 1; i < n; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  const slot = width / n;
  const top = 16;
  const bottom = 16;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (let i = 0; i < n; i++) {
    const p = probabilities[i]!;
    const barHeight = p * (height - top - bottom);
    ctx.fillStyle = i === best ? COLORS.learned : COLORS.initial;
    ctx.fillRect(i * slot + 3, height - bottom - barHeight, slot - 6, barHeight);
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(String(i), i * slot + slot / 2, height - 3);
    if (p >= 0.01) ctx.fillText(`${Math.round(p * 100)}`, i * slot + slot / 2, height - bottom - barHeight - 3);
  }
}
