// the fused softmax cross-entropy and the accuracy helpers (native/cpu/loss.cc,
// native/cuda/loss.cu). cases: one row of one class, the models' batches of 64
// and 128 rows of 10 classes, odd shapes around the vector widths, many classes
// (1000), more rows than a warp, and huge logits whose probabilities underflow
// (the loss must stay finite there: -log p = log(sum) - (x[label] - max)).
import type { InputRng, OpSpec, OutputDecl } from './types';
import { UNIT_ROUNDOFF, f32 } from './float32';

type Vec = ArrayLike<number>;

/**
 * the mean over rows of -log softmax(logits)[label], and the probabilities,
 * in float64 (max subtracted first, so huge logits neither overflow nor lose
 * the label's log-probability when its probability underflows)
 */
export function softmaxXentRef(n: number, classes: number, logits: Vec, labels: Vec): { probs: Float64Array; loss: number } {
  // the plain loss is the smoothed one with no smoothing, averaged over the rows
  return smoothXentRef(n, classes, logits, labels, 0, 'mean');
}

/** first index of each row's maximum */
export function argmaxRef(n: number, classes: number, x: Vec): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (x[i * classes + j] > x[i * classes + best]) best = j;
    out[i] = best;
  }
  return out;
}

interface LossCase {
  n: number;
  classes: number;
  /** logits uniform in [-spread, spread] */
  spread?: number;
}

const SHAPES: LossCase[] = [
  [1, 1], [1, 10], [64, 10], [128, 10], [7, 33], [9, 8], [17, 16], [15, 7], [130, 3], [3, 1000], [257, 10],
  // an evaluation batch: more rows than a block of the cuda kernel takes
  [5000, 10],
].map(([n, classes]) => ({ n, classes }));
const lossLabel = (p: LossCase): string => `n${p.n} c${p.classes}${p.spread ? ` logits +-${p.spread}` : ''}`;
// logits in [-spread, spread] and labels, for either forward
const lossInputs = (p: LossCase, rng: InputRng) => ({ logits: rng.floats(p.n * p.classes, -(p.spread ?? 4), p.spread ?? 4), labels: rng.ints(p.n, p.classes) });
const lossOutputs = (p: LossCase): Record<string, OutputDecl> => ({ probs: { length: p.n * p.classes, dtype: 'f32' }, loss: { length: 1, dtype: 'f32' } });

export const softmaxXentForward: OpSpec<LossCase> = {
  name: 'softmax_xent',
  family: 'loss',
  cases: [...SHAPES, { n: 2, classes: 3, spread: 1000 }, { n: 64, classes: 10, spread: 90 }],
  label: lossLabel,
  inputs: lossInputs,
  outputs: lossOutputs,
  call: (addon, p, s) => addon.softmaxXentForward(p.n, p.classes, s.logits, s.labels, s.probs, s.loss),
  reference(p, { logits, labels }) {
    const r = softmaxXentRef(p.n, p.classes, logits, labels);
    return { probs: r.probs, loss: Float64Array.of(r.loss) };
  },
  // a probability is exp(x - max) (the shift rounds to float32 once, which
  // moves exp by |x - max| roundings: p*|x - max| <= 1/e of a rounding), times
  // the float32 reciprocal of a double sum: about four roundings of the
  // largest probability, six with expf's own error (up to 2 ulp on cuda):
  // 3.6e-7 (measured on the cpu: 9e-8). the loss is taken in double and
  // rounded once. the backends' exp differ in their own ways: as measured on
  // an H200 against the cpu, within 1e-5
  tolerance: { reference: 1e-6, backends: 1e-5 },
  gradient: {
    cases: (p) => p.n * p.classes <= 1280,
    of: 'loss',
    wrt: { logits: 'dlogits' },
    call: (addon, p, s) => addon.softmaxXentBackward(p.n, p.classes, s.probs, s.labels, s.dloss, s.dlogits),
    // (p - onehot) * dloss / n from the float32 probabilities (~1e-6 of the
    // largest gradient) against differences of a smooth float64 loss (~1e-9)
    tolerance: 1e-5,
  },
  bench: {
    cases: [{ n: 64, classes: 10 }, { n: 128, classes: 10 }],
    flops: (p) => 5 * p.n * p.classes,
    bytes: (p) => 4 * (2 * p.n * p.classes + p.n),
  },
};

