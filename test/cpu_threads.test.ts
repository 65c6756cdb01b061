// The CPU thread pool's call protocol (src/backends/cpu/threads.ts), replayed
// store by store on one thread: a thread still looping in the previous call
// must never claim a slice of the next one, at any point of its publication.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Control, MAX_SLICES, publication, runSlices, SLOT } from '../src/backends/cpu/threads.js';

describe('thread pool call protocol', () => {
  for (const [previous, next] of [[3, 8], [8, 3], [5, 5], [1, MAX_SLICES]] as const) {
    it(`a thread late from a call of ${previous} slices claims nothing of the next (${next} slices) while it is published`, () => {
      const control = new Int32Array(8);
      const args = new Float64Array(SLOT * MAX_SLICES);
      const ran: number[] = [];
      const kernels = [(slice: number) => { ran.push(slice); }];
      for (let i = 0; i < MAX_SLICES; i++) {
        args[i * SLOT] = 0; // task 0
        args[i * SLOT + 1] = -1; // no scratch
        args[i * SLOT + 2] = i;
      }
      // The previous call (generation 1), finished: every slice taken and done.
      for (const [index, value] of publication(1, previous, 0)) control[index] = value;
      runSlices(control, args, kernels, 1, 0, (error) => { throw error; });
      assert.deepEqual(ran, Array.from({ length: previous }, (_, i) => i));
      assert.equal(control[Control.Done], previous);
      ran.length = 0;
      // Generation 2 published one store at a time; after each, the late thread (still on generation 1) looks for work.
      for (const [index, value] of publication(2, next, 64)) {
        control[index] = value;
        runSlices(control, args, kernels, 1, 1, (error) => { throw error; });
        assert.deepEqual(ran, [], `after storing control[${index}] = ${value}, the late thread ran slices ${ran.join()} of the new call`);
      }
      assert.equal(control[Control.Done], 0, 'the new call starts with no slice done');
      // The new call's own threads then take every slice once.
      runSlices(control, args, kernels, 2, 0, (error) => { throw error; });
      assert.deepEqual(ran, Array.from({ length: next }, (_, i) => i));
      assert.equal(control[Control.Done], next);
    });
  }
});
