// the one seeded generator all randomness comes from: weight init, dropout
// masks, shuffling, augmentation. it is philox4x32-10 (native/common/philox.h),
// counter-based: the state is just (seed, offset). native ops draw a block of
// `n` numbers at the current offset and the generator moves past it; the
// JavaScript side draws from the same stream. saving (seed, offset) in a
// checkpoint is enough to resume with the same numbers.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

// 32x32 -> 64-bit product as [hi, lo], exact (Math.imul gives only the low half)
function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff, aHi = a >>> 16;
  const bLo = b & 0xffff, bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const hihi = aHi * bHi;
  const mid = (lolo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff);
  const hi = (hihi + (mid1 >>> 16) + (mid2 >>> 16) + (mid >>> 16)) >>> 0;
  const lo = Math.imul(a, b) >>> 0;
  return [hi, lo];
}

/** philox4x32-10 of counter (as two 32-bit halves) under key seed; the same bits as the native version */
export function philox4x32(counterLo: number, counterHi: number, seedLo: number, seedHi: number): Uint32Array {
  let c0 = counterLo >>> 0, c1 = counterHi >>> 0, c2 = 0, c3 = 0;
  let k0 = seedLo >>> 0, k1 = seedHi >>> 0;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

const U64 = (1n << 64n) - 1n;

export interface GeneratorState {
  seed: string; // decimal uint64, as text so JSON keeps every bit
  offset: string;
}

export class Generator {
  seed: bigint;
  offset: bigint;

  constructor(seed: number | bigint = 0) {
    this.seed = BigInt(seed) & U64;
    this.offset = 0n;
  }

  /** reserves n numbers of the stream for a native op; returns the offset they start at */
  take(n: number): bigint {
    const start = this.offset;
    this.offset = (this.offset + BigInt(n)) & U64;
    return start;
  }

  /** the next uniform float in [0, 1), 24 bits, the same value philox_uniform gives natively */
  uniform(): number {
    const idx = this.take(1);
    const seedLo = Number(this.seed & 0xffffffffn), seedHi = Number(this.seed >> 32n);
    const r = philox4x32(Number(idx & 0xffffffffn), Number(idx >> 32n), seedLo, seedHi);
    return (r[0] >>> 8) / 16777216;
  }

  /** a uniform integer in [0, n), n <= 2^24 */
  int(n: number): number {
    if (!(n >= 1 && n <= 16777216)) throw new RangeError(`Generator.int: n must be in [1, 2^24], got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** a fresh permutation of 0..n-1 (fisher-yates) */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
  }

  state(): GeneratorState {
    return { seed: this.seed.toString(), offset: this.offset.toString() };
  }

  setState(s: GeneratorState): void {
    this.seed = BigInt(s.seed) & U64;
    this.offset = BigInt(s.offset) & U64;
  }
}
