// the layers beyond conv, linear and relu: GELU, MaxPool2d with a window of 3,
// AvgPool2d, AdaptiveAvgPool2d (the global average pool) and Mul. their
// values and gradients are the ops' (tests/tensor, src/spec); here: shapes,
// PyTorch's defaults and names, small worked examples, and the exports.
import { describe, expect, it } from 'vitest';
import * as cudalab from '../../src';
import { AdaptiveAvgPool2d, AvgPool2d, CudalabError, GELU, MaxPool2d, Mul, Sequential, Tensor, nn, tidy } from '../../src';

// 0, 1, 2, ... laid out as [n, c, h, w]
const iota = (shape: number[]): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(Float32Array.from({ length: n }, (_, i) => i), shape);
};

describe('nn exports the new layers', () => {
  it('from the nn namespace and the package root', () => {
    for (const name of ['GELU', 'MaxPool2d', 'AvgPool2d', 'AdaptiveAvgPool2d', 'Mul'] as const) {
      expect(typeof (nn as Record<string, unknown>)[name]).toBe('function');
      expect((cudalab as Record<string, unknown>)[name]).toBe((nn as Record<string, unknown>)[name]);
    }
    expect(typeof cudalab.gelu).toBe('function');
    expect(typeof cudalab.globalAvgPool2d).toBe('function');
  });
});

describe('MaxPool2d', () => {
  it('defaults like PyTorch: stride = kernel, no padding', () => {
    const pool = new MaxPool2d(3);
    expect([pool.kernel, pool.stride, pool.padding]).toEqual([3, 3, 0]);
    expect(pool.toString()).toBe('MaxPool2d(kernel_size=3, stride=3, padding=0)');
    expect(pool.parameters()).toEqual([]);
  });

  it('kernel 3 in floor mode: 8x8 -> 2x2 and 4x4 -> 1x1 (the last row and column left out)', () => {
    tidy(() => {
      const eight = new MaxPool2d(3).forward(iota([1, 1, 8, 8]));
      expect(eight.shape).toEqual([1, 1, 2, 2]);
      // windows rows 0-2 / 3-5, columns 0-2 / 3-5: their maxima at (2,2), (2,5), (5,2), (5,5)
      expect(Array.from(eight.toArray())).toEqual([18, 21, 42, 45]);
      const four = new MaxPool2d(3).forward(iota([2, 3, 4, 4]));
      expect(four.shape).toEqual([2, 3, 1, 1]);
      // each plane's window covers rows and columns 0-2: its maximum at (2,2), plane offset 10
      expect(Array.from(four.toArray())).toEqual([0, 1, 2, 3, 4, 5].map((plane) => plane * 16 + 10));
    });
  });

  it('takes a stride and padding (padding counts as -inf)', () => {
    tidy(() => {
      const y = new MaxPool2d(3, 2, 1).forward(Tensor.full([1, 1, 4, 4], -5));
      expect(y.shape).toEqual([1, 1, 2, 2]);
      expect(Array.from(y.toArray())).toEqual([-5, -5, -5, -5]);
    });
  });
});

