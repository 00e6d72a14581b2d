// the elementwise ops (native/cpu/eltwise.cc, native/cuda/eltwise.cu): relu
// forward and backward, add, mul, scale, axpby, bias_add, fill and gelu
// forward and backward (against a float64 erf, src/spec/erf.ts). sizes sit
// around the vector widths (7, 8, 9, 15, 16, 17), just under and over the
// cpu's 32768-element chunks, at n = 1, and at the models' layer shapes.
// scalars reach the kernels as float32, so the references round them first.
import type { OpSpec } from './types';
import { UNIT_ROUNDOFF, f32 } from './float32';
import { normalCdf, normalPdf } from './erf';

interface Flat {
  n: number;
}

/** sizes: n = 1, around 8- and 16-wide vectors, odd, around the cpu's chunk of 32768 */
const SIZES = [1, 7, 8, 9, 15, 16, 17, 33, 1023, 4099, 32768, 32769, 100003];
const flat: Flat[] = SIZES.map((n) => ({ n }));
const flatLabel = (p: Flat): string => `n${p.n}`;

// central differences cost two forward passes per element: the elementwise
// gradient checks stop at 1023 elements
const SMALL = (p: { n: number }): boolean => p.n <= 1023;

function map(n: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

interface ReluCase extends Flat {
  /** plant exact zeros (relu's kink): the forward only, no gradient there */
  zeros?: boolean;
  /** a bench case timed as the bandwidth floor of the ops named here */
  floor?: string;
  /** a bench case's batch, channels and side, for timing the same tensor in PyTorch */
  nch?: [number, number, number];
}

// the sizes of airbench94's memory-bound layers (batch, channels, side), with what runs there
const BANDWIDTH_FLOOR: Array<[[number, number, number], string]> = [
  [[1024, 3, 32], 'augment_images b1024'],
  [[1024, 256, 4], 'batch_norm2d 1024x256x4x4'],
  [[2000, 3, 32], 'shift_flip_images b2000'],
  [[128, 64, 32], 'gelu n8388608, batch_norm2d 128x64x32x32'],
  [[1024, 64, 16], 'gelu n16777216, batch_norm2d 1024x64x16x16'],
];

const nchCase = (nch: [number, number, number], floor?: string): ReluCase => ({ n: nch[0] * nch[1] * nch[2] * nch[2], nch, floor });

export const reluForward: OpSpec<ReluCase> = {
  name: 'relu',
  family: 'eltwise',
  cases: [...flat, { n: 33, zeros: true }, { n: 4099, zeros: true }],
  label: (p) => `n${p.n}${p.zeros ? ' with zeros' : ''}`,
  inputs(p, rng) {
    const x = rng.floats(p.n, -1, 1);
    for (let i = 0; i < p.n; i++) {
      // away from the kink by at least 0.05, so a central difference never straddles it
      if (Math.abs(x[i]) < 0.05) x[i] = x[i] < 0 ? x[i] - 0.05 : x[i] + 0.05;
      if (p.zeros && i % 3 === 0) x[i] = 0;
    }
    return { x };
  },
  outputs: (p) => ({ y: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.reluForward(p.n, s.x, s.y),
  reference: (p, { x }) => ({ y: map(p.n, (i) => (x[i] > 0 ? x[i] : 0)) }),
  // no arithmetic: the input or zero, bit for bit
  tolerance: { reference: 0, backends: 0 },
  gradient: {
    cases: (p) => SMALL(p) && !p.zeros,
    of: 'y',
    wrt: { x: 'dx' },
    call: (addon, p, s) => addon.reluBackward(p.n, s.dy, s.y, s.dx),
    // the kernel passes dy or 0 exactly; the differences of a function linear
    // on both sides of a step 1e-6 wide are good to ~1e-10
    tolerance: 1e-6,
  },
  bench: {
    // the seed CNN's first conv output at batch 64 and 128 (16 x 32 x 32 per
    // image), then the memory floor: relu reads and writes each float once
    // and does next to nothing, so its GB/s at the byte counts of gelu, batch
    // norm and augmentation (airbench94's layers) is what those could reach
    cases: [nchCase([64, 16, 32]), nchCase([128, 16, 32]), ...BANDWIDTH_FLOOR.map(([nch, what]) => nchCase(nch, what))],
    label: (p) => `n${p.n}${p.floor ? ` (floor for ${p.floor})` : ''}`,
    flops: (p) => p.n,
    bytes: (p) => 8 * p.n,
    // bench/torch_ops.py times torch.relu on an n x c x h x h tensor
    torch: (p) => ({ op: 'relu', n: p.nch![0], c: p.nch![1], h: p.nch![2] }),
  },
};

export const reluBackward: OpSpec<Flat> = {
  name: 'relu_bwd',
  family: 'eltwise',
  cases: flat,
  label: flatLabel,
  inputs(p, rng) {
    // y is a relu output: about half of it exactly zero
    const y = rng.floats(p.n, -1, 1).map((v) => (v > 0 ? v : 0));
    return { dy: rng.floats(p.n, -1, 1), y };
  },
  outputs: (p) => ({ dx: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.reluBackward(p.n, s.dy, s.y, s.dx),
  reference: (p, { dy, y }) => ({ dx: map(p.n, (i) => (y[i] > 0 ? dy[i] : 0)) }),
  // dy or zero, bit for bit
  tolerance: { reference: 0, backends: 0 },
};

function binary(name: 'add' | 'mul', f: (a: number, b: number) => number): OpSpec<Flat> {
  return {
    name,
    family: 'eltwise',
    cases: flat,
    label: flatLabel,
    inputs: (p, rng) => ({ a: rng.floats(p.n, -1, 1), b: rng.floats(p.n, -1, 1) }),
    outputs: (p) => ({ out: { length: p.n, dtype: 'f32' } }),
    call: (addon, p, s) => addon[name](p.n, s.a, s.b, s.out),
    reference: (p, { a, b }) => ({ out: map(p.n, (i) => f(a[i], b[i])) }),
    // one rounding of the exact result per element; ieee add and multiply
    // round the same on every backend
    tolerance: { reference: UNIT_ROUNDOFF, backends: 0 },
  };
}

export const add = binary('add', (a, b) => a + b);
export const mul = binary('mul', (a, b) => a * b);

interface ScaleCase extends Flat {
  alpha: number;
}

export const scale: OpSpec<ScaleCase> = {
  name: 'scale',
  family: 'eltwise',
  // -0.75 is exact in float32, 0.1 is not (the kernel gets 0.1 rounded)
  cases: SIZES.map((n, i) => ({ n, alpha: i % 2 ? 0.1 : -0.75 })),
  label: (p) => `n${p.n} alpha ${p.alpha}`,
  inputs: (p, rng) => ({ x: rng.floats(p.n, -1, 1) }),
  outputs: (p) => ({ out: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.scale(p.n, s.x, p.alpha, s.out),
  reference: (p, { x }) => ({ out: map(p.n, (i) => f32(p.alpha) * x[i]) }),
  // one rounding per element, the same on every backend
  tolerance: { reference: UNIT_ROUNDOFF, backends: 0 },
};

interface AxpbyCase extends Flat {
  alpha: number;
  beta: number;
}

export const axpby: OpSpec<AxpbyCase> = {
  name: 'axpby',
  family: 'eltwise',
  cases: SIZES.map((n, i) => (i % 2 ? { n, alpha: 0.3, beta: -1.7 } : { n, alpha: -1, beta: 0.5 })),
  label: (p) => `n${p.n} ${p.alpha}a + ${p.beta}b`,
  inputs(p, rng) {
    // b's sign follows a's so that alpha*a and beta*b never cancel: then the
    // result is at least as large as either term, and the rounding bound
    // below holds element by element, whatever the seed
    const a = rng.floats(p.n, -1, 1), b = rng.floats(p.n, 0, 1);
    const sign = Math.sign(f32(p.alpha)) * Math.sign(f32(p.beta));
    for (let i = 0; i < p.n; i++) b[i] = a[i] < 0 ? -sign * b[i] : sign * b[i];
    return { a, b };
  },
  outputs: (p) => ({ out: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.axpby(p.n, p.alpha, s.a, p.beta, s.b, s.out),
  reference: (p, { a, b }) => ({ out: map(p.n, (i) => f32(p.alpha) * a[i] + f32(p.beta) * b[i]) }),
  // two products and a sum, three roundings, each at most 2^-24 of a term no
  // larger than the result; cuda may contract into an fma (one rounding fewer),
  // so the backends agree only to those roundings
  tolerance: { reference: 3 * UNIT_ROUNDOFF, backends: 4 * UNIT_ROUNDOFF },
};

interface BiasCase {
  outer: number;
  channels: number;
  inner: number;
}

export const biasAdd: OpSpec<BiasCase> = {
  name: 'bias_add',
  family: 'eltwise',
  // [outer, channels, inner]: one element, a linear layer's rows (10 classes,
  // 256 features), conv planes (16 channels of 32x32 at batch 64), odd sizes
  // around the vector widths, one long plane, many channels
  cases: [
    [1, 1, 1], [1, 10, 1], [64, 10, 1], [128, 10, 1], [64, 256, 1], [64, 16, 1024], [2, 16, 1024],
    [3, 7, 33], [5, 8, 9], [2, 15, 17], [4, 17, 16], [1, 3, 65536], [5, 40000, 1],
  ].map(([outer, channels, inner]) => ({ outer, channels, inner })),
  label: (p) => `${p.outer}x${p.channels}x${p.inner}`,
  inputs: (p, rng) => ({ x: rng.floats(p.outer * p.channels * p.inner, -1, 1), bias: rng.floats(p.channels, -1, 1) }),
  outputs: (p) => ({ y: { length: p.outer * p.channels * p.inner, dtype: 'f32' } }),
  call: (addon, p, s) => addon.biasAdd(p.outer, p.channels, p.inner, s.x, s.bias, s.y),
  reference(p, { x, bias }) {
    const y = new Float64Array(p.outer * p.channels * p.inner);
    for (let o = 0; o < p.outer; o++)
      for (let c = 0; c < p.channels; c++)
        for (let i = 0; i < p.inner; i++) {
          const at = (o * p.channels + c) * p.inner + i;
          y[at] = x[at] + bias[c];
        }
    return { y };
  },
  // one add: one rounding, the same on every backend
  tolerance: { reference: UNIT_ROUNDOFF, backends: 0 },
  gradient: {
    cases: (p) => p.outer * p.channels * p.inner <= 1023,
    of: 'y',
    // the bias gradient is a sum over outer and inner: sum_axis twice, as the
    // differentiable op does it; x's gradient is dy itself (no kernel)
    wrt: { bias: 'dbias' },
    outputs: (p) => ({ partial: { length: p.channels * p.inner, dtype: 'f32' } }),
    call(addon, p, s) {
      addon.sumAxis(1, p.outer, p.channels * p.inner, s.dy, s.partial);
      addon.sumAxis(p.channels, p.inner, 1, s.partial, s.dbias);
    },
    // float32 sums of up to a thousand terms of size ~1; differences exact
    tolerance: 1e-5,
  },
};

interface FillCase extends Flat {
  value: number;
}

export const fill: OpSpec<FillCase> = {
  name: 'fill',
  family: 'eltwise',
  cases: SIZES.map((n, i) => ({ n, value: [-0.5, 3.5, 0.1, 0][i % 4] })),
  label: (p) => `n${p.n} value ${p.value}`,
  inputs: () => ({}),
  outputs: (p) => ({ x: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.fill(p.n, s.x, p.value),
  // the value as float32 everywhere, bit for bit
  reference: (p) => ({ x: new Float64Array(p.n).fill(f32(p.value)) }),
  tolerance: { reference: 0, backends: 0 },
};

interface GeluCase extends Flat {
  /** inputs uniform in [-spread, spread]: 6 by default (erf's whole bend); large ones saturate */
  spread?: number;
}

const geluCases: GeluCase[] = [...flat, { n: 1023, spread: 0.5 }, { n: 4099, spread: 30 }];
const geluLabel = (p: GeluCase): string => `n${p.n}${p.spread ? ` x +-${p.spread}` : ''}`;

// airbench94's first conv group at batch 128 and 256 (64 x 32 x 32 per image)
const geluBench = [{ n: 128 * 64 * 32 * 32 }, { n: 256 * 64 * 32 * 32 }];

/** gelu in float64: x * Phi(x), Phi from a float64 erf */
export const geluRef = (x: number): number => x * normalCdf(x);
/** its derivative: Phi(x) + x * pdf(x) */
export const geluDerivativeRef = (x: number): number => normalCdf(x) + x * normalPdf(x);

export const geluForward: OpSpec<GeluCase> = {
  name: 'gelu',
  family: 'eltwise',
  cases: geluCases,
  label: geluLabel,
  inputs: (p, rng) => ({ x: rng.floats(p.n, -(p.spread ?? 6), p.spread ?? 6) }),
  outputs: (p) => ({ y: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.geluForward(p.n, s.x, s.y),
  reference: (p, { x }) => ({ y: map(p.n, (i) => geluRef(x[i])) }),
  // phi by a fit good to 1.2e-7 (2 roundings), evaluated in float with the
  // exponent's rounding carried along, then the product: measured element by
  // element over [-18, 18], within 7.3 roundings (tests/native/eltwise.test.ts);
  // 8. the backends run the same float operations (common/gelu_formula.h):
  // bit for bit
  tolerance: { reference: 8 * UNIT_ROUNDOFF, backends: 0 },
  gradient: {
    cases: (p) => SMALL(p),
    of: 'y',
    wrt: { x: 'dx' },
    call: (addon, p, s) => addon.geluBackward(p.n, s.dy, s.x, s.dx),
    // float32 derivative (~1e-6 of the largest) against differences of a smooth float64 function (~1e-10)
    tolerance: 1e-5,
  },
  bench: { cases: geluBench, flops: (p) => 20 * p.n, bytes: (p) => 8 * p.n, torch: (p) => ({ op: 'gelu', n: p.n }) },
};

export const geluBackward: OpSpec<GeluCase> = {
  name: 'gelu_bwd',
  family: 'eltwise',
  cases: geluCases,
  label: geluLabel,
  inputs: (p, rng) => ({ dy: rng.floats(p.n, -1, 1), x: rng.floats(p.n, -(p.spread ?? 6), p.spread ?? 6) }),
  outputs: (p) => ({ dx: { length: p.n, dtype: 'f32' } }),
  call: (addon, p, s) => addon.geluBackward(p.n, s.dy, s.x, s.dx),
  reference: (p, { dy, x }) => ({ dx: map(p.n, (i) => dy[i] * geluDerivativeRef(x[i])) }),
  // phi and x * pdf(x), each to a few roundings, their sum (which cancels
  // near x = -0.75: relative to the largest output that costs little) and the
  // product by dy: measured on the cpu, 10 roundings at most; 16. the
  // backends run the same float operations: bit for bit
  tolerance: { reference: 16 * UNIT_ROUNDOFF, backends: 0 },
  bench: { cases: geluBench, flops: (p) => 30 * p.n, bytes: (p) => 12 * p.n, torch: (p) => ({ op: 'gelu_bwd', n: p.n }) },
};

export const eltwiseSpecs = [reluForward, reluBackward, add, mul, scale, axpby, biasAdd, fill, geluForward, geluBackward];
