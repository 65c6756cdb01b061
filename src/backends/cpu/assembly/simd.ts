// Shared SIMD helpers. The build compiles every kernel twice: with relaxed SIMD
// (fused multiply-add where the CPU has it) and without (plain wasm SIMD);
// ASC_FEATURE_RELAXED_SIMD picks the branch at compile time.

/** a * b + c, fused where relaxed SIMD maps it to an FMA instruction. */
// @ts-ignore: decorator
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** c - a * b, fused where relaxed SIMD maps it to an FMA instruction. */
// @ts-ignore: decorator
@inline export function fnma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_nmadd(a, b, c);
  return f32x4.sub(c, f32x4.mul(a, b));
}
