// Activation plots checked against their data, not against pixel snapshots:
// the drawn curves map back (through each panel's stated box and ranges) to
// the GroupRational op's outputs, the histograms to the inputs each group
// saw, recomputed here from the raw images and the weights; the PNG has the
// SVG's size and the curve where the SVG puts it; `kat plot` end to end.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Resvg } from '@resvg/resvg-js';
import { syntheticSplit } from '../src/data/synthetic.js';
import { KanMlp } from '../src/models/kan_mlp.js';
import { tensor } from '../src/ops/creation.js';
import { Random } from '../src/tensor/random.js';
import { rationalActivations } from '../src/viz/activations.js';
import { captureActivationTraffic } from '../src/viz/capture.js';
import { svgToPng } from '../src/viz/png.js';
import { activationPanels, renderActivationSvg } from '../src/viz/svg_plot.js';
import { assertBadInputs, kat } from './support/cli.js';
import { rationalReference } from './support/harness.js';

interface ParsedPanel {
  attrs: Record<string, string>;
  learned: [number, number][];
  initial: [number, number][];
  bins: { count: number; lo: number; hi: number; y: number; height: number }[];
  histTop: number;
  histHeight: number;
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w-]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

const numbers = (text: string) => text.trim().split(/\s+/).map(Number);

function parsePanels(svg: string): ParsedPanel[] {
  return svg.split('<g class="panel"').slice(1).map((chunk) => {
    const attrs = attributes(chunk.slice(0, chunk.indexOf('>')));
    const points = (cls: string) => {
      const tag = new RegExp(`<polyline class="${cls}" points="([^"]*)"`).exec(chunk);
      assert.ok(tag, `no ${cls} polyline`);
      return tag[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    };
    const hist = /<g class="histogram" data-hist="([^"]*)"/.exec(chunk);
    const bins = [...chunk.matchAll(/<rect class="bin"[^>]*>/g)].map((m) => {
      const a = attributes(m[0]);
      const [lo, hi] = numbers(a['data-edges']!);
      return { count: Number(a['data-count']), lo: lo!, hi: hi!, y: Number(a.y), height: Number(a.height) };
    });
    const [histTop, histHeight] = hist ? numbers(hist[1]!) : [NaN, NaN];
    return { attrs, learned: points('learned'), initial: points('initial'), bins, histTop: histTop!, histHeight: histHeight! };
  });
}

/** A seeded KAN-MLP whose activations are far from their initial shapes. */
function randomisedModel(): KanMlp {
  const model = new KanMlp({ inputs: 16, hidden: [12], classes: 3, groups: 4, dropout: 0 }, 21);
  const rng = new Random(22);
  for (const [name, t] of model.namedParameters()) {
    if (name.includes('weight_numerator') || name.includes('weight_denominator')) {
      t.assignValues(Array.from({ length: t.size }, () => Math.fround(rng.normal() * 0.5)));
    }
  }
  return model;
}

const data = syntheticSplit({ channels: 1, height: 4, width: 4, classes: 3, seed: 4, trainCount: 40, testCount: 8 });

/** The inputs of layers.1.act for every training image, recomputed on the host from the raw images and weights. */
async function hiddenInputs(model: KanMlp): Promise<Float64Array> {
  const state = await model.stateDict();
  const a = state.get('layers.0.act.weight_numerator')!.values;
  const b = state.get('layers.0.act.weight_denominator')!.values;
  const w = state.get('layers.0.fc.weight')!.values;
  const bias = state.get('layers.0.fc.bias')!.values;
  const out = new Float64Array(data.train.count * 12);
  for (let n = 0; n < data.train.count; n++) {
    const acted = Array.from(data.train.images.subarray(n * 16, (n + 1) * 16), (x, c) => rationalReference(a, b.subarray(Math.floor(c / 4) * 4), x));
    for (let o = 0; o < 12; o++) {
      let s = bias[o]!;
      for (let c = 0; c < 16; c++) s += w[o * 16 + c]! * acted[c]!;
      out[n * 12 + o] = s;
    }
  }
  return out;
}

