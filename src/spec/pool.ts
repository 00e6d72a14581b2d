// max and average pooling (NCHW) and their backward kernels. max pooling is
// exact, argmax included (the plane index ih*w + iw of the first maximum;
// padding never wins); average pooling divides by the whole window, padding
// counted as zeros. gradients are checked by central differences on inputs
// whose maxima are clear of ties.
import type { PoolShape } from '../native';
import type { InputRng, OpSpec } from './types';

export interface PoolCase {
  s: PoolShape;
  /** the model layer the shape comes from, for labels */
  layer?: string;
}

type Vec = ArrayLike<number>;

/** the shape with p and q from the window formula; the stride is the window unless told */
export function poolShape(
  n: number, c: number, h: number, w: number, kh: number, kw: number,
  stride: [number, number] | number = [kh, kw], pad: [number, number] | number = 0,
): PoolShape {
  const [strideH, strideW] = typeof stride === 'number' ? [stride, stride] : stride;
  const [padH, padW] = typeof pad === 'number' ? [pad, pad] : pad;
  const p = Math.floor((h + 2 * padH - kh) / strideH) + 1;
  const q = Math.floor((w + 2 * padW - kw) / strideW) + 1;
  return { n, c, h, w, kh, kw, strideH, strideW, padH, padW, p, q };
}

/**
 * calls f(xi, yi) for every input element in the window of output y[yi], the
 * windows in output order and each window row by row; padding is skipped
 */
function forEachWindowElement(s: PoolShape, f: (xi: number, yi: number) => void): void {
  for (let pl = 0; pl < s.n * s.c; pl++)
    for (let op = 0; op < s.p; op++)
      for (let oq = 0; oq < s.q; oq++) {
        const yi = (pl * s.p + op) * s.q + oq;
        for (let i = 0; i < s.kh; i++) {
          const ih = op * s.strideH - s.padH + i;
          if (ih < 0 || ih >= s.h) continue;
          for (let j = 0; j < s.kw; j++) {
            const iw = oq * s.strideW - s.padW + j;
            if (iw >= 0 && iw < s.w) f((pl * s.h + ih) * s.w + iw, yi);
          }
        }
      }
}

/** max pooling: y and, per output, the plane index (ih*w + iw) of the first maximum */
export function maxpool2dRef(s: PoolShape, x: Vec): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(s.n * s.c * s.p * s.q).fill(-Infinity);
  const argmax = new Int32Array(y.length).fill(-1);
  const plane = s.h * s.w;
  forEachWindowElement(s, (xi, yi) => {
    // strictly greater: the first of equal maxima stays
    if (argmax[yi] < 0 || x[xi] > y[yi]) {
      y[yi] = x[xi];
      argmax[yi] = xi % plane;
    }
  });
  return { y, argmax };
}

/** each dy goes to the input its window's maximum came from */
export function maxpool2dBackwardRef(s: PoolShape, dy: Vec, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  for (let pl = 0; pl < s.n * s.c; pl++)
    for (let o = 0; o < s.p * s.q; o++) dx[pl * s.h * s.w + argmax[pl * s.p * s.q + o]] += dy[pl * s.p * s.q + o];
  return dx;
}

/** average pooling, padding counted as zeros in the divisor kh*kw */
export function avgpool2dRef(s: PoolShape, x: Vec): Float64Array {
  const y = new Float64Array(s.n * s.c * s.p * s.q);
  forEachWindowElement(s, (xi, yi) => (y[yi] += x[xi]));
  return y.map((v) => v / (s.kh * s.kw));
}

/** each dy spread evenly over its whole window (padding included, so it gets its share and drops it) */
export function avgpool2dBackwardRef(s: PoolShape, dy: Vec): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachWindowElement(s, (xi, yi) => (dx[xi] += dy[yi] / (s.kh * s.kw)));
  return dx;
}

const inSize = (s: PoolShape) => s.n * s.c * s.h * s.w;
const outSize = (s: PoolShape) => s.n * s.c * s.p * s.q;