describe('average pools', () => {
  it('AvgPool2d(4) on 4x4: the plane mean, PyTorch\'s F.avg_pool2d(x, 4)', () => {
    tidy(() => {
      const pool = new AvgPool2d(4);
      expect([pool.kernel, pool.stride, pool.padding]).toEqual([4, 4, 0]);
      const y = pool.forward(iota([2, 2, 4, 4]));
      expect(y.shape).toEqual([2, 2, 1, 1]);
      expect(Array.from(y.toArray())).toEqual([7.5, 23.5, 39.5, 55.5]);
    });
  });

  it('AdaptiveAvgPool2d(1): any plane to 1x1, the same as AvgPool2d over the whole plane', () => {
    tidy(() => {
      const pool = new AdaptiveAvgPool2d(1);
      expect(pool.toString()).toBe('AdaptiveAvgPool2d(output_size=1)');
      expect(new AdaptiveAvgPool2d([1, 1]).toString()).toBe('AdaptiveAvgPool2d(output_size=(1, 1))');
      expect(new AdaptiveAvgPool2d().outputSize).toBe(1);
      const y = pool.forward(iota([1, 2, 3, 5]));
      expect(y.shape).toEqual([1, 2, 1, 1]);
      // planes 0..14 and 15..29: means 7 and 22 (the kernel multiplies by 1/15, rounded)
      Array.from(y.toArray()).forEach((v, i) => expect(Math.abs(v - [7, 22][i])).toBeLessThan(2e-6));
      const x = Tensor.randn([3, 4, 4, 4], { generator: new cudalab.Generator(5) });
      expect(Array.from(pool.forward(x).toArray())).toEqual(Array.from(new AvgPool2d(4).forward(x).toArray()));
    });
  });

  it('AdaptiveAvgPool2d refuses other output sizes with a typed error', () => {
    for (const size of [2, [1, 2], 0]) {
      expect(() => new AdaptiveAvgPool2d(size as number)).toThrow(CudalabError);
      expect(() => new AdaptiveAvgPool2d(size as number)).toThrow(/only an output size of 1/);
    }
  });
});

describe('GELU', () => {
  it('is the exact form, no parameters, same shape', () => {
    tidy(() => {
      const act = new GELU();
      expect(act.toString()).toBe("GELU(approximate='none')");
      expect(act.parameters()).toEqual([]);
      const y = act.forward(Tensor.fromArray([0, 2, -2, 0.5], [2, 2]));
      expect(y.shape).toEqual([2, 2]);
      // x * Phi(x): Phi(2) = 0.9772498680518208, Phi(0.5) = 0.6914624612740131
      const want = [0, 2 * 0.9772498680518208, -2 * (1 - 0.9772498680518208), 0.5 * 0.6914624612740131];
      Array.from(y.toArray()).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-6));
    });
  });

  it('refuses the tanh approximation', () => {
    expect(() => new GELU('tanh' as 'none')).toThrow(/approximate must be 'none'/);
  });
});

describe('Mul', () => {
  it('multiplies by its scale, forward and backward, with nothing to train', () => {
    tidy(() => {
      const mul = new Mul(1 / 9);
      expect(mul.toString()).toBe(`Mul(scale=${1 / 9})`);
      expect(mul.parameters()).toEqual([]);
      const x = Tensor.fromArray([9, -18, 4.5], [1, 3], { requiresGrad: true });
      const y = mul.forward(x);
      expect(Array.from(y.toArray())).toEqual([1, -2, 0.5].map((v, i) => Math.fround(Math.fround(1 / 9) * [9, -18, 4.5][i])));
      y.backward(Tensor.ones([1, 3]));
      expect(Array.from(x.grad!.toArray())).toEqual([1, 1, 1].map(() => Math.fround(1 / 9)));
    });
  });

  it('refuses a scale that is not a finite number', () => {
    for (const bad of [NaN, Infinity, '2']) expect(() => new Mul(bad as number)).toThrow(/Mul: scale must be a finite number/);
  });
});

describe('the layers in a Sequential', () => {
  it('airbench94\'s head: MaxPool2d(3), Flatten, Linear, Mul(1/9) on a 4x4 map', () => {
    tidy(() => {
      const g = new cudalab.Generator(7);
      const head = new Sequential(new GELU(), new MaxPool2d(3), new nn.Flatten(), new nn.Linear(8, 10, { bias: false, generator: g }), new Mul(1 / 9));
      const y = head.forward(Tensor.randn([2, 8, 4, 4], { generator: g }));
      expect(y.shape).toEqual([2, 10]);
      expect(head.namedParameters().map(([n]) => n)).toEqual(['3.weight']);
    });
  });
});
