// batch norm over NCHW, per channel (native/cpu/norm.cc, native/cuda/norm.cu),
// PyTorch's BatchNorm2d: training mode normalises with the batch's mean and
// biased variance and moves the running statistics towards the batch's (the
// unbiased variance, momentum as PyTorch defines it); eval mode normalises
// with the running statistics. the references are plain float64 loops; the
// gradients of both modes are checked by central differences of the forward
// references, with respect to x, weight and bias.
import type { HostData, InputRng, OpSpec, OutputDecl } from './types';
import { f32, UNIT_ROUNDOFF } from './float32';

type Vec = ArrayLike<number>;

export interface NormCase {
  n: number;
  c: number;
  h: number;
  w: number;
  eps: number;
  momentum: number;
  /** a learnt weight and bias (affine), or neither (weight 1, bias 0) */
  affine: boolean;
  /** whether training updates running statistics (trackRunningStats) */
  running: boolean;
  /** the model layer the shape comes from, for labels */
  layer?: string;
}

export interface BatchStats {
  mean: Float64Array;
  /** the biased variance (divided by n*h*w), as the normalisation uses it */
  var: Float64Array;
  invstd: Float64Array;
  /** values per channel, n*h*w */
  count: number;
}

/** the per-channel mean, biased variance and 1/sqrt(var + eps) of x (n*c*hw), two passes in float64 */
export function batchStatsRef(n: number, c: number, hw: number, x: Vec, eps: number): BatchStats {
  const count = n * hw;
  const mean = new Float64Array(c), variance = new Float64Array(c), invstd = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) s += x[(i * c + ch) * hw + j];
    mean[ch] = s / count;
    let q = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < hw; j++) {
        const d = x[(i * c + ch) * hw + j] - mean[ch];
        q += d * d;
      }
    variance[ch] = q / count;
    invstd[ch] = 1 / Math.sqrt(variance[ch] + eps);
  }
  return { mean, var: variance, invstd, count };
}

/** y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]; weight and bias absent: 1 and 0 */
export function batchNormApplyRef(
  n: number, c: number, hw: number, x: Vec, mean: Vec, invstd: Vec, weight?: Vec, bias?: Vec,
): Float64Array {
  const y = new Float64Array(n * c * hw);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++)
      for (let j = 0; j < hw; j++) {
        const k = (i * c + ch) * hw + j;
        y[k] = (x[k] - mean[ch]) * invstd[ch] * (weight ? weight[ch] : 1) + (bias ? bias[ch] : 0);
      }
  return y;
}

/** PyTorch's running update: running = (1 - momentum)*running + momentum*stat, the variance unbiased */
export function runningUpdateRef(runningMean: Vec, runningVar: Vec, s: BatchStats, momentum: number): { mean: Float64Array; var: Float64Array } {
  const c = s.mean.length;
  const mean = new Float64Array(c), variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    mean[ch] = (1 - momentum) * runningMean[ch] + momentum * s.mean[ch];
    variance[ch] = (1 - momentum) * runningVar[ch] + momentum * ((s.var[ch] * s.count) / (s.count - 1));
  }
  return { mean, var: variance };
}

/**
 * the backward with mean and invstd given: dweight = sum dy*xhat, dbias = sum dy,
 * and dx = weight*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)) through the batch
 * statistics, or weight*invstd*dy when they are constants (eval mode)
 */
export function batchNormBackwardRef(
  n: number, c: number, hw: number, x: Vec, dy: Vec, mean: Vec, invstd: Vec, weight: Vec | undefined, batchStats: boolean,
): { dx: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const count = n * hw;
  const dx = new Float64Array(n * c * hw), dweight = new Float64Array(c), dbias = new Float64Array(c);
  const at = (i: number, ch: number, j: number) => (i * c + ch) * hw + j;
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < hw; j++) {
        const k = at(i, ch, j);
        dbias[ch] += dy[k];
        dweight[ch] += dy[k] * (x[k] - mean[ch]) * invstd[ch];
      }
    const scale = (weight ? weight[ch] : 1) * invstd[ch];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < hw; j++) {
        const k = at(i, ch, j);
        const xhat = (x[k] - mean[ch]) * invstd[ch];
        dx[k] = batchStats ? scale * (dy[k] - dbias[ch] / count - (xhat * dweight[ch]) / count) : scale * dy[k];
      }
  }
  return { dx, dweight, dbias };
}

