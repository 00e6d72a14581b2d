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
  const d = c * k * k;
  const sums = new Float64Array(d * d);
  const patch = new Float64Array(d);
  for (let img = 0; img < n; img++) {
    const base = img * c * h * w;
    for (let y = 0; y + k <= h; y++) {
      for (let x = 0; x + k <= w; x++) {
        for (let ch = 0; ch < c; ch++) {
          for (let dy = 0; dy < k; dy++) {
            for (let dx = 0; dx < k; dx++) patch[(ch * k + dy) * k + dx] = images[base + (ch * h + y + dy) * w + x + dx];
          }
        }
        for (let i = 0; i < d; i++) {
          const pi = patch[i];
          for (let j = i; j < d; j++) sums[i * d + j] += pi * patch[j];
        }
      }
    }
  }
  const count = n * (h - k + 1) * (w - k + 1);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) sums[i * d + j] = sums[j * d + i] = sums[i * d + j] / count;
  }
  return sums;
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
