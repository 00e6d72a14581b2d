// the seeded source of test inputs (mulberry32): fast, reproducible, and
// independent of the generators under test (src/random.ts, the philox
// kernels). every spec case draws its inputs from its own stream, seeded by
// the op's name and the case's index, so a case's inputs do not change when
// another case is added.
import type { InputRng } from './types';

export class Rng implements InputRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** uniform in [lo, hi) */
  uniform(lo = -1, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** an integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** standard normal (box-muller) */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** n float32 values uniform in [lo, hi) */
  floats(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /** n float32 standard normals */
  normals(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = scale * this.normal();
    return out;
  }

  /** n int32 values in [0, bound) */
  ints(n: number, bound: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(bound);
    return out;
  }

  /** n labels in [0, classes) */
  labels(n: number, classes: number): Int32Array {
    return this.ints(n, classes);
  }

  /** one element of a list */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** the seed of one case's inputs: FNV-1a of the op's name, mixed with the case index */
export function caseSeed(op: string, index: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < op.length; i++) h = Math.imul(h ^ op.charCodeAt(i), 0x01000193) >>> 0;
  return (Math.imul(h ^ index, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
}

/** the input stream of case `index` of op `op` */
export function caseRng(op: string, index: number): Rng {
  return new Rng(caseSeed(op, index));
}