const hw = (p: NormCase) => p.h * p.w;
const numel = (p: NormCase) => p.n * p.c * p.h * p.w;

function norm(
  n: number, c: number, h: number, w: number,
  opts: { eps?: number; momentum?: number; affine?: boolean; running?: boolean; layer?: string } = {},
): NormCase {
  return { n, c, h, w, eps: opts.eps ?? 1e-5, momentum: opts.momentum ?? 0.1, affine: opts.affine ?? true, running: opts.running ?? true, layer: opts.layer };
}

function label(p: NormCase): string {
  const extras = [
    p.eps !== 1e-5 ? `eps ${p.eps}` : '',
    p.momentum !== 0.1 ? `momentum ${p.momentum}` : '',
    p.affine ? '' : 'no affine',
    p.running ? '' : 'no running stats',
  ].filter((e) => e !== '');
  return `${p.layer ? p.layer + ' ' : ''}${p.n}x${p.c}x${p.h}x${p.w}${extras.length ? ' ' + extras.join(', ') : ''}`;
}

// the training-mode cases: every channel needs two values at least
const TRAIN_CASES: NormCase[] = [
  // small enough for central differences: batch 1 with a spatial extent, odd channels, 2 values a channel
  norm(1, 3, 3, 3),
  norm(2, 5, 2, 3),
  norm(3, 1, 2, 2, { affine: false }),
  norm(4, 3, 1, 1),
  norm(2, 7, 3, 1, { running: false }),
  norm(1, 2, 2, 1),
  // airbench94's settings (eps 1e-12, momentum 0.4), small
  norm(2, 3, 2, 2, { eps: 1e-12, momentum: 0.4 }),
  // odd sizes around the cpu's 8 lanes
  norm(3, 5, 7, 9),
  norm(1, 17, 1, 9, { affine: false, running: false }),
  // the models' shapes at small batch
  norm(2, 64, 32, 32, { layer: 'resnet18 bn1' }),
  norm(8, 256, 4, 4, { layer: 'resnet18 layer4' }),
  norm(2, 64, 16, 16, { eps: 1e-12, momentum: 0.4, layer: 'airbench94 block1' }),
  norm(4, 256, 8, 8, { eps: 1e-12, momentum: 0.4, layer: 'airbench94 block2' }),
  norm(16, 256, 4, 4, { eps: 1e-12, momentum: 0.4, layer: 'airbench94 block3' }),
  // one channel of many values (a long per-channel sum)
  norm(64, 1, 64, 64),
];

// eval mode takes any size, one value a channel included
const EVAL_CASES: NormCase[] = [norm(1, 3, 1, 1), norm(1, 4, 1, 1, { affine: false }), ...TRAIN_CASES];

// per channel an offset in [-2, 2] and a spread in [0.5, 2]: channels whose
// mean is several times their spread, as after a ReLU or with a large bias
function channelInputs(p: NormCase, rng: InputRng): Float32Array {
  const offset = rng.floats(p.c, -2, 2), spread = rng.floats(p.c, 0.5, 2);
  const x = rng.floats(numel(p), -1, 1);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / hw(p)) % p.c;
    x[i] = offset[ch] + spread[ch] * x[i];
  }
  return x;
}

function affineInputs(p: NormCase, rng: InputRng): Record<string, HostData> {
  return p.affine ? { weight: rng.floats(p.c, 0.5, 1.5), bias: rng.floats(p.c, -0.5, 0.5) } : {};
}

function runningInputs(p: NormCase, rng: InputRng): Record<string, HostData> {
  return { runningMean0: rng.floats(p.c, -1, 1), runningVar0: rng.floats(p.c, 0.5, 2) };
}

const smallEnough = (p: NormCase) => numel(p) <= 256;

