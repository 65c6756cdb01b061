// The CPU backend's allocator inside the WebAssembly memory. Tensors live
// here, so the SIMD kernels read and write them in place and no call copies its
// operands in or out. Blocks are 64-byte aligned (a cache line); freed blocks
// go to free lists by exact size (training repeats the same shapes every
// step), are split and merged when those lists cannot serve a request, and
// the memory grows only when no free block fits.
//
// Views stay valid while the memory grows only where it is shared (growing a
// plain memory detaches its buffer): tensors are placed here only then.

/** Bytes per block unit: one cache line. */
const ALIGN = 64;

export class WasmHeap {
  private view: Float32Array;
  /** Every buffer object this memory has had: a view belongs to the heap iff its buffer is one of these. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private readonly live = new Map<number, number>(); // address -> block bytes
  private readonly freeBySize = new Map<number, number[]>(); // block bytes -> addresses
  private freeBytes = 0;
  /** Next unused address; everything above it is free. */
  private top: number;
  /** Highest address ever handed out: memory above it is still zero. */
  private dirtyTop: number;

  /**
   * `base`: the first address the heap may use (below it: the module's own data).
   * `maxBytes`: where allocation stops (alloc returns null beyond it).
   */
  constructor(private readonly memory: WebAssembly.Memory, base: number, private readonly maxBytes: number) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
    this.dirtyTop = this.top;
    this.view = new Float32Array(memory.buffer);
    this.buffers.add(memory.buffer);
  }

  /** Whether views into this memory survive growth (shared memory). */
  get shared(): boolean {
    return typeof SharedArrayBuffer !== 'undefined' && this.memory.buffer instanceof SharedArrayBuffer;
  }

  /** A float32 view of the whole memory as it is now. */
  floats(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) {
      this.view = new Float32Array(this.memory.buffer);
      this.buffers.add(this.memory.buffer);
    }
    return this.view;
  }

  /** The byte address of `array` if it lives in this memory, else -1. */
  addressOf(array: ArrayBufferView): number {
    return this.buffers.has(array.buffer) ? array.byteOffset : -1;
  }

  /** Bytes in use by live blocks, free blocks, and the memory's size. */
  stats(): { liveBytes: number; freeBytes: number; memoryBytes: number; top: number } {
    let liveBytes = 0;
    for (const bytes of this.live.values()) liveBytes += bytes;
    return { liveBytes, freeBytes: this.freeBytes, memoryBytes: this.memory.buffer.byteLength, top: this.top };
  }

  /**
   * A block of `floats` float32 values (zeroed when `zero`), as a view; null
   * when the memory cannot grow that far.
   */
  alloc(floats: number, zero = true): Float32Array | null {
    const bytes = Math.max(ALIGN, Math.ceil((floats * 4) / ALIGN) * ALIGN);
    const address = this.take(bytes);
    if (address < 0) return null;
    this.live.set(address, bytes);
    const view = new Float32Array(this.memory.buffer, address, floats);
    this.buffers.add(view.buffer);
    // Fresh memory above dirtyTop is still zero from the grow.
    if (zero && address < this.dirtyTop) view.fill(0);
    this.dirtyTop = Math.max(this.dirtyTop, address + bytes);
    return view;
  }

  /** Returns a block alloc() gave out (by any view starting at its address). False if it is not a live block of this heap. */
  free(view: ArrayBufferView): boolean {
    const address = this.addressOf(view);
    const bytes = address < 0 ? undefined : this.live.get(address);
    if (bytes === undefined) return false;
    this.live.delete(address);
    if (address + bytes === this.top) {
      this.top = address;
      return true;
    }
    this.pushFree(address, bytes);
    return true;
  }

  private pushFree(address: number, bytes: number): void {
    let list = this.freeBySize.get(bytes);
    if (!list) this.freeBySize.set(bytes, (list = []));
    list.push(address);
    this.freeBytes += bytes;
  }

  private take(bytes: number): number {
    const list = this.freeBySize.get(bytes);
    if (list && list.length > 0) {
      this.freeBytes -= bytes;
      return list.pop()!;
    }
    // Memory already grown is used first. Before growing: split the smallest free block that fits, and only
    // when none does, merge neighbours (merging breaks up the exact sizes a repeating workload reuses).
    if (this.top + bytes <= this.memory.buffer.byteLength) return this.bump(bytes);
    if (this.freeBytes >= bytes) {
      const address = this.takeSplit(bytes);
      if (address >= 0) return address;
      const merged = this.takeMerged(bytes);
      if (merged >= 0) return merged;
    }
    return this.fits(bytes) ? this.bump(bytes) : -1;
  }

  /** The smallest free block of at least `bytes` (split, the rest stays free), or -1. */
  private takeSplit(bytes: number): number {
    let best = Infinity;
    for (const [size, addresses] of this.freeBySize) if (size > bytes && size < best && addresses.length > 0) best = size;
    if (best === Infinity) return -1;
    const address = this.freeBySize.get(best)!.pop()!;
    this.freeBytes -= best;
    this.pushFree(address + bytes, best - bytes);
    return address;
  }

  private fits(bytes: number): boolean {
    return this.top + bytes <= this.maxBytes;
  }

  private bump(bytes: number): number {
    const address = this.top;
    const end = address + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow by at least an eighth of the memory so a growing workload does not grow it page by page.
      const pages = Math.max(Math.ceil((end - have) / 65536), Math.ceil(have / 65536 / 8));
      try {
        this.memory.grow(Math.min(pages, Math.ceil((this.maxBytes - have) / 65536)));
      } catch {
        try {
          this.memory.grow(Math.ceil((end - have) / 65536));
        } catch {
          return -1;
        }
      }
      this.floats();
    }
    this.top = end;
    return address;
  }

  /** Merges adjacent free blocks (lowering the top where they reach it), then splits the best fit for `bytes`. */
  private takeMerged(bytes: number): number {
    const blocks: [number, number][] = [];
    for (const [size, addresses] of this.freeBySize) for (const address of addresses) blocks.push([address, size]);
    blocks.sort((a, b) => a[0] - b[0]);
    this.freeBySize.clear();
    this.freeBytes = 0;
    const merged: [number, number][] = [];
    for (const [address, size] of blocks) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === address) last[1] += size;
      else merged.push([address, size]);
    }
    const last = merged[merged.length - 1];
    if (last && last[0] + last[1] === this.top) {
      this.top = last[0];
      merged.pop();
    }
    let best = -1;
    for (let i = 0; i < merged.length; i++) {
      if (merged[i]![1] >= bytes && (best < 0 || merged[i]![1] < merged[best]![1])) best = i;
    }
    let address = -1;
    if (best >= 0) {
      const [at, size] = merged[best]!;
      address = at;
      merged.splice(best, 1);
      if (size > bytes) merged.push([at + bytes, size - bytes]);
    }
    for (const [at, size] of merged) this.pushFree(at, size);
    return address;
  }
}
