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
