// the random streams (native/cpu/random.cc, native/cuda/random.cu, both on
// native/common/philox.h): uniform and normal fills and dropout. element i of
// the stream (seed, offset) is a pure function of the 64-bit counter
// offset + i under the 64-bit key seed, so the reference recomputes every
// element from the definition of philox4x32-10 (Salmon, Moraes, Dror, Shaw,
// "Parallel random numbers: as easy as 1, 2, 3", SC 2011, and the Random123
// distribution), written here in float64 and BigInt arithmetic, apart from
// src/random.ts and native/common/philox.h. tests/random.test.ts checks it
// against Random123's published known answers (PHILOX4X32_KAT below).
import type { OpSpec } from './types';
import { UNIT_ROUNDOFF, f32 } from './float32';

const TWO16 = 65536;
const TWO32 = 4294967296;

// the hi and lo words of the 64-bit product of two 32-bit words, exactly: the
// 16-bit halves of b keep every partial product under 2^53
function mulhilo(a: number, b: number): [number, number] {
  const low = a * (b % TWO16); // < 2^48
  const high = a * Math.floor(b / TWO16); // < 2^48, to be shifted up 16 bits
  const sum = low + (high % TWO16) * TWO16; // < 2^49
  return [Math.floor(high / TWO16) + Math.floor(sum / TWO32), sum % TWO32];
}

const xor = (a: number, b: number): number => (a ^ b) >>> 0;

/**
 * philox4x32 with `rounds` rounds of counter (four 32-bit words) under key
 * (two words), as Random123 defines it: each round is
 *   (c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0))
 * with M0 = 0xD2511F53, M1 = 0xCD9E8D57, and the key bumped by the Weyl
 * constants (0x9E3779B9, 0xBB67AE85) before every round but the first
 */
export function philox4x32Ref(counter: readonly number[], key: readonly number[], rounds = 10): number[] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + 0x9e3779b9) % TWO32;
      k1 = (k1 + 0xbb67ae85) % TWO32;
    }
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [xor(xor(hi1, c1), k0), lo1, xor(xor(hi0, c3), k1), lo0];
  }
  return [c0, c1, c2, c3];
}

/**
 * Random123's known answers for philox4x32 (file tests/kat_vectors of the
 * Random123 distribution, github.com/DEShawResearch/random123, the
 * "philox4x32 7" and "philox4x32 10" lines): counter, key, the output words
 */
export const PHILOX4X32_KAT: Array<{ rounds: number; counter: number[]; key: number[]; out: number[] }> = [
  { rounds: 7, counter: [0, 0, 0, 0], key: [0, 0], out: [0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48] },
  { rounds: 7, counter: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], key: [0xffffffff, 0xffffffff], out: [0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662] },
  { rounds: 7, counter: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], key: [0xa4093822, 0x299f31d0], out: [0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a] },
  { rounds: 10, counter: [0, 0, 0, 0], key: [0, 0], out: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
  { rounds: 10, counter: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], key: [0xffffffff, 0xffffffff], out: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd] },
  { rounds: 10, counter: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], key: [0xa4093822, 0x299f31d0], out: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1] },
];

const U64 = (1n << 64n) - 1n;
const lo32 = (x: bigint): number => Number(x & 0xffffffffn);
const hi32 = (x: bigint): number => Number((x >> 32n) & 0xffffffffn);

/** the philox words of element idx of the stream (seed, offset): counter (offset + idx) mod 2^64 in words 0-1, key seed */
export function philoxWords(seed: bigint, offset: bigint, idx: number): number[] {
  const counter = (offset + BigInt(idx)) & U64;
  return philox4x32Ref([lo32(counter), hi32(counter), 0, 0], [lo32(seed), hi32(seed)]);
}

/** element idx as a uniform in [0, 1): the top 24 bits of word 0 over 2^24 */
export function philoxUniformRef(seed: bigint, offset: bigint, idx: number): number {
  return Math.floor(philoxWords(seed, offset, idx)[0] / 256) / 16777216;
}

