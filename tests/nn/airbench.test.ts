// airbench94 (legacy/airbench94.py of KellerJordan/cifar10-airbench): the
// whitening init against float64 references, PyTorch's parameter names and
// count, which weights are frozen, the dirac init of its convs, shapes.
import { describe, expect, it } from 'vitest';
import { Generator, Tensor, createModel, describeModel, imageInitOf, modelNames, modelParameterCount, noGrad, sum, tidy } from '../../src';
import { Airbench94, ConvGroup, WHITENING_IMAGES, airbench94Parameters } from '../../src/models';
import { WHITENING_EPS, patchCovariance, whiteningFilters } from '../../src/nn/whitening';

// PyTorch's named_parameters() of make_net(), with requires_grad
const PYTORCH_PARAMETERS: Array<[string, number[], boolean]> = [
  ['0.weight', [24, 3, 2, 2], false], ['0.bias', [24], true],
  ['2.conv1.weight', [64, 24, 3, 3], true], ['2.norm1.weight', [64], false], ['2.norm1.bias', [64], true],
  ['2.conv2.weight', [64, 64, 3, 3], true], ['2.norm2.weight', [64], false], ['2.norm2.bias', [64], true],
  ['3.conv1.weight', [256, 64, 3, 3], true], ['3.norm1.weight', [256], false], ['3.norm1.bias', [256], true],
  ['3.conv2.weight', [256, 256, 3, 3], true], ['3.norm2.weight', [256], false], ['3.norm2.bias', [256], true],
  ['4.conv1.weight', [256, 256, 3, 3], true], ['4.norm1.weight', [256], false], ['4.norm1.bias', [256], true],
  ['4.conv2.weight', [256, 256, 3, 3], true], ['4.norm2.weight', [256], false], ['4.norm2.bias', [256], true],
  ['7.weight', [10, 256], true],
];
const PARAMETERS = 1_972_792;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** images [n, c, h, w] with correlated channels, as photographs have */
function images(n: number, c: number, h: number, w: number, seed: number): Float32Array {
  const next = lcg(seed);
  const out = new Float32Array(n * c * h * w);
  for (let i = 0; i < n * h * w; i++) {
    const shared = next();
    for (let ch = 0; ch < c; ch++) {
      const img = Math.floor(i / (h * w)), pixel = i % (h * w);
      out[(img * c + ch) * h * w + pixel] = shared * (1 + ch) + 0.3 * next() + 0.1 * ch;
    }
  }
  return out;
}

/**
 * the covariance exactly as airbench's get_patches + get_whitening_parameters
 * compute it: x.unfold(2, k, 1).unfold(3, k, 1).transpose(1, 3).reshape(-1, c, k, k)
 * gives the patches in [image][column][row] order, flattened [c][dy][dx]; then P^T P / n
 */
function referenceCovariance(x: Float32Array, n: number, c: number, h: number, w: number, k: number): Float64Array {
  const rows: number[][] = [];
  for (let img = 0; img < n; img++) {
    for (let col = 0; col + k <= w; col++) {
      for (let row = 0; row + k <= h; row++) {
        const p: number[] = [];
        for (let ch = 0; ch < c; ch++) for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) p.push(x[((img * c + ch) * h + row + dy) * w + col + dx]);
        rows.push(p);
      }
    }
  }
  const d = c * k * k;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
    let s = 0;
    for (const p of rows) s += p[i] * p[j];
    cov[i * d + j] = s / rows.length;
  }
  return cov;
}

