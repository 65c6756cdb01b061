// Tensor: a shape plus a reference-counted backend buffer (reshapes share it),
// and the autograd links (requiresGrad, grad, the node that produced it).

import type { Backend } from '../backends/backend.js';
import { engine } from './engine.js';
import type { GradNode } from './autograd.js';
import { runBackward } from './autograd.js';
import { formatShape, shapeSize } from '../util/shape.js';

export { formatShape, shapeSize };

/** A backend buffer shared by tensors that view the same values (reshape). */
export class Storage {
  private refs = 1;
  constructor(readonly backend: Backend, readonly buffer: unknown) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.backend.free(this.buffer);
  }
}

/**
 * What the tensor layer knows of a live tensor without holding it: its
 * storage (null once freed), shape and name. The finalizer registry holds
 * this, never the tensor, so that registering keeps nothing alive.
 */
export interface Handle {
  storage: Storage | null;
  readonly id: number;
  readonly shape: readonly number[];
  readonly size: number;
  name: string | undefined;
  /** Registered with the finalizer registry (once it is outside every scope). */
  registered: boolean;
}

let nextId = 1;

/** Options of Tensor.backward(). */
export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default false: it is released). */
  retainGraph?: boolean;
}

/** An n-dimensional float array on the current backend, with the autograd graph that made it: read it with data(), differentiate with backward(), free it with dispose() or tidy(). */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  readonly backend: Backend;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf that requires grad, after backward(). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when gradients were recorded. */
  gradNode: GradNode | null = null;
  /**
   * Internal: tensors made inside a module's forward and not returned, which
   * only this tensor's graph may still use; backward() frees them once done.
   */
  owned: Tensor[] | null = null;
  /** Internal: whether this tensor is in some tensor's `owned` list. */
  isOwned = false;
  /** Internal: what the tensor layer tracks of this tensor (see Handle). */
  readonly handle: Handle;

  /** Internal: ops create tensors through `fromBuffer` / `view`. */
  constructor(storage: Storage, shape: readonly number[], requiresGrad = false) {
    this.backend = storage.backend;
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.requiresGrad = requiresGrad;
    this.handle = { storage, id: this.id, shape: this.shape, size: this.size, name: undefined, registered: false };
    engine.adopt(this);
  }

  /** Optional label, used in error messages (parameters carry their names). */
  get name(): string | undefined {
    return this.handle.name;
  }

  set name(name: string | undefined) {
    this.handle.name = name;
  }

  private get storage(): Storage | null {
    return this.handle.storage;
  }

  static fromBuffer(backend: Backend, buffer: unknown, shape: readonly number[]): Tensor {
    return new Tensor(new Storage(backend, buffer), shape);
  }

  /** A tensor with another shape over the same buffer (same number of elements). */
  view(shape: readonly number[]): Tensor {
    return new Tensor(this.liveStorage().retain(), shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** The backend buffer; throws a clear error if the tensor was disposed. */
  get buffer(): unknown {
    return this.liveStorage().buffer;
  }

  private liveStorage(): Storage {
    if (!this.storage) {
      throw new Error(`${this.describe()} was disposed (by dispose() or at the end of its tidy scope) and cannot be used; ` +
        'return it from tidy() or keep() it to use it later');
    }
    return this.storage;
  }

  describe(): string {
    return `tensor${this.name ? ` '${this.name}'` : ''} #${this.id} ${formatShape(this.shape)}`;
  }

  /** Values as float32, read back asynchronously (a GPU backend must wait for the device). */
  async data(): Promise<Float32Array> {
    if (engine.dueForCollection()) await engine.letCollectorRun();
    const values = await this.backend.read(this.buffer);
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }

  /** Values as float64 (exact for float32 backends; full precision on the float64 reference). */
  async dataFloat64(): Promise<Float64Array> {
    if (engine.dueForCollection()) await engine.letCollectorRun();
    const values = await this.backend.read(this.buffer);
    return values instanceof Float64Array ? values : Float64Array.from(values);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): ${this.describe()} has ${this.size} elements, expected exactly 1`);
    return (await this.data())[0]!;
  }

  /** Synchronous read, only on backends that can (the CPU ones). */
  dataSync(): Float32Array {
    if (!this.backend.readSync) {
      throw new Error(`dataSync(): backend '${this.backend.name}' reads asynchronously; use await tensor.data()`);
    }
    const values = this.backend.readSync(this.buffer);
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }

  /**
   * Reverse-mode autodiff from this tensor. With no argument the tensor must
   * have one element (a loss); otherwise pass the upstream gradient. Gradients
   * accumulate into `.grad` of every leaf that requires grad.
   */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    runBackward(this, gradient, options.retainGraph ?? false);
  }

  /** The same values, cut from the graph. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /**
   * Makes this tensor hold `source`'s values (sharing its buffer; the old one is
   * released). The way optimisers update parameters: the Tensor object that
   * modules hold stays the same. Only for leaves (no recorded op).
   */
  assign(source: Tensor): this {
    if (source.shape.join() !== this.shape.join() || source.backend !== this.backend) {
      throw new Error(`assign(): ${source.describe()} on '${source.backend.name}' cannot replace ${this.describe()} on '${this.backend.name}': ` +
        'shape and backend must match');
    }
    if (this.gradNode) throw new Error(`assign(): ${this.describe()} was computed by '${this.gradNode.op}'; only leaf tensors can be assigned`);
    const next = source.liveStorage().retain();
    this.liveStorage().release();
    this.handle.storage = next;
    return this;
  }

  /** Replaces a leaf's values with host values (loading checkpoints). */
  assignValues(values: ArrayLike<number>): this {
    if (values.length !== this.size) {
      throw new Error(`assignValues(): ${values.length} values for ${this.describe()} (${this.size} elements)`);
    }
    if (this.gradNode) throw new Error(`assignValues(): ${this.describe()} was computed by '${this.gradNode.op}'; only leaf tensors can be assigned`);
    const next = new Storage(this.backend, this.backend.upload(values));
    this.liveStorage().release();
    this.handle.storage = next;
    return this;
  }

  /** Frees the buffer (and this tensor's gradient). Safe to call twice. */
  dispose(): void {
    const storage = this.handle.storage;
    if (!storage) return;
    this.handle.storage = null;
    engine.release(this.handle);
    storage.release();
    engine.untrack(this);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, backend=${this.backend.name}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}
