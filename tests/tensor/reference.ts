// float64 references of the differentiable ops (the op specs' own, shaped for
// the tensor layer), and a gradient check in the spirit of tinygrad's
// test_ops: the op's forward is compared with the reference, and its backward
// with central differences of the reference taken in float64, so the only
// float32 error measured is the op's own.
import { expect } from 'vitest';
import { Tensor, tidy, type DeviceName } from '../../src';
import { conv2dRef as specConv2dRef, convShape } from '../../src/spec/conv';
import * as eltwise from '../../src/spec/eltwise';
import { softmaxXentRef } from '../../src/spec/loss';
import { sumAxis } from '../../src/spec/reduce';
import { gemmRef } from '../../src/spec/gemm';
import { numericGradient } from '../../src/spec/gradient';
import { avgpool2dRef, maxpool2dRef, poolShape } from '../../src/spec/pool';
import { expectClose, TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';

export type Ref = (xs: Float64Array[]) => Float64Array;

// the references are the op specs' (src/spec), adapted to the tensor layer's
// arguments: a list of float64 inputs in, the output out

export function conv2dRef(
  dims: { n: number; c: number; h: number; w: number; k: number; r: number; s: number },
  stride: [number, number], pad: [number, number], withBias: boolean,
): Ref {
  const shape = convShape(dims.n, dims.c, dims.h, dims.w, dims.k, dims.r, dims.s, stride, pad);
  return ([x, w, b]) => specConv2dRef(shape, x, w, withBias ? b : null);
}

/** max or average pooling with a square window (padding counts as zeros in the average) */
export function poolRef(kind: 'max' | 'avg', dims: { n: number; c: number; h: number; w: number }, kernel: number, stride: number, pad: number): Ref {
  const shape = poolShape(dims.n, dims.c, dims.h, dims.w, kernel, kernel, stride, pad);
  return ([x]) => (kind === 'max' ? maxpool2dRef(shape, x).y : avgpool2dRef(shape, x));
}

/** a [m, k] @ b [k, n] */
export function matmulRef(m: number, k: number, n: number): Ref {
  return ([a, b]) => gemmRef(false, false, m, n, k, 1, a, b, 0, null);
}

/** x [n, in] @ w[out, in]^T + b */
export function linearRef(n: number, inF: number, outF: number, withBias: boolean): Ref {
  return ([x, w, b]) => {
    const y = gemmRef(false, true, n, outF, inF, 1, x, w, 0, null);
    if (withBias) for (let i = 0; i < y.length; i++) y[i] += b[i % outF];
    return y;
  };
}

export const addRef: Ref = ([a, b]) => eltwise.add.reference({ n: a.length }, { a, b }).out as Float64Array;
export const subRef: Ref = ([a, b]) => eltwise.axpby.reference({ n: a.length, alpha: 1, beta: -1 }, { a, b }).out as Float64Array;
export const mulRef: Ref = ([a, b]) => eltwise.mul.reference({ n: a.length }, { a, b }).out as Float64Array;
export const scaleRef = (alpha: number): Ref => ([x]) => eltwise.scale.reference({ n: x.length, alpha }, { x }).out as Float64Array;
export const reluRef: Ref = ([x]) => eltwise.reluForward.reference({ n: x.length }, { x }).y as Float64Array;
export const sumRef: Ref = ([x]) => sumAxis.reference({ outer: 1, reduce: x.length, inner: 1 }, { x }).y as Float64Array;
/** mean over rows of -log softmax(logits)[label] */
export const crossEntropyRef = (n: number, classes: number, labels: ArrayLike<number>): Ref => ([z]) =>
  Float64Array.of(softmaxXentRef(n, classes, z, labels).loss);

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
  /** where the op runs (the cpu unless told) */
  device?: DeviceName;
}

/**
 * checks op's forward against ref, and each input's gradient of
 * L = sum(op(x) * R), for a random R fed to backward, against central
 * differences of sum(ref(x) * R), on c.device. everything made here is freed.
 */
export function checkGradients(c: GradCase, rng = new Rng(1234)): void {
  const label = c.label ?? 'op';
  tidy(() => {
    const device = c.device ?? 'cpu';
    const ts = c.inputs.map((i) => Tensor.fromArray(i.data, i.shape, { device, requiresGrad: i.grad !== false }));
    const out = c.op(ts);
    const xs = c.inputs.map((i) => Float64Array.from(i.data));
    expectClose(out.toArray(), c.ref(xs), c.forwardTol ?? TOL.matmul, `${label} forward`);

    expect(out.device).toBe(device);
    // an op of constants only (argmax, counts) has no gradient to check
    if (c.inputs.every((input) => input.grad === false)) return;
    const r = rng.floats(out.numel);
    out.backward(Tensor.fromArray(r, out.shape, { device }));
    const eps = c.eps ?? 1e-6;
    c.inputs.forEach((input, i) => {
      if (input.grad === false) {
        if (ts[i].grad !== null) throw new Error(`${label}: input ${i} needs no gradient but got one`);
        return;
      }
      const g = ts[i].grad;
      if (g === null) throw new Error(`${label}: input ${i} got no gradient`);
      const numeric = numericGradient((v) => c.ref(xs.map((x, j) => (j === i ? v : x))), xs[i], r, eps);
      expect(g.device).toBe(device);
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
