#!/usr/bin/env node
// S-KAN's function-fitting table: each of the seven `function:NAME` data sets
// fitted by a one-hidden-layer kan-mlp [d, h, 1] of every basis alone, by
// S-KAN layers choosing among all six spaces, and by an MLP (SiLU), each at
// the hidden width whose trained parameter count is closest to --budget.
// S-KAN runs at that width ("select", matched while training); with
// --pruned-match also at the width whose pruned model has about --budget
// parameters ("select, pruned ~ budget": the first width scaled by budget /
// its mean pruned count, so it is set by the first runs' choices, never by
// their errors). One `kat compare`
// per function (resumable: rerun to finish), then Markdown tables of test
// RMSE (mean ± std over seeds), parameters and the spaces S-KAN kept.
//
//   npm run build && node scripts/function-fitting.mjs [--budget 1000] [--epochs 100] [--seeds 3]
//       [--functions bessel,xy] [--out results/functions] [--pruned-match] [--table-only]

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FITTING_FUNCTIONS } from '../dist/data/functions.js';
import { readCheckpointFile } from '../dist/models/checkpoint_files.js';
import { countParameters, modelSpec } from '../dist/models/registry.js';
import { SELECT_SPACES } from '../dist/nn/select_kan.js';
import { formatMetricValue, parseCompareEntries, summariseRuns } from '../dist/train/compare.js';

const BASES = ['rational', 'bspline', 'rbf', 'cheby', 'relu', 'af'];
const MAX_WIDTH = 4096;

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '100' },
    seeds: { type: 'string', default: '3' },
    functions: { type: 'string', default: Object.keys(FITTING_FUNCTIONS).join(',') },
    out: { type: 'string', default: 'results/functions' },
    'pruned-match': { type: 'boolean', default: false },
    'table-only': { type: 'boolean', default: false },
  },
});
const MODELS = [...BASES, 'select', ...(values['pruned-match'] ? ['select-pruned'] : []), 'mlp'];
const budget = Number(values.budget);
const functions = values.functions.split(',');
for (const name of functions) {
  if (!Object.hasOwn(FITTING_FUNCTIONS, name)) throw new Error(`unknown function '${name}': expected some of ${Object.keys(FITTING_FUNCTIONS).join(', ')}`);
}

/** The trained parameters of kan-mlp [inputs, width, 1] with this basis (S-KAN: all six spaces, before pruning). */
function parameters(model, inputs, width) {
  const spec = modelSpec('kan-mlp', {
    classes: 1, channels: 1, imageSize: 1, hidden: [width], basis: model,
    ...(model === 'select' ? { select: { spaces: [...SELECT_SPACES], temperature: 1 } } : {}),
    ...(model === 'mlp' ? { activation: 'silu' } : {}),
  });
  spec.config.inputs = inputs;
  return countParameters(spec);
}

/** The width whose parameter count is closest to the budget (the smaller on a tie). */
function matchedWidth(model, inputs) {
  let best = { width: 1, params: parameters(model, inputs, 1) };
  for (let width = 2; width <= MAX_WIDTH; width++) {
    const params = parameters(model, inputs, width);
    if (Math.abs(params - budget) < Math.abs(best.params - budget)) best = { width, params };
    if (params > 2 * budget) break;
  }
  return best;
}

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FIRST_PASS = MODELS.filter((m) => m !== 'select-pruned');
const plans = functions.map((name) => {
  const inputs = FITTING_FUNCTIONS[name].inputs;
  const widths = Object.fromEntries(FIRST_PASS.map((m) => [m, matchedWidth(m, inputs)]));
  return { name, inputs, widths, dir: join(values.out, name) };
});

function finishedRuns(dir) {
  return existsSync(dir)
    ? readdirSync(dir).filter((d) => existsSync(join(dir, d, 'run.json'))).map((d) => JSON.parse(readFileSync(join(dir, d, 'run.json'), 'utf8')))
    : [];
}

/** The second S-KAN width: the first scaled by budget / the first runs' mean pruned count (undefined until they finished). */
function prunedMatchedWidth(plan) {
  const first = finishedRuns(plan.dir).filter((r) => r.entry === `kan-mlp:select@${plan.widths.select.width}` && r.prunedParams !== undefined);
  if (first.length === 0) return undefined;
  const pruned = first.reduce((t, r) => t + r.prunedParams, 0) / first.length;
  const width = Math.max(plan.widths.select.width + 1, Math.round((plan.widths.select.width * budget) / pruned));
  return { width, params: parameters('select', plan.inputs, width) };
}

const entriesOf = (plan) => MODELS.filter((m) => plan.widths[m]).map((m) => `kan-mlp:${m === 'select-pruned' ? 'select' : m}@${plan.widths[m].width}`);