describe('whitening init', () => {
  it('the patch covariance is airbench\'s P^T P / n over every 2x2 patch (no mean subtracted)', () => {
    const [n, c, h, w] = [3, 3, 7, 6];
    const x = images(n, c, h, w, 1);
    const ours = patchCovariance(x, [n, c, h, w], 2);
    const ref = referenceCovariance(x, n, c, h, w, 2);
    let scale = 0;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < 144; i++) expect(Math.abs(ours[i] - ref[i])).toBeLessThan(1e-13 * scale);
    expect(() => patchCovariance(x, [n, c, h, w], 8)).toThrow(/the patch size must be an integer from 1 to 6, got 8/);
    expect(() => patchCovariance(x, [n, c, h, w + 1], 2)).toThrow(/do not fill shape/);
  });

  it('filter i is the i-th principal direction / sqrt(eigenvalue + 5e-4), largest first, then the negatives: F C F^T = diag(l / (l + eps))', () => {
    const [n, c, h, w] = [4, 3, 8, 8];
    const x = images(n, c, h, w, 2);
    const f = whiteningFilters(x, [n, c, h, w], 2);
    expect(f.length).toBe(24 * 12);
    const cov = referenceCovariance(x, n, c, h, w, 2);
    let trace = 0;
    for (let i = 0; i < 12; i++) trace += cov[i * 12 + i];
    const ratios: number[] = [];
    let eigenSum = 0;
    for (let a = 0; a < 12; a++) {
      for (let b = 0; b < 12; b++) {
        let s = 0;
        for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) s += f[a * 12 + i] * cov[i * 12 + j] * f[b * 12 + j];
        if (a !== b) expect(Math.abs(s), `F C F^T [${a}, ${b}]`).toBeLessThan(1e-5);
        else ratios.push(s);
      }
      // r = l / (l + eps) gives back l = eps r / (1 - r)
      eigenSum += (WHITENING_EPS * ratios[a]) / (1 - ratios[a]);
    }
    // largest eigenvalue first
    for (let a = 1; a < 12; a++) expect(ratios[a]).toBeLessThanOrEqual(ratios[a - 1] + 1e-6);
    expect(ratios[0]).toBeGreaterThan(0.99);
    // the eigenvalues account for the whole variance
    expect(Math.abs(eigenSum - trace) / trace).toBeLessThan(1e-3);
    for (let i = 0; i < 12 * 12; i++) expect(f[12 * 12 + i]).toBe(-f[i]);
  });

  it('one 2x2 patch p: the first filter is p / |p| / sqrt(|p|^2 + eps), the rest are orthogonal to p with norm 1/sqrt(eps)', () => {
    const p = [0.5, -1, 2, 0.25];
    const f = whiteningFilters(p, [1, 1, 2, 2], 2);
    const norm = Math.hypot(...p);
    for (let i = 0; i < 4; i++) expect(f[i]).toBeCloseTo(p[i] / norm / Math.sqrt(norm * norm + WHITENING_EPS), 6);
    for (let a = 1; a < 4; a++) {
      const row = Array.from(f.slice(a * 4, a * 4 + 4));
      expect(Math.abs(row.reduce((s, v, i) => s + v * p[i], 0))).toBeLessThan(1e-4);
      expect(Math.hypot(...row) * Math.sqrt(WHITENING_EPS)).toBeCloseTo(1, 5);
    }
  });
});