/** element idx as a standard normal: box-muller on words 0 and 1 (u1 in (0, 1], so log is finite) */
export function philoxNormalRef(seed: bigint, offset: bigint, idx: number): number {
  const [w0, w1] = philoxWords(seed, offset, idx);
  const u1 = (Math.floor(w0 / 256) + 1) / 16777216;
  const u2 = Math.floor(w1 / 256) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** dropout's mask in float64: kept (uniform >= p) elements scaled by 1 / (1 - p) */
export function dropoutMaskRef(n: number, p: number, seed: bigint, offset: bigint): Float64Array {
  const mask = new Float64Array(n);
  for (let i = 0; i < n; i++) mask[i] = philoxUniformRef(seed, offset, i) >= p ? 1 / (1 - p) : 0;
  return mask;
}

interface Stream {
  n: number;
  seed: bigint;
  offset: bigint;
}

// sizes around the vector widths, the cpu's 8192-element chunks, and streams
// that start at 0, mid-way, where the counter's low word carries into the
// high word, and where the 64-bit counter wraps
const STREAMS: Stream[] = [
  { n: 1, seed: 0n, offset: 0n },
  { n: 7, seed: 42n, offset: 1000n },
  { n: 8, seed: 1n, offset: 0n },
  { n: 9, seed: 0x1234567890abcdefn, offset: 0xfffffffbn },
  { n: 15, seed: 7n, offset: (1n << 63n) + 3n },
  { n: 16, seed: 3n, offset: 16n },
  { n: 17, seed: 0xffffffffffffffffn, offset: 0xfffffffffffffff8n },
  { n: 1023, seed: 9n, offset: 77n },
  { n: 8193, seed: 11n, offset: 100n },
  { n: 65537, seed: 2024n, offset: 123456789n },
];
const streamLabel = (p: Stream): string => `n${p.n} seed ${p.seed} offset ${p.offset}`;

interface UniformCase extends Stream {
  lo: number;
  hi: number;
}

// bounds whose difference is exact in float32: the kernel's hi - lo is then
// exact and its one fma is its only rounding
const UNIFORM_BOUNDS: Array<[number, number]> = [[0, 1], [-3, 5], [-0.25, 0.75], [100, 104]];

export const uniform: OpSpec<UniformCase> = {
  name: 'uniform',
  family: 'random',
  cases: STREAMS.map((s, i) => ({ ...s, lo: UNIFORM_BOUNDS[i % 4][0], hi: UNIFORM_BOUNDS[i % 4][1] })),
  label: (p) => `${streamLabel(p)} [${p.lo}, ${p.hi})`,
  inputs: () => ({}),
  outputs: (p) => ({ x: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.uniform(p.n, s.x, p.lo, p.hi, p.seed, p.offset),
  reference(p) {
    const lo = f32(p.lo), range = f32(p.hi) - f32(p.lo);
    const x = new Float64Array(p.n);
    for (let i = 0; i < p.n; i++) x[i] = lo + range * philoxUniformRef(p.seed, p.offset, i);
    return { x };
  },
  // one rounding (the fma) per element; a wrong counter or key is wrong in
  // every bit. both backends fma the same float32 values: bit for bit
  tolerance: { reference: UNIT_ROUNDOFF, backends: 0 },
};

interface NormalCase extends Stream {
  mean: number;
  std: number;
}

export const normal: OpSpec<NormalCase> = {
  name: 'normal',
  family: 'random',
  // a mean no larger than the spread of the values (zero for the few-element
  // streams), so the largest value bounds every element's rounding
  cases: STREAMS.map((s) => ({ ...s, mean: s.n < 100 ? 0 : 0.5, std: s.n < 100 ? 0.75 : 2 })),
  label: (p) => `${streamLabel(p)} mean ${p.mean} std ${p.std}`,
  inputs: () => ({}),
  outputs: (p) => ({ x: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.normal(p.n, s.x, p.mean, p.std, p.seed, p.offset),
  reference(p) {
    const x = new Float64Array(p.n);
    for (let i = 0; i < p.n; i++) x[i] = f32(p.mean) + f32(p.std) * philoxNormalRef(p.seed, p.offset, i);
    return { x };
  },
  // box-muller is taken in double and rounded to float32 once (2^-24 of
  // std*z, which exceeds the largest value by at most the mean: under 1.1 of
  // it), then the fma rounds once more: 2.1 roundings; log and cos differ
  // between libms only in a double's last bits. 3 roundings. the backends'
  // libms (glibc, cuda) can tip z's float32 rounding the other way (one float
  // ulp, 2^-23): 4 roundings apart
  tolerance: { reference: 3 * UNIT_ROUNDOFF, backends: 4 * UNIT_ROUNDOFF },
};

interface DropoutCase extends Stream {
  p: number;
}

const DROPOUT_P = [0.5, 0.1, 0, 0.5, 0.9, 0.3, 0.5, 0.5, 0.25, 0.8];
const masks = new WeakMap<DropoutCase, Float64Array>();

export const dropoutForward: OpSpec<DropoutCase> = {
  name: 'dropout',
  family: 'random',
  cases: STREAMS.map((s, i) => ({ ...s, p: DROPOUT_P[i] })),
  label: (p) => `${streamLabel(p)} p ${p.p}`,
  inputs: (p, rng) => ({ x: rng.floats(p.n, -1, 1) }),
  outputs: (p) => ({ y: { length: p.n, dtype: 'f32' }, mask: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.dropoutForward(p.n, s.x, s.y, s.mask, p.p, p.seed, p.offset),
  reference(p, { x }) {
    // p reaches the kernel as float32: the threshold and the scale use that
    // value. the mask does not depend on x: computed once per case, since the
    // gradient check calls the reference twice per element
    let mask = masks.get(p);
    if (!mask) masks.set(p, (mask = dropoutMaskRef(p.n, f32(p.p), p.seed, p.offset)));
    return { y: Float64Array.from(mask, (m, i) => x[i] * m), mask };
  },
  // the scale 1 / (1 - p) is two float32 roundings, y = x * mask a third
  // (3 to first order, 4 leaves room for the second); an element dropped or
  // kept wrongly is off by all of it. the backends compute the same float32
  // operations: bit for bit
  tolerance: { reference: 4 * UNIT_ROUNDOFF, backends: 0 },
  gradient: {
    cases: (p) => p.n <= 1023,
    of: 'y',
    wrt: { x: 'dx' },
    call: (addon, p, s) => addon.dropoutBackward(p.n, s.dy, s.mask, s.dx),
    // dy * mask, one rounding past the mask's two, against differences of a
    // linear function (~1e-10)
    tolerance: 1e-6,
  },
};

interface MaskCase {
  n: number;
  p: number;
}

export const dropoutBackward: OpSpec<MaskCase> = {
  name: 'dropout_bwd',
  family: 'random',
  cases: STREAMS.map((s, i) => ({ n: s.n, p: DROPOUT_P[i] })),
  label: (p) => `n${p.n} p ${p.p}`,
  inputs(p, rng) {
    // a mask as the forward writes it: 0 or the float32 scale
    const keep = f32(1 / f32(1 - f32(p.p)));
    const mask = rng.floats(p.n, 0, 1).map((u) => (u >= p.p ? keep : 0));
    return { dy: rng.floats(p.n, -1, 1), mask };
  },
  outputs: (p) => ({ dx: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.dropoutBackward(p.n, s.dy, s.mask, s.dx),
  reference: (p, { dy, mask }) => ({ dx: Float64Array.from({ length: p.n }, (_, i) => dy[i] * mask[i]) }),
  // one product: one rounding, the same on every backend
  tolerance: { reference: UNIT_ROUNDOFF, backends: 0 },
};

export const randomSpecs = [uniform, normal, dropoutForward, dropoutBackward];
