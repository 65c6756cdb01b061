// The kat CLI end to end, as a user runs it (small budgets so it stays quick).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertBadInputs, jsonLines, kat } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kat-cli-'));

describe('kat CLI', () => {
  const checkpoint = join(dir, 'mlp.safetensors');

  it('train --json prints epoch events and a done event, and writes a checkpoint', () => {
    const run = kat('train', '--model', 'kan-mlp', '--epochs', '1', '--batch-size', '100', '--out', checkpoint, '--json');
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    assert.equal(events[0]!.event, 'epoch');
    const done = events[events.length - 1]!;
    assert.equal(done.event, 'done');
    assert.equal(done.model, 'kan-mlp');
    assert.equal(done.backend, 'cpu');
    assert.equal(typeof done.params, 'number');
    assert.ok((done.test_acc as number) > 0.85, `test_acc ${done.test_acc}`);
    for (const key of ['train_seconds', 'images_per_s']) assert.equal(typeof done[key], 'number');
    assert.ok(existsSync(checkpoint));
  });

  it('train --max-steps stops after that many steps; --log-steps adds the step events to the JSON', () => {
    const out = join(dir, 'steps.safetensors');
    const run = kat('train', '--model', 'kan-mlp', '--epochs', '2', '--batch-size', '50', '--max-steps', '5', '--json', '--log-steps', '--out', out);
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    const steps = events.filter((e) => e.event === 'step');
    assert.deepEqual(steps.map((e) => e.step), [1, 2, 3, 4, 5]);
    for (const e of steps) assert.ok(Number.isFinite(e.loss) && Number.isFinite(e.lr), JSON.stringify(e));
    assert.deepEqual(events.filter((e) => e.event === 'epoch').map((e) => e.epoch), [1], 'training went on past the stop');
    assert.equal(events[events.length - 1]!.event, 'done');
    assert.ok(existsSync(out));
  });

  it('eval of that checkpoint reproduces the accuracy train reported; info describes it', () => {
    const trained = kat('info', '--checkpoint', checkpoint, '--json');
    assert.equal(trained.code, 0, trained.stderr);
    const info = jsonLines(trained.stdout)[0]!;
    assert.equal(info.model, 'kan-mlp');
    const evaluated = kat('eval', '--checkpoint', checkpoint, '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const result = jsonLines(evaluated.stdout)[0]!;
    assert.equal(result.test_acc, Number((info.info as Record<string, string>).test_acc));
  });

  it('bad input: one clear error line, non-zero exit, nothing overwritten', () => {
    const before = readFileSync(checkpoint);
    const cases: [string[], RegExp][] = [
      [['train', '--model', 'kat-giant'], /unknown model 'kat-giant': expected one of/],
      [['train', '--epochs', 'two'], /flag '--epochs' expects a number, got 'two'/],
      [['train', '--frobnicate'], /unknown flag '--frobnicate'/],
      [['train', '--dataset', 'cifar10:/nonexistent/dir', '--out', checkpoint], /\/nonexistent\/dir/],
      [['train', '--dataset', 'imagenet'], /unknown dataset 'imagenet'/],
      [['train', '--backend', 'tpu'], /unknown backend 'tpu'/],
      [['train', '--model', 'kan-mlp', '--lr', '1e30', '--weight-decay', '0', '--epochs', '1', '--out', checkpoint], /loss became (NaN|Infinity)|gradient norm is NaN/],
      [['eval', '--checkpoint', join(dir, 'missing.safetensors')], /checkpoint '.*missing.safetensors' does not exist/],
      [['eval'], /--checkpoint SRC is required/],
      [['train', '--log-steps'], /--log-steps adds step events to the --json output/],
      [['train', '--max-steps', '0'], /--max-steps must be a positive integer/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    assertBadInputs(cases);
    assert.deepEqual(readFileSync(checkpoint), before, 'a failed run changed the checkpoint');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('a corrupt checkpoint and a checkpoint of another model are refused', () => {
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, readFileSync(checkpoint).subarray(0, 100));
    const run = kat('eval', '--checkpoint', corrupt);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /corrupt.safetensors/);
    const wrongData = kat('eval', '--checkpoint', checkpoint, '--dataset', 'synthetic:3x8x8:4:16');
    assert.notEqual(wrongData.code, 0);
    assert.match(wrongData.stderr, /holds kan-mlp for 10 classes of 784-value inputs, but synthetic:3x8x8:4:16 has 4 classes of 3x8x8 images/);
  });
});
