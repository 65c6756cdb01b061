// Tensors inside the WebAssembly memory: the heap allocator (reuse, merging,
// growth, zeroing, views that survive growth), and the blocked GEMM and the
// threaded kernels working in place, against float64 and the TypeScript kernels.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuBackend } from '../src/backends/cpu/index.js';
import { WasmHeap } from '../src/backends/cpu/heap.js';
import { Random } from '../src/tensor/random.js';
import { createModel } from '../src/models/registry.js';
import { softmaxCrossEntropy } from '../src/ops/nn.js';
import { randn, tensor } from '../src/ops/creation.js';
import { float64Backend, onBackend, randomValues, scaledMaxError } from './support/harness.js';

const rng = new Random(31);

describe('WasmHeap', () => {
  const sharedMemory = () => new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true });

  it('gives 64-byte aligned, zeroed, disjoint blocks and reuses freed ones of the same size', () => {
    const heap = new WasmHeap(sharedMemory(), 1024, 1024 * 65536);
    const a = heap.alloc(10)!;
    const b = heap.alloc(100)!;
    assert.equal(heap.addressOf(a) % 64, 0);
    assert.equal(heap.addressOf(b) % 64, 0);
    assert.ok(heap.addressOf(b) >= heap.addressOf(a) + 40);
    a.fill(7);
    b.fill(9);
    assert.ok(heap.free(a));
    const again = heap.alloc(10)!;
    assert.equal(heap.addressOf(again), heap.addressOf(a), 'the freed block is reused');
    assert.deepEqual([...again], new Array(10).fill(0), 'a reused block is zeroed');
    assert.ok(b.every((v) => v === 9), 'other blocks are untouched');
    assert.equal(heap.free(new Float32Array(4)), false, 'a view outside the heap is not freed');
  });

  it('keeps views valid while the memory grows', () => {
    const memory = sharedMemory();
    const heap = new WasmHeap(memory, 1024, 1024 * 65536);
    const first = heap.alloc(1000)!;
    first.forEach((_, i) => { first[i] = i; });
    const before = memory.buffer.byteLength;
    const big = heap.alloc(4 * 65536)!; // 1 MiB: forces growth
    assert.ok(memory.buffer.byteLength > before);
    assert.equal(first[999], 999, 'old view still reads the same memory');
    big[0] = 1;
    assert.ok(heap.addressOf(first) >= 0 && heap.addressOf(big) >= 0, 'views of old and new buffers are both recognised');
  });

  it('merges adjacent free blocks instead of growing when the pattern of sizes changes', () => {
    const heap = new WasmHeap(sharedMemory(), 1024, 1024 * 65536);
    const blocks = Array.from({ length: 64 }, () => heap.alloc(1024)!);
    const keep = heap.alloc(16)!; // pins the top so the freed blocks cannot simply lower it
    const topBefore = heap.stats().top;
    for (const block of blocks) heap.free(block);
    // 64 x 4 KiB free in a row; a request larger than the memory left above the top fits there after merging.
    const spare = heap.stats().memoryBytes - topBefore;
    assert.ok(spare + 4096 <= 64 * 4096);
    const large = heap.alloc((spare + 4096) / 4)!;
    assert.ok(heap.addressOf(large) < heap.addressOf(keep), 'served from the merged free blocks');
    assert.equal(heap.stats().top, topBefore, 'no growth');
    heap.free(large);
    heap.free(keep);
  });

  it('returns null beyond its maximum, and frees lower the top', () => {
    const heap = new WasmHeap(sharedMemory(), 1024, 4 * 65536);
    const a = heap.alloc(3 * 16384)!;
    assert.equal(heap.alloc(2 * 16384), null);
    heap.free(a);
    assert.ok(heap.alloc(3 * 16384), 'space is available again');
  });
});

