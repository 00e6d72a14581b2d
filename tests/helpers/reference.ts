// float64 reference implementations of every native op: the plainest loops
// that say what the op means (ops.h), used to check the kernels. inputs are
// the same float32 values the kernels see, widened to double.
import type { ConvShape, PoolShape } from '../../src/native';
import { philox4x32 } from '../../src/random';

type Vec = ArrayLike<number>;

// ---- shapes ----

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

// ---- matrix multiply ----

/** alpha*op(A)*op(B) + beta*C; C may be null when beta is 0 */
export function gemmRef(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Vec, b: Vec, beta: number, c: Vec | null,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        const bv = transB ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      out[i * n + j] = alpha * acc + (beta === 0 ? 0 : beta * c![i * n + j]);
    }
  }
  return out;
}

// ---- convolution ----

export function conv2dRef(s: ConvShape, x: Vec, w: Vec, bias: Vec | null): Float64Array {
  const y = new Float64Array(s.n * s.k * s.p * s.q);
  for (let n = 0; n < s.n; n++)
    for (let k = 0; k < s.k; k++)
      for (let op = 0; op < s.p; op++)
        for (let oq = 0; oq < s.q; oq++) {
          let acc = bias ? bias[k] : 0;
          for (let c = 0; c < s.c; c++)
            for (let r = 0; r < s.r; r++) {
              const ih = op * s.strideH - s.padH + r;
              if (ih < 0 || ih >= s.h) continue;
              for (let t = 0; t < s.s; t++) {
                const iw = oq * s.strideW - s.padW + t;
                if (iw < 0 || iw >= s.w) continue;
                acc += x[((n * s.c + c) * s.h + ih) * s.w + iw] * w[((k * s.c + c) * s.r + r) * s.s + t];
              }
            }
          y[((n * s.k + k) * s.p + op) * s.q + oq] = acc;
        }
  return y;
}

export function conv2dBackwardInputRef(s: ConvShape, dy: Vec, w: Vec): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  for (let n = 0; n < s.n; n++)
    for (let k = 0; k < s.k; k++)
      for (let op = 0; op < s.p; op++)
        for (let oq = 0; oq < s.q; oq++) {
          const g = dy[((n * s.k + k) * s.p + op) * s.q + oq];
          for (let c = 0; c < s.c; c++)
            for (let r = 0; r < s.r; r++) {
              const ih = op * s.strideH - s.padH + r;
              if (ih < 0 || ih >= s.h) continue;
              for (let t = 0; t < s.s; t++) {
                const iw = oq * s.strideW - s.padW + t;
                if (iw < 0 || iw >= s.w) continue;
                dx[((n * s.c + c) * s.h + ih) * s.w + iw] += g * w[((k * s.c + c) * s.r + r) * s.s + t];
              }
            }
        }
  return dx;
}

export function conv2dBackwardWeightRef(s: ConvShape, x: Vec, dy: Vec): { dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(s.k * s.c * s.r * s.s);
  const db = new Float64Array(s.k);
  for (let n = 0; n < s.n; n++)
    for (let k = 0; k < s.k; k++)
      for (let op = 0; op < s.p; op++)
        for (let oq = 0; oq < s.q; oq++) {
          const g = dy[((n * s.k + k) * s.p + op) * s.q + oq];
          db[k] += g;
          for (let c = 0; c < s.c; c++)
            for (let r = 0; r < s.r; r++) {
              const ih = op * s.strideH - s.padH + r;
              if (ih < 0 || ih >= s.h) continue;
              for (let t = 0; t < s.s; t++) {
                const iw = oq * s.strideW - s.padW + t;
                if (iw < 0 || iw >= s.w) continue;
                dw[((k * s.c + c) * s.r + r) * s.s + t] += g * x[((n * s.c + c) * s.h + ih) * s.w + iw];
              }
            }
        }
  return { dw, db };
}

// ---- pooling ----

/** max pooling: y and, per output, the plane index (ih*w + iw) of the first maximum */
export function maxpool2dRef(s: PoolShape, x: Vec): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(s.n * s.c * s.p * s.q);
  const argmax = new Int32Array(y.length);
  for (let pl = 0; pl < s.n * s.c; pl++)
    for (let op = 0; op < s.p; op++)
      for (let oq = 0; oq < s.q; oq++) {
        let best = -Infinity, at = -1;
        for (let i = 0; i < s.kh; i++) {
          const ih = op * s.strideH - s.padH + i;
          if (ih < 0 || ih >= s.h) continue;
          for (let j = 0; j < s.kw; j++) {
            const iw = oq * s.strideW - s.padW + j;
            if (iw < 0 || iw >= s.w) continue;
            const v = x[pl * s.h * s.w + ih * s.w + iw];
            if (at < 0 || v > best) {
              best = v;
              at = ih * s.w + iw;
            }
          }
        }
        y[(pl * s.p + op) * s.q + oq] = best;
        argmax[(pl * s.p + op) * s.q + oq] = at;
      }
  return { y, argmax };
}

export function maxpool2dBackwardRef(s: PoolShape, dy: Vec, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  for (let pl = 0; pl < s.n * s.c; pl++)
    for (let o = 0; o < s.p * s.q; o++) dx[pl * s.h * s.w + argmax[pl * s.p * s.q + o]] += dy[pl * s.p * s.q + o];
  return dx;
}

/** average pooling, padding counted as zeros in the divisor kh*kw */
export function avgpool2dRef(s: PoolShape, x: Vec): Float64Array {
  const y = new Float64Array(s.n * s.c * s.p * s.q);
  for (let pl = 0; pl < s.n * s.c; pl++)
    for (let op = 0; op < s.p; op++)
      for (let oq = 0; oq < s.q; oq++) {
        let sum = 0;
        for (let i = 0; i < s.kh; i++) {
          const ih = op * s.strideH - s.padH + i;
          if (ih < 0 || ih >= s.h) continue;
          for (let j = 0; j < s.kw; j++) {
            const iw = oq * s.strideW - s.padW + j;
            if (iw >= 0 && iw < s.w) sum += x[pl * s.h * s.w + ih * s.w + iw];
          }
        }
        y[(pl * s.p + op) * s.q + oq] = sum / (s.kh * s.kw);
      }
  return y;
}

export function avgpool2dBackwardRef(s: PoolShape, dy: Vec): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  for (let pl = 0; pl < s.n * s.c; pl++)
    for (let op = 0; op < s.p; op++)
      for (let oq = 0; oq < s.q; oq++) {
        const g = dy[(pl * s.p + op) * s.q + oq] / (s.kh * s.kw);
        for (let i = 0; i < s.kh; i++) {
          const ih = op * s.strideH - s.padH + i;
          if (ih < 0 || ih >= s.h) continue;
          for (let j = 0; j < s.kw; j++) {
            const iw = oq * s.strideW - s.padW + j;
            if (iw >= 0 && iw < s.w) dx[pl * s.h * s.w + ih * s.w + iw] += g;
          }
        }
      }
  return dx;
}

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
