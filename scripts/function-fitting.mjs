#!/usr/bin/env node
// S-KAN's function-fitting table: each of the seven `function:NAME` data sets
// fitted by a one-hidden-layer kan-mlp [d, h, 1] of every basis alone, by
// S-KAN layers choosing among all six spaces, and by an MLP, each at the
// hidden width whose trained parameter count is closest to --budget. One
// `kat compare` per function (resumable: rerun to finish), then Markdown
// tables of test RMSE (mean ± std over seeds), parameters and the spaces S-KAN kept.
//
//   npm run build && node scripts/function-fitting.mjs [--budget 1000] [--epochs 100] [--seeds 3]
//       [--functions bessel,xy] [--out results/functions] [--table-only]

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
const MODELS = [...BASES, 'select', 'mlp'];
const MAX_WIDTH = 4096;

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '100' },
    seeds: { type: 'string', default: '3' },
    functions: { type: 'string', default: Object.keys(FITTING_FUNCTIONS).join(',') },
    out: { type: 'string', default: 'results/functions' },
    'table-only': { type: 'boolean', default: false },
  },
});
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
const plans = functions.map((name) => {
  const inputs = FITTING_FUNCTIONS[name].inputs;
  const widths = Object.fromEntries(MODELS.map((m) => [m, matchedWidth(m, inputs)]));
  const entries = MODELS.map((m) => `kan-mlp:${m}@${widths[m].width}`);
  return { name, inputs, widths, entries, dir: join(values.out, name) };
});

if (!values['table-only']) {
  for (const plan of plans) {
    const args = [main, 'compare', '--models', plan.entries.join(','), '--dataset', `function:${plan.name}`, '--epochs', values.epochs,
      '--seeds', values.seeds, '--activation', 'silu', '--out', plan.dir,
      '--title', `function:${plan.name} = ${FITTING_FUNCTIONS[plan.name].formula}: test RMSE per epoch at ~${budget} parameters`];
    process.stderr.write(`\n== ${plan.name}: node dist/cli/main.js ${args.slice(1).map((a) => (/[ ,:=(]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
    const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
}

/** Per layer, how many nodes kept each space, from a pruned S-KAN checkpoint. */
async function keptSpaces(file) {
  const { spec, model } = await readCheckpointFile(file);
  model.dispose();
  const { spaces, inputs } = spec.config.select;
  if (!inputs) return null;
  return inputs.map((layer) => Object.fromEntries(spaces.map((s, k) => [s, layer[k].length]).filter(([, n]) => n > 0)));
}

const cell = (row) => (row ? `${formatMetricValue('rmse', row.mean)} ± ${formatMetricValue('rmse', row.std)}` : '–');
const rmseLines = [
  `| function | ${MODELS.map((m) => (m === 'select' ? '**select**' : m)).join(' | ')} | select vs best single |`,
  `|---|${MODELS.map(() => '---:').join('|')}|---|`,
];
const paramLines = [`| function | ${MODELS.join(' | ')} |`, `|---|${MODELS.map(() => '---:').join('|')}|`];
const choiceLines = ['| function | seed | layer 0 (inputs) | layer 1 (hidden nodes) |', '|---|---:|---|---|'];
let wins = 0;
let complete = 0;
for (const plan of plans) {
  const runs = existsSync(plan.dir)
    ? readdirSync(plan.dir).filter((d) => existsSync(join(plan.dir, d, 'run.json'))).map((d) => JSON.parse(readFileSync(join(plan.dir, d, 'run.json'), 'utf8')))
    : [];
  const rows = new Map(summariseRuns(parseCompareEntries(plan.entries.join(',')), runs).map((r) => [r.label.slice('kan-mlp:'.length).split('@')[0], r]));
  const single = BASES.map((b) => rows.get(b)).filter(Boolean).sort((a, b) => a.mean - b.mean)[0];
  const select = rows.get('select');
  let verdict = '–';
  if (single && select && rows.size === MODELS.length) {
    complete++;
    const best = single.label.slice('kan-mlp:'.length).split('@')[0];
    const ratio = select.mean / single.mean;
    if (select.mean <= single.mean) wins++;
    verdict = `${select.mean <= single.mean ? '**at or below**' : 'above'} ${best} (x${ratio.toFixed(2)})`;
  }
  const formula = FITTING_FUNCTIONS[plan.name].formula;
  rmseLines.push(`| ${plan.name}: ${formula} | ${MODELS.map((m) => cell(rows.get(m))).join(' | ')} | ${verdict} |`);
  paramLines.push(`| ${plan.name} (d = ${plan.inputs}) | ${MODELS.map((m) => {
    const w = plan.widths[m];
    const pruned = rows.get(m)?.prunedParams;
    return `${w.params.toLocaleString('en-US')}${pruned === undefined ? '' : ` → ${pruned.toLocaleString('en-US')}`} (h ${w.width})`;
  }).join(' | ')} |`);
  for (const run of runs.filter((r) => r.entry.startsWith('kan-mlp:select@')).sort((a, b) => a.seed - b.seed)) {
    const layers = existsSync(run.checkpoint) ? await keptSpaces(run.checkpoint) : null;
    if (!layers) continue;
    const text = (counts) => Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', ');
    choiceLines.push(`| ${plan.name} | ${run.seed} | ${text(layers[0])} | ${text(layers[1])} |`);
  }
}
console.log(`Test RMSE (final epoch, mean ± std over seeds), ${values.epochs} epochs, ~${budget} trained parameters each:\n`);
console.log(rmseLines.join('\n'));
console.log(`\nselect at or below the best single basis on ${wins} of ${complete} functions.`);
console.log('\nParameters trained (S-KAN: → after pruning, mean over seeds) and hidden width h:\n');
console.log(paramLines.join('\n'));
if (choiceLines.length > 2) {
  console.log('\nSpaces S-KAN kept (nodes per space):\n');
  console.log(choiceLines.join('\n'));
}
