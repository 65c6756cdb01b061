// Hostile and broken checkpoints (issue 13): metadata that asks for a huge
// or malformed model, duplicated keys, prototype-named dtypes, inferred
// layouts of the wrong rank, terminal escapes and megabyte names. Each must
// fail at once with one clear, escaped, short line, before any model is built.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/models/checkpoint.js';
import { KanMlp } from '../src/models/kan_mlp.js';
import { buildModel, modelSpec, validateModelSpec, type ModelSpec } from '../src/models/registry.js';
import { VisionTransformer, type VitConfig } from '../src/models/vit.js';
import { GroupRational } from '../src/nn/kan.js';
import { Dropout, LayerNorm, Linear } from '../src/nn/layers.js';
import { Attention, Block, PatchEmbed } from '../src/nn/transformer.js';
import { Random } from '../src/tensor/random.js';
import { CLI_PATH } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kat-hostile-'));
const spec = modelSpec('kat-micro');
const good = await encodeCheckpoint(buildModel(spec, 1), spec, { note: 'ok' });
const goodContents = decodeSafetensors(good);

type Tensors = Record<string, { shape: number[]; values: Float32Array }>;

function tensorsOf(edit: (tensors: Tensors) => void = () => {}): Tensors {
  const tensors: Tensors = {};
  for (const [name, t] of goodContents.tensors) tensors[name] = { shape: t.shape, values: t.values };
  edit(tensors);
  return tensors;
}

/** The kat-micro checkpoint with its metadata edited. */
function withMetadata(edit: (metadata: Record<string, string>) => void): Uint8Array {
  const metadata = { ...goodContents.metadata };
  edit(metadata);
  return encodeSafetensors(tensorsOf(), metadata);
}

/** The kat-micro checkpoint with one config field replaced (or removed, for undefined). */
function withConfig(edit: Record<string, unknown>): Uint8Array {
  return withMetadata((m) => {
    m.config = JSON.stringify({ ...(JSON.parse(m.config!) as object), ...edit });
  });
}