describe('airbench94: what PyTorch has', () => {
  it('is registered, with 1,972,792 parameters under make_net()\'s names, and the same frozen ones', () => {
    expect(modelNames).toContain('airbench94');
    expect(airbench94Parameters()).toEqual(PYTORCH_PARAMETERS);
    expect(modelParameterCount('airbench94')).toBe(PARAMETERS);
    expect(describeModel('airbench94')).toContain('1,972,792 parameters');
    expect(WHITENING_IMAGES).toBe(5000);
  });

  it(`the built model has those parameters, frozen where PyTorch's are, and the batch norm buffers`, () => {
    const model = createModel('airbench94', { generator: new Generator(0) });
    expect(model).toBeInstanceOf(Airbench94);
    expect(model.namedParameters().map(([n, t]) => [n, t.shape, t.requiresGrad])).toEqual(PYTORCH_PARAMETERS);
    const norms = PYTORCH_PARAMETERS.filter(([n]) => n.endsWith('norm1.bias') || n.endsWith('norm2.bias')).map(([n]) => n.slice(0, -'.bias'.length));
    const buffers = norms.flatMap((b) => ['running_mean', 'running_var', 'num_batches_tracked'].map((s) => `${b}.${s}`));
    expect(Object.keys(model.stateDict()).sort()).toEqual([...PYTORCH_PARAMETERS.map(([n]) => n), ...buffers].sort());
    const sd = model.stateDict();
    // batch norm weights start (and stay) at 1, biases at 0
    for (const b of norms) {
      expect(Array.from(sd[`${b}.weight`].toArray()).every((v) => v === 1), b).toBe(true);
      expect(Array.from(sd[`${b}.bias`].toArray()).every((v) => v === 0), b).toBe(true);
    }
    expect(model.toString()).toMatch(/\(2\): ConvGroup/);
    model.dispose();
  });

  it(`every conv starts with identity (dirac) filters for its first in_channels outputs, and a zero bias`, () => {
    const model = createModel('airbench94', { generator: new Generator(0) });
    const sd = model.stateDict();
    const check = (name: string, identities: number) => {
      const t = sd[name];
      const [out, inC, kh, kw] = t.shape;
      const w = t.toArray();
      const centre = Math.floor(kh / 2) * kw + Math.floor(kw / 2);
      const bound = 1 / Math.sqrt(inC * kh * kw);
      let wrongIdentity = 0, wrongDefault = 0;
      for (let o = 0; o < out; o++) for (let i = 0; i < inC; i++) for (let k = 0; k < kh * kw; k++) {
        const v = w[(o * inC + i) * kh * kw + k];
        // the rest keep PyTorch's default uniform init: nonzero and inside +-1/sqrt(fan_in)
        if (o < identities) wrongIdentity += v === (o === i && k === centre ? 1 : 0) ? 0 : 1;
        else wrongDefault += v !== 0 && Math.abs(v) < bound ? 0 : 1;
      }
      expect(wrongIdentity, `${name}: values of the identity filters that are not`).toBe(0);
      expect(wrongDefault, `${name}: values of the other filters outside PyTorch's default`).toBe(0);
    };
    check('0.weight', 3);
    check('2.conv1.weight', 24);
    check('2.conv2.weight', 64);
    check('3.conv1.weight', 64);
    check('3.conv2.weight', 256);
    check('4.conv1.weight', 256);
    expect(Array.from(sd['0.bias'].toArray()).every((v) => v === 0)).toBe(true);
    // the linear layer is PyTorch's default
    expect(Array.from(sd['7.weight'].toArray()).every((v) => v !== 0 && Math.abs(v) < 1 / 16)).toBe(true);
    model.dispose();
  });

  it(`initFromImages sets the whitening conv to the whitening filters of the images`, () => {
    const model = createModel('airbench94', { generator: new Generator(0) });
    const init = imageInitOf(model);
    expect(init).not.toBeNull();
    expect(init!.initImages).toBe(5000);
    const x = images(6, 3, 32, 32, 3);
    const t = Tensor.fromArray(x, [6, 3, 32, 32]);
    init!.initFromImages(t);
    expect(Array.from(model.stateDict()['0.weight'].toArray())).toEqual(Array.from(whiteningFilters(x, [6, 3, 32, 32], 2)));
    expect(model.stateDict()['0.weight'].requiresGrad).toBe(false);
    expect(() => init!.initFromImages(Tensor.zeros([2, 1, 32, 32]))).toThrow(/expected float32 images \[N, 3, H, W\]/);
    t.dispose();
    model.dispose();
    // models without such an init say so
    const plain = createModel('seedcnn', { generator: new Generator(0) });
    expect(imageInitOf(plain)).toBeNull();
    plain.dispose();
  });

  it(`maps [2, 3, 32, 32] to [2, 10]; the frozen weights get no gradient`, () => {
    const model = createModel('airbench94', { generator: new Generator(0) });
    tidy(() => {
      const y = model.forward(Tensor.randn([2, 3, 32, 32], { generator: new Generator(1) }));
      expect(y.shape).toEqual([2, 10]);
      expect(Array.from(y.toArray()).every(Number.isFinite)).toBe(true);
      sum(y).backward();
    });
    for (const [name, p] of model.namedParameters()) {
      if (p.requiresGrad) expect(p.grad?.shape, name).toEqual(p.shape);
      else expect(p.grad, name).toBeNull();
    }
    model.zeroGrad();
    model.eval();
    const groups = model.namedChildren().map(([, m]) => m).filter((m) => m instanceof ConvGroup);
    expect(groups.length).toBe(3);
    expect(groups.every((g) => g.namedChildren().every(([, m]) => !m.training))).toBe(true);
    tidy(() => expect(noGrad(() => model.forward(Tensor.randn([1, 3, 32, 32], { generator: new Generator(2) }))).shape).toEqual([1, 10]));
    model.dispose();
  });
});
