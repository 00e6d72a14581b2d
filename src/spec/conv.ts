// conv2d (NCHW, cross-correlation, weights KCRS, optional bias per output
// channel) and its two backward kernels. the forward's gradient check pulls an
// upstream gradient through both backward kernels and compares dx, dw and db
// with central differences of the forward reference; the backward kernels also
// have references of their own, for the shapes too large for differences.
import type { ConvShape } from '../native';
import type { OpSpec } from './types';

export interface ConvCase {
  s: ConvShape;
  /** whether the forward adds a bias (and the weight backward writes db) */
  bias: boolean;
  /** the model layer the shape comes from, for labels */
  layer?: string;
}

type Vec = ArrayLike<number>;

/** the shape with p and q from the window formula */
export function convShape(
  n: number, c: number, h: number, w: number, k: number, r: number, s: number,
  stride: [number, number] | number = 1, pad: [number, number] | number = 0,
): ConvShape {
  const [strideH, strideW] = typeof stride === 'number' ? [stride, stride] : stride;
  const [padH, padW] = typeof pad === 'number' ? [pad, pad] : pad;
  const p = Math.floor((h + 2 * padH - r) / strideH) + 1;
  const q = Math.floor((w + 2 * padW - s) / strideW) + 1;
  return { n, c, h, w, k, r, s, strideH, strideW, padH, padW, p, q };
}

/**
 * calls f(xi, wi, yi) for every product x[xi] * w[wi] that adds into y[yi]:
 * the definition of the convolution, which the three references share
 */
function forEachTap(s: ConvShape, f: (xi: number, wi: number, yi: number) => void): void {
  for (let n = 0; n < s.n; n++)
    for (let k = 0; k < s.k; k++)
      for (let op = 0; op < s.p; op++)
        for (let oq = 0; oq < s.q; oq++) {
          const yi = ((n * s.k + k) * s.p + op) * s.q + oq;
          for (let c = 0; c < s.c; c++)
            for (let r = 0; r < s.r; r++) {
              const ih = op * s.strideH - s.padH + r;
              if (ih < 0 || ih >= s.h) continue; // padding: zeros
              for (let t = 0; t < s.s; t++) {
                const iw = oq * s.strideW - s.padW + t;
                if (iw < 0 || iw >= s.w) continue;
                f(((n * s.c + c) * s.h + ih) * s.w + iw, ((k * s.c + c) * s.r + r) * s.s + t, yi);
              }
            }
        }
}

/** y = x * w (+ bias per output channel) */
export function conv2dRef(s: ConvShape, x: Vec, w: Vec, bias: Vec | null): Float64Array {
  const plane = s.p * s.q;
  const y = new Float64Array(s.n * s.k * plane);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / plane) % s.k];
  forEachTap(s, (xi, wi, yi) => (y[yi] += x[xi] * w[wi]));
  return y;
}

/** dx = the transpose of the convolution applied to dy */
export function conv2dBackwardInputRef(s: ConvShape, dy: Vec, w: Vec): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachTap(s, (xi, wi, yi) => (dx[xi] += dy[yi] * w[wi]));
  return dx;
}

/** dw = dy correlated with x; db = dy summed per output channel */
export function conv2dBackwardWeightRef(s: ConvShape, x: Vec, dy: Vec): { dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(s.k * s.c * s.r * s.s);
  const db = new Float64Array(s.k);
  forEachTap(s, (xi, wi, yi) => (dw[wi] += dy[yi] * x[xi]));
  const plane = s.p * s.q;
  for (let i = 0; i < s.n * s.k * plane; i++) db[Math.floor(i / plane) % s.k] += dy[i];
  return { dw, db };
}

function sizes(s: ConvShape) {
  return { x: s.n * s.c * s.h * s.w, w: s.k * s.c * s.r * s.s, y: s.n * s.k * s.p * s.q };
}

const SHAPES: Array<[ConvShape, string?]> = [
  // odd sizes, strides, padding, batch 1, 1x1 and non-square kernels and strides
  [convShape(1, 1, 1, 1, 1, 1, 1)],
  [convShape(1, 3, 7, 7, 5, 3, 3, 1, 1)],
  [convShape(2, 3, 32, 32, 8, 3, 3, 1, 1)],
  [convShape(3, 5, 9, 11, 7, 3, 5, [2, 1], [1, 2])],
  [convShape(2, 4, 8, 8, 6, 1, 1)],
  [convShape(1, 2, 13, 10, 3, 5, 5, 2, 2)],
  [convShape(2, 6, 6, 6, 4, 4, 2, [3, 2], 0)],
  [convShape(1, 33, 5, 5, 65, 3, 3, 1, 1)], // channel counts off any tile
  [convShape(5, 16, 16, 16, 32, 3, 3, 1, 1)],
  [convShape(3, 3, 13, 11, 6, 5, 5, 2, 0)],
  [convShape(2, 64, 4, 4, 64, 3, 3, 1, 0)],
  [convShape(4, 7, 9, 10, 5, 3, 2, 2, 1)],
  [convShape(1, 33, 7, 7, 65, 3, 3, 1, 1)],
  [convShape(4, 64, 16, 16, 64, 3, 3, 1, 1)],
  // small enough for central differences
  [convShape(1, 2, 5, 6, 3, 3, 3, 1, 1)],
  [convShape(2, 2, 7, 5, 2, 3, 2, [2, 1], [1, 0])],
  // the models' layers, batch 1 and a few
  [convShape(1, 3, 32, 32, 16, 3, 3, 1, 1), 'seedcnn conv1'],
  [convShape(64, 3, 32, 32, 16, 3, 3, 1, 1), 'seedcnn conv1'],
  [convShape(1, 16, 16, 16, 32, 3, 3, 1, 1), 'seedcnn conv2'],
  [convShape(4, 16, 16, 16, 32, 3, 3, 1, 1), 'seedcnn conv2'],
  [convShape(1, 3, 32, 32, 32, 3, 3, 1, 1), 'ptcnn conv1'],
  [convShape(2, 32, 16, 16, 64, 3, 3, 1, 1), 'ptcnn conv2'],
];