const CASES: PoolCase[] = [
  // the 2x2 stride-2 fast path, with odd sizes that leave a remainder
  { s: poolShape(1, 1, 2, 2, 2, 2) },
  { s: poolShape(64, 16, 32, 32, 2, 2) },
  { s: poolShape(3, 5, 7, 9, 2, 2) },
  { s: poolShape(2, 3, 32, 32, 2, 2) },
  { s: poolShape(2, 16, 32, 32, 2, 2) },
  // overlapping, padded, odd and non-square windows, batch 1
  { s: poolShape(1, 1, 1, 1, 1, 1) },
  { s: poolShape(2, 3, 11, 10, 3, 3, 2, 1) },
  { s: poolShape(1, 4, 7, 9, 3, 3, 2, 1) },
  { s: poolShape(3, 2, 11, 6, 3, 2, [2, 1], [1, 1]) },
  { s: poolShape(1, 5, 5, 5, 5, 5, 1, 2) }, // window as large as the input, half padding
  { s: poolShape(2, 3, 9, 13, 2, 4, [3, 3], [0, 2]) },
  { s: poolShape(1, 1, 33, 65, 4, 4, 4, 0) },
  // small enough for central differences
  { s: poolShape(1, 2, 6, 5, 3, 3, 2, 1) },
  { s: poolShape(2, 1, 4, 6, 2, 2) },
  // the models' pools, batch 1 and a few
  { s: poolShape(1, 16, 32, 32, 2, 2), layer: 'seedcnn pool1' },
  { s: poolShape(8, 32, 16, 16, 2, 2), layer: 'seedcnn pool2' },
  { s: poolShape(1, 32, 32, 32, 2, 2), layer: 'ptcnn pool1' },
  { s: poolShape(4, 64, 16, 16, 2, 2), layer: 'ptcnn pool2' },
  // kernel 3 stride 3 in floor mode: 8x8 -> 2x2 and airbench94's last pool,
  // 4x4 -> 1x1 (the window leaves the last row and column out); resnet18's
  // average pool of 4 on 4x4; a global pool over a non-square plane; the first
  // two small enough for central differences
  { s: poolShape(2, 3, 8, 8, 3, 3), layer: 'k3 s3' },
  { s: poolShape(2, 4, 4, 4, 3, 3), layer: 'airbench94 pool' },
  { s: poolShape(8, 256, 4, 4, 3, 3), layer: 'airbench94 pool' },
  { s: poolShape(2, 8, 4, 4, 4, 4), layer: 'resnet18 avgpool' },
  { s: poolShape(8, 512, 4, 4, 4, 4), layer: 'resnet18 avgpool' },
  { s: poolShape(2, 3, 3, 5, 3, 5), layer: 'global' },
];

function label(p: PoolCase): string {
  const s = p.s;
  const pair = (a: number, b: number) => (a === b ? `${a}` : `${a},${b}`);
  return `${p.layer ? p.layer + ' ' : ''}n${s.n} c${s.c} ${s.h}x${s.w} k${pair(s.kh, s.kw)} s${pair(s.strideH, s.strideW)} p${pair(s.padH, s.padW)}`;
}

// mostly negative inputs, so a padded window that let padding win (as 0) would
// show; one in three in [-1, 1]. random floats are far apart next to the
// central-difference step, so no maximum is tied.
function maxpoolInput(s: PoolShape, rng: InputRng): Float32Array {
  const x = rng.floats(inSize(s), -3, -1);
  for (let i = 0; i < x.length; i += 3) x[i] = rng.floats(1, -1, 1)[0];
  return x;
}

const smallEnough = (p: PoolCase) => inSize(p.s) <= 512;

