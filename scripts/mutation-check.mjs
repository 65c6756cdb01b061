#!/usr/bin/env node
// Mutation check: do the tests fail when the code is wrong?
//
// Copies the tree (src, test, scripts, configs; node_modules linked) to a
// temporary folder, builds it once, then applies each mutation below on its
// own (a sign flip, an off-by-one loop bound, swapped arguments, a dropped
// term), rebuilds (tsc; none of the mutations touches the WebAssembly
// sources, which would need scripts/build-wasm.mjs), runs the few
// test files that should notice, and restores the file. A mutation "survives"
// when every one of its test files still passes.
//
// Not part of `npm test` (minutes on two cores). Run it with:
//   nice node scripts/mutation-check.mjs [--only id,id] [--json out.json] [--keep]
// It prints a table and writes JSON (default: mutation-report.json in the
// current folder). WebGPU is hidden (its tests skip) so the CPU kernels are
// what is tested; KATJS_PARITY_BACKENDS limits the parity suite to the CPUs.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Each mutation: the file, an exact text that must occur exactly once, its
 * replacement, the built test files to run (build/test/<name>.test.js), and
 * optionally a --test-name-pattern to run only the cases that matter.
 */
export const MUTATIONS = [
  // ops: element-wise forward kernels (cpu-js and cpu-float64 run these loops; cpu runs them for ops without SIMD)
  { id: 'sign-negative', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: 'out[i] = v > 0 ? 1 : v < 0 ? -1 : 0;', replace: 'out[i] = v > 0 ? 1 : v < 0 ? 1 : 0;', tests: ['reference_forward'] },
  { id: 'cos-sign', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'cos': for (let i = 0; i < size; i++) out[i] = Math.cos(x[i]!); break;",
    replace: "case 'cos': for (let i = 0; i < size; i++) out[i] = -Math.cos(x[i]!); break;", tests: ['reference_forward'] },
  { id: 'log-log1p', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: 'out[i] = Math.log(x[i]!); break;', replace: 'out[i] = Math.log1p(x[i]!); break;', tests: ['reference_forward'] },
  { id: 'sqrt-shift', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'sqrt': for (let i = 0; i < size; i++) out[i] = Math.sqrt(x[i]!); break;",
    replace: "case 'sqrt': for (let i = 0; i < size; i++) out[i] = Math.sqrt(x[i]! + 1e-3); break;", tests: ['reference_forward'] },
  { id: 'rsqrt-shift', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'rsqrt': for (let i = 0; i < size; i++) out[i] = 1 / Math.sqrt(x[i]!); break;",
    replace: "case 'rsqrt': for (let i = 0; i < size; i++) out[i] = 1 / Math.sqrt(x[i]! + 1e-3); break;", tests: ['reference_forward'] },
  { id: 'reciprocal-shift', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'reciprocal': for (let i = 0; i < size; i++) out[i] = 1 / x[i]!; break;",
    replace: "case 'reciprocal': for (let i = 0; i < size; i++) out[i] = 1 / (x[i]! + 1e-3); break;", tests: ['reference_forward'] },
  { id: 'pow-swapped', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'pow': return (a, b) => Math.pow(a, b);", replace: "case 'pow': return (a, b) => Math.pow(b, a);", tests: ['reference_forward'] },
  { id: 'minimum-swapped', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'minimum': return (a, b) => (a <= b ? a : b);", replace: "case 'minimum': return (a, b) => (a <= b ? b : a);", tests: ['reference_forward'] },
  { id: 'equal-as-ge', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'equal': return (a, b) => (a === b ? 1 : 0);", replace: "case 'equal': return (a, b) => (a >= b ? 1 : 0);", tests: ['reference_forward'] },
  { id: 'greater-as-ge', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'greater': return (a, b) => (a > b ? 1 : 0);", replace: "case 'greater': return (a, b) => (a >= b ? 1 : 0);", tests: ['reference_forward'] },
  { id: 'neg-off-by-one', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: "case 'neg': for (let i = 0; i < size; i++) out[i] = -x[i]!; break;",
    replace: "case 'neg': for (let i = 0; i < size - 1; i++) out[i] = -x[i]!; break;", tests: ['reference_forward'] },
  { id: 'gelu-dropped-scale', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: 'out[i] = 0.5 * v * (1 + erf(v * SQRT1_2)); } break;', replace: 'out[i] = 0.5 * v * (1 + erf(v)); } break;', tests: ['reference_forward'] },
  { id: 'broadcast-left-swapped', area: 'ops', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: 'if (swapped) for (let o = 0; o < size; o += period) for (let j = 0; j < period; j++) out[o + j] = f(repeated[j]!, full[o + j]!);',
    replace: 'if (swapped) for (let o = 0; o < size; o += period) for (let j = 0; j < period; j++) out[o + j] = f(full[o + j]!, repeated[j]!);',
    tests: ['reference_forward'] },
  { id: 'min-reduce-as-max', area: 'ops', file: 'src/backends/cpu/kernels/layout.ts',
    find: ': (a: number, b: number) => a < b || Number.isNaN(a);', replace: ': (a: number, b: number) => a > b || Number.isNaN(a);', tests: ['reference_forward'] },
  { id: 'argmax-last-tie', area: 'ops', file: 'src/backends/cpu/kernels/layout.ts',
    find: 'if (v > best) { best = v; bestIndex = i; }', replace: 'if (v >= best) { best = v; bestIndex = i; }', tests: ['reference_forward', 'forward', 'parity'] },
  // kernels: fused and row kernels
  { id: 'softmax-denominator', area: 'kernels', file: 'src/backends/cpu/kernels/normalization.ts',
    find: 'const inv = 1 / sum;', replace: 'const inv = 1 / (sum + 1e-3);', tests: ['reference_forward'] },
  { id: 'layernorm-unbiased-variance', area: 'kernels', file: 'src/backends/cpu/kernels/normalization.ts',
    find: 'const inv = 1 / Math.sqrt(sq / cols + eps);', replace: 'const inv = 1 / Math.sqrt(sq / (cols - 1) + eps);', tests: ['reference_forward'] },
  { id: 'group-rational-dropped-b3', area: 'kernels', file: 'src/backends/cpu/kernels/group_rational.ts',
    find: 'const q = 1 + av * (b0 + av * (b1 + av * (b2 + av * b3)));\n          out[i] = p / q;',
    replace: 'const q = 1 + av * (b0 + av * (b1 + av * b2));\n          out[i] = p / q;', tests: ['group_rational'] },
  { id: 'attention-scale', area: 'layers', file: 'src/nn/transformer.ts',
    find: 'const scale = 1 / Math.sqrt(d);', replace: 'const scale = 1 / d;', tests: ['pretrained'] },
  // layers and their initialisation
  { id: 'karat-w-std-1.35', area: 'layers', file: 'src/nn/karat.ts',
    find: 'const std = 1 / (tokens * Math.sqrt(tokens * config.rank * (config.order + 1)));',
    replace: 'const std = 1.35 / (tokens * Math.sqrt(tokens * config.rank * (config.order + 1)));', tests: ['karat'], pattern: 'W is initialised' },
  { id: 'rational-init-tanh-restated', area: 'layers', file: 'src/nn/rational_init.ts',
    find: '1.0003008043819048, -2.5878199375289335e-08, 0.09632129918392647,',
    replace: '1.0003008043819048, -2.5878199375289335e-08, 0.09642129918392647,',
    also: { find: 'maxError: 4.1e-5,', replace: 'maxError: 4.5e-4,' }, tests: ['rational_init'] },
  { id: 'detach-in-place', area: 'autograd', file: 'src/tensor/tensor.ts',
    find: 'detach(): Tensor {\n    return this.view(this.shape);',
    replace: 'detach(): Tensor {\n    this.requiresGrad = false;\n    return this;', tests: ['autograd'] },
  // optimisers
  { id: 'adamw-no-bias-correction', area: 'optim', file: 'src/backends/cpu/kernels/elementwise.ts',
    find: 'const stepSize = lr / (1 - beta1 ** hyper.step);', replace: 'const stepSize = lr;', tests: ['optim'] },
  { id: 'sgd-nesterov-dropped-momentum', area: 'optim', file: 'src/optim/sgd.ts',
    find: 'g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;', replace: 'g = this.nesterov ? add(g, buf) : buf;', tests: ['optim'] },
  { id: 'sgd-weight-decay-sign', area: 'optim', file: 'src/optim/sgd.ts',
    find: 'let g = weightDecay !== 0 ? add(grad, mul(param, weightDecay)) : grad;', replace: 'let g = weightDecay !== 0 ? sub(grad, mul(param, weightDecay)) : grad;', tests: ['optim'] },
  { id: 'cosine-schedule-period', area: 'optim', file: 'src/optim/schedule.ts',
    find: 'const progress = (step - warmupSteps) / decaySteps;', replace: 'const progress = (step - warmupSteps) / totalSteps;', tests: ['optim'] },
  { id: 'clip-norm-squared', area: 'optim', file: 'src/optim/clip.ts',
    find: 'const scale = maxNorm / (norm + 1e-6);', replace: 'const scale = maxNorm / (norm * norm + 1e-6);', tests: ['optim'] },
  { id: 'ema-no-warmup', area: 'optim', file: 'src/optim/ema.ts',
    find: 'return Math.min(this.decay, (1 + this.updates) / (10 + this.updates));', replace: 'return this.decay;', tests: ['ema'] },
  // CLI commands over the library
  { id: 'formula-group0-denominator', area: 'cli', file: 'src/viz/activations.ts',
    find: 'denominator: act.denominator.subarray(group * DENOMINATOR, (group + 1) * DENOMINATOR),',
    replace: 'denominator: act.denominator.subarray(0, DENOMINATOR),', tests: ['onnx_export'], pattern: '--heads 3' },
  { id: 'train-relu-builds-af', area: 'cli', file: 'src/cli/commands/train.ts',
    find: 'const basis = flags.basis as string | undefined;', replace: "const basis = (flags.basis === 'relu' ? 'af' : flags.basis) as string | undefined;",
    tests: ['af_kan'], pattern: 'relu trains' },
  // I/O and data
  { id: 'safetensors-f32-big-endian', area: 'io', file: 'src/io/safetensors.ts',
    find: 'for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);', replace: 'for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);', tests: ['safetensors'] },
  { id: 'safetensors-bf16-shift', area: 'io', file: 'src/io/safetensors.ts',
    find: 'for (let i = 0; i < count; i++) words[i] = view.getUint16(2 * i, true) << 16;', replace: 'for (let i = 0; i < count; i++) words[i] = view.getUint16(2 * i, true) << 15;', tests: ['safetensors'] },
  { id: 'safetensors-f32-offset', area: 'io', file: 'src/io/safetensors.ts',
    find: 'return new Float32Array(bytes.buffer.slice(from, from + byteLength));', replace: 'return new Float32Array(bytes.buffer.slice(from + 4, from + byteLength + 4));',
    tests: ['safetensors'] },
  // The element-by-element reader serves strided views and big-endian files (kat_small32*.pth take the byte-copy path).
  { id: 'pytorch-f32-strided-scaled-1e-4', area: 'io', file: 'src/io/pytorch/index.ts',
    find: "case 'F32': read = (at) => view.getFloat32(at, little); break;", replace: "case 'F32': read = (at) => view.getFloat32(at, little) * (1 + 1e-4); break;",
    tests: ['pytorch', 'pretrained'] },
  { id: 'pytorch-f32-contiguous-last-element', area: 'io', file: 'src/io/pytorch/index.ts',
    find: 'new Uint8Array(out.buffer).set(bytes.subarray(offset * 4, (offset + count) * 4));\n    return out;',
    replace: 'new Uint8Array(out.buffer).set(bytes.subarray(offset * 4, (offset + count) * 4));\n    out[count - 1] = Math.fround(out[count - 1] * (1 + 1e-3));\n    return out;',
    tests: ['pretrained'] },
  { id: 'csv-doubled-quote', area: 'io', file: 'src/data/csv.ts',
    find: "if (text[close + 1] === '\"') {\n            value += '\"';", replace: "if (text[close + 1] === '\"') {\n            value += '\"\"';", tests: ['csv'] },
  { id: 'image-normalize-256', area: 'data', file: 'src/data/image_transforms.ts',
    find: 'for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - m) / s);', replace: 'for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 256) - m) / s);', tests: ['images'] },
  { id: 'decode-pool-one-worker', area: 'data', file: 'src/data/image_pool.ts',
    find: 'for (let i = 1; i < this.workers.length; i++) if (this.busy[i]! < this.busy[worker]!) worker = i;',
    replace: 'for (let i = 1; i < 1; i++) if (this.busy[i]! < this.busy[worker]!) worker = i;', tests: ['image_folder'], pattern: '1,000-image folder' },
];

function parseArgs(argv) {
  const options = { only: null, json: 'mutation-report.json', keep: false, timeout: 600 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') options.only = new Set(argv[++i].split(','));
    else if (a === '--json') options.json = argv[++i];
    else if (a === '--keep') options.keep = true;
    else if (a === '--timeout') options.timeout = Number(argv[++i]);
    else if (a === '--list') options.list = true;
    else throw new Error(`mutation-check: unknown argument ${a} (use --only id,id --json FILE --keep --timeout S --list)`);
  }
  return options;
}

function countOccurrences(text, find) {
  let count = 0;
  for (let at = text.indexOf(find); at >= 0; at = text.indexOf(find, at + 1)) count++;
  return count;
}

/**
 * Rebuilds the copy's test build after a change. TypeScript 7's compiler is native and fast (a few seconds for the
 * whole tree), so the whole project is rebuilt; it still emits where a mutation upsets the type checker.
 */
function rebuild(work) {
  const run = spawnSync(process.execPath, [join(work, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.test.json'], { cwd: work, encoding: 'utf8' });
  return run.status === 0 ? '' : (run.stdout || run.stderr).split('\n')[0];
}

function runTests(work, tests, pattern, timeoutS) {
  const files = tests.map((t) => join('build/test', `${t}.test.js`));
  const args = ['--test', ...(pattern ? [`--test-name-pattern=${pattern}`] : []), ...files];
  const env = { ...process.env, VK_DRIVER_FILES: '/nonexistent-vulkan-driver.json', KATJS_PARITY_BACKENDS: 'cpu,cpu-plain-simd,cpu-js' };
  delete env.CI; // a hidden WebGPU is a skip here, not a failure
  const started = Date.now();
  const run = spawnSync(process.execPath, args, { cwd: work, env, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 256 * 2 ** 20 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  const failing = [...output.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).filter((name) => !/# SKIP/.test(name));
  return { passed: run.status === 0, timedOut: run.error?.code === 'ETIMEDOUT', seconds: (Date.now() - started) / 1000, failing };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const mutations = MUTATIONS.filter((m) => !options.only || options.only.has(m.id));
  if (options.list) {
    for (const m of mutations) console.log(`${m.id.padEnd(32)} ${m.area.padEnd(9)} ${m.file}  [${m.tests.join(', ')}]`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'katjs-mutants-'));
  console.error(`mutation-check: copying the tree to ${work}`);
  for (const entry of ['src', 'test', 'scripts', 'web', 'examples', 'package.json', 'tsconfig.json', 'tsconfig.test.json']) {
    cpSync(join(root, entry), join(work, entry), { recursive: true, filter: (p) => !p.includes('/node_modules') && !p.includes('/dist') });
  }
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
  // The test build type-checks web/ sources that import the package itself ('katjs' -> dist/): build dist first (npm run build).
  if (!existsSync(join(root, 'dist'))) throw new Error('mutation-check: no dist/ here: run `npm run build` first');
  symlinkSync(join(root, 'dist'), join(work, 'dist'));
  const results = [];
  try {
    console.error('mutation-check: building the copy (wasm + tsc)');
    execFileSync(process.execPath, ['scripts/build-wasm.mjs'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(process.execPath, [join(work, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.test.json'], { cwd: work, stdio: 'inherit' });

    // The unmutated tree must pass each test set first, or a "kill" means nothing.
    const baselines = new Map();
    for (const m of mutations) {
      const key = `${m.tests.join(',')}|${m.pattern ?? ''}`;
      if (baselines.has(key)) continue;
      console.error(`mutation-check: baseline ${key}`);
      baselines.set(key, runTests(work, m.tests, m.pattern, options.timeout));
    }

    for (const m of mutations) {
      const base = baselines.get(`${m.tests.join(',')}|${m.pattern ?? ''}`);
      const path = join(work, m.file);
      const original = readFileSync(path, 'utf8');
      const edits = [{ find: m.find, replace: m.replace }, ...(m.also ? [m.also] : [])];
      const counts = edits.map((e) => countOccurrences(original, e.find));
      let result;
      if (!base.passed) {
        result = { status: 'baseline-fails', detail: `unmutated: ${base.failing.slice(0, 3).join('; ')}` };
      } else if (counts.some((c) => c !== 1)) {
        result = { status: 'not-applied', detail: `the text to mutate occurs ${counts.join(' / ')} times (expected once)` };
      } else {
        let mutated = original;
        for (const e of edits) mutated = mutated.replace(e.find, e.replace);
        writeFileSync(path, mutated);
        try {
          const typeError = rebuild(work);
          const run = runTests(work, m.tests, m.pattern, options.timeout);
          result = run.passed
            ? { status: 'SURVIVED', detail: `all of ${m.tests.join(', ')} passed`, seconds: run.seconds }
            : { status: 'killed', detail: run.timedOut ? 'timed out' : run.failing.slice(0, 2).join('; ').slice(0, 160), seconds: run.seconds };
          if (typeError) result.typeError = typeError;
        } finally {
          // Restored in the source; the next mutation's full rebuild restores its build too.
          writeFileSync(path, original);
        }
      }
      results.push({ id: m.id, area: m.area, file: m.file, tests: m.tests, ...result });
      console.error(`  ${result.status.padEnd(14)} ${m.id} ${result.seconds ? `(${result.seconds.toFixed(0)} s)` : ''}`);
    }
  } finally {
    if (options.keep) rebuild(work);
    else rmSync(work, { recursive: true, force: true });
  }

  const killed = results.filter((r) => r.status === 'killed').length;
  const survived = results.filter((r) => r.status === 'SURVIVED');
  console.log('| mutation | area | tests | result | detail |');
  console.log('|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.id} | ${r.area} | ${r.tests.join(', ')} | ${r.status} | ${String(r.detail).replace(/\|/g, '/')} |`);
  console.log(`\n${killed} of ${results.length} killed; ${survived.length} survived${survived.length ? `: ${survived.map((r) => r.id).join(', ')}` : ''}`);
  writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), killed, total: results.length, results }, null, 2)}\n`);
  console.log(`JSON: ${relative(process.cwd(), options.json) || options.json}`);
  if (results.some((r) => r.status === 'baseline-fails' || r.status === 'not-applied')) process.exitCode = 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(`mutation-check: ${error.stack ?? error}`);
    process.exit(1);
  });
}

