// the eigendecomposition of a small symmetric matrix, in float64 on the host:
// cyclic Jacobi rotations. each rotation zeroes one off-diagonal pair, and the
// sweeps repeat until the off-diagonal part is negligible; the product of the
// rotations holds the eigenvectors. it is O(n^3) per sweep and converges in a
// handful of sweeps, plenty for the 12x12 patch covariance of a whitening layer.
import { CudalabError } from '../errors';

export interface SymmetricEigen {
  /** ascending, as torch.linalg.eigh returns them */
  values: Float64Array;
  /** n x n row-major; column j is the unit eigenvector of values[j] */
  vectors: Float64Array;
}

const MAX_SWEEPS = 100;

/**
 * A = V diag(values) V^T for a symmetric n x n matrix a (row-major). each
 * eigenvector's sign is chosen so that its largest component (the first of
 * equals) is positive: the same matrix always gives the same vectors.
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1) throw new CudalabError('ERR_ARG', `symmetricEigen: n must be a positive integer, got ${String(n)}`);
  if (a == null || a.length !== n * n) {
    throw new CudalabError('ERR_SHAPE', `symmetricEigen: expected ${n}x${n} = ${n * n} values, got ${a == null ? 'none' : a.length}`);
  }
  const m = Float64Array.from(a);
  let scale = 0;
  for (const x of m) {
    if (!Number.isFinite(x)) throw new CudalabError('ERR_ARG', `symmetricEigen: the matrix has a non-finite value (${x})`);
    scale = Math.max(scale, Math.abs(x));
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (Math.abs(m[i * n + j] - m[j * n + i]) > 1e-12 * scale) {
        throw new CudalabError('ERR_ARG', `symmetricEigen: the matrix is not symmetric (a[${i}][${j}] = ${m[i * n + j]}, a[${j}][${i}] = ${m[j * n + i]})`);
      }
    }
  }

  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const offDiagonal = () => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += m[i * n + j] ** 2;
    return Math.sqrt(s);
  };
  let total = 0;
  for (const x of m) total += x * x;
  const tolerance = 1e-15 * Math.sqrt(total);

  for (let sweep = 0; sweep < MAX_SWEEPS && offDiagonal() > tolerance; sweep++) {
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // the angle that zeroes a[p][q]: cot(2 phi) = (a_qq - a_pp) / (2 a_pq), t = tan(phi), the smaller root
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A <- J^T A J, V <- V J with J the rotation in the (p, q) plane
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p], akq = m[k * n + q];
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k], aqk = m[q * n + k];
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  if (offDiagonal() > tolerance * 1e3) {
    throw new CudalabError('ERR_ARG', `symmetricEigen: no convergence after ${MAX_SWEEPS} sweeps (off-diagonal norm ${offDiagonal()})`);
  }

  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i] - m[j * n + j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = m[src * n + src];
    let largest = 0;
    for (let k = 1; k < n; k++) if (Math.abs(v[k * n + src]) > Math.abs(v[largest * n + src])) largest = k;
    const sign = v[largest * n + src] < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors[k * n + dst] = sign * v[k * n + src];
  });
  return { values, vectors };
}