/** The file's header JSON replaced by `text` (the data kept), the length prefix fixed. */
function withHeaderText(bytes: Uint8Array, edit: (text: string) => string): Uint8Array {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextEncoder().encode(edit(new TextDecoder().decode(bytes.subarray(8, 8 + length))));
  const out = new Uint8Array(8 + text.length + bytes.length - 8 - length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(bytes.subarray(8 + length), 8 + text.length);
  return out;
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** `kat ...` with a hang guard (60 s, far beyond the fraction of a second it takes): a hang fails the test instead of stalling it. */
function katTimed(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Throws `pattern`, with a message that has no raw control characters and is short (the cases' `timeout` is the hang guard). */
function refuses(bytes: Uint8Array, pattern: RegExp): string {
  let message = '';
  assert.throws(() => decodeCheckpoint(bytes, 'hostile'), (error: unknown) => {
    assert.ok(error instanceof Error && error.constructor === Error || (error as Error).name === 'SafetensorsError',
      `a plain Error, got ${(error as Error).name}: ${(error as Error).message}`);
    message = (error as Error).message;
    assert.match(message, pattern);
    return true;
  });
  assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f]/, 'raw control characters');
  assert.ok(message.length < 600, `a ${message.length}-character message`);
  return message;
}

describe('a checkpoint\'s metadata config is checked before any model is built', () => {
  it('depth 1e9: kat info, eval, plot, formula and prune each fail at once with one line', () => {
    const path = file('depth.safetensors', withConfig({ depth: 1e9 }));
    const cpu = ['--backend', 'cpu'];
    for (const args of [['info'], ['eval', ...cpu], ['plot', ...cpu, '--out', join(dir, 'p.svg')], ['formula', ...cpu], ['prune', ...cpu, '--out', join(dir, 'pruned.safetensors')]]) {
      const run = katTimed(...args, '--checkpoint', path);
      assert.equal(run.code, 1, `${args[0]}: ${run.stderr}`);
      assert.match(run.stderr, /^kat: checkpoint '[^']+depth\.safetensors': metadata config: depth is 1000000000: expected an integer from 1 to 1024\n$/);
    }
  });

  it('huge sizes (depth 1e4, classes, mlpRatio, dim, image size, hidden widths 1e9) are refused without allocating', { timeout: 60_000 }, () => {
    const before = process.memoryUsage().arrayBuffers;
    refuses(withConfig({ depth: 10_000 }), /^hostile: metadata config: depth is 10000: expected an integer from 1 to 1024$/);
    refuses(withConfig({ classes: 1e9 }), /metadata config: classes is 1000000000: expected an integer from 1 to 1048576/);
    refuses(withConfig({ mlpRatio: 1e9 }), /metadata config: mlpRatio 1000000000 makes an MLP 64000000000 wide/);
    refuses(withConfig({ dim: 2 ** 20, heads: 1, groups: 1, mlpRatio: 1 }), /^hostile: metadata: \d+\.\d billion parameters is over the limit of 2\.1 billion$/);
    refuses(withConfig({ imageSize: 16_384, patchSize: 1 }), /metadata: .* billion parameters is over the limit/);
    const mlp = modelSpec('kan-mlp');
    const mlpBytes = encodeSafetensors(tensorsOf(), { model: 'kan-mlp', config: JSON.stringify({ ...mlp.config, hidden: [1e9] }) });
    refuses(mlpBytes, /metadata config: hidden\[0\] is 1000000000: expected an integer from 1 to 1048576/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'no large allocation');
  });

  it('a config within the limits that the file\'s tensors do not hold fails before the model is built', { timeout: 60_000 }, () => {
    const before = process.memoryUsage().arrayBuffers;
    // Building 1,000,000 classes would allocate a 256 MB head; 1000 blocks, 200 MB.
    refuses(withConfig({ classes: 1_000_000 }), /^hostile does not fit this model: 'head\.weight' has shape \[10, 64\], the model expects \[1000000, 64\]; 'head\.bias' has shape \[10\], the model expects \[1000000\]$/);
    refuses(withConfig({ depth: 1000 }), /^hostile does not fit this model: missing 'blocks\.3\.norm1\.weight' \[64\]; .*; and \d+ more problems$/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'no large allocation');
  });

  it('types, integers, ranges and divisibility: one message naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ imageSize: -28 }, /imageSize is -28: expected an integer from 1 to 16384/],
      [{ dim: 64.5 }, /dim is 64\.5: expected an integer/],
      [{ dim: '64' }, /dim is "64": expected an integer/],
      [{ depth: 0 }, /depth is 0: expected an integer from 1 to 1024/],
      [{ depth: undefined }, /depth is missing: expected an integer/],
      [{ heads: 3 }, /3 heads do not divide the width dim 64/],
      [{ patchSize: 5 }, /image size 28 is not a multiple of patch size 5/],
      [{ groups: 3 }, /3 rational groups do not divide the widths 64 and 256 of the KAT MLP/],
      [{ mlp: 'relu' }, /mlp is "relu": expected "kan" \(KAT\) or "gelu" \(ViT\)/],
      [{ mlpRatio: -4 }, /mlpRatio is -4: expected a finite number > 0/],
      [{ dropout: 1 }, /dropout is 1: expected a probability in \[0, 1\)/],
      [{ dropPath: null }, /dropPath is null: expected a probability/],
      [{ dpeth: 12 }, /it has unknown field 'dpeth'/],
    ];
    for (const [edit, pattern] of cases) refuses(withConfig(edit), new RegExp(`^hostile: metadata config: ${pattern.source}`));
    const mlp = modelSpec('kan-mlp', { basis: 'bspline' }).config;
    const mlpCases: [Record<string, unknown>, RegExp][] = [
      [{ hidden: 'x' }, /hidden is "x": expected a list of at most 64 layer widths/],
      [{ hidden: [256, 0] }, /hidden\[1\] is 0: expected an integer/],
      [{ basis: 'wavelet' }, /basis is "wavelet": expected one of rational, bspline, rbf/],
      [{ bspline: { order: 99 } }, /bspline: order is 99: expected an integer from 1 to 8/],
      [{ bspline: { gridRange: [1, -1] } }, /bspline: gridRange is \[1,-1\]: expected \[low, high\]/],
      [{ rbf: { centers: 0 } }, /rbf: centers is 0: expected an integer from 1 to 1024/],
      [{ cheby: { degree: 33 } }, /cheby: degree is 33: expected an integer from 0 to 32/],
      [{ bspline: null }, /bspline is null, not an object/],
    ];
    for (const [edit, pattern] of mlpCases) {
      refuses(encodeSafetensors(tensorsOf(), { model: 'kan-mlp', config: JSON.stringify({ ...mlp, ...edit }) }), new RegExp(`^hostile: metadata config: ${pattern.source}`));
    }
  });

  it('config null, [], 42, "x" or not JSON: one message, not "Cannot read properties of null"', () => {
    for (const config of ['null', '[]', '42', '"x"']) {
      refuses(withMetadata((m) => { m.config = config; }), new RegExp(`^hostile: metadata config is ${config.replace(/[[\]]/g, '\\$&')}, not an object$`));
    }
    const message = refuses(withMetadata((m) => { m.config = `{"depth": ${'['.repeat(1_000_000)}`; }), /^hostile: its metadata 'config' is not valid JSON: '\{"depth": \[+\.\.\. \(999930 more characters\)'$/);
    assert.ok(message.length < 200);
  });

  it('model names: gpt-5 is refused; kat-*, vit-* (with the matching MLP), kat-d48 and kan-mlp are accepted', () => {
    refuses(withMetadata((m) => { m.model = 'gpt-5'; }), /^hostile: metadata: unknown model 'gpt-5': expected kat-\*, vit-\* or kan-mlp$/);
    refuses(withMetadata((m) => { m.model = 'vit-micro'; }), /^hostile: metadata: 'vit-micro' is a ViT \(mlp "gelu"\), but its config says mlp "kan"$/);
    refuses(withMetadata((m) => { m.model = '\u001b]0;x\u0007'; }), /^hostile: metadata: unknown model '\\x1b\]0;x\\x07'/);
    for (const name of ['kat-micro', 'kat-d64', 'kat-finetuned.v2']) {
      const loaded = decodeCheckpoint(withMetadata((m) => { m.model = name; }), 'ok');
      assert.equal(loaded.spec.name, name);
      loaded.model.dispose();
    }
    assert.throws(() => validateModelSpec({ name: 'gpt-5', config: spec.config }), /model: unknown model 'gpt-5'/);
    assert.throws(() => buildModel({ name: 'gpt-5', config: spec.config }), /unknown model 'gpt-5'/);
  });

  it('a duplicated __metadata__ (or tensor) key is refused, not read as the last one', () => {
    const twice = withHeaderText(good, (text) => `{"__metadata__":{"model":"kat-micro","config":"{}"},${text.slice(1)}`);
    refuses(twice, /^hostile: header has the key '__metadata__' twice in one object; expected each name once$/);
    const tensorTwice = withHeaderText(good, (text) => text.replace('"cls_token":', '"cls_token":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"cls_token":'));
    refuses(tensorTwice, /header has the key 'cls_token' twice in one object/);
    const keyTwice = withHeaderText(good, (text) => text.replace('"dtype":"F32"', '"dtype":"F16","dtype":"F32"'));
    refuses(keyTwice, /header has the key 'dtype' twice in one object/);
  });

  it('dtypes named after Object.prototype members are unknown dtypes', () => {
    for (const dtype of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      refuses(withHeaderText(good, (text) => text.replace('"dtype":"F32"', `"dtype":"${dtype}"`)), new RegExp(`tensor '[^']+' has unknown dtype "${dtype}"; expected one of F64, F32`));
    }
  });

  it('a tensor-only checkpoint with wrong ranks names the tensor, not "image size NaN"', () => {
    const cases: [(t: Tensors) => void, RegExp][] = [
      [(t) => { t['patch_embed.proj.weight']!.shape = [64, 49]; }, /tensor 'patch_embed\.proj\.weight' has shape \[64, 49\]; a KAT \/ ViT checkpoint has 4 positive dimensions there/],
      [(t) => { t['pos_embed']!.shape = [17, 64]; }, /tensor 'pos_embed' has shape \[17, 64\]; a KAT \/ ViT checkpoint has 3/],
      [(t) => { t['head.weight']!.shape = [640]; }, /tensor 'head\.weight' has shape \[640\]; a KAT \/ ViT checkpoint has 2/],
      [(t) => { t['patch_embed.proj.weight']!.shape = [64, 1, 1, 49]; }, /patch_embed\.proj\.weight has 1x49 patches; katjs models take square patches/],
      [(t) => { t['blocks.0.mlp.act1.weight_denominator']!.shape = [32]; }, /tensor 'blocks\.0\.mlp\.act1\.weight_denominator' has shape \[32\]/],
    ];
    for (const [edit, pattern] of cases) {
      const message = refuses(encodeSafetensors(tensorsOf(edit)), pattern);
      assert.doesNotMatch(message, /NaN/);
    }
    // Shapes that infer a consistent but different model still have to match every tensor.
    refuses(encodeSafetensors(tensorsOf((t) => { t['blocks.0.mlp.fc1.weight']!.shape = [128, 128]; })), /^hostile does not fit this model: 'blocks\.0\.mlp\.fc1\.weight' has shape \[128, 128\], the model expects \[128, 64\]; /);
    refuses(encodeSafetensors(tensorsOf((t) => { t['blocks.0.mlp.act1.weight_denominator'] = { shape: [3, 4], values: new Float32Array(12) }; })),
      /^hostile: the model inferred from its tensors: 3 rational groups do not divide the widths 64 and 256 of the KAT MLP$/);
  });
});

