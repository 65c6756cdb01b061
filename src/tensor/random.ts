// A small seeded generator for host-side randomness (initialisation, data
// shuffling, dropout seeds): the same seed gives the same numbers everywhere.

/** Everything a Random draws from next (JSON-safe). */
export interface RandomState {
  s: [number, number, number, number];
  spareNormal: number | null;
}

/** xoshiro128** (Blackman & Vigna): 128-bit state, good statistics, 32-bit ops only. */
export class Random {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }

  seed(seed: number): void {
    // splitmix32 spreads the seed over the state (an all-zero state would be stuck).
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spareNormal = null;
  }

  /** The generator's full state (for resumable training): four 32-bit words and the cached normal, if any. */
  getState(): RandomState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spareNormal: this.spareNormal };
  }

  /** Restores a state from getState(): the same numbers follow as after that call. */
  setState(state: RandomState): void {
    const words = (state as Partial<RandomState> | null)?.s;
    const spare = (state as Partial<RandomState> | null)?.spareNormal;
    if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new Error('Random.setState(): expected { s: four 32-bit unsigned integers, spareNormal: number | null }');
    }
    // An all-zero state never leaves zero (seed() cannot produce it).
    if (words.every((w) => w === 0)) throw new Error('Random.setState(): the all-zero state is not valid');
    if (spare !== null && (typeof spare !== 'number' || !Number.isFinite(spare))) {
      throw new Error(`Random.setState(): spareNormal must be a finite number or null, got ${String(spare)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    this.spareNormal = spare;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Standard normal (Box-Muller; the second value is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator behind randn/rand/dropout when no seed is given; reset with setSeed. */
export const globalRandom = new Random(0);

/** Reseeds the global generator that randn, rand, dropout and initialisers draw from when no seed is given. */
export function setSeed(seed: number): void {
  globalRandom.seed(seed);
}
