// Counter-based randomness: a value depends only on (seed, index), so every
// backend (and a GPU thread per element) draws the same dropout mask with no
// state and no mask stored for the backward.

/** murmur3's 32-bit finaliser: a bijection with full avalanche. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) with 24 random bits, from (seed, index). */
export function uniformAt(seed: number, index: number): number {
  return (mix32((mix32(seed >>> 0) ^ index) >>> 0) >>> 8) / 16777216;
}

export function dropoutKeep(seed: number, index: number, p: number): boolean {
  return uniformAt(seed, index) >= p;
}
