// the one measure of how far an output is from what it should be, the one
// llm.c and ggml use: relative error = max|a - ref| / max(max|ref|, tiny),
// the worst absolute error scaled by the size of the reference. a NaN on
// either side is reported apart (and fails every tolerance), so an element a
// kernel forgot to write (poisoned with NaN) is caught.

const TINY = 1e-30;

export interface ErrorReport {
  /** max|a - ref| / max|ref|; Infinity when anything is NaN */
  rel: number;
  maxAbs: number;
  /** index of the worst element, -1 when empty */
  worst: number;
  /** index of the first NaN in actual (or ref), -1 if none */
  nan: number;
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
  const rel = nan >= 0 ? Infinity : maxAbs === 0 ? 0 : maxAbs / Math.max(maxRef, TINY);
  return { rel, maxAbs, worst, nan };
}

/** a one-line account of a comparison, for failure messages */
export function describeError(r: ErrorReport, actual: ArrayLike<number>, ref: ArrayLike<number>): string {
  if (r.nan >= 0) return `NaN at element ${r.nan} (actual ${actual[r.nan]}, reference ${ref[r.nan]})`;
  if (r.worst < 0) return 'empty';
  return `worst element ${r.worst}: actual ${actual[r.worst]}, reference ${ref[r.worst]}, |diff| ${r.maxAbs.toExponential(3)}`;
}
