// `kat formula --checkpoint F`: the exact P(x)/Q(x) of every learned
// activation and group (text and LaTeX), and the closest simple functions
// a f(b x + c) + d over the inputs that group actually saw.

import { groupCoefficients, rationalActivations, rationalFormula, evaluateRationalAt } from '../../viz/activations.js';
import { captureActivationTraffic, groupValues } from '../../viz/capture.js';
import { fitSymbolic } from '../../viz/symbolic.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, HEADS_FLAG, JSON_FLAG, MAX_MEMORY_SPEC } from '../common_flags.js';
import { CliError, flagTable, integerIn, type FlagValues } from '../flags.js';
import { ANALYSIS_DATA_FLAGS, integerFlag, loadAnalysisInputs } from './plot.js';

export const FORMULA_FLAGS = flagTable({
  checkpoint: { ...CHECKPOINT_FLAG, value: 'FILE' },
  ...ANALYSIS_DATA_FLAGS,
  digits: {
    type: integerIn(1, 21), value: 'N', help: 'significant digits of each coefficient (default: the shortest decimal that gives it back exactly)',
  },
  top: { type: integerIn(1, 100), value: 'N', default: 3, help: 'closest simple functions listed per group' },
  activation: { type: 'string', value: 'NAME', help: 'only this activation (e.g. layers.0.act; default all)' },
  backend: BACKEND_FLAG,
  json: { ...JSON_FLAG, help: 'one JSON object per activation group' },
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
  const inputs = await loadAnalysisInputs('formula', flags);
  const { model, spec, data } = inputs;
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
