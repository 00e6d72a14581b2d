// gemm: C = alpha * op(A) * op(B) + beta * C, row-major, op() an optional
// transpose; C is not read when beta is 0 (its NaN poison must not leak), and
// A and B are not read when alpha is 0 (BLAS's rule: an Inf or NaN in them
// does not turn the product's zero into a NaN).
import type { OpSpec } from './types';
import { caseRng } from './rng';

export interface GemmCase {
  ta: boolean;
  tb: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  /** the model layer the shape comes from, for labels */
  layer?: string;
}

type Vec = ArrayLike<number>;

/** alpha*op(A)*op(B) + beta*C in float64; C may be null when beta is 0, and A and B are not read when alpha is 0 */
export function gemmRef(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Vec, b: Vec, beta: number, c: Vec | null,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const base = beta === 0 ? 0 : beta * c![i * n + j];
      if (alpha === 0) {
        out[i * n + j] = base;
        continue;
      }
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        const bv = transB ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      out[i * n + j] = alpha * acc + base;
    }
  }
  return out;
}

const TRANSPOSES = [[false, false], [true, false], [false, true], [true, true]] as const;

function gemmCase(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha = 1, beta = 0, layer?: string): GemmCase {
  return { ta, tb, m, n, k, alpha, beta, ...(layer ? { layer } : {}) };
}

function cases(): GemmCase[] {
  const out: GemmCase[] = [];
  // sizes that are not multiples of any tile, and the long-thin shapes of the
  // layers, in every transpose, with and without C
  for (const [m, n, k] of [[1, 1, 1], [7, 33, 65], [130, 65, 257], [64, 256, 2048], [256, 2048, 64], [129, 127, 131]]) {
    for (const [ta, tb] of TRANSPOSES) for (const beta of [0, 0.5]) out.push(gemmCase(ta, tb, m, n, k, 1.25, beta));
  }
  // every m, n, k in a set of odd sizes, in every transpose, some with C
  const sizes = [1, 7, 33, 65, 130];
  for (const [ta, tb] of TRANSPOSES)
    for (const m of sizes) for (const n of sizes) for (const k of sizes) out.push(gemmCase(ta, tb, m, n, k, 1, (m + n + k) % 3 === 0 ? 0.5 : 0));
  // random transposes, alphas and betas (a fixed draw)
  const rng = caseRng('gemm cases', 0);
  for (const [ta, tb] of TRANSPOSES) {
    for (let i = 0; i < 12; i++) {
      const alpha = rng.pick([1, -0.5, 2.25]);
      const beta = rng.pick([0, 1, 0.5]);
      out.push(gemmCase(ta, tb, rng.pick(sizes), rng.pick(sizes), rng.pick(sizes), alpha, beta));
    }
  }
  // the linear layers of the models at batch 1 and 64: forward x W^T, the
  // weight gradient dY^T x, the input gradient dY W
  for (const batch of [1, 64]) {
    for (const [inF, outF, name] of [[2048, 256, 'seedcnn fc1'], [256, 10, 'seedcnn fc2'], [4096, 512, 'ptcnn fc1'], [512, 10, 'ptcnn fc2'], [4096, 256, 'fc 4096->256']] as const) {
      out.push(gemmCase(false, true, batch, outF, inF, 1, 0, `${name} fwd`));
      out.push(gemmCase(true, false, outF, inF, batch, 1, 0, `${name} dW`));
      out.push(gemmCase(false, false, batch, inF, outF, 1, 0, `${name} dX`));
    }
  }
  return out;
}

function label(p: GemmCase): string {
  const shape = `${p.m}x${p.n}x${p.k}${p.ta ? ' At' : ''}${p.tb ? ' Bt' : ''}`;
  if (p.layer) return `${p.layer} ${shape}`;
  // alpha 1.25 is the default of the first cases (and of check-ops' output over the years)
  return `${shape}${p.alpha === 1.25 ? '' : ` alpha ${p.alpha}`} beta ${p.beta}`;
}

export const gemmSpec: OpSpec<GemmCase> = {
  name: 'gemm',
  family: 'gemm',
  cases: cases(),
  label,
  inputs: (p, rng) => ({ a: rng.floats(p.m * p.k), b: rng.floats(p.k * p.n), ...(p.beta !== 0 ? { c: rng.floats(p.m * p.n) } : {}) }),
  // with beta 0, C starts as NaN: the kernels must not read it
  outputs: (p) => ({ c: { length: p.m * p.n, dtype: 'f32', ...(p.beta !== 0 ? { from: 'c' } : {}) } }),
  call: (addon, p, s) => addon.gemm(p.ta, p.tb, p.m, p.n, p.k, p.alpha, s.a, s.b, p.beta, s.c),
  reference: (p, x) => ({ c: gemmRef(p.ta, p.tb, p.m, p.n, p.k, p.alpha, x.a, x.b, p.beta, p.beta !== 0 ? x.c : null) }),
  tolerance: { reference: 1e-5, backends: 1e-5 },
  bench: {
    cases: [
      gemmCase(false, false, 1000, 1000, 1000),
      gemmCase(false, false, 2048, 2048, 2048),
      gemmCase(false, false, 4096, 4096, 4096),
      ...[64, 128].flatMap((n) => [
        gemmCase(false, true, n, 256, 2048, 1, 0, `fc1 fwd n${n} 2048->256`),
        gemmCase(true, false, 256, 2048, n, 1, 0, `fc1 dW n${n} 2048->256`),
      ]),
    ],
    label: (p) => p.layer ?? `${p.m}x${p.n}x${p.k}${p.ta ? ' At' : ''}${p.tb ? ' Bt' : ''}`,
    flops: (p) => 2 * p.m * p.n * p.k,
    bytes: (p) => 4 * (p.m * p.k + p.k * p.n + p.m * p.n),
    torch: (p) => ({ op: 'gemm', m: p.m, n: p.n, k: p.k, ta: p.ta, tb: p.tb }),
  },
};

export const gemmSpecs = [gemmSpec];