function compare(plan) {
  const args = [main, 'compare', '--models', entriesOf(plan).join(','), '--dataset', `function:${plan.name}`, '--epochs', values.epochs,
    '--seeds', values.seeds, '--activation', 'silu', '--out', plan.dir,
    '--title', `function:${plan.name} = ${FITTING_FUNCTIONS[plan.name].formula}: test RMSE per epoch at ~${budget} parameters`];
  process.stderr.write(`\n== ${plan.name}: node dist/cli/main.js ${args.slice(1).map((a) => (/[ ,:=()]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

for (const plan of plans) {
  if (!values['table-only']) compare(plan);
  const wide = MODELS.includes('select-pruned') ? prunedMatchedWidth(plan) : undefined;
  if (wide) plan.widths['select-pruned'] = wide;
  if (wide && !values['table-only']) compare(plan);
}

/** Per layer, how many nodes kept each space, from a pruned S-KAN checkpoint. */
async function keptSpaces(file) {
  const { spec, model } = await readCheckpointFile(file);
  model.dispose();
  const { spaces, inputs } = spec.config.select;
  if (!inputs) return null;
  return inputs.map((layer) => Object.fromEntries(spaces.map((s, k) => [s, layer[k].length]).filter(([, n]) => n > 0)));
}

const cell = (row) => (row ? `${formatMetricValue('rmse', row.mean)} ± ${Number(row.std.toPrecision(2))}` : '–');
const rmseLines = [
  `| function | ${MODELS.map((m) => ({ select: '**select**', 'select-pruned': '**select, pruned ≈ budget**' })[m] ?? m).join(' | ')} | select vs the best single basis |`,
  `|---|${MODELS.map(() => '---:').join('|')}|---|`,
];
const paramLines = [`| function | ${MODELS.join(' | ')} |`, `|---|${MODELS.map(() => '---:').join('|')}|`];
const choiceLines = ['| function | h | seed | layer 0 (inputs) | layer 1 (hidden nodes) |', '|---|---:|---:|---|---|'];
const trainedMatched = { wins: 0, complete: 0 };
const prunedMatched = { wins: 0, complete: 0 };
for (const plan of plans) {
  const runs = finishedRuns(plan.dir);
  const byLabel = new Map(summariseRuns(parseCompareEntries(entriesOf(plan).join(',')), runs).map((r) => [r.label, r]));
  const rows = new Map(MODELS.filter((m) => plan.widths[m]).map((m, k) => [m, byLabel.get(entriesOf(plan)[k])]).filter(([, r]) => r));
  const single = BASES.map((b) => rows.get(b)).filter(Boolean).sort((a, b) => a.mean - b.mean)[0];
  const best = single?.label.slice('kan-mlp:'.length).split('@')[0];
  const versus = (row, counter) => {
    if (!single || !row || rows.size < BASES.length) return '–';
    counter.complete++;
    if (row.mean <= single.mean) counter.wins++;
    return `${row.mean <= single.mean ? '**at or below**' : 'above'} ${best} (x${(row.mean / single.mean).toFixed(2)})`;
  };
  const verdict = `${versus(rows.get('select'), trainedMatched)}${MODELS.includes('select-pruned') ? `; pruned ~ budget: ${versus(rows.get('select-pruned'), prunedMatched)}` : ''}`;
  const formula = FITTING_FUNCTIONS[plan.name].formula;
  rmseLines.push(`| ${plan.name}: ${formula} | ${MODELS.map((m) => cell(rows.get(m))).join(' | ')} | ${verdict} |`);
  paramLines.push(`| ${plan.name} (d = ${plan.inputs}) | ${MODELS.map((m) => {
    const w = plan.widths[m];
    if (!w) return '–';
    const pruned = rows.get(m)?.prunedParams;
    return `${w.params.toLocaleString('en-US')}${pruned === undefined ? '' : ` → ${pruned.toLocaleString('en-US')}`} (h ${w.width})`;
  }).join(' | ')} |`);
  for (const run of runs.filter((r) => r.entry.startsWith('kan-mlp:select@')).sort((a, b) => a.entry.localeCompare(b.entry) || a.seed - b.seed)) {
    const layers = existsSync(run.checkpoint) ? await keptSpaces(run.checkpoint) : null;
    if (!layers) continue;
    const text = (counts) => Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', ');
    choiceLines.push(`| ${plan.name} | ${run.entry.split('@')[1]} | ${run.seed} | ${text(layers[0])} | ${text(layers[1])} |`);
  }
}
console.log(`Test RMSE (final epoch, mean ± std over seeds), ${values.epochs} epochs, ~${budget} trained parameters each:\n`);
console.log(rmseLines.join('\n'));
console.log(`\nselect at or below the best single basis on ${trainedMatched.wins} of ${trainedMatched.complete} functions at matched trained parameters` +
  `${MODELS.includes('select-pruned') ? `, on ${prunedMatched.wins} of ${prunedMatched.complete} at matched pruned parameters` : ''}.`);
console.log('\nParameters trained (S-KAN: → after pruning, mean over seeds) and hidden width h:\n');
console.log(paramLines.join('\n'));
if (choiceLines.length > 2) {
  console.log('\nSpaces S-KAN kept (nodes per space):\n');
  console.log(choiceLines.join('\n'));
}