// the tolerances, in float32 roundings relative to the largest output:
// - mean and invstd are double sums rounded once (1 ulp); y = (x - mean)*invstd*w + b
//   is four float operations, but the mean's rounding (2^-24 |mean|) lands in
//   x - mean, which is |mean|/std times smaller than the mean: a few ulps of y
//   for these channels (|offset| <= 2, std >= 0.29). measured: 3.1 ulps at worst.
// - the running statistics are finished in double and rounded once.
// - the backends' double sums differ in order, which moves mean and invstd
//   by an ulp at most, and y by what that ulp carries: the same bound.
const FORWARD_TOLERANCE = 16 * UNIT_ROUNDOFF;
// dx = w*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)): terms of size ~1 that
// cancel to a result of size ~1, each rounded once or twice, and xhat carrying
// the mean's rounding as above. measured: 3.2 ulps at worst
const BACKWARD_TOLERANCE = 16 * UNIT_ROUNDOFF;
// central differences of a float64 forward with step 1e-6 are good to ~1e-9;
// the float32 kernels carry the ~1e-7 above (measured: 1.6e-7 at worst).
// with two values a channel dx is ~eps-sized, the rounding left over from
// cancelling terms of size 1, which no relative measure can judge: those
// cases are checked against the reference only
const GRADIENT_TOLERANCE = 1e-5;
const gradientCases = (p: NormCase) => smallEnough(p) && p.n * hw(p) >= 3;

// the models' layers, as `cudalab bench` times them; bytes: the sums read x,
// the normalisation reads x and writes y (forward); the backward's sums read
// x and dy, its dx pass reads both and writes dx
const bench = {
  cases: [
    norm(128, 64, 32, 32, { layer: 'resnet18 bn1' }),
    norm(1024, 64, 16, 16, { eps: 1e-12, momentum: 0.4, layer: 'airbench94 block1' }),
    norm(1024, 256, 4, 4, { eps: 1e-12, momentum: 0.4, layer: 'airbench94 block3' }),
  ],
  label,
};

// the case as bench/torch_ops.py reads it
const torchDims = (op: string) => (p: NormCase) => ({ op, n: p.n, c: p.c, h: p.h, w: p.w, eps: p.eps, momentum: p.momentum });

export const batchNorm2dSpec: OpSpec<NormCase> = {
  name: 'batch_norm2d',
  family: 'norm',
  cases: TRAIN_CASES,
  label,
  inputs: (p, rng) => ({ x: channelInputs(p, rng), ...affineInputs(p, rng), ...(p.running ? runningInputs(p, rng) : {}) }),
  outputs(p) {
    const out: Record<string, OutputDecl> = {
      y: { length: numel(p), dtype: 'f32' },
      mean: { length: p.c, dtype: 'f32' },
      invstd: { length: p.c, dtype: 'f32' },
    };
    if (p.running) {
      out.runningMean = { length: p.c, dtype: 'f32', from: 'runningMean0' };
      out.runningVar = { length: p.c, dtype: 'f32', from: 'runningVar0' };
    }
    return out;
  },
  call(addon, p, s) {
    addon.batchNorm2dStats(p.n, p.c, hw(p), s.x, p.eps, p.momentum, s.runningMean ?? null, s.runningVar ?? null, s.mean, s.invstd);
    addon.batchNorm2dForward(p.n, p.c, hw(p), s.x, s.mean, s.invstd, s.weight ?? null, s.bias ?? null, s.y);
  },
  reference(p, x) {
    // eps and momentum reach the kernels as float32
    const stats = batchStatsRef(p.n, p.c, hw(p), x.x, f32(p.eps));
    const out: Record<string, Float64Array> = {
      y: batchNormApplyRef(p.n, p.c, hw(p), x.x, stats.mean, stats.invstd, x.weight, x.bias),
      mean: stats.mean,
      invstd: stats.invstd,
    };
    if (p.running) {
      const r = runningUpdateRef(x.runningMean0, x.runningVar0, stats, f32(p.momentum));
      out.runningMean = r.mean;
      out.runningVar = r.var;
    }
    return out;
  },
  tolerance: { reference: FORWARD_TOLERANCE, backends: FORWARD_TOLERANCE },
  gradient: {
    cases: gradientCases,
    of: 'y',
    wrt: { x: 'dx', weight: 'dweight', bias: 'dbias' },
    call: (addon, p, s) =>
      addon.batchNorm2dBackward(p.n, p.c, hw(p), s.x, s.dy, s.mean, s.invstd, s.weight ?? null, true, s.dx, s.dweight ?? null, s.dbias ?? null),
    tolerance: GRADIENT_TOLERANCE,
  },
  bench: { ...bench, bytes: (p) => 4 * 3 * numel(p), flops: (p) => 6 * numel(p), torch: torchDims('batch_norm2d') },
};

