// AssemblyScript, compiled to WebAssembly SIMD at build time (scripts/build-wasm.mjs).
//
// Operand packing for matmulPacked: the host copies a raw operand into linear
// memory in one block copy, and these loops reorder it (JavaScript loops over
// typed arrays were a large share of a small matmul's time).

/** op(B) [k, n] as panels [n8 / 8][k][8], columns n..n8 zero. B is [k, n], or [n, k] when transposed. */
export function packPanels(src: usize, dst: usize, k: i32, n: i32, transposed: bool, n8: i32): void {
  for (let panel = 0; panel < n8; panel += 8) {
    const width = min(8, n - panel);
    let out = dst + ((<usize>panel * <usize>k) << 2);
    if (!transposed && width == 8) {
      let row = src + (<usize>panel << 2);
      const step = <usize>n << 2;
      for (let p = 0; p < k; p++) {
        v128.store(out, v128.load(row));
        v128.store(out, v128.load(row, 16), 16);
        row += step;
        out += 32;
      }
      continue;
    }
    for (let p = 0; p < k; p++) {
      v128.store(out, i32x4.splat(0));
      v128.store(out, i32x4.splat(0), 16);
      for (let jj = 0; jj < width; jj++) {
        const from = transposed ? <usize>(panel + jj) * <usize>k + <usize>p : <usize>p * <usize>n + <usize>(panel + jj);
        store<f32>(out + (<usize>jj << 2), load<f32>(src + (from << 2)));
      }
      out += 32;
    }
  }
}

/** op(A) [m, k] from A stored [k, m] (transposed), as rows [m4, k] with rows m..m4 zero. */
export function packRowsTransposed(src: usize, dst: usize, m: i32, k: i32, m4: i32): void {
  for (let p = 0; p < k; p++) {
    const row = src + ((<usize>p * <usize>m) << 2);
    let out = dst + (<usize>p << 2);
    const step = <usize>k << 2;
    for (let i = 0; i < m; i++) {
      store<f32>(out, load<f32>(row + (<usize>i << 2)));
      out += step;
    }
  }
  memory.fill(dst + ((<usize>m * <usize>k) << 2), 0, (<usize>(m4 - m) * <usize>k) << 2);
}
