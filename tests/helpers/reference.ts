// float64 reference implementations of every native op: the plainest loops
// that say what the op means (ops.h), used to check the kernels. inputs are
// the same float32 values the kernels see, widened to double.
import type { ConvShape, PoolShape } from '../../src/native';

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