describe('text from a checkpoint is escaped and bounded wherever it is printed', () => {
  const title = '\u001b]0;PWNED\u0007\u001b[31m\u009b2J';

  it('kat info shows metadata, class names and notes with control characters escaped, in text and JSON', () => {
    const path = file('escape.safetensors', withMetadata((m) => {
      m.note = title;
      m[title] = 'key';
      m.long = 'y'.repeat(10_000);
      m.class_names = JSON.stringify(Array.from({ length: 10 }, (_, i) => `${title}${i}`));
    }));
    const text = katTimed('info', '--checkpoint', path);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout.replace(/\n/g, ''), /[\u0000-\u001f\u007f-\u009f]/);
    assert.match(text.stdout, /note {7}\\x1b\]0;PWNED\\x07\\x1b\[31m\\x9b2J\n/);
    assert.match(text.stdout, /classes {4}10: \\x1b\]0;PWNED/);
    assert.match(text.stdout, /long {7}y{400}\.\.\. \(9600 more characters\)\n/);
    const json = katTimed('info', '--checkpoint', path, '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout.trim(), /[\u007f-\u009f\u2028\u2029]/);
    assert.equal((JSON.parse(json.stdout) as { info: Record<string, string> }).info.note, title);
  });

  it('names quoted in errors are escaped and cut to about 80 characters', () => {
    const name = `${title}${'n'.repeat(10_000)}`;
    const message = refuses(encodeSafetensors(tensorsOf((t) => { t[name] = { shape: [1], values: new Float32Array(1) }; }), goodContents.metadata),
      /^hostile does not fit this model: unexpected '\\x1b\]0;PWNED\\x07\\x1b\[31m\\x9b2Jn+\.\.\. \(\d+ more characters\)'$/);
    assert.ok(message.length < 200, message);
    refuses(withHeaderText(good, (text) => text.replace('"dtype":"F32"', `"dtype":"${'\\u001b'.repeat(5000)}"`)), /has unknown dtype "\\u001b.{0,80}\.\.\. \(\d+ more characters\);/);
  });

  it('Module.loadStateDict quotes unexpected names escaped and short', async () => {
    const model = buildModel(spec);
    const values = await model.stateDict();
    values.set(`${title}${'n'.repeat(10_000)}`, { shape: [1], values: new Float32Array(1) });
    assert.throws(() => model.loadStateDict(values, { source: 'state' }), (error: unknown) => {
      const message = (error as Error).message;
      assert.match(message, /^state does not fit this model: unexpected '\\x1b\]0;PWNED\\x07\\x1b\[31m\\x9b2Jn+\.\.\. \(\d+ more characters\)'$/);
      assert.ok(message.length < 200);
      return true;
    });
    model.dispose();
  });

  it('the CLI prints any error as one escaped line', () => {
    const run = katTimed('info', '--checkpoint', `${dir}/no\nsuch\u001b[2J`);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `kat: checkpoint '${dir}/no\\x0asuch\\x1b[2J' does not exist\n`);
  });
});

