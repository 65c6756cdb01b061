// `kat formula --checkpoint F`: the exact P(x)/Q(x) of every learned
// activation and group (text and LaTeX), and the closest simple functions
// a f(b x + c) + d over the inputs that group actually saw. For S-KAN
// (kan-mlp, basis 'select'): per layer, the strongest input nodes' spaces and
// their strongest edge's function phi_ij written out (viz/select_formula.ts),
// with the closest simple functions over the inputs that node saw.

import { copyImages, type ImageDataset } from '../../data/dataset.js';
import { KanMlp } from '../../models/kan_mlp.js';
import type { SelectKanLayer } from '../../nn/select_kan.js';
import { tensor } from '../../ops/creation.js';
import { describeChoices } from '../../train/select_phases.js';
import { readSelectLayer, selectEdgeFormula } from '../../viz/select_formula.js';
import { layerInputRanges, selectNodeCurves, type NodeCurve } from '../../viz/select_plot.js';
import { groupCoefficients, rationalActivations, rationalFormula, evaluateRationalAt } from '../../viz/activations.js';
import { captureActivationTraffic, groupValues } from '../../viz/capture.js';
import { fitSymbolic } from '../../viz/symbolic.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC } from '../common_flags.js';
import { CliError, flagTable, integerIn, parseDecimal, type FlagValues } from '../flags.js';
import { ANALYSIS_DATA_FLAGS, integerFlag, loadAnalysisInputs, type AnalysisInputs } from './plot.js';

/** S-KAN: input nodes written out per layer unless --nodes says otherwise. */
export const SELECT_NODES = 8;

export const FORMULA_FLAGS = flagTable({
  checkpoint: { ...CHECKPOINT_FLAG, value: 'FILE' },
  ...ANALYSIS_DATA_FLAGS,
  digits: {
    type: integerIn(1, 21), value: 'N', help: 'significant digits of each coefficient (default: the shortest decimal that gives it back exactly)',
  },
  top: { type: integerIn(1, 100), value: 'N', default: 3, help: 'closest simple functions listed per group (S-KAN: per node)' },
  activation: { type: 'string', value: 'NAME', help: 'only this activation (e.g. layers.0.act; S-KAN: a layer, e.g. layers.1; default all)' },
  nodes: {
    type: 'string', value: 'N|all', default: String(SELECT_NODES),
    help: 'S-KAN: the input nodes written out per layer, strongest first (largest range of their strongest edge over the inputs seen); all: every node',
  },
  backend: BACKEND_FLAG,
  json: { ...JSON_FLAG, help: 'one JSON object per activation group (S-KAN: per node)' },
  heads: HEADS_FLAG,
  'max-memory': MAX_MEMORY_SPEC,
});

