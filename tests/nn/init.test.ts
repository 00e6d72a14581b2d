// PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
// Conv2d and Linear weights (kaiming_uniform_ with a = sqrt(5)) and biases.
import { describe, expect, it } from 'vitest';
import { Conv2d, CudalabError, Generator, Linear, Module, Tensor, conv2d, noGrad } from '../../src';
import { diracInit, zeroInit } from '../../src/nn/init';

function stats(values: Float32Array | Int32Array): { min: number; max: number; mean: number; variance: number } {
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { min, max, mean, variance: sq / values.length };
}

function checkUniform(values: Float32Array | Int32Array, bound: number, label: string): void {
  const s = stats(values);
  const n = values.length;
  expect(s.min, `${label} min`).toBeGreaterThanOrEqual(-bound);
  expect(s.max, `${label} max`).toBeLessThan(bound);
  // the range is nearly filled, the mean is 0 and the variance bound^2/3, within ~5 standard errors
  expect(s.max - s.min, `${label} range`).toBeGreaterThan(2 * bound * (1 - 20 / n));
  expect(Math.abs(s.mean), `${label} mean`).toBeLessThan(5 * bound / Math.sqrt(3 * n));
  expect(Math.abs(s.variance / (bound * bound / 3) - 1), `${label} variance`).toBeLessThan(5 * Math.sqrt(0.8 / n));
}

function dispose(m: Module): void {
  m.dispose();
}

describe('default initialisation', () => {
  it('Conv2d(16, 32, 3): weight and bias uniform in +-1/sqrt(16*3*3)', () => {
    const conv = new Conv2d(16, 32, 3, { generator: new Generator(0) });
    const bound = 1 / Math.sqrt(16 * 9);
    checkUniform(conv.weight.toArray(), bound, 'conv weight');
    const b = conv.bias!.toArray();
    expect(Math.max(...b.map(Math.abs))).toBeLessThan(bound);
    expect(new Set(b).size).toBe(32);
    dispose(conv);
  });

  it('Linear(2048, 256): weight and bias uniform in +-1/sqrt(2048)', () => {
    const lin = new Linear(2048, 256, { generator: new Generator(1) });
    const bound = 1 / Math.sqrt(2048);
    checkUniform(lin.weight.toArray(), bound, 'linear weight');
    checkUniform(lin.bias!.toArray(), bound, 'linear bias');
    dispose(lin);
  });

  it('draws the weight, then the bias, from the generator: same seed, same parameters', () => {
    const g1 = new Generator(42), g2 = new Generator(42);
    const a = new Linear(10, 7, { generator: g1 });
    const b = new Linear(10, 7, { generator: g2 });
    expect(g1.offset).toBe(BigInt(70 + 7));
    expect(Array.from(a.weight.toArray())).toEqual(Array.from(b.weight.toArray()));
    expect(Array.from(a.bias!.toArray())).toEqual(Array.from(b.bias!.toArray()));
    // the weight's first value is the generator's first uniform mapped to [-b, b)
    const replay = new Generator(42);
    const bound = 1 / Math.sqrt(10);
    expect(a.weight.toArray()[0]).toBeCloseTo(-bound + 2 * bound * replay.uniform(), 6);
    const c = new Linear(10, 7, { generator: new Generator(43) });
    expect(Array.from(c.weight.toArray())).not.toEqual(Array.from(a.weight.toArray()));
    [a, b, c].forEach(dispose);
  });
});

describe('dirac (identity) init', () => {
  it('diracInit(w, 3) on Conv2d(3, 8, 3): filters 0-2 are identities, as torch.nn.init.dirac_(w[:3]); 3-7 keep their values', () => {
    const conv = new Conv2d(3, 8, 3, { padding: 1, bias: false, generator: new Generator(0) });
    const before = conv.weight.toArray();
    diracInit(conv.weight, 3);
    const w = conv.weight.toArray();
    for (let o = 0; o < 8; o++) {
      for (let i = 0; i < 3; i++) {
        for (let k = 0; k < 9; k++) {
          const at = (o * 3 + i) * 9 + k;
          // dirac_ writes 1 at [d, d, kh // 2, kw // 2] = index 4 of the 3x3 and zeros the rest
          const expected = o < 3 ? (o === i && k === 4 ? 1 : 0) : before[at];
          expect(w[at], `[${o}, ${i}, ${k}]`).toBe(expected);
        }
      }
    }
    // with same padding, output channel d is input channel d, exactly
    const x = Tensor.randn([2, 3, 5, 5], { generator: new Generator(1) });
    const y = noGrad(() => conv.forward(x));
    const xs = x.toArray(), ys = y.toArray();
    for (let n = 0; n < 2; n++) for (let d = 0; d < 3; d++) for (let p = 0; p < 25; p++) {
      expect(ys[(n * 8 + d) * 25 + p]).toBe(xs[(n * 3 + d) * 25 + p]);
    }
    [x, y].forEach((t) => t.dispose());
    conv.dispose();
  });

  it('an even kernel puts the 1 at [kh // 2, kw // 2] (PyTorch\'s centre of a 2x2 is [1, 1]); more filters than inputs leave the extra filters zero', () => {
    const w = Tensor.uniform([4, 2, 2, 2], -1, 1, { generator: new Generator(2) });
    diracInit(w);
    expect(Array.from(w.toArray())).toEqual([
      0, 0, 0, 1, 0, 0, 0, 0, // filter 0: input 0, [1, 1]
      0, 0, 0, 0, 0, 0, 0, 1, // filter 1: input 1
      0, 0, 0, 0, 0, 0, 0, 0, // filters 2, 3: no input of their own
      0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    zeroInit(w);
    expect(Array.from(w.toArray()).every((v) => v === 0)).toBe(true);
    expect(() => diracInit(w, 5)).toThrow(CudalabError);
    expect(() => diracInit(Tensor.zeros([3, 3]))).toThrow(/expected a conv weight \[out, in, kh, kw\], got shape \[3,3\]/);
    w.dispose();
  });

  it('dirac filters make conv2d the identity on 1x1 and 5x5 kernels too', () => {
    for (const k of [1, 5]) {
      const w = Tensor.randn([4, 4, k, k], { generator: new Generator(k) });
      diracInit(w);
      const x = Tensor.randn([1, 4, 6, 6], { generator: new Generator(10 + k) });
      const y = noGrad(() => conv2d(x, w, null, { padding: (k - 1) / 2 }));
      expect(Array.from(y.toArray())).toEqual(Array.from(x.toArray()));
      [w, x, y].forEach((t) => t.dispose());
    }
  });
});
