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
import { parseCompareEntries, summariseRuns } from '../dist/train/compare.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { published: { type: 'string', multiple: true, default: [] } } });
const [dir, list] = positionals;
if (!dir || !list) {
  console.error('usage: node scripts/compare-markdown.mjs DIR ENTRY[,ENTRY...] [--published ENTRY=TEXT ...]');
  process.exit(2);
}
const entries = parseCompareEntries(list);
const runs = readdirSync(dir).filter((name) => existsSync(join(dir, name, 'run.json')))
  .map((name) => JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')));
const published = new Map(values.published.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
const rows = summariseRuns(entries, runs);
const withPublished = published.size > 0;
console.log(`| model | params | seeds | test acc % (final, mean ± std) | best % @ epoch | img/s | train s |${withPublished ? ' published |' : ''}`);
console.log(`|---|---:|---:|---:|---:|---:|---:|${withPublished ? '---|' : ''}`);
for (const r of rows) {
  const best = `${(r.meanBestAccuracy * 100).toFixed(2)} @ ${Number.isInteger(r.bestEpoch) ? r.bestEpoch : r.bestEpoch.toFixed(1)}`;
  console.log(`| ${r.label} | ${r.params.toLocaleString('en-US')} | ${r.runs} | ${(r.meanAccuracy * 100).toFixed(2)} ± ${(r.stdAccuracy * 100).toFixed(2)} | ` +
    `${best} | ${r.imagesPerSecond.toFixed(0)} | ${r.trainSeconds.toFixed(0)} |${withPublished ? ` ${published.get(r.label) ?? ''} |` : ''}`);
}
