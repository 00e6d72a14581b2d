// float64 references of the differentiable ops, written the plain way (loops
// straight from the definitions), and a gradient check in the spirit of
// tinygrad's test_ops: the op's forward is compared with the reference, and
// its backward with central differences of the reference taken in float64,
// so the only float32 error measured is the op's own.
import { Tensor, tidy } from '../../src';
import { expectClose, TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';

export type Ref = (xs: Float64Array[]) => Float64Array;

export function conv2dRef(
  dims: { n: number; c: number; h: number; w: number; k: number; r: number; s: number },
  stride: [number, number], pad: [number, number], withBias: boolean,
): Ref {
  const { n, c, h, w, k, r, s } = dims;
  const p = Math.floor((h + 2 * pad[0] - r) / stride[0]) + 1;
  const q = Math.floor((w + 2 * pad[1] - s) / stride[1]) + 1;
  return ([x, wt, b]) => {
    const y = new Float64Array(n * k * p * q);
    for (let ni = 0; ni < n; ni++)
      for (let ki = 0; ki < k; ki++)
        for (let pi = 0; pi < p; pi++)
          for (let qi = 0; qi < q; qi++) {
            let acc = withBias ? b[ki] : 0;
            for (let ci = 0; ci < c; ci++)
              for (let ri = 0; ri < r; ri++)
                for (let si = 0; si < s; si++) {
                  const ih = pi * stride[0] - pad[0] + ri;
                  const iw = qi * stride[1] - pad[1] + si;
                  if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                  acc += x[((ni * c + ci) * h + ih) * w + iw] * wt[((ki * c + ci) * r + ri) * s + si];
                }
            y[((ni * k + ki) * p + pi) * q + qi] = acc;
          }
    return y;
  };
}

export function poolRef(kind: 'max' | 'avg', dims: { n: number; c: number; h: number; w: number }, kernel: number, stride: number, pad: number): Ref {
  const { n, c, h, w } = dims;
  const p = Math.floor((h + 2 * pad - kernel) / stride) + 1;
  const q = Math.floor((w + 2 * pad - kernel) / stride) + 1;
  return ([x]) => {
    const y = new Float64Array(n * c * p * q);
    for (let plane = 0; plane < n * c; plane++)
      for (let pi = 0; pi < p; pi++)
        for (let qi = 0; qi < q; qi++) {
          let acc = kind === 'max' ? -Infinity : 0;
          for (let a = 0; a < kernel; a++)
            for (let b = 0; b < kernel; b++) {
              const ih = pi * stride - pad + a, iw = qi * stride - pad + b;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue; // -inf for max, 0 for avg
              const v = x[(plane * h + ih) * w + iw];
              acc = kind === 'max' ? Math.max(acc, v) : acc + v;
            }
          y[(plane * p + pi) * q + qi] = kind === 'max' ? acc : acc / (kernel * kernel);
        }
    return y;
  };
}

/** a [m, k] @ b [k, n] */
export function matmulRef(m: number, k: number, n: number): Ref {
  return ([a, b]) => {
    const y = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += a[i * k + t] * b[t * n + j];
        y[i * n + j] = acc;
      }
    return y;
  };
}

/** x [n, in] @ w[out, in]^T + b */
export function linearRef(n: number, inF: number, outF: number, withBias: boolean): Ref {
  return ([x, w, b]) => {
    const y = new Float64Array(n * outF);
    for (let i = 0; i < n; i++)
      for (let o = 0; o < outF; o++) {
        let acc = withBias ? b[o] : 0;
        for (let t = 0; t < inF; t++) acc += x[i * inF + t] * w[o * inF + t];
        y[i * outF + o] = acc;
      }
    return y;
  };
}

export interface GradInput {
  data: Float32Array;
  shape: number[];
  /** false: the input is a constant (no gradient checked) */
  grad?: boolean;
}

export interface GradCase {
  inputs: GradInput[];
  op: (ts: Tensor[]) => Tensor;
  ref: Ref;
  forwardTol?: number;
  gradTol?: number;
  /** the finite-difference step, in float64 */
  eps?: number;
  label?: string;
}

/**
 * checks op's forward against ref, and each input's gradient of
 * L = sum(op(x) * R), for a random R fed to backward, against central
 * differences of sum(ref(x) * R). everything made here is freed.
 */
export function checkGradients(c: GradCase, rng = new Rng(1234)): void {
  const label = c.label ?? 'op';
  tidy(() => {
    const ts = c.inputs.map((i) => Tensor.fromArray(i.data, i.shape, { requiresGrad: i.grad !== false }));
    const out = c.op(ts);
    const xs = c.inputs.map((i) => Float64Array.from(i.data));
    expectClose(out.toArray(), c.ref(xs), c.forwardTol ?? TOL.matmul, `${label} forward`);

    const r = rng.floats(out.numel);
    out.backward(Tensor.fromArray(r, out.shape));
    const loss = (): number => {
      const y = c.ref(xs);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * r[i];
      return s;
    };
    const eps = c.eps ?? 1e-6;
    c.inputs.forEach((input, i) => {
      if (input.grad === false) {
        if (ts[i].grad !== null) throw new Error(`${label}: input ${i} needs no gradient but got one`);
        return;
      }
      const g = ts[i].grad;
      if (g === null) throw new Error(`${label}: input ${i} got no gradient`);
      const x = xs[i];
      const numeric = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const keep = x[j];
        x[j] = keep + eps;
        const up = loss();
        x[j] = keep - eps;
        const down = loss();
        x[j] = keep;
        numeric[j] = (up - down) / (2 * eps);
      }
      expectClose(g.toArray(), numeric, c.gradTol ?? TOL.gradient, `${label} d/d(input ${i})`);
    });
  });
}

/** values uniform in [lo, hi] with |v| >= margin: away from relu's kink */
export function awayFromZero(rng: Rng, n: number, margin = 0.05, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    do v = rng.uniform(lo, hi); while (Math.abs(v) < margin);
    out[i] = v;
  }
  return out;
}

/** a random permutation of well-separated values: no ties for max pooling */
export function distinctValues(rng: Rng, n: number, spacing = 0.01): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (i - n / 2) * spacing;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i]; out[i] = out[j]; out[j] = t;
  }
  return out;
}