describe('layers check their sizes before allocating', () => {
  const rng = new Random(0);
  it('a bad width names the layer and the size, not "Invalid typed array length"', () => {
    assert.throws(() => new Linear(-1, 3, rng), /^Error: Linear: inFeatures must be an integer >= 1, got -1$/);
    assert.throws(() => new Linear(3, 1.5, rng), /Linear: outFeatures must be an integer >= 1, got 1\.5/);
    assert.throws(() => new Linear(NaN, 3, rng), /Linear: inFeatures must be an integer >= 1, got NaN/);
    assert.throws(() => new Linear(2 ** 20, 2 ** 20, rng), /Linear\(1048576 -> 1048576\): a \[1048576, 1048576\] parameter would hold 1\.10e\+12 values, over the limit/);
    assert.throws(() => new LayerNorm(0), /LayerNorm: dim must be an integer >= 1, got 0/);
    assert.throws(() => new Dropout(1), /Dropout: p must be a probability in \[0, 1\), got 1/);
    assert.throws(() => new GroupRational(-8), /GroupRational: channels must be an integer >= 1, got -8/);
    assert.throws(() => new PatchEmbed(-28, 7, 1, 64, rng), /PatchEmbed: imageSize must be an integer >= 1, got -28/);
    assert.throws(() => new Attention(64, 0, rng), /Attention: heads must be an integer >= 1, got 0/);
    assert.throws(() => new Block({ dim: 64, heads: 4, mlpRatio: 0, mlp: 'kan', groups: 8, dropout: 0, dropPath: 0 }, rng), /Block: MLP width \(dim 64 x mlpRatio 0\) must be an integer >= 1, got 0/);
  });

  // Building first would take minutes and gigabytes: the timeout is the hang guard (the check takes well under a millisecond).
  it('models check their whole config first: depth 1e9 fails at once', { timeout: 10_000 }, () => {
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => new VisionTransformer({ ...(spec.config as VitConfig), depth: 1e9 }), /VisionTransformer: depth is 1000000000: expected an integer from 1 to 1024/);
    assert.throws(() => new KanMlp({ inputs: 784, hidden: [1e9], classes: 10, groups: 8, dropout: 0 }), /KanMlp: hidden\[0\] is 1000000000/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'no large allocation');
  });

  it('buildModel validates the spec (null config, unknown model)', () => {
    assert.throws(() => buildModel({ name: 'kat-micro', config: null } as unknown as ModelSpec), /model config is null, not an object/);
    assert.throws(() => buildModel({ name: 'kan-mlp', config: [] } as unknown as ModelSpec), /model config is \[\], not an object/);
  });
});

describe('a failed --backend webgpu', () => {
  it('prints one kat: line, without Dawn\'s native warnings or a stack', (t) => {
    const run = katTimed('train', '--backend', 'webgpu', '--dataset', 'synthetic:1x14x14:3:16', '--max-steps', '1', '--out', join(dir, 'gpu.safetensors'));
    if (run.code === 0) {
      t.skip('this machine has a WebGPU adapter');
      return;
    }
    assert.match(run.stderr, /^kat: backend 'webgpu' could not start: webgpu: [^\n]+\n$/);
  });
});
