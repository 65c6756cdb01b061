// The WebGPU matmul kernel against the float64 CPU kernel on awkward shapes:
// sizes that are 1, odd, or just past a tile edge, every transpose pair,
// broadcast (stride 0) and padded batch strides, and each tile configuration
// pinned (every candidate of the autotuner) as well as the automatic choice. Skipped when WebGPU cannot start.

import { describe, it } from 'node:test';
import { backendOrSkip } from './support/backends.js';
import { assertClose, float64Backend, randomValues, toFloat32Values } from './support/harness.js';
import { Random } from '../src/tensor/random.js';
import type { WebGpuBackend } from '../src/backends/webgpu/index.js';
import type { GpuBuffer } from '../src/backends/webgpu/context.js';
import { MATMUL_TILES, makeMatmulKernel, matmulTileFits, type MatmulTile } from '../src/backends/webgpu/kernels/matmul.js';

const TOLERANCE = 1e-5;

// [m, k, n]: every size from {1, 3, 17, 64, 65, 130} in each position, the
// degenerate vector cases, and shapes just past 32-, 64- and 128-wide tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 17, 1], [1, 64, 130], [130, 64, 1], [1, 130, 65],
  [3, 3, 3], [3, 1, 17], [17, 3, 1], [3, 65, 64], [64, 17, 3],
  [17, 17, 17], [17, 130, 65], [65, 3, 17], [64, 64, 64], [65, 65, 65],
  [64, 65, 130], [130, 1, 64], [65, 130, 3], [130, 17, 130], [130, 130, 17],
  [3, 130, 130], [130, 3, 65], [64, 1, 65], [17, 64, 130], [130, 65, 64],
  [130, 130, 130],
];

interface BatchLayout {
  name: string;
  batch: number;
  /** Batch strides from the packed size of one operand (null: packed, 0: broadcast, else extra padding). */
  aPad: number | null | 0;
  bPad: number | null | 0;
}

const LAYOUTS: BatchLayout[] = [
  { name: 'single', batch: 1, aPad: null, bPad: null },
  { name: 'batched', batch: 3, aPad: null, bPad: null },
  { name: 'A broadcast', batch: 3, aPad: 0, bPad: null },
  { name: 'B broadcast, A padded', batch: 2, aPad: 5, bPad: 0 },
];

const strideOf = (pad: number | null, packed: number) => (pad === null ? packed : pad === 0 ? 0 : packed + pad);

describe('webgpu matmul vs float64 reference', async () => {
  const [gpu, skip] = await backendOrSkip<WebGpuBackend>('webgpu');
  const backend = gpu!; // every test below is skipped where it is null
  // Without a device the tile tests are still declared (every tile, skipped), so the skipped count is honest.
  const unavailable = (() => { throw new Error('no webgpu'); }) as unknown as ReturnType<typeof makeMatmulKernel>;
  const kernels: [string, ReturnType<typeof makeMatmulKernel>][] = gpu ? [
    ['auto', backend.kernels.matmul],
    // Every tile the autotuner may pick on this device (a tile past the device's workgroup limits is never a candidate).
    ...(Object.keys(MATMUL_TILES) as MatmulTile[]).filter((tile) => matmulTileFits(backend.ctx.device.limits, tile)).map((tile) => [tile, makeMatmulKernel(backend.ctx, { tile })] as [string, ReturnType<typeof makeMatmulKernel>]),
  ] : [['auto', unavailable], ...(Object.keys(MATMUL_TILES) as MatmulTile[]).map((tile) => [tile, unavailable] as [string, ReturnType<typeof makeMatmulKernel>])];

  async function check(kernel: ReturnType<typeof makeMatmulKernel>, what: string, rng: Random, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aStride: number, bStride: number): Promise<void> {
    const aValues = toFloat32Values(randomValues(rng, Math.max(1, (batch - 1) * aStride + m * k)));
    const bValues = toFloat32Values(randomValues(rng, Math.max(1, (batch - 1) * bStride + k * n)));
    const ref = float64Backend.kernels;
    const expected = float64Backend.readSync(ref.matmul(float64Backend.upload(aValues), float64Backend.upload(bValues), batch, m, k, n,
      transA, transB, aStride, bStride));
    const a = backend!.upload(aValues);
    const b = backend!.upload(bValues);
    const out: GpuBuffer = kernel(a, b, batch, m, k, n, transA, transB, aStride, bStride);
    const actual = await backend!.read(out);
    for (const buffer of [a, b, out]) backend!.free(buffer);
    assertClose(actual, expected, TOLERANCE, what);
  }

  for (const [tile, kernel] of kernels) {
    it(`${tile} tiles: ${SHAPES.length} shapes x 4 transposes x batch layouts`, { skip }, async () => {
      const rng = new Random(17);
      let layoutIndex = 0;
      for (const [m, k, n] of SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            // Cycle the batch layouts so every shape and transpose pair meets several.
            const layout = LAYOUTS[layoutIndex++ % LAYOUTS.length]!;
            const aStride = strideOf(layout.aPad, m * k);
            const bStride = strideOf(layout.bPad, k * n);
            await check(kernel, `${tile} [${m}, ${k}, ${n}] transA=${transA} transB=${transB} ${layout.name}`, rng,
              layout.batch, m, k, n, transA, transB, aStride, bStride);
          }
        }
      }
    });
  }

  it('k = 0 gives zeros; an empty output dispatches nothing', { skip }, async () => {
    const a = backend.upload([1]);
    const out = backend.kernels.matmul(a, a, 2, 3, 0, 4, false, false, 0, 0);
    const values = await backend.read(out);
    assertClose(values, new Float64Array(24), 0, 'k = 0');
    const empty = backend.kernels.matmul(a, a, 2, 0, 1, 4, false, false, 0, 0);
    if (empty.size !== 0) throw new Error(`empty matmul has ${empty.size} elements`);
    for (const buffer of [a, out, empty]) backend.free(buffer);
  });

  // SwiftShader needs about 0.75 ms per workgroup here: a minute for this one test, so only on request there.
  const slow = gpu !== null && /swiftshader/i.test(backend.description) && !process.env.KATJS_TEST_SLOW;
  it('more than 65535 workgroups fold into a 2-D grid', { skip: skip || (slow && 'slow on SwiftShader (set KATJS_TEST_SLOW=1)') }, async () => {
    // 4 tiles of 32 x 32 per matrix: the tile within a matrix is decoded from the folded index too.
    await check(makeMatmulKernel(backend.ctx, { tile: 'small' }), 'batch 16500 of [33, 3]^T x [3, 33], small tiles', new Random(6),
      16500, 33, 3, 33, true, false, 0, 99);
  });

  it('a big batched product (the automatic choice takes 128 x 128 tiles)', { skip }, async () => {
    await check(backend.kernels.matmul, 'batch 16 of [256, 40] x [1024, 40]^T', new Random(8), 16, 256, 40, 1024,
      false, true, 256 * 40, 0);
  });
});