export const softmaxXentBackward: OpSpec<LossCase> = {
  name: 'softmax_xent_bwd',
  family: 'loss',
  cases: SHAPES,
  label: lossLabel,
  inputs(p, rng) {
    // any probabilities will do: the kernel's arithmetic does not depend on them summing to one
    return { probs: rng.floats(p.n * p.classes, 0, 1), labels: rng.ints(p.n, p.classes), dloss: rng.floats(1, 0.5, 2) };
  },
  outputs: (p) => ({ dlogits: { length: p.n * p.classes, dtype: 'f32' } }),
  call: (addon, p, s) => addon.softmaxXentBackward(p.n, p.classes, s.probs, s.labels, s.dloss, s.dlogits),
  reference(p, { probs, labels, dloss }) {
    const d = new Float64Array(p.n * p.classes);
    for (let i = 0; i < p.n; i++)
      for (let j = 0; j < p.classes; j++) d[i * p.classes + j] = (probs[i * p.classes + j] - (j === labels[i] ? 1 : 0)) * dloss[0] / p.n;
    return { dlogits: d };
  },
  // dloss / n, p - 1 and the product: three roundings of the element (4 leaves
  // room for second-order terms); cuda rounds the same operations: bit for bit
  tolerance: { reference: 4 * UNIT_ROUNDOFF, backends: 0 },
};

/**
 * cross-entropy against the label-smoothed target (1 - s) * onehot + s / classes,
 * PyTorch's definition, in float64: per row, -sum over j of target[j] * log p[j],
 * with log p[j] = (x[j] - max) - log(sum); the sum over rows or their mean
 */
export function smoothXentRef(
  n: number, classes: number, logits: Vec, labels: Vec, smoothing: number, reduction: 'mean' | 'sum',
): { probs: Float64Array; loss: number } {
  const probs = new Float64Array(n * classes);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[i * classes + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[i * classes + j] - max);
    const logSum = Math.log(sum);
    for (let j = 0; j < classes; j++) {
      const shifted = logits[i * classes + j] - max;
      probs[i * classes + j] = Math.exp(shifted) / sum;
      const target = (j === labels[i] ? 1 - smoothing : 0) + smoothing / classes;
      total -= target * (shifted - logSum);
    }
  }
  return { probs, loss: reduction === 'sum' ? total : total / n };
}

interface SmoothCase extends LossCase {
  smoothing: number;
  reduction: 'mean' | 'sum';
}

// airbench's 0.2 with the mean, the sum (airbench sums its loss), none with
// either reduction, and the whole target uniform (1)
const SMOOTHINGS: Array<[number, 'mean' | 'sum']> = [[0.2, 'mean'], [0.2, 'sum'], [0, 'sum'], [0.1, 'mean'], [1, 'mean'], [0, 'mean']];
const SMOOTH_CASES: SmoothCase[] = [
  ...SHAPES.map((shape, i) => {
    const [smoothing, reduction] = SMOOTHINGS[i % SMOOTHINGS.length];
    return { ...shape, smoothing, reduction };
  }),
  { n: 2, classes: 3, spread: 1000, smoothing: 0.2, reduction: 'mean' },
  { n: 64, classes: 10, spread: 90, smoothing: 0.2, reduction: 'sum' },
];
const smoothLabel = (p: SmoothCase): string => `${lossLabel(p)} smoothing ${p.smoothing} ${p.reduction}`;
// the kernels take the smoothing as float32
const smoothTarget = (p: SmoothCase, j: number, label: number): number =>
  (j === label ? 1 - f32(p.smoothing) : 0) + f32(p.smoothing) / p.classes;

export const softmaxXentSmoothForward: OpSpec<SmoothCase> = {
  name: 'softmax_xent_smooth',
  family: 'loss',
  cases: SMOOTH_CASES,
  label: smoothLabel,
  inputs: lossInputs,
  outputs: lossOutputs,
  call: (addon, p, s) =>
    addon.softmaxXentSmoothForward(p.n, p.classes, s.logits, s.labels, p.smoothing, p.reduction === 'sum', s.probs, s.loss),
  reference(p, { logits, labels }) {
    const r = smoothXentRef(p.n, p.classes, logits, labels, f32(p.smoothing), p.reduction);
    return { probs: r.probs, loss: Float64Array.of(r.loss) };
  },
  // the probabilities as softmax_xent's; the loss is taken and reduced in
  // double and rounded once (the smoothing term adds a sum of the shifted
  // logits, in double too). the backends' exp differ as for softmax_xent
  tolerance: { reference: 1e-6, backends: 1e-5 },
  gradient: {
    cases: (p) => p.n * p.classes <= 1280,
    of: 'loss',
    wrt: { logits: 'dlogits' },
    call: (addon, p, s) =>
      addon.softmaxXentSmoothBackward(p.n, p.classes, s.probs, s.labels, p.smoothing, p.reduction === 'sum', s.dloss, s.dlogits),
    // (p - target) * g from the float32 probabilities against differences of a smooth float64 loss
    tolerance: 1e-5,
  },
  bench: {
    // airbench94's batch of 1024 and an evaluation batch
    cases: [{ n: 1024, classes: 10, smoothing: 0.2, reduction: 'sum' }, { n: 5000, classes: 10, smoothing: 0.2, reduction: 'sum' }],
    flops: (p) => 6 * p.n * p.classes,
    bytes: (p) => 4 * (2 * p.n * p.classes + p.n),
  },
};