describe('activation plots', async () => {
  const model = randomisedModel();
  const activations = await rationalActivations(model);
  const traffic = await captureActivationTraffic(model, data.train, { images: 1000, batchSize: 16 });
  const panels = activationPanels(activations, traffic, { points: 81, bins: 12 });
  const svg = renderActivationSvg(panels, { title: 'test <&> plot' });
  const parsed = parsePanels(svg);

  it('one panel per activation and group, named, with the activation\'s mode', () => {
    assert.equal(parsed.length, 8);
    assert.deepEqual(parsed.map((p) => `${p.attrs['data-activation']}/${p.attrs['data-group']}/${p.attrs['data-mode']}`), [
      ...[0, 1, 2, 3].map((g) => `layers.0.act/${g}/identity`), ...[0, 1, 2, 3].map((g) => `layers.1.act/${g}/swish`),
    ]);
    assert.match(svg, /test &lt;&amp;&gt; plot/);
  });

  it('the learned polylines map back to the GroupRational op\'s outputs at those x', async () => {
    for (const panel of parsed) {
      const module = activations.find((a) => a.name === panel.attrs['data-activation'])!.module;
      const group = Number(panel.attrs['data-group']);
      const [left, top, width, height] = numbers(panel.attrs['data-plot']!) as [number, number, number, number];
      const [xMin, xMax] = numbers(panel.attrs['data-x-range']!) as [number, number];
      const [yMin, yMax] = numbers(panel.attrs['data-y-range']!) as [number, number];
      const xs = panel.learned.map(([px]) => xMin + ((px - left) / width) * (xMax - xMin));
      const channel = group * (module.channels / module.groups);
      const rows = xs.flatMap((x) => Array.from({ length: module.channels }, () => x));
      const y = module.forward(tensor(rows, [xs.length, module.channels]));
      const values = await y.data();
      y.dispose();
      panel.learned.forEach(([, py], i) => {
        const expected = top + (1 - (values[i * module.channels + channel]! - yMin) / (yMax - yMin)) * height;
        assert.ok(Math.abs(py - expected) <= 0.1, `${panel.attrs['data-activation']} g${group} point ${i}: drawn at y=${py}, the op gives ${expected}`);
      });
      // The initial curve is the mode's function (identity: y = x; swish within its 1.2e-6 fit).
      panel.initial.forEach(([px, py]) => {
        const x = xMin + ((px - left) / width) * (xMax - xMin);
        const target = module.mode === 'identity' ? x : x / (1 + Math.exp(-x));
        const expected = top + (1 - (target - yMin) / (yMax - yMin)) * height;
        assert.ok(Math.abs(py - expected) <= 0.1, `initial curve at x=${x}`);
      });
    }
  });

  it('layer 0 histograms count exactly the raw pixels of each group; bars are proportional to counts', () => {
    for (const panel of parsed.filter((p) => p.attrs['data-activation'] === 'layers.0.act')) {
      const group = Number(panel.attrs['data-group']);
      const values: number[] = [];
      for (let n = 0; n < data.train.count; n++) for (let c = group * 4; c < group * 4 + 4; c++) values.push(data.train.images[n * 16 + c]!);
      assert.equal(panel.bins[0]!.lo, Math.min(...values));
      assert.equal(panel.bins[panel.bins.length - 1]!.hi, Math.max(...values));
      const most = Math.max(...panel.bins.map((b) => b.count));
      panel.bins.forEach((bin, i) => {
        const last = i === panel.bins.length - 1;
        const expected = values.filter((v) => v >= bin.lo && (v < bin.hi || (last && v <= bin.hi))).length;
        assert.equal(bin.count, expected, `group ${group} bin ${i}`);
        assert.ok(Math.abs(bin.height - (bin.count / most) * panel.histHeight) <= 0.01);
        assert.ok(Math.abs(bin.y + bin.height - (panel.histTop + panel.histHeight)) <= 0.01, 'bars stand on the strip\'s base');
      });
      assert.equal(panel.bins.reduce((n, b) => n + b.count, 0), values.length);
    }
  });

  it('layer 1 histograms match its inputs recomputed from the images and the layer 0 weights', async () => {
    const inputs = await hiddenInputs(model);
    for (const panel of parsed.filter((p) => p.attrs['data-activation'] === 'layers.1.act')) {
      const group = Number(panel.attrs['data-group']);
      const values: number[] = [];
      for (let n = 0; n < data.train.count; n++) for (let c = group * 3; c < group * 3 + 3; c++) values.push(inputs[n * 12 + c]!);
      const [lo, hi] = [Math.min(...values), Math.max(...values)];
      const scale = Math.max(1, Math.abs(lo), Math.abs(hi));
      assert.ok(Math.abs(panel.bins[0]!.lo - lo) <= 1e-5 * scale && Math.abs(panel.bins.at(-1)!.hi - hi) <= 1e-5 * scale, 'range of inputs seen');
      assert.equal(panel.bins.reduce((n, b) => n + b.count, 0), values.length);
      panel.bins.forEach((bin, i) => {
        // float32 (model) vs float64 (here): a value on an edge may land in the neighbouring bin.
        const expected = values.filter((v) => v >= bin.lo && v < bin.hi).length;
        assert.ok(Math.abs(bin.count - expected) <= 1, `group ${group} bin ${i}: ${bin.count} vs ${expected}`);
      });
    }
  });

  it('without data the panels span the default range and have no histogram', () => {
    const plain = activationPanels(activations, null, { points: 5 });
    assert.ok(plain.every((p) => p.xMin === -3 && p.xMax === 3 && p.histogram === null && p.seen === null));
    assert.doesNotMatch(renderActivationSvg(plain), /class="bin"/);
  });

  it('PNG: the SVG\'s size times the scale, and the learned curve drawn where the SVG says', async () => {
    const { png, width, height } = await svgToPng(svg, { scale: 2 });
    const svgSize = numbers(/viewBox="([^"]*)"/.exec(svg)![1]!);
    assert.deepEqual([width, height], [svgSize[2]! * 2, svgSize[3]! * 2]);
    assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10]);
    const view = new DataView(png.buffer, png.byteOffset);
    assert.deepEqual([view.getUint32(16), view.getUint32(20)], [width, height]);
    // Raw pixels at scale 1: near every 10th learned point there is the curve's blue.
    const image = new Resvg(svg).render();
    const pixels = image.pixels;
    let found = 0;
    let tried = 0;
    for (const panel of parsed) {
      for (const [px, py] of panel.learned.filter((_, i) => i % 10 === 5)) {
        tried++;
        let blue = false;
        for (let dy = -1; dy <= 1 && !blue; dy++) {
          for (let dx = -1; dx <= 1 && !blue; dx++) {
            const k = (Math.round(py) + dy) * image.width + Math.round(px) + dx;
            const [r, g, b] = [pixels[4 * k]!, pixels[4 * k + 1]!, pixels[4 * k + 2]!];
            blue = b > 150 && b > r + 60 && b > g + 30;
          }
        }
        if (blue) found++;
      }
    }
    assert.ok(found >= tried * 0.9, `curve colour found at ${found} of ${tried} learned points`);
    await assert.rejects(svgToPng(svg, { scale: 0 }), /scale must be in/);
  });

  it('bad input: captured data of another width, a bad histogram', async () => {
    const wrong = new Map(traffic);
    wrong.set('layers.1.act', { ...traffic.get('layers.1.act')!, channels: 5 });
    assert.throws(() => activationPanels(activations, wrong), /captured data has 5 channels, the activation has 12/);
    const { histogram } = await import('../src/viz/svg_plot.js');
    assert.throws(() => histogram([1, 2], 0, 1, 0), /bins must be a positive integer/);
    assert.deepEqual(Array.from(histogram([0, 0.5, 1, 2, NaN], 0, 1, 2).counts), [1, 2]);
  });
});