const withBias: ConvCase[] = SHAPES.map(([s, layer]) => ({ s, bias: true, ...(layer ? { layer } : {}) }));
const withAndWithoutBias: ConvCase[] = withBias.flatMap((c) => [c, { ...c, bias: false }]);

function label(p: ConvCase): string {
  const s = p.s;
  const pair = (a: number, b: number) => (a === b ? `${a}` : `${a},${b}`);
  const shape = `n${s.n} ${s.c}->${s.k} ${s.h}x${s.w} k${s.r}x${s.s} s${pair(s.strideH, s.strideW)} p${pair(s.padH, s.padW)}`;
  return `${p.layer ? p.layer + ' ' : ''}${shape}${p.bias ? '' : ' no bias'}`;
}

// the seed CNN's convolutions at batch 64 and 128, as `cudalab bench` times them
const benchCases: ConvCase[] = [64, 128].flatMap((n) => [
  { s: convShape(n, 3, 32, 32, 16, 3, 3, 1, 1), bias: true, layer: 'conv1' },
  { s: convShape(n, 16, 16, 16, 32, 3, 3, 1, 1), bias: true, layer: 'conv2' },
]);
const bench = {
  cases: benchCases,
  label: (p: ConvCase) => `${p.layer} n${p.s.n} ${p.s.c}->${p.s.k} ${p.s.h}x${p.s.w} k${p.s.r}`,
  flops: (p: ConvCase) => 2 * p.s.n * p.s.k * p.s.p * p.s.q * p.s.c * p.s.r * p.s.s,
  bytes: (p: ConvCase) => {
    const z = sizes(p.s);
    return 4 * (z.x + z.w + z.y);
  },
};
const torchDims = (op: string) => (p: ConvCase) => ({ op, n: p.s.n, c: p.s.c, h: p.s.h, k: p.s.k, r: p.s.r, pad: p.s.padH });

// differences take 2 forwards per differentiated element: keep them to small cases
const smallEnough = (p: ConvCase) => {
  const z = sizes(p.s);
  return (z.x + z.w + p.s.k) * z.y * p.s.c * p.s.r * p.s.s <= 4e6;
};

export const conv2dSpec: OpSpec<ConvCase> = {
  name: 'conv2d',
  family: 'conv',
  cases: withAndWithoutBias,
  label,
  inputs: (p, rng) => {
    const z = sizes(p.s);
    return { x: rng.floats(z.x), w: rng.floats(z.w), ...(p.bias ? { bias: rng.floats(p.s.k) } : {}) };
  },
  outputs: (p) => ({ y: { length: sizes(p.s).y, dtype: 'f32' } }),
  call: (addon, p, s) => addon.conv2dForward(p.s, s.x, s.w, p.bias ? s.bias : null, s.y),
  reference: (p, x) => ({ y: conv2dRef(p.s, x.x, x.w, p.bias ? x.bias : null) }),
  tolerance: { reference: 1e-5, backends: 1e-5 },
  gradient: {
    cases: smallEnough,
    of: 'y',
    wrt: { x: 'dx', w: 'dw', bias: 'db' },
    call: (addon, p, s) => {
      addon.conv2dBackwardInput(p.s, s.dy, s.w, s.dx);
      addon.conv2dBackwardWeight(p.s, s.x, s.dy, s.dw, p.bias ? s.db : null);
    },
    tolerance: 1e-4,
  },
  bench: { ...bench, torch: torchDims('conv2d') },
};

export const conv2dBackwardInputSpec: OpSpec<ConvCase> = {
  name: 'conv2d_bwd_input',
  family: 'conv',
  cases: withBias,
  label: (p) => label(p),
  inputs: (p, rng) => {
    const z = sizes(p.s);
    return { dy: rng.floats(z.y), w: rng.floats(z.w) };
  },
  outputs: (p) => ({ dx: { length: sizes(p.s).x, dtype: 'f32' } }),
  call: (addon, p, s) => addon.conv2dBackwardInput(p.s, s.dy, s.w, s.dx),
  reference: (p, x) => ({ dx: conv2dBackwardInputRef(p.s, x.dy, x.w) }),
  tolerance: { reference: 1e-5, backends: 1e-5 },
  bench: { ...bench, torch: torchDims('conv2d_bwd_input') },
};

export const conv2dBackwardWeightSpec: OpSpec<ConvCase> = {
  name: 'conv2d_bwd_weight',
  family: 'conv',
  // without a bias the kernels skip db
  cases: withAndWithoutBias,
  label,
  inputs: (p, rng) => {
    const z = sizes(p.s);
    return { x: rng.floats(z.x), dy: rng.floats(z.y) };
  },
  outputs: (p) => ({ dw: { length: sizes(p.s).w, dtype: 'f32' }, ...(p.bias ? { db: { length: p.s.k, dtype: 'f32' as const } } : {}) }),
  call: (addon, p, s) => addon.conv2dBackwardWeight(p.s, s.x, s.dy, s.dw, p.bias ? s.db : null),
  reference: (p, x) => {
    const r = conv2dBackwardWeightRef(p.s, x.x, x.dy);
    return p.bias ? r : { dw: r.dw };
  },
  tolerance: { reference: 1e-5, backends: 1e-5 },
  bench: { ...bench, torch: torchDims('conv2d_bwd_weight') },
};

export const convSpecs = [conv2dSpec, conv2dBackwardInputSpec, conv2dBackwardWeightSpec];
