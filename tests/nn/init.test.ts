// PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
// Conv2d and Linear weights (kaiming_uniform_ with a = sqrt(5)) and biases.
import { describe, expect, it } from 'vitest';
import { Conv2d, Generator, Linear, Module } from '../../src';

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