// the seed CNN's first pool at batch 64 and 128, as `cudalab bench` times it
const bench = {
  cases: [64, 128].map((n): PoolCase => ({ s: poolShape(n, 16, 32, 32, 2, 2), layer: 'pool1' })),
  label: (p: PoolCase) => `${p.layer} n${p.s.n} c${p.s.c} ${p.s.h}x${p.s.w}`,
  bytes: (p: PoolCase) => 4 * (inSize(p.s) + 2 * outSize(p.s)),
};
const torchDims = (op: string) => (p: PoolCase) => ({ op, n: p.s.n, c: p.s.c, h: p.s.h });

export const maxpool2dSpec: OpSpec<PoolCase> = {
  name: 'maxpool2d',
  family: 'pool',
  cases: CASES,
  label,
  inputs: (p, rng) => ({ x: maxpoolInput(p.s, rng) }),
  outputs: (p) => ({ y: { length: outSize(p.s), dtype: 'f32' }, argmax: { length: outSize(p.s), dtype: 'i32' } }),
  call: (addon, p, s) => addon.maxpool2dForward(p.s, s.x, s.y, s.argmax),
  reference: (p, x) => maxpool2dRef(p.s, x.x),
  tolerance: { reference: 0, backends: 0 },
  gradient: {
    cases: smallEnough,
    of: 'y',
    wrt: { x: 'dx' },
    call: (addon, p, s) => addon.maxpool2dBackward(p.s, s.dy, s.argmax, s.dx),
    tolerance: 1e-4,
  },
  bench: { ...bench, flops: (p) => inSize(p.s), torch: torchDims('maxpool2d') },
};

export const maxpool2dBackwardSpec: OpSpec<PoolCase> = {
  name: 'maxpool2d_bwd',
  family: 'pool',
  cases: CASES,
  label,
  // the argmax of a real forward (from the reference), so windows that overlap share inputs as they do in training
  inputs: (p, rng) => ({ dy: rng.floats(outSize(p.s)), argmax: maxpool2dRef(p.s, maxpoolInput(p.s, rng)).argmax }),
  outputs: (p) => ({ dx: { length: inSize(p.s), dtype: 'f32' } }),
  call: (addon, p, s) => addon.maxpool2dBackward(p.s, s.dy, s.argmax, s.dx),
  reference: (p, x) => ({ dx: maxpool2dBackwardRef(p.s, x.dy, x.argmax) }),
  // overlapping windows add a few dy into one dx, in any order
  tolerance: { reference: 1e-6, backends: 1e-6 },
  bench: { ...bench, flops: () => 0, torch: torchDims('maxpool2d_bwd') },
};

export const avgpool2dSpec: OpSpec<PoolCase> = {
  name: 'avgpool2d',
  family: 'pool',
  cases: CASES,
  label,
  inputs: (p, rng) => ({ x: rng.floats(inSize(p.s)) }),
  outputs: (p) => ({ y: { length: outSize(p.s), dtype: 'f32' } }),
  call: (addon, p, s) => addon.avgpool2dForward(p.s, s.x, s.y),
  reference: (p, x) => ({ y: avgpool2dRef(p.s, x.x) }),
  tolerance: { reference: 1e-5, backends: 1e-6 },
  gradient: {
    cases: smallEnough,
    of: 'y',
    wrt: { x: 'dx' },
    call: (addon, p, s) => addon.avgpool2dBackward(p.s, s.dy, s.dx),
    tolerance: 1e-4,
  },
};

export const avgpool2dBackwardSpec: OpSpec<PoolCase> = {
  name: 'avgpool2d_bwd',
  family: 'pool',
  cases: CASES,
  label,
  inputs: (p, rng) => ({ dy: rng.floats(outSize(p.s)) }),
  outputs: (p) => ({ dx: { length: inSize(p.s), dtype: 'f32' } }),
  call: (addon, p, s) => addon.avgpool2dBackward(p.s, s.dy, s.dx),
  reference: (p, x) => ({ dx: avgpool2dBackwardRef(p.s, x.dy) }),
  tolerance: { reference: 1e-5, backends: 1e-6 },
};

export const poolSpecs = [maxpool2dSpec, maxpool2dBackwardSpec, avgpool2dSpec, avgpool2dBackwardSpec];