export const softmaxXentSmoothBackward: OpSpec<SmoothCase> = {
  name: 'softmax_xent_smooth_bwd',
  family: 'loss',
  cases: SMOOTH_CASES.filter((p) => !p.spread),
  label: smoothLabel,
  inputs(p, rng) {
    return { probs: rng.floats(p.n * p.classes, 0, 1), labels: rng.ints(p.n, p.classes), dloss: rng.floats(1, 0.5, 2) };
  },
  outputs: (p) => ({ dlogits: { length: p.n * p.classes, dtype: 'f32' } }),
  call: (addon, p, s) =>
    addon.softmaxXentSmoothBackward(p.n, p.classes, s.probs, s.labels, p.smoothing, p.reduction === 'sum', s.dloss, s.dlogits),
  reference(p, { probs, labels, dloss }) {
    const d = new Float64Array(p.n * p.classes);
    const g = p.reduction === 'sum' ? dloss[0] : dloss[0] / p.n;
    for (let i = 0; i < p.n; i++)
      for (let j = 0; j < p.classes; j++) d[i * p.classes + j] = (probs[i * p.classes + j] - smoothTarget(p, j, labels[i])) * g;
    return { dlogits: d };
  },
  // the target's two values (rounded once from double), dloss / n, p - target
  // and the product: four roundings of the element (5 leaves room); cuda
  // rounds the same operations from the same target values: bit for bit
  tolerance: { reference: 5 * UNIT_ROUNDOFF, backends: 0 },
  bench: {
    cases: [{ n: 1024, classes: 10, smoothing: 0.2, reduction: 'sum' }],
    flops: (p) => 2 * p.n * p.classes,
    bytes: (p) => 4 * (2 * p.n * p.classes + p.n),
  },
};

interface ArgmaxCase {
  n: number;
  classes: number;
}

const ARGMAX_SHAPES: ArgmaxCase[] = [[1, 1], [1, 10], [64, 10], [128, 10], [7, 33], [9, 8], [17, 16], [130, 3], [3, 1000], [257, 10]]
  .map(([n, classes]) => ({ n, classes }));

// every third row gets two equal maxima at columns 1 and 2: the first must win
function logitsWithTies(p: ArgmaxCase, rng: { floats(n: number, lo?: number, hi?: number): Float32Array }): Float32Array {
  const x = rng.floats(p.n * p.classes, -1, 1);
  if (p.classes > 2) for (let i = 0; i < p.n; i += 3) x[i * p.classes + 1] = x[i * p.classes + 2] = 5;
  return x;
}

export const argmax: OpSpec<ArgmaxCase> = {
  name: 'argmax',
  family: 'loss',
  cases: ARGMAX_SHAPES,
  label: (p) => `n${p.n} c${p.classes}`,
  inputs: (p, rng) => ({ x: logitsWithTies(p, rng) }),
  outputs: (p) => ({ out: { length: p.n, dtype: 'i32' } }),
  call: (addon, p, s) => addon.argmax(p.n, p.classes, s.x, s.out),
  reference: (p, { x }) => ({ out: argmaxRef(p.n, p.classes, x) }),
  // indices: exact
  tolerance: { reference: 0, backends: 0 },
};

export const correctCount: OpSpec<ArgmaxCase> = {
  name: 'correct_count',
  family: 'loss',
  cases: ARGMAX_SHAPES,
  label: (p) => `n${p.n} c${p.classes}`,
  inputs(p, rng) {
    const x = logitsWithTies(p, rng);
    // every other row labelled with its answer, so the count is neither 0 nor n by chance
    const labels = rng.ints(p.n, p.classes);
    const best = argmaxRef(p.n, p.classes, x);
    for (let i = 0; i < p.n; i += 2) labels[i] = best[i];
    return { x, labels };
  },
  outputs: () => ({ count: { length: 1, dtype: 'i32' } }),
  call: (addon, p, s) => addon.correctCount(p.n, p.classes, s.x, s.labels, s.count),
  reference(p, { x, labels }) {
    const best = argmaxRef(p.n, p.classes, x);
    let count = 0;
    for (let i = 0; i < p.n; i++) if (best[i] === labels[i]) count++;
    return { count: Int32Array.of(count) };
  },
  // a count: exact
  tolerance: { reference: 0, backends: 0 },
};

export const lossSpecs = [softmaxXentForward, softmaxXentBackward, argmax, correctCount, softmaxXentSmoothForward, softmaxXentSmoothBackward];
