// Memory without tidy() on WebGPU: a kat-micro inference loop and a training
// step written the PyTorch way stay flat (live tensors and GPU bytes at the 10%
// mark and at the end within 5%). SwiftShader runs a kat-micro training step in
// about 3 s, so by default the loops are 100 and 30 iterations long;
// KATJS_FULL_MEMORY_TESTS=1 runs the 300 of each (on SwiftShader the training
// loop then takes about 15 minutes: it was run once so, flat at 226 tensors).

import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { skipUnless, startBackend } from './support/backends.js';
import { onBackendAsync } from './support/harness.js';
import { assertFlat, inferenceLoop, trainingLoop } from './support/memory_loops.js';

const webgpu = await startBackend('webgpu');
const full = process.env.KATJS_FULL_MEMORY_TESTS === '1';
const [inferenceSteps, trainingSteps] = full ? [300, 300] : [100, 30];

const skip = skipUnless(webgpu, 'webgpu');

describe('memory without tidy (webgpu)', () => {
  it(`a kat-micro inference loop without tidy or dispose: ${inferenceSteps} iterations stay flat`, { skip }, async () => {
    await onBackendAsync(webgpu as Backend, async () => {
      assertFlat(await inferenceLoop('kat-micro', inferenceSteps, { batch: 8, dispose: false }), `webgpu kat-micro inference, ${inferenceSteps} iterations`);
    });
  });

  it(`a kat-micro training step without tidy: ${trainingSteps} iterations stay flat`, { skip }, async () => {
    await onBackendAsync(webgpu as Backend, async () => {
      assertFlat(await trainingLoop('kat-micro', trainingSteps), `webgpu kat-micro training, ${trainingSteps} iterations`);
    });
  });
});
