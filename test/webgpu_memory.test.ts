// Memory without tidy() on WebGPU: a kat-micro inference loop and a training
// step written the PyTorch way stay flat over 300 iterations (live tensors and
// GPU bytes at the 10% mark and at the end within 5%).

import { describe, it } from 'node:test';
import type { Backend } from '../src/backends/backend.js';
import { startBackend } from './support/backends.js';
import { onBackendAsync } from './support/harness.js';
import { assertFlat, inferenceLoop, trainingLoop } from './support/memory_loops.js';

const webgpu = await startBackend('webgpu');

describe('memory without tidy (webgpu)', { skip: webgpu ? false : 'webgpu backend could not start' }, () => {
  it('a kat-micro inference loop without tidy or dispose: 300 iterations stay flat', async () => {
    await onBackendAsync(webgpu as Backend, async () => {
      assertFlat(await inferenceLoop('kat-micro', 300, { batch: 8, dispose: false }), 'webgpu kat-micro inference, 300 iterations');
    });
  });

  it('a kat-micro training step without tidy: 300 iterations stay flat', async () => {
    await onBackendAsync(webgpu as Backend, async () => {
      assertFlat(await trainingLoop('kat-micro', 300), 'webgpu kat-micro training, 300 iterations');
    });
  });
});
