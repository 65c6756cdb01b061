// `kat profile --backend webgpu`: per-kernel GPU time from timestamp queries
// over a training step of a small model (SwiftShader offers 'timestamp-query').
// The rows exist, the shares sum to 1, the JSON parses; the fused attention
// kernels show up for a softmax-attention model; a backend other than WebGPU
// and an adapter without timestamps are clear errors. Skipped (the WebGPU
// parts) when WebGPU cannot start.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebGpuBackend } from '../src/backends/webgpu/index.js';
import { aggregateTimings, type KernelProfileRow } from '../src/cli/commands/profile.js';
import { skipUnless, startBackend } from './support/backends.js';
import { kat } from './support/cli.js';

const webgpu = (await startBackend('webgpu')) as WebGpuBackend | null;

describe('kat profile', () => {
  it('aggregates timings per kernel name, largest total first', () => {
    const rows = aggregateTimings([{ name: 'a', ns: 1000 }, { name: 'b', ns: 6000 }, { name: 'a', ns: 3000 }]);
    assert.deepEqual(rows, [
      { kernel: 'b', calls: 1, total_ms: 0.006, mean_us: 6, share: 0.6 },
      { kernel: 'a', calls: 2, total_ms: 0.004, mean_us: 2, share: 0.4 },
    ]);
  });

  it('refuses a backend other than WebGPU with one clear error', () => {
    const run = kat('profile', '--backend', 'cpu');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^kat: profile: per-kernel GPU timing needs --backend webgpu \(got 'cpu'\)/);
  });

  it('refuses an unknown model', () => {
    const run = kat('profile', '--model', 'kat-huge');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^kat: profile: unknown model 'kat-huge'/);
  });
});

describe('kat profile on WebGPU', () => {
  // Each test is skipped on its own (counted in the run's summary, with the reason) where WebGPU cannot start.
  const skip = skipUnless(webgpu, 'webgpu');
  it('says clearly when the adapter has no timestamp queries', { skip }, () => {
    const ctx = Object.create(webgpu!.ctx, { timestamps: { value: false } }) as WebGpuBackend['ctx'];
    assert.throws(() => ctx.startProfiling(), /does not offer the 'timestamp-query' feature, so kernels cannot be timed on the GPU/);
  });

  it('reports per-kernel GPU time of a kat-micro step as JSON', { skip }, () => {
    const run = kat('profile', '--backend', 'webgpu', '--batch', '2', '--steps', '1', '--json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { kernels: KernelProfileRow[]; dispatches: number; gpu_ms: number; model: string; steps: number };
    assert.equal(report.model, 'kat-micro');
    assert.equal(report.steps, 1);
    assert.ok(report.kernels.length > 5, `only ${report.kernels.length} kernels`);
    const names = report.kernels.map((row) => row.kernel);
    for (const expected of ['attention:d16', 'attentionBackwardKV:d16', 'attentionBackwardQ:d16', 'adamw']) {
      assert.ok(names.includes(expected), `no ${expected} row in ${names.join(', ')}`);
    }
    assert.ok(names.some((n) => n.startsWith('groupRational')), 'no group-rational row');
    const share = report.kernels.reduce((sum, row) => sum + row.share, 0);
    assert.ok(Math.abs(share - 1) < 1e-9, `shares sum to ${share}`);
    assert.equal(report.kernels.reduce((sum, row) => sum + row.calls, 0), report.dispatches);
    assert.ok(report.gpu_ms > 0);
    for (const row of report.kernels) assert.ok(row.calls > 0 && row.total_ms >= 0 && Math.abs(row.mean_us * row.calls / 1e3 - row.total_ms) < 1e-6);
  });

  it('prints a table for vit-micro', { skip }, () => {
    const run = kat('profile', '--backend', 'webgpu', '--model', 'vit-micro', '--batch', '1', '--steps', '1');
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /vit-micro, batch 1, 28x28, 1 training step \(after one untimed\), \d+ dispatches/);
    assert.match(lines[1]!, /^kernel\s+calls\s+total ms\s+mean us\s+share$/);
    assert.ok(lines.some((line) => /^attention:d16\s+3\s/.test(line)), run.stdout);
    assert.match(run.stdout, /^total\s+\d+\s+[\d.]+\s+100\.0%$/m);
  });
});
