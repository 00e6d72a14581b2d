// the symmetric eigensolver against matrices whose eigenpairs are known in
// closed form, and A = V diag(w) V^T with V orthonormal for arbitrary ones.
import { describe, expect, it } from 'vitest';
import { CudalabError } from '../../src';
import { symmetricEigen } from '../../src/nn/eigen';

// a small seeded generator for test matrices (numbers in [-1, 1))
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

function randomSymmetric(n: number, seed: number): Float64Array {
  const next = lcg(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = next();
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** V diag(w) V^T and V^T V, in plain loops */
function reconstruct(values: Float64Array, vectors: Float64Array, n: number): { a: Float64Array; gram: Float64Array } {
  const a = new Float64Array(n * n);
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, g = 0;
      for (let k = 0; k < n; k++) {
        s += vectors[i * n + k] * values[k] * vectors[j * n + k];
        g += vectors[k * n + i] * vectors[k * n + j];
      }
      a[i * n + j] = s;
      gram[i * n + j] = g;
    }
  }
  return { a, gram };
}

function identity(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

describe('symmetricEigen', () => {
  it('[[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, -1)/sqrt(2) and (1, 1)/sqrt(2)', () => {
    const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
    expect(maxAbsDiff(values, [1, 3])).toBeLessThan(1e-14);
    const r = Math.SQRT1_2;
    // columns: (r, -r) for 1 and (r, r) for 3; each with its largest (first) component positive
    expect(maxAbsDiff(vectors, [r, r, -r, r])).toBeLessThan(1e-14);
  });

  it('a diagonal matrix: its entries in ascending order and the unit vectors', () => {
    const { values, vectors } = symmetricEigen([3, 0, 0, 0, -1, 0, 0, 0, 2], 3);
    expect(Array.from(values)).toEqual([-1, 2, 3]);
    expect(Array.from(vectors)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
  });

  it('the 12x12 second-difference matrix: eigenvalues 2 - 2cos(k pi / 13), eigenvectors sin(j k pi / 13)', () => {
    const n = 12;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      a[i * n + i] = 2;
      if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 1; k <= n; k++) {
      expect(Math.abs(values[k - 1] - (2 - 2 * Math.cos((k * Math.PI) / (n + 1))))).toBeLessThan(1e-13);
      // the closed-form eigenvector, normalised; ours equals it up to sign
      const ref = Array.from({ length: n }, (_, j) => Math.sin(((j + 1) * k * Math.PI) / (n + 1)));
      const norm = Math.hypot(...ref);
      let dot = 0;
      for (let j = 0; j < n; j++) dot += vectors[j * n + k - 1] * (ref[j] / norm);
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-12);
    }
  });

  it('Q diag(w) Q^T for a Householder reflection Q: w sorted, Q\'s columns up to sign', () => {
    const n = 12;
    const next = lcg(7);
    const u = Array.from({ length: n }, () => next());
    const uu = u.reduce((s, x) => s + x * x, 0);
    const q = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q[i * n + j] = (i === j ? 1 : 0) - (2 * u[i] * u[j]) / uu;
    const w = [5, -3, 0.5, 12, 1e-4, 7, -0.25, 2, 3.5, 9, 0, 1];
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += q[i * n + k] * w[k] * q[j * n + k];
        a[i * n + j] = s;
      }
    }
    // round-off makes a[i][j] and a[j][i] differ in the last bit: take the upper triangle
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
    const { values, vectors } = symmetricEigen(a, n);
    const sorted = [...w].sort((x, y) => x - y);
    expect(maxAbsDiff(values, sorted)).toBeLessThan(1e-12);
    for (let j = 0; j < n; j++) {
      const k = w.indexOf(sorted[j]);
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * n + j] * q[i * n + k];
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-12);
    }
  });

  it('random symmetric matrices (n = 1..12): A = V diag(w) V^T to 1e-10, V orthonormal, w ascending', () => {
    for (let n = 1; n <= 12; n++) {
      for (let seed = 1; seed <= 5; seed++) {
        const a = randomSymmetric(n, seed * 100 + n);
        const { values, vectors } = symmetricEigen(a, n);
        const { a: back, gram } = reconstruct(values, vectors, n);
        expect(maxAbsDiff(back, a), `n=${n} seed=${seed}`).toBeLessThan(1e-10);
        expect(maxAbsDiff(gram, identity(n)), `n=${n} seed=${seed}`).toBeLessThan(1e-12);
        for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
      }
    }
  });

  it('repeated eigenvalues and a zero matrix: still an orthonormal basis that reconstructs A', () => {
    const n = 4;
    // 2 I + (all ones): eigenvalue 6 once and 2 three times
    const a = new Float64Array(n * n).fill(1);
    for (let i = 0; i < n; i++) a[i * n + i] = 3;
    const { values, vectors } = symmetricEigen(a, n);
    expect(maxAbsDiff(values, [2, 2, 2, 6])).toBeLessThan(1e-14);
    const { a: back, gram } = reconstruct(values, vectors, n);
    expect(maxAbsDiff(back, a)).toBeLessThan(1e-13);
    expect(maxAbsDiff(gram, identity(n))).toBeLessThan(1e-14);

    const zero = symmetricEigen(new Float64Array(9), 3);
    expect(Array.from(zero.values)).toEqual([0, 0, 0]);
    expect(Array.from(zero.vectors)).toEqual(Array.from(identity(3)));
  });

  it('a covariance-like matrix with eigenvalues from 1e-6 to 1e3 keeps its small eigenvalues', () => {
    const n = 12;
    const next = lcg(3);
    // B^T B / m for a tall B with one nearly dependent column: one tiny eigenvalue
    const m = 200;
    const b = new Float64Array(m * n);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) b[r * n + c] = next() * (c + 1) * 10;
      b[r * n + n - 1] = b[r * n] * 12 + next() * 1e-3;
    }
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let r = 0; r < m; r++) s += b[r * n + i] * b[r * n + j];
      a[i * n + j] = s / m;
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
    const { values, vectors } = symmetricEigen(a, n);
    // A v = w v for each pair, relative to the largest eigenvalue
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k] * vectors[k * n + j];
        expect(Math.abs(av - values[j] * vectors[i * n + j])).toBeLessThan(1e-10 * values[n - 1]);
      }
    }
    expect(values[0]).toBeGreaterThan(0);
    expect(values[0]).toBeLessThan(1e-5);
  });

  it('rejects a non-symmetric matrix, a wrong size and non-finite values', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(CudalabError);
        return (e as CudalabError).code + ': ' + (e as Error).message;
      }
      return 'no error';
    };
    expect(code(() => symmetricEigen([1, 2, 3, 4], 2))).toMatch(/^ERR_ARG: .*not symmetric \(a\[0\]\[1\] = 2, a\[1\]\[0\] = 3\)/);
    expect(code(() => symmetricEigen([1, 2, 3], 2))).toMatch(/^ERR_SHAPE: .*expected 2x2 = 4 values, got 3/);
    expect(code(() => symmetricEigen([1, NaN, NaN, 1], 2))).toMatch(/^ERR_ARG: .*non-finite/);
    expect(code(() => symmetricEigen([], 0))).toMatch(/^ERR_ARG: .*positive integer/);
  });
});
