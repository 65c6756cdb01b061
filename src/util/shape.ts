// Shape arithmetic shared by every layer (backends included).

export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = s;
    s *= shape[axis]!;
  }
  return strides;
}

/** True when `strides` read `shape` in row-major order (size-1 axes may have any stride). */
export function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis]! !== 1 && strides[axis]! !== expected) return false;
    expected *= shape[axis]!;
  }
  return true;
}

/**
 * If reading with `strides` over `shape` is "zero strides on leading axes, then
 * contiguous", the operand is a block of `period` values repeated: return the
 * period (a bias, a position embedding, a scalar); otherwise 0.
 */
export function repeatPeriod(shape: readonly number[], strides: readonly number[]): number {
  let axis = shape.length - 1;
  let expected = 1;
  while (axis >= 0 && (strides[axis] === expected || shape[axis] === 1)) {
    expected *= shape[axis]!;
    axis--;
  }
  for (; axis >= 0; axis--) if (strides[axis] !== 0 && shape[axis] !== 1) return 0;
  return expected;
}

/**
 * Visits, in row-major order, every index of the first `axes` axes of `shape`,
 * calling visit(ordinal, sourceOffset) with the element offset that `strides`
 * give it from `offset`. Callers handle the remaining (inner) axes themselves.
 */
export function forEachOuterIndex(shape: readonly number[], strides: readonly number[], axes: number, offset: number,
  visit: (ordinal: number, sourceOffset: number) => void): void {
  let count = 1;
  for (let axis = 0; axis < axes; axis++) count *= shape[axis]!;
  const index = new Array<number>(axes).fill(0);
  let src = offset;
  for (let o = 0; o < count; o++) {
    visit(o, src);
    for (let axis = axes - 1; axis >= 0; axis--) {
      index[axis]!++;
      src += strides[axis]!;
      if (index[axis]! < shape[axis]!) break;
      src -= strides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
}
