// expectations on kernel outputs against references, with the one measure of
// relative error (src/spec/compare.ts): max|a - b| / max(max|ref|, tiny). a NaN
// anywhere fails, so an output element a kernel forgot to write (poisoned with
// NaN) is caught.
import { expect } from 'vitest';
import { relativeError, type ErrorReport } from '../../src/spec/compare';

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

export { relativeError, type ErrorReport } from '../../src/spec/compare';

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
