#!/usr/bin/env node
// The last part of scripts/gpu-check.sh: turns OUTDIR's step logs into JSON
// (tests.json, bench.json, train-cpu.json, train-webgpu.json, summary.json)
// and writes summary.md, the table BENCHMARKS.md takes its figures from.
//
//   node scripts/gpu-check-summary.mjs OUTDIR [TOTAL_SECONDS]

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [outDir, totalArg] = process.argv.slice(2);
if (!outDir) throw new Error('usage: node scripts/gpu-check-summary.mjs OUTDIR [TOTAL_SECONDS]');
const read = (name) => (existsSync(join(outDir, name)) ? readFileSync(join(outDir, name), 'utf8') : '');
const write = (name, value) => writeFileSync(join(outDir, name), `${JSON.stringify(value, null, 1)}\n`);
const jsonOr = (text, fallback) => {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
};
/** The JSON objects among a log's lines (other lines are notes or progress). */
const jsonLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => jsonOr(l, null)).filter(Boolean);
const fmt = (v, digits = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-');

const steps = read('steps.tsv').split('\n').filter(Boolean).map((line) => {
  const [name, rc, seconds, command] = line.split('\t');
  return { name, rc: Number(rc), seconds: Number(seconds), command, timed_out: rc === '124' || rc === '137' };
});
const stepOf = (name) => steps.find((s) => s.name === name);

const adapter = jsonOr(read('adapter.json'), null);

// Tests: the TAP totals.
const tap = read('tests.log');
const count = (key) => Number(tap.match(new RegExp(`^# ${key} (\\d+)`, 'm'))?.[1] ?? NaN);
const tests = { tests: count('tests'), pass: count('pass'), fail: count('fail'), skipped: count('skipped'), cancelled: count('cancelled'),
  failures: [...tap.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).slice(0, 50) };
write('tests.json', tests);

const bench = jsonLines(read('bench.log'));
write('bench.json', bench);

function training(name) {
  const events = jsonLines(read(`${name}.log`));
  const done = events.find((e) => e.event === 'done') ?? null;
  const result = { done, epochs: events.filter((e) => e.event === 'epoch'), wall_s: stepOf(name)?.seconds };
  write(`${name}.json`, result);
  return result;
}
const trainCpu = training('train-cpu');
const trainGpu = training('train-webgpu');
const models = jsonOr(read('models.json'), null);

const summary = {
  date: new Date().toISOString(), total_s: Number(totalArg ?? NaN), adapter, steps, tests,
  bench_rows: bench.length, kat_micro: { cpu: trainCpu.done, webgpu: trainGpu.done, webgpu_wall_s: trainGpu.wall_s }, models,
};
write('summary.json', summary);

const md = [];
md.push('# GPU check', '');
md.push(`- date: ${summary.date}`);
if (adapter) {
  md.push(`- adapter: ${[adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' / ') || '?'}`);
  md.push(`- features: ${(adapter.features ?? []).join(', ')}`);
  md.push(`- node: ${adapter.node}`);
} else {
  md.push('- adapter: none found (see adapter.log)');
}
md.push(`- total: ${fmt(summary.total_s, 0)} s`, '');

md.push('## Steps', '', '| step | rc | seconds | command |', '|---|---|---|---|');
for (const s of steps) md.push(`| ${s.name} | ${s.rc}${s.timed_out ? ' (timeout)' : ''} | ${fmt(s.seconds, 1)} | \`${(s.command ?? '').replaceAll('|', '\\|')}\` |`);

md.push('', '## Tests (webgpu, autotuning off)', '');
md.push(`${tests.pass} passed, ${tests.fail} failed, ${tests.skipped} skipped, ${tests.cancelled} cancelled of ${tests.tests}`);
for (const f of tests.failures) md.push(`- not ok: ${f}`);

md.push('', '## Bench (`kat bench --backend webgpu --json`)', '');
if (bench.length) {
  md.push('| op | shape | median ms | GB/s | TFLOP/s | img/s | ratio |', '|---|---|---|---|---|---|---|');
  for (const r of bench) {
    md.push(`| ${r.op} | ${r.shape} | ${fmt(r.median_ms, 3)} | ${fmt(r.gbps, 1)} | ${fmt(r.tflops, 2)} | ${fmt(r.images_per_s, 1)} | ${fmt(r.ratio, 3)} |`);
  }
} else {
  md.push('no rows (see bench.log)');
}

md.push('', process.env.GPU_CHECK_QUICK === '1' ? '## kat-micro (GPU_CHECK_QUICK: a small synthetic set, 1 epoch)' : '## kat-micro on MNIST (`kat train`, defaults)', '', '| backend | test accuracy | train s | img/s | step wall s |', '|---|---|---|---|---|');
for (const [name, t] of [['cpu', trainCpu], ['webgpu', trainGpu]]) {
  const d = t.done;
  md.push(`| ${name} | ${d ? `${(d.test_acc * 100).toFixed(2)}%` : '-'} | ${fmt(d?.train_seconds, 1)} | ${fmt(d?.images_per_s, 0)} | ${fmt(t.wall_s, 1)} |`);
}
if (trainCpu.done && trainGpu.done) {
  md.push('', `webgpu - cpu accuracy: ${((trainGpu.done.test_acc - trainCpu.done.test_acc) * 100).toFixed(2)} points ` +
    '(the cpu run shared the machine with the tests: its time is not a figure)');
}

md.push('', '## Whole-model training (`scripts/train-throughput.mjs`)', '');
if (models?.rows?.length) {
  md.push(`batch ${models.batch}, ${models.image_size} px, ${models.steps} steps; ${models.device}`, '');
  md.push('| model | img/s | ms per step |', '|---|---|---|');
  for (const r of models.rows) md.push(`| ${r.model} | ${fmt(r.images_per_s, 1)} | ${fmt(r.median_ms, 1)} |`);
  if (models.kat_over_vit !== undefined) md.push('', `kat-tiny / vit-tiny: ${fmt(models.kat_over_vit, 3)} (FlashKAT-T / ViT-T on an H100, PyTorch fp16: 3574 / 5101 = 0.70)`);
  if (models.autotune) md.push('', `autotuner: ${models.autotune.enabled ? 'on' : 'off'}, ${models.autotune.measurements} candidate timings in this step, cache ${models.autotune.store}`);
} else {
  md.push('no result (see models.log)');
}
writeFileSync(join(outDir, 'summary.md'), `${md.join('\n')}\n`);
