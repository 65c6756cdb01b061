#!/usr/bin/env node
// The finished runs of a `kat compare` folder as a Markdown table (for the
// README): one row per entry, in the order given, from each run's run.json
// (so a comparison still running can be tabled). Accuracy is the final epoch's,
// mean ± sample std over the seeds found.
//
//   node scripts/compare-markdown.mjs DIR ENTRY[,ENTRY...] [--published 'ENTRY=TEXT'...]

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatMetricValue, formatParams, parseCompareEntries, summariseRuns } from '../dist/train/compare.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { published: { type: 'string', multiple: true, default: [] } } });
const [dir, list] = positionals;
if (!dir || !list) {
  console.error('usage: node scripts/compare-markdown.mjs DIR ENTRY[,ENTRY...] [--published ENTRY=TEXT ...]');
  process.exit(2);
}
const entries = parseCompareEntries(list);
const runs = readdirSync(dir).filter((name) => existsSync(join(dir, name, 'run.json')))
  .map((name) => JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')))
  .map((run) => ({ ...run, testAccuracy: run.testAccuracy ?? Number.NaN }));
const published = new Map(values.published.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
const rows = summariseRuns(entries, runs);
const withPublished = published.size > 0;
const metric = rows[0]?.metric ?? 'accuracy';
const name = metric === 'accuracy' ? 'test acc %' : 'test RMSE';
console.log(`| model | params | seeds | ${name} (final, mean ± std) | best @ epoch | ${metric === 'accuracy' ? 'img/s' : 'rows/s'} | train s |${withPublished ? ' published |' : ''}`);
console.log(`|---|---:|---:|---:|---:|---:|---:|${withPublished ? '---|' : ''}`);
for (const r of rows) {
  const best = `${formatMetricValue(r.metric, r.meanBest)} @ ${Number.isInteger(r.bestEpoch) ? r.bestEpoch : r.bestEpoch.toFixed(1)}`;
  console.log(`| ${r.label} | ${formatParams(r).replace('->', '→')} | ${r.runs} | ${formatMetricValue(r.metric, r.mean)} ± ${formatMetricValue(r.metric, r.std)} | ` +
    `${best} | ${r.imagesPerSecond.toFixed(0)} | ${r.trainSeconds.toFixed(0)} |${withPublished ? ` ${published.get(r.label) ?? ''} |` : ''}`);
}
