// sum over the middle axis of x viewed as [outer, reduce, inner]
// (native/cpu/reduce.cc, native/cuda/reduce.cu): the bias gradients of the
// linear layers (sum over the batch), per-channel sums of conv planes, and odd
// shapes around the vector widths and the cpu's 1024-column blocks.
import type { OpSpec } from './types';

interface SumCase {
  outer: number;
  reduce: number;
  inner: number;
}

export const sumAxis: OpSpec<SumCase> = {
  name: 'sum_axis',
  family: 'reduce',
  cases: [
    [1, 1, 1], [3, 1, 5], [1, 64, 10], [1, 128, 10], [1, 64, 256], [1, 128, 256], [64, 16, 1024], [64, 10, 1],
    [1, 130, 1], [7, 33, 65], [3, 7, 8], [2, 9, 15], [1, 16, 17], [4, 17, 16], [2, 5, 3000], [4, 9, 1025],
    [1, 1023, 1], [1, 100003, 1],
    // a long reduction over wide rows (the split the cuda kernel makes for many columns)
    [2, 300, 3000],
  ].map(([outer, reduce, inner]) => ({ outer, reduce, inner })),
  label: (p) => `${p.outer}x${p.reduce}x${p.inner}`,
  inputs: (p, rng) => ({ x: rng.floats(p.outer * p.reduce * p.inner, -1, 1) }),
  outputs: (p) => ({ y: { length: p.outer * p.inner, dtype: 'f32' } }),
  call: (addon, p, s) => addon.sumAxis(p.outer, p.reduce, p.inner, s.x, s.y),
  reference(p, { x }) {
    const y = new Float64Array(p.outer * p.inner);
    for (let o = 0; o < p.outer; o++)
      for (let r = 0; r < p.reduce; r++)
        for (let i = 0; i < p.inner; i++) y[o * p.inner + i] += x[(o * p.reduce + r) * p.inner + i];
    return { y };
  },
  // float32 running sums: each of the `reduce` additions rounds at most 2^-24
  // of a partial sum; with random signs the errors walk like sqrt(reduce)
  // while the sums grow like sqrt(reduce) too, so the relative error stays
  // under a few 1e-6 (measured: 3.1e-6 at worst over these cases). the
  // backends sum in different orders (lanes, blocks, tree): the same bound
  tolerance: { reference: 1e-5, backends: 1e-5 },
};

export const reduceSpecs = [sumAxis];
