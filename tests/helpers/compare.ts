// comparing kernel outputs with references. the measure is the one llm.c and
// ggml use: relative error = max|a - b| / max(max|ref|, tiny), i.e. the worst
// absolute error scaled by the size of the reference. a NaN anywhere fails, so
// an output element a kernel forgot to write (poisoned with NaN) is caught.
import { expect } from 'vitest';

/** tolerances per kind of op, relative error as defined above */
export const TOL = {
  /** bit-for-bit: copies, relu, pooling's max, argmax, masks */
  exact: 0,
  /** one or two float roundings per element: add, mul, scale, bias, dropout, sgd */
  eltwise: 1e-6,
  /** short float32 sums (pooling averages, softmax, adam) */
  reduce: 1e-5,
  /** float32 dot products of up to a few thousand terms (gemm, conv) */
  matmul: 1e-5,
  /** float32 backward kernels against float64 central differences */
  gradient: 1e-4,
  /** cuda vs cpu on the same inputs */
  cuda: 1e-5,
} as const;

const TINY = 1e-30;

export interface ErrorReport {
  rel: number;
  maxAbs: number;
  worst: number; // index of the worst element
  nan: number; // index of the first NaN in actual (or ref), -1 if none
}

export function relativeError(actual: ArrayLike<number>, ref: ArrayLike<number>): ErrorReport {
  if (actual.length !== ref.length) throw new Error(`length mismatch: ${actual.length} vs ${ref.length}`);
  let maxAbs = 0, maxRef = 0, worst = -1, nan = -1;
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i], r = ref[i];
    if (Number.isNaN(a) || Number.isNaN(r)) {
      if (nan < 0) nan = i;
      continue;
    }
    const d = a === r ? 0 : Math.abs(a - r); // equal infinities compare exact
    if (worst < 0 || d > maxAbs) {
      maxAbs = d;
      worst = i;
    }
    if (Number.isFinite(r) && Math.abs(r) > maxRef) maxRef = Math.abs(r);
  }
  return { rel: maxAbs / Math.max(maxRef, TINY), maxAbs, worst, nan };
}

/** fails with the worst element when relative error exceeds tol (or anything is NaN) */
export function expectClose(actual: ArrayLike<number>, ref: ArrayLike<number>, tol: number, label = ''): ErrorReport {
  const r = relativeError(actual, ref);
  const where = label ? `${label}: ` : '';
  if (r.nan >= 0) {
    expect.fail(`${where}NaN at element ${r.nan} (actual ${actual[r.nan]}, reference ${ref[r.nan]}): an output was not written or went wrong`);
  }
  if (!(r.rel <= tol)) {
    expect.fail(
      `${where}relative error ${r.rel.toExponential(3)} > ${tol} (worst element ${r.worst}: ` +
        `actual ${actual[r.worst]}, reference ${ref[r.worst]}, |diff| ${r.maxAbs.toExponential(3)})`,
    );
  }
  return r;
}

/** element-for-element equality, reporting the first difference */
export function expectExact(actual: ArrayLike<number>, ref: ArrayLike<number>, label = ''): void {
  expect(actual.length, `${label} length`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    if (!Object.is(actual[i], ref[i])) {
      expect.fail(`${label ? label + ': ' : ''}element ${i} is ${actual[i]}, expected ${ref[i]}`);
    }
  }
}

/** the same bits, for float32 arrays (NaN payloads included) */
export function expectSameBits(a: Float32Array | Int32Array, b: Float32Array | Int32Array, label = ''): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  expect(ua.length, `${label} length`).toBe(ub.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) expect.fail(`${label ? label + ': ' : ''}bits differ at element ${i}: ${a[i]} vs ${b[i]}`);
  }
}