/** The q-quantile of sorted finite values (nearest rank). */
function quantile(sorted: Float32Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

/** The central 99% of the inputs (a few outliers should not decide the fit); [-3, 3] without data. */
export function fitRange(values: Float32Array): [number, number] {
  const finite = values.filter(Number.isFinite).sort();
  if (finite.length === 0) return [-3, 3];
  let lo = quantile(finite, 0.005);
  let hi = quantile(finite, 0.995);
  if (!(hi - lo > 1e-6)) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

export async function runFormula(flags: FlagValues): Promise<void> {
  const digitsFlag = flags.digits as number | undefined;
  const digits = digitsFlag === undefined ? undefined : integerFlag('formula', flags, 'digits', 6);
  if (digits !== undefined && digits > 21) throw new CliError(`formula: --digits must be at most 21, got ${digits}`);
  const top = integerFlag('formula', flags, 'top', FORMULA_FLAGS.top.default);
  const only = flags.activation as string | undefined;
  const nodes = nodesFlag(flags.nodes as string | undefined);
  const inputs = await loadAnalysisInputs('formula', flags);
  const { model, spec, data } = inputs;
  if (model instanceof KanMlp && model.basis === 'select') {
    await runSelectFormula(flags, inputs, model, { digits, top, nodes });
    return;
  }
  if (flags.nodes !== undefined) {
    throw new CliError(`formula: --nodes applies to S-KAN checkpoints (kan-mlp --basis select); ${spec.name} in '${inputs.path}' is not one`);
  }
  let activations = await rationalActivations(model);
  if (activations.length === 0) throw new CliError(`formula: ${spec.name} in '${inputs.path}' has no group-rational activation`);
  if (only !== undefined) {
    const names = activations.map((a) => a.name);
    activations = activations.filter((a) => a.name === only);
    if (activations.length === 0) throw new CliError(`formula: no activation '${only}' in ${spec.name}: expected one of ${names.join(', ')}`);
  }
  const traffic = await captureActivationTraffic(model, data.train, { images: inputs.images });
  const lines: string[] = [];
  for (const act of activations) {
    const seen = traffic.get(act.name)!;
    for (let group = 0; group < act.groups; group++) {
      const { numerator, denominator } = groupCoefficients(act, group);
      const formula = rationalFormula(numerator, denominator, digits === undefined ? {} : { digits });
      const [lo, hi] = fitRange(groupValues(seen.inputs, act.channels, act.groups, group));
      const xs = Float64Array.from({ length: 201 }, (_, i) => lo + ((hi - lo) * i) / 200);
      const fits = fitSymbolic(xs, evaluateRationalAt(numerator, denominator, xs)).slice(0, top);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({
          event: 'formula', activation: act.name, group, mode: act.mode, numerator: Array.from(numerator), denominator: Array.from(denominator),
          text: formula.text, latex: formula.latex, fit_range: [lo, hi], closest: fits,
        })}\n`);
        continue;
      }
      lines.push(`${act.name} group ${group} (initial ${act.mode}; 99% of its inputs in [${lo.toPrecision(3)}, ${hi.toPrecision(3)}])`);
      lines.push(`  F(x)  = ${formula.text}`);
      lines.push(`  LaTeX : ${formula.latex}`);
      fits.forEach((fit, i) => {
        lines.push(`  ${i === 0 ? 'closest' : '       '} ${fit.name.padEnd(8)} R^2 ${fit.r2.toFixed(6)}  ${fit.text}`);
      });
    }
  }
  if (!flags.json) {
    process.stdout.write(`${spec.name} (${inputs.path}): ${activations.length} activations; fits over inputs from ${inputs.images} images ` +
      `of ${data.train.name}\n\n${lines.join('\n')}\n`);
  }
}

/** --nodes: a positive integer or 'all' (Infinity). */
function nodesFlag(value: string | undefined): number {
  if (value === undefined) return SELECT_NODES;
  if (value === 'all') return Infinity;
  const n = parseDecimal(value);
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw new CliError(`formula: --nodes must be a positive integer in [1, 1,000,000] or 'all', got '${value}'`);
  }
  return n;
}

/** Short form of a number for the text report (3 significant digits). */
function short(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** S-KAN: each layer's strongest nodes, their spaces and their strongest edge written out, with the closest simple functions. */
async function runSelectFormula(flags: FlagValues, inputs: AnalysisInputs, model: KanMlp, options: { digits: number | undefined; top: number; nodes: number }):
  Promise<void> {
  const { spec, data } = inputs;
  const names = model.layers.map((_, l) => `layers.${l}`);
  const only = flags.activation as string | undefined;
  if (only !== undefined && !names.includes(only)) {
    throw new CliError(`formula: no layer '${only}' in ${spec.name} (S-KAN): expected one of ${names.join(', ')}`);
  }
  model.eval();
  const sample = tensor(copyImages(data.train as ImageDataset, 0, inputs.images), [inputs.images, data.train.channels, data.train.height, data.train.width]);
  const ranges = await layerInputRanges(model, sample);
  sample.dispose();
  // Every node's curve (the layer's own phi_ij - phi_ij(0) of its strongest edge), then the strongest per layer.
  const curves = await selectNodeCurves(model, ranges, { perSpace: Infinity, points: 201 });
  const amplitude = (c: NodeCurve) => Math.max(...c.ys) - Math.min(...c.ys);
  const formulaOptions = options.digits === undefined ? {} : { digits: options.digits };
  const exact = (v: number) => String(options.digits === undefined ? v : Number(v.toPrecision(options.digits)));
  const lines: string[] = [];
  let written = 0;
  for (const [l, layer] of model.layers.entries()) {
    if (only !== undefined && names[l] !== only) continue;
    const values = await readSelectLayer(layer as SelectKanLayer);
    const nodes = curves.filter((c) => c.layer === l).sort((a, b) => amplitude(b) - amplitude(a) || a.input - b.input);
    const shown = nodes.slice(0, Math.min(nodes.length, options.nodes));
    if (!flags.json) {
      const counts = describeChoices([nodes.map((c) => c.choice)])[0]!.replace(/^layer 0: /, '');
      lines.push(`${names[l]}: ${values.inFeatures} input${values.inFeatures === 1 ? '' : 's'} -> ${values.outFeatures} output${values.outFeatures === 1 ? '' : 's'}, ${values.pruned ? 'pruned' : 'not pruned'}; ` +
        `nodes per space: ${counts}; the strongest ${shown.length} of ${nodes.length} nodes:`, '');
    }
    for (const curve of shown) {
      const formula = selectEdgeFormula(values, curve.input, curve.output, formulaOptions);
      const fitRange: [number, number] = [curve.xs[0]!, curve.xs[curve.xs.length - 1]!];
      const fits = fitSymbolic(curve.xs, curve.ys).slice(0, options.top);
      written++;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({
          event: 'formula', layer: names[l], input: curve.input, output: curve.output, pruned: values.pruned,
          spaces: formula.terms.map((t) => t.space), alpha: values.pruned ? null : formula.terms.map((t) => t.alpha),
          text: formula.text, latex: formula.latex, terms: formula.terms, range: amplitude(curve), fit_range: fitRange, closest: fits,
        })}\n`);
        continue;
      }
      const kept = formula.terms.map((t) => (t.alpha === null ? t.space : `${t.space} ${t.alpha.toFixed(3)}`)).join(', ');
      lines.push(`${names[l]} node ${curve.input} -> ${curve.output}: ${kept} (98% of its inputs in [${short(fitRange[0])}, ${short(fitRange[1])}]; ` +
        `phi varies by ${short(amplitude(curve))})`);
      for (const term of formula.terms) {
        lines.push(`  ${term.space.padEnd(8)} ${term.text}`);
        const more = '           ';
        if (term.space === 'bspline') {
          lines.push(`${more}B_k: cubic B-splines on the knots ${term.knots!.map(exact).join(', ')}; sum c_k B_k(x) on the intervals the inputs reach:`);
          for (const piece of term.pieces!) {
            if (piece.to <= fitRange[0] || piece.from >= fitRange[1]) continue;
            lines.push(`${more}  [${exact(piece.from)}, ${exact(piece.to)}): ${piece.text}`);
          }
        } else if (term.space === 'cheby') lines.push(`${more}= ${term.expanded}`);
      }
      if (formula.terms.length > 1) lines.push(`  phi(x)   = ${formula.text}`);
      lines.push(`  LaTeX  : ${formula.latex}`);
      fits.forEach((fit, i) => {
        lines.push(`  ${i === 0 ? 'closest' : '       '}  ${fit.name.padEnd(8)} R^2 ${fit.r2.toFixed(6)}  ${fit.text}`);
      });
      lines.push('');
    }
  }
  if (!flags.json) {
    process.stdout.write(`${spec.name} (${inputs.path}): S-KAN, ${model.layers.length} layers; ${written} node${written === 1 ? '' : 's'}, each as its strongest edge's ` +
      `phi(x) (alpha folded in, the output's bias left out); fits over the inputs from ${inputs.images} rows of ${data.train.name}\n\n${lines.join('\n')}`);
  }
}