// ---------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'kat-plot-'));

describe('kat plot', () => {
  const checkpoint = join(dir, 'mlp.safetensors');

  it('plots a checkpoint trained by kat train, as SVG and as PNG', () => {
    const trained = kat('train', '--model', 'kan-mlp', '--dataset', 'synthetic:1x8x8:4:64', '--epochs', '1', '--batch-size', '16',
      '--backend', 'cpu', '--out', checkpoint, '--json');
    assert.equal(trained.code, 0, trained.stderr);
    const svgPath = join(dir, 'acts.svg');
    const run = kat('plot', '--checkpoint', checkpoint, '--out', svgPath, '--images', '32', '--backend', 'cpu', '--json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    // kan-mlp's three activations (64, 256 and 128 channels) have 8 groups each.
    assert.deepEqual([report.activations, report.panels, report.images], [3, 24, 32]);
    const panels = parsePanels(readFileSync(svgPath, 'utf8'));
    assert.equal(panels.length, 24);
    for (const panel of panels) assert.equal(panel.bins.reduce((n, b) => n + b.count, 0), panel.attrs['data-activation'] === 'layers.0.act' ? 32 * 8 : 32 * (panel.attrs['data-activation'] === 'layers.1.act' ? 32 : 16));
    const pngPath = join(dir, 'acts.png');
    const png = kat('plot', '--checkpoint', checkpoint, '--out', pngPath, '--images', '16', '--scale', '1', '--backend', 'cpu');
    assert.equal(png.code, 0, png.stderr);
    assert.match(png.stdout, /wrote .*acts\.png: 24 panels/);
    assert.deepEqual(Array.from(readFileSync(pngPath).subarray(1, 4)), [80, 78, 71]);
  });

  it('bad input: one clear error line, non-zero exit, nothing written', () => {
    const existing = join(dir, 'keep.svg');
    writeFileSync(existing, 'previous');
    const cases: [string[], RegExp][] = [
      [['plot', '--checkpoint', checkpoint], /plot: --out FILE.svg or FILE.png is required/],
      [['plot', '--checkpoint', checkpoint, '--out', join(dir, 'x.jpg')], /--out '.*x\.jpg' must end in \.svg or \.png/],
      [['plot', '--out', existing], /plot: --checkpoint FILE is required/],
      [['plot', '--checkpoint', join(dir, 'missing.safetensors'), '--out', existing], /checkpoint '.*missing.safetensors' does not exist/],
      [['plot', '--checkpoint', checkpoint, '--out', existing, '--dataset', 'synthetic:3x8x8:4:16'], /holds kan-mlp for 4 classes of 64-value inputs, but synthetic:3x8x8:4:16 has/],
      [['plot', '--checkpoint', checkpoint, '--out', existing, '--images', '0'], /--images must be a positive integer in \[1, 4096\], got 0/],
    ];
    assertBadInputs(cases);
    assert.equal(readFileSync(existing, 'utf8'), 'previous');
    assert.ok(!existsSync(join(dir, 'x.jpg')));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });
});