describe('CPU kernels in place in WebAssembly memory', () => {
  const backends = [1, 2].map((threads) => new CpuBackend('float32', { threads }));
  process.once('beforeExit', () => backends.forEach((b) => b.dispose()));
  const upload = (backend: CpuBackend, values: Float64Array) => backend.upload(values) as Float32Array;

  it('places tensors in the module memory', async () => {
    for (const backend of backends) {
      await backend.wasm!.ready;
      assert.ok(backend.wasm!.holdsTensors);
      assert.ok(backend.wasm!.inPlace(upload(backend, new Float64Array(8))));
    }
    assert.equal(backends[1]!.wasm!.threads, 2);
  });

  // Edges of every block size: m and n not multiples of 6 and 8, k past one 256-deep slice, n past one 512-wide block.
  const shapes: [number, number, number, number, boolean, boolean][] = [
    [1, 1, 1, 1, false, false], [7, 5, 9, 1, false, true], [13, 300, 17, 2, true, false], [131, 257, 530, 1, true, true],
    [250, 70, 45, 3, false, false], [6, 600, 8, 1, false, true], [97, 64, 97, 12, false, true],
  ];
  for (const [m, k, n, batch, transA, transB] of shapes) {
    it(`matmul ${batch} x [${m}, ${k}] x [${k}, ${n}] (transA ${transA}, transB ${transB}) matches float64 on 1 and 2 threads`, () => {
      const a = randomValues(rng, batch * m * k);
      const b = randomValues(rng, batch * k * n);
      const expected = float64Backend.kernels.matmul(a, b, batch, m, k, n, transA, transB, m * k, k * n);
      for (const backend of backends) {
        const actual = backend.kernels.matmul(upload(backend, a), upload(backend, b), batch, m, k, n, transA, transB, m * k, k * n);
        assert.ok(scaledMaxError(actual, expected) < 2e-6, `${backend.wasm!.threads} threads: error ${scaledMaxError(actual, expected)}`);
      }
    });
  }

  it('matmul with the bias fused into the store gives the bits of matmul then a broadcast add', () => {
    for (const [batch, m, k, n] of [[1, 131, 257, 530], [3, 50, 70, 45], [1, 5, 3, 7]] as const) {
      const a = randomValues(rng, batch * m * k);
      const w = randomValues(rng, n * k);
      const bias = randomValues(rng, n);
      for (const backend of backends) {
        const [A, W, B] = [a, w, bias].map((v) => upload(backend, v));
        const fused = backend.kernels.matmulBias!(A!, W!, B!, batch, m, k, n, false, true, m * k, 0);
        const product = backend.kernels.matmul(A!, W!, batch, m, k, n, false, true, m * k, 0);
        const separate = backend.kernels.binary('add', product, B!, [batch * m, n], [n, 1], [0, 1]);
        assert.deepEqual(fused, separate, `${batch} x [${m}, ${k}] x [${k}, ${n}] on ${backend.wasm!.threads} threads`);
      }
    }
  });

  it('fused attention (row blocks, several items, 2 threads) gives the bits of the composition, and float64 gradients', () => {
    for (const [items, tokens, dim] of [[3, 197, 64], [20, 17, 16], [1, 5, 3]] as const) {
      const size = items * tokens * dim;
      const [q, k, v, g] = [0, 1, 2, 3].map(() => randomValues(rng, size));
      const scale = 1 / Math.sqrt(dim);
      const reference = (backend: CpuBackend | typeof float64Backend) => {
        const K = backend.kernels;
        const put = (values: Float64Array) => backend === float64Backend ? values : upload(backend as CpuBackend, values);
        const [Q, Kt, V, G] = [q!, k!, v!, g!].map(put);
        const scores = K.matmul(Q!, Kt!, items, tokens, dim, tokens, false, true, tokens * dim, tokens * dim);
        const p = K.softmax(K.binary('mul', scores, put(Float64Array.of(scale)), [items * tokens, tokens], [tokens, 1], [0, 0]), items * tokens, tokens);
        const out = K.matmul(p, V!, items, tokens, tokens, dim, false, false, tokens * tokens, tokens * dim);
        // dV = P^T g, dP = g V^T, dS = scale P (dP - rowsum(g out)), dQ = dS K, dK = dS^T Q
        const dv = K.matmul(p, G!, items, tokens, tokens, dim, true, false, tokens * tokens, tokens * dim);
        const dp = K.matmul(G!, V!, items, tokens, dim, tokens, false, true, tokens * dim, tokens * dim);
        const delta = K.reduce('sum', K.binary('mul', G!, out, [items * tokens, dim], [dim, 1], [dim, 1]), [items * tokens, dim], [1]);
        const ds = K.binary('mul', K.binary('mul', p, K.binary('sub', dp, delta, [items * tokens, tokens], [tokens, 1], [1, 0]),
          [items * tokens, tokens], [tokens, 1], [tokens, 1]), put(Float64Array.of(scale)), [items * tokens, tokens], [tokens, 1], [0, 0]);
        const dq = K.matmul(ds, Kt!, items, tokens, tokens, dim, false, false, tokens * tokens, tokens * dim);
        const dk = K.matmul(ds, Q!, items, tokens, tokens, dim, true, false, tokens * tokens, tokens * dim);
        return { Q, Kt, V, G, out, grads: [dq, dk, dv] };
      };
      const exact = reference(float64Backend);
      for (const backend of backends) {
        const { Q, Kt, V, G, out } = reference(backend);
        const [fused, lse] = backend.kernels.attention!(Q!, Kt!, V!, items, tokens, dim, scale);
        assert.deepEqual(fused, out, `${items} x ${tokens} x ${dim}: forward bits, ${backend.wasm!.threads} threads`);
        assert.equal(lse!.length, items * tokens);
        const grads = backend.kernels.attentionBackward!(Q!, Kt!, V!, fused!, lse!, G!, items, tokens, dim, scale);
        grads.forEach((grad, i) => assert.ok(scaledMaxError(grad, exact.grads[i]!) < 1e-5,
          `${items} x ${tokens} x ${dim}: gradient ${i}: ${scaledMaxError(grad, exact.grads[i]!)}`));
      }
    }
  });

  it('matmul with a broadcast operand (batch stride 0)', () => {
    const [batch, m, k, n] = [5, 33, 40, 29];
    const a = randomValues(rng, batch * m * k);
    const w = randomValues(rng, k * n);
    const expected = float64Backend.kernels.matmul(a, w, batch, m, k, n, false, false, m * k, 0);
    for (const backend of backends) {
      const actual = backend.kernels.matmul(upload(backend, a), upload(backend, w), batch, m, k, n, false, false, m * k, 0);
      assert.ok(scaledMaxError(actual, expected) < 2e-6);
    }
  });

  it('row-wise and element-wise kernels split over threads equal the one-thread results and float64', () => {
    const [rows, cols] = [700, 192]; // large enough to split
    const x = randomValues(rng, rows * cols, { scale: 2 });
    const gy = randomValues(rng, rows * cols);
    const weight = randomValues(rng, cols);
    const bias = randomValues(rng, cols);
    const run = (backend: CpuBackend | typeof float64Backend, values: Float64Array) => backend === float64Backend ? values
      : upload(backend as CpuBackend, values);
    const outputs = [float64Backend, ...backends].map((backend) => {
      const k = backend.kernels;
      const X = run(backend, x);
      const G = run(backend, gy);
      const [y, mean, rstd] = k.layerNorm(X, run(backend, weight), run(backend, bias), rows, cols, 1e-6);
      const [dx, dw, db] = k.layerNormBackward(X, run(backend, weight), mean!, rstd!, G, rows, cols);
      const s = k.softmax(X, rows, cols);
      return [y!, dx!, dw!, db!, s, k.softmaxBackward(s, G, rows, cols), k.unary('gelu', X, rows * cols),
        k.unaryGrad('tanh', X, G, rows * cols), k.binary('mul', X, G, [rows, cols], [cols, 1], [cols, 1]),
        k.binary('add', X, run(backend, bias), [rows, cols], [cols, 1], [0, 1])];
    });
    const [reference, one, two] = outputs;
    reference!.forEach((expected, i) => {
      assert.ok(scaledMaxError(one![i]!, expected) < 1e-5, `output ${i}, 1 thread: ${scaledMaxError(one![i]!, expected)}`);
      assert.ok(scaledMaxError(two![i]!, expected) < 1e-5, `output ${i}, 2 threads: ${scaledMaxError(two![i]!, expected)}`);
    });
    // Slices do not depend on the thread count: the same bits on 1 and 2 threads, reductions included.
    one!.forEach((out, i) => assert.deepEqual(two![i], out, `output ${i}`));
  });

  it('tensors start above the module static data that every worker instance rewrites when it starts', () => {
    for (const backend of backends) {
      const first = upload(backend, new Float64Array(4));
      assert.ok(backend.wasm!.heap.addressOf(first) >= backend.wasm!.staticDataEnd);
    }
  });

  it('a ViT training step gives the same gradient bits on 1 and 2 threads, run after run', () => {
    const gradients = [1, 2, 2].map((_, run) => onBackend(backends[run === 0 ? 0 : 1]!, () => {
      const model = createModel('vit-micro', { seed: 3 });
      const x = randn([32, 1, 28, 28], { seed: 4 });
      const y = tensor(Float32Array.from({ length: 32 }, (_, i) => i % 10), [32]);
      softmaxCrossEntropy(model.forward(x), y).backward();
      return model.namedParameters().map(([name, p]) => [name, p.grad!.dataSync()] as const);
    }));
    const [one, two, again] = gradients;
    one!.forEach(([name, g], i) => {
      assert.deepEqual(two![i]![1], g, `${name} differs between 1 and 2 threads`);
      assert.deepEqual(again![i]![1], two![i]![1], `${name} differs between two runs on 2 threads`);
    });
  });

  it('the AdamW step in WebAssembly gives the bits of the TypeScript kernel, on 1 and 2 threads', () => {
    const plain = new CpuBackend('float32', { wasm: false });
    const n = 70_001; // odd, and several slices
    const values = [randomValues(rng, n), randomValues(rng, n), randomValues(rng, n, { scale: 0.1 }), randomValues(rng, n, { positive: true })];
    const hyper = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step: 7 };
    const expected = plain.kernels.adamw(...(values.map((v) => plain.upload(v)) as [Float32Array, Float32Array, Float32Array, Float32Array]),
      n, hyper);
    for (const backend of backends) {
      const actual = backend.kernels.adamw(...(values.map((v) => upload(backend, v)) as [Float32Array, Float32Array, Float32Array,
        Float32Array]), n, hyper);
      actual.forEach((out, i) => assert.deepEqual(out, expected[i], `output ${i} on ${backend.wasm!.threads} threads`));
    }
  });

  it('with a plain (unshared) memory, as in a page without cross-origin isolation, tensors stay outside and results are the same', () => {
    const plainMemory = new CpuBackend('float32', { sharedMemory: false });
    assert.equal(plainMemory.wasm!.holdsTensors, false);
    const [m, k, n] = [131, 257, 530];
    const a = randomValues(rng, m * k);
    const b = randomValues(rng, k * n);
    const x = plainMemory.upload(a) as Float32Array;
    assert.equal(plainMemory.wasm!.inPlace(x), false);
    const product = plainMemory.kernels.matmul(x, plainMemory.upload(b), 1, m, k, n, false, true, 0, 0);
    const reference = backends[0]!.kernels.matmul(upload(backends[0]!, a), upload(backends[0]!, b), 1, m, k, n, false, true, 0, 0);
    assert.deepEqual(product, reference);
    const s1 = plainMemory.kernels.softmax(product, m, n);
    assert.deepEqual(s1, backends[0]!.kernels.softmax(reference, m, n));
    plainMemory.dispose();
  });

  it('memory stays flat over repeated steps (blocks are reused)', () => {
    const backend = backends[1]!;
    const step = () => {
      const a = upload(backend, randomValues(rng, 64 * 300));
      const b = upload(backend, randomValues(rng, 300 * 50));
      const c = backend.kernels.matmul(a, b, 1, 64, 300, 50, false, false, 0, 0);
      const d = backend.kernels.unary('gelu', c, c.length);
      for (const buffer of [a, b, c, d]) backend.free(buffer);
    };
    for (let i = 0; i < 5; i++) step();
    const before = backend.wasm!.heap.stats();
    const buffers = backend.memory().buffers;
    for (let i = 0; i < 200; i++) step();
    const after = backend.wasm!.heap.stats();
    assert.equal(after.memoryBytes, before.memoryBytes);
    assert.equal(after.top, before.top);
    assert.equal(backend.memory().buffers, buffers);
  });
});
