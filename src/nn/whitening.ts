// the whitening init of a k x k conv (airbench's first layer): the filters are
// the eigenvectors of the covariance of every k x k patch of the training
// images, each scaled by 1/sqrt(eigenvalue + eps), largest eigenvalue first,
// followed by their negatives. applied to a patch, filter i gives its
// coordinate along the i-th principal direction with unit variance (for
// eigenvalues well above eps), so the next layer sees decorrelated inputs.
import { CudalabError } from '../errors';
import { formatShape } from '../tensor';
import { symmetricEigen } from './eigen';

/** airbench94's eps: directions with variance below it are damped, not blown up */
export const WHITENING_EPS = 5e-4;

/**
 * the d x d second-moment matrix P^T P / n (no mean subtracted, as airbench
 * computes it) of all n = N (H-k+1) (W-k+1) patches of images [N, C, H, W];
 * a patch flattens as [channel][row][column], d = C k k. float64 sums.
 */
export function patchCovariance(images: ArrayLike<number>, shape: readonly number[], k: number): Float64Array {
  if (shape.length !== 4) throw new CudalabError('ERR_SHAPE', `patchCovariance: images must be [N, C, H, W], got shape ${formatShape(shape)}`);
  const [n, c, h, w] = shape;
  if (!Number.isInteger(k) || k < 1 || k > h || k > w) {
    throw new CudalabError('ERR_ARG', `patchCovariance: the patch size must be an integer from 1 to ${Math.min(h, w)}, got ${String(k)}`);
  }
  if (images.length !== n * c * h * w) {
    throw new CudalabError('ERR_SHAPE', `patchCovariance: ${images.length} values do not fill shape ${formatShape(shape)}`);
  }
  if (n < 1) throw new CudalabError('ERR_ARG', 'patchCovariance: no images');
  // one array type keeps the loop below monomorphic (the images are float32 tensors anyway)
  const x = images instanceof Float32Array ? images : Float32Array.from(images);
  const d = c * k * k;
  const cov = new Float64Array(d * d);
  // entry (a, b) sums the products of two shifted copies of the image planes:
  // patch element a = (channel, dy, dx) at (y, x) is pixel (channel, y + dy, x + dx).
  // one tight loop per pair, over rows, is far faster than gathering each patch
  const offsetOf = (a: number) => {
    const ch = Math.floor(a / (k * k)), dy = Math.floor(a / k) % k, dx = a % k;
    return (ch * h + dy) * w + dx;
  };
  const rows = h - k + 1, cols = w - k + 1;
  for (let a = 0; a < d; a++) {
    const offA = offsetOf(a);
    for (let b = a; b < d; b++) {
      const offB = offsetOf(b);
      cov[a * d + b] = cov[b * d + a] = planeProducts(x, n, c * h * w, offA, offB, rows, cols, w) / (n * rows * cols);
    }
  }
  return cov;
}

/** the sum over images, rows and columns of x[a + ...] * x[b + ...], in four float64 partial sums (no waiting on one) */
function planeProducts(x: Float32Array, n: number, imageSize: number, offA: number, offB: number, rows: number, cols: number, w: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const four = cols - (cols % 4);
  for (let img = 0; img < n; img++) {
    for (let y = 0; y < rows; y++) {
      const ra = img * imageSize + offA + y * w, rb = img * imageSize + offB + y * w;
      let col = 0;
      for (; col < four; col += 4) {
        s0 += x[ra + col] * x[rb + col];
        s1 += x[ra + col + 1] * x[rb + col + 1];
        s2 += x[ra + col + 2] * x[rb + col + 2];
        s3 += x[ra + col + 3] * x[rb + col + 3];
      }
      for (; col < cols; col++) s0 += x[ra + col] * x[rb + col];
    }
  }
  return s0 + s1 + s2 + s3;
}

/**
 * the 2 C k k whitening filters [2d, C, k, k] of images [N, C, H, W]:
 * eigenvectors / sqrt(eigenvalue + eps), largest eigenvalue first, then the
 * same filters negated (airbench94's init_whitening_conv)
 */
export function whiteningFilters(images: ArrayLike<number>, shape: readonly number[], k: number, eps = WHITENING_EPS): Float32Array {
  const d = shape[1] * k * k;
  const { values, vectors } = symmetricEigen(patchCovariance(images, shape, k), d);
  const out = new Float32Array(2 * d * d);
  for (let f = 0; f < d; f++) {
    const j = d - 1 - f; // eigh's order is ascending; the filters go largest first
    const denominator = Math.sqrt(values[j] + eps);
    if (!(denominator > 0)) {
      throw new CudalabError('ERR_ARG', `whiteningFilters: eigenvalue ${values[j]} + eps ${eps} is not positive`);
    }
    for (let i = 0; i < d; i++) {
      const v = vectors[i * d + j] / denominator;
      out[f * d + i] = v;
      out[(f + d) * d + i] = -v;
    }
  }
  return out;
}