export const batchNorm2dEvalSpec: OpSpec<NormCase> = {
  name: 'batch_norm2d_eval',
  family: 'norm',
  cases: EVAL_CASES,
  label,
  inputs: (p, rng) => ({ x: channelInputs(p, rng), ...affineInputs(p, rng), runningMean: rng.floats(p.c, -2, 2), runningVar: rng.floats(p.c, 0.1, 2) }),
  outputs: (p) => ({ y: { length: numel(p), dtype: 'f32' }, invstd: { length: p.c, dtype: 'f32' } }),
  call(addon, p, s) {
    addon.batchNorm2dInvstd(p.c, s.runningVar, p.eps, s.invstd);
    addon.batchNorm2dForward(p.n, p.c, hw(p), s.x, s.runningMean, s.invstd, s.weight ?? null, s.bias ?? null, s.y);
  },
  reference(p, x) {
    const invstd = Float64Array.from(x.runningVar, (v) => 1 / Math.sqrt(v + f32(p.eps)));
    return { y: batchNormApplyRef(p.n, p.c, hw(p), x.x, x.runningMean, invstd, x.weight, x.bias), invstd };
  },
  tolerance: { reference: FORWARD_TOLERANCE, backends: FORWARD_TOLERANCE },
  gradient: {
    cases: smallEnough,
    of: 'y',
    wrt: { x: 'dx', weight: 'dweight', bias: 'dbias' },
    call: (addon, p, s) =>
      addon.batchNorm2dBackward(p.n, p.c, hw(p), s.x, s.dy, s.runningMean, s.invstd, s.weight ?? null, false, s.dx, s.dweight ?? null, s.dbias ?? null),
    tolerance: GRADIENT_TOLERANCE,
  },
};

export const batchNorm2dBackwardSpec: OpSpec<NormCase> = {
  name: 'batch_norm2d_bwd',
  family: 'norm',
  // two values a channel normalise to -1 and 1 whatever they are, so dx is
  // ~eps/var, the rounding left over from cancelling terms of size 1: no
  // relative measure can judge it, and such a case is left out here
  cases: TRAIN_CASES.filter((p) => p.n * hw(p) > 2),
  label,
  inputs(p, rng) {
    const x = channelInputs(p, rng);
    // the statistics a forward would have saved, as float32
    const stats = batchStatsRef(p.n, p.c, hw(p), x, f32(p.eps));
    return { x, dy: rng.floats(numel(p), -1, 1), mean: Float32Array.from(stats.mean), invstd: Float32Array.from(stats.invstd), ...affineInputs(p, rng) };
  },
  outputs: (p) => ({
    dx: { length: numel(p), dtype: 'f32' },
    dweight: { length: p.c, dtype: 'f32' },
    dbias: { length: p.c, dtype: 'f32' },
  }),
  call: (addon, p, s) =>
    addon.batchNorm2dBackward(p.n, p.c, hw(p), s.x, s.dy, s.mean, s.invstd, s.weight ?? null, true, s.dx, s.dweight, s.dbias),
  reference: (p, x) => batchNormBackwardRef(p.n, p.c, hw(p), x.x, x.dy, x.mean, x.invstd, x.weight, true),
  tolerance: { reference: BACKWARD_TOLERANCE, backends: BACKWARD_TOLERANCE },
  bench: { ...bench, bytes: (p) => 4 * 5 * numel(p), flops: (p) => 10 * numel(p), torch: torchDims('batch_norm2d_bwd') },
};

export const normSpecs = [batchNorm2dSpec, batchNorm2dEvalSpec, batchNorm2dBackwardSpec];
