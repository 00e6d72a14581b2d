// float64 reference implementations of every native op: the plainest loops
// that say what the op means (ops.h), used to check the kernels. inputs are
// the same float32 values the kernels see, widened to double.
import { philox4x32 } from '../../src/random';

type Vec = ArrayLike<number>;

// gemm, convolution and pooling references live in their op specs (src/spec/{gemm,conv,pool}.ts)

// ---- elementwise and reductions ----

export function mapRef(n: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

export function biasAddRef(outer: number, channels: number, inner: number, x: Vec, bias: Vec): Float64Array {
  return mapRef(outer * channels * inner, (i) => x[i] + bias[Math.floor(i / inner) % channels]);
}

export function sumAxisRef(outer: number, reduce: number, inner: number, x: Vec): Float64Array {
  const y = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < reduce; r++)
      for (let i = 0; i < inner; i++) y[o * inner + i] += x[(o * reduce + r) * inner + i];
  return y;
}

// ---- loss ----

export function softmaxXentRef(n: number, classes: number, logits: Vec, labels: ArrayLike<number>): { probs: Float64Array; loss: number } {
  const probs = new Float64Array(n * classes);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[i * classes + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[i * classes + j] - max);
    for (let j = 0; j < classes; j++) probs[i * classes + j] = Math.exp(logits[i * classes + j] - max) / sum;
    total += Math.log(sum) - (logits[i * classes + labels[i]] - max);
  }
  return { probs, loss: total / n };
}

export function softmaxXentBackwardRef(n: number, classes: number, probs: Vec, labels: ArrayLike<number>, dloss: number): Float64Array {
  return mapRef(n * classes, (i) => (probs[i] - (i % classes === labels[Math.floor(i / classes)] ? 1 : 0)) * dloss / n);
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

// ---- optimizers: PyTorch's updates (torch/optim/adam.py, sgd.py) in float64 ----

export interface AdamConfig {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean;
}

/** one Adam (decoupled: AdamW) step in place on param, m, v; step counts from 1 */
export function adamStepRef(param: Float64Array, grad: Vec, m: Float64Array, v: Float64Array, c: AdamConfig, step: number): void {
  const bc1 = 1 - c.beta1 ** step;
  const bc2 = 1 - c.beta2 ** step;
  const stepSize = c.lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (c.weightDecay !== 0) {
      if (c.decoupled) param[i] *= 1 - c.lr * c.weightDecay;
      else g += c.weightDecay * param[i];
    }
    m[i] = c.beta1 * m[i] + (1 - c.beta1) * g;
    v[i] = c.beta2 * v[i] + (1 - c.beta2) * g * g;
    const denom = Math.sqrt(v[i]) / bc2Sqrt + c.eps;
    param[i] -= (stepSize * m[i]) / denom;
  }
}

export interface SgdConfig {
  lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean;
}

/** one SGD step in place on param and buf; first: the buffer starts as the gradient */
export function sgdStepRef(param: Float64Array, grad: Vec, buf: Float64Array, c: SgdConfig, first: boolean): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (c.weightDecay !== 0) g += c.weightDecay * param[i];
    if (c.momentum !== 0) {
      buf[i] = first ? g : c.momentum * buf[i] + (1 - c.dampening) * g;
      g = c.nesterov ? g + c.momentum * buf[i] : buf[i];
    }
    param[i] -= c.lr * g;
  }
}

// ---- randomness ----

/** element idx of the philox stream (seed, offset) as a uniform in [0, 1), like philox_uniform */
export function philoxUniformRef(seed: bigint, offset: bigint, idx: number): number {
  const counter = (offset + BigInt(idx)) & ((1n << 64n) - 1n);
  const r = philox4x32(Number(counter & 0xffffffffn), Number(counter >> 32n), Number(seed & 0xffffffffn), Number(seed >> 32n));
  return (r[0] >>> 8) / 16777216;
}

/**
 * the dropout mask: (uniform(i) >= p) / (1 - p), in float32 arithmetic as the
 * kernels do it (a double op rounded once to float is the float op exactly)
 */
export function dropoutMaskRef(n: number, p: number, seed: bigint, offset: bigint): Float32Array {
  const pf = Math.fround(p);
  const keep = Math.fround(1 / Math.fround(1 - pf));
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) mask[i] = philoxUniformRef(seed, offset, i) >= pf ? keep : 0;
  return mask;
}
