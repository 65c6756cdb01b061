// kat bench's peer comparison: the PyTorch peer's JSON is parsed (or refused
// with an error naming the file and what was expected), and each katjs case
// gets its ratio to the peer's rate of the same name.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePeerReport, peerRows } from '../src/bench/cpu_peer.js';

describe('kat bench --peer', () => {
  const report = JSON.stringify({ torch: '1.13.0', threads: 1, cases: [
    { case: 'kat-micro train step, batch 64', images_per_s: 1000 },
    { case: 'kat-tiny inference, batch 1', images_per_s: 25, ms_per_batch: 40 },
  ] });

  it('reads the peer report and divides rates case by case', () => {
    const peer = parsePeerReport(report, 'peer.json');
    assert.equal(peer.label, 'PyTorch 1.13.0, 1 thread');
    const rows = peerRows([
      { case: 'kat-micro train step, batch 64', images_per_s: 1500 },
      { case: 'kat-tiny inference, batch 1', images_per_s: 20, ms_per_batch: 50 },
      { case: 'vit-tiny inference, batch 16', images_per_s: 10, ms_per_batch: 1600 },
    ], peer);
    assert.deepEqual(rows.map((row) => [row.op, row.shape, row.ratio]), [
      ['kat-micro train', 'batch 64', 1.5],
      ['kat-tiny infer', 'batch 1', 0.8],
      ['vit-tiny infer', 'batch 16', undefined],
    ]);
    assert.equal(rows[1]!.median_ms, 50);
  });

  it('refuses what is not the peer report, naming the file and the expected form', () => {
    assert.throws(() => parsePeerReport('not json', 'peer.json'), /peer\.json: not JSON .*expected the peer's output/);
    assert.throws(() => parsePeerReport('{"x": 1}', 'p.json'), /p\.json: no "cases" array/);
    assert.throws(() => parsePeerReport('{"cases": [{"case": "a", "images_per_s": -1}]}', 'p.json'), /positive images_per_s/);
  });
});
