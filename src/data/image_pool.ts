// A pool of worker threads that decode and transform image files (Node).
// Requests go to the least busy worker; each resolves with a [3, H, W]
// float32 tensor or rejects with an error that names the file.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DecodeReply, DecodeRequest } from './image_decode_worker.js';
import type { PreprocessConfig } from './image_transforms.js';

interface Pending {
  resolve(pixels: Float32Array): void;
  reject(error: Error): void;
  worker: number;
}

/** Worker threads that decode and preprocess photos ahead of training. */
export class ImageDecodePool {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  /** `threads` workers (default: one per core). */
  constructor(threads = availableParallelism()) {
    const count = Math.max(1, Math.floor(threads));
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./image_decode_worker.js', import.meta.url));
      worker.on('message', (reply: DecodeReply) => this.settle(reply));
      worker.on('error', (error) => this.failWorker(i, error));
      worker.unref();
      this.workers.push(worker);
      this.busy.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Decodes `path` with the eval transform, or the training transform seeded by `augmentSeed`. */
  decode(path: string, preprocess: PreprocessConfig, augmentSeed?: number): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('the image decode pool is closed'));
    let worker = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i]! < this.busy[worker]!) worker = i;
    const id = this.nextId++;
    const request: DecodeRequest = { id, path, preprocess, ...(augmentSeed === undefined ? {} : { augmentSeed }) };
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      this.busy[worker]!++;
      // A pending request keeps the process alive; an idle pool does not.
      if (this.busy[worker] === 1) this.workers[worker]!.ref();
      this.workers[worker]!.postMessage(request);
    });
  }

  private settle(reply: DecodeReply): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    this.release(entry.worker);
    if ('pixels' in reply) entry.resolve(reply.pixels);
    else entry.reject(new Error(reply.error));
  }

  private release(worker: number): void {
    this.busy[worker]!--;
    if (this.busy[worker] === 0) this.workers[worker]!.unref();
  }

  private failWorker(worker: number, error: Error): void {
    for (const [id, entry] of this.pending) {
      if (entry.worker !== worker) continue;
      this.pending.delete(id);
      this.release(worker);
      entry.reject(new Error(`an image decode worker failed: ${error.message}`));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      entry.reject(new Error('the image decode pool was closed'));
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
