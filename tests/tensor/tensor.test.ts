// Tensor: creation, reading, views, transfer, dispose.
import { describe, expect, it } from 'vitest';
import { CudalabError, Generator, Tensor, native, tidy } from '../../src';

function liveStorages(): number {
  return native().memoryStats('cpu').storages;
}

describe('creating and reading tensors', () => {
  it('fromArray copies and toArray reads back, float32 and int32', () => {
    tidy(() => {
      const src = [1.5, -2, 3.25, 4, 5, 6];
      const t = Tensor.fromArray(src, [2, 3]);
      src[0] = 99; // a copy: the tensor does not see this
      expect(t.shape).toEqual([2, 3]);
      expect(t.numel).toBe(6);
      expect(t.dtype).toBe('float32');
      expect(t.device).toBe('cpu');
      expect(Array.from(t.toArray())).toEqual([1.5, -2, 3.25, 4, 5, 6]);
      const i = Tensor.fromArray([7, -8, 9], [3], { dtype: 'int32' });
      const back = i.toArray();
      expect(back).toBeInstanceOf(Int32Array);
      expect(Array.from(back)).toEqual([7, -8, 9]);
    });
  });

  it('zeros, ones and full, in both dtypes', () => {
    tidy(() => {
      expect(Array.from(Tensor.zeros([2, 2]).toArray())).toEqual([0, 0, 0, 0]);
      expect(Array.from(Tensor.ones([3]).toArray())).toEqual([1, 1, 1]);
      expect(Array.from(Tensor.full([2], -0.5).toArray())).toEqual([-0.5, -0.5]);
      expect(Array.from(Tensor.zeros([3], { dtype: 'int32' }).toArray())).toEqual([0, 0, 0]);
      expect(Array.from(Tensor.full([2], 7, { dtype: 'int32' }).toArray())).toEqual([7, 7]);
      expect(() => Tensor.full([2], 0.5, { dtype: 'int32' })).toThrow(/not an integer/);
    });
  });

  it('a scalar has shape [] and one element; item() reads it', () => {
    tidy(() => {
      const s = Tensor.fromArray([4.5], []);
      expect(s.numel).toBe(1);
      expect(s.item()).toBe(4.5);
      expect(() => Tensor.zeros([2]).item()).toThrow(/item\(\) needs exactly 1/);
    });
  });

  it('rejects data that does not fill the shape, and bad shapes', () => {
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2,2\] \(4 elements\)/);
    expect(() => Tensor.zeros([2, -1])).toThrow(CudalabError);
    expect(() => Tensor.zeros([1.5])).toThrow(/not a non-negative integer/);
  });

  it('rand and randn come from the generator: same seed and offset, same numbers; the offset advances by numel', () => {
    tidy(() => {
      const g1 = new Generator(5), g2 = new Generator(5);
      const a = Tensor.randn([1000], { generator: g1 }).toArray();
      const b = Tensor.randn([1000], { generator: g2 }).toArray();
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(g1.offset).toBe(1000n);
      const c = Tensor.randn([1000], { generator: g1 }).toArray();
      expect(Array.from(c)).not.toEqual(Array.from(a));

      // rand is the generator's own uniform stream
      const g3 = new Generator(8), g4 = new Generator(8);
      const u = Tensor.rand([50], { generator: g3 }).toArray();
      const expected = Array.from({ length: 50 }, () => g4.uniform());
      expect(Array.from(u)).toEqual(expected);

      // moments of 10,000 normals
      const big = Array.from(Tensor.randn([10000], { generator: new Generator(3) }).toArray());
      const mean = big.reduce((s, v) => s + v, 0) / big.length;
      const variance = big.reduce((s, v) => s + (v - mean) ** 2, 0) / big.length;
      expect(Math.abs(mean)).toBeLessThan(0.05);
      expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    });
  });
});

describe('views', () => {
  it('reshape shares storage, allows one -1, and rejects a wrong size', () => {
    tidy(() => {
      const before = liveStorages();
      const t = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
      const v = t.reshape([3, -1]);
      expect(v.shape).toEqual([3, 2]);
      expect(liveStorages()).toBe(before + 1); // no new storage for the view
      expect(Array.from(v.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
      expect(() => t.reshape([4, 2])).toThrow(/cannot view \[2,3\] \(6 elements\) as \[4,2\]/);
      expect(() => t.reshape([-1, -1])).toThrow(/only one size may be -1/);
      expect(() => t.reshape([4, -1])).toThrow(/cannot view/);
    });
  });

  it('flatten merges from startDim (default 1, as nn.Flatten)', () => {
    tidy(() => {
      const t = Tensor.zeros([2, 3, 4, 5]);
      expect(t.flatten().shape).toEqual([2, 60]);
      expect(t.flatten(0).shape).toEqual([120]);
      expect(t.flatten(2).shape).toEqual([2, 3, 20]);
      expect(() => t.flatten(4)).toThrow(/startDim 4 is out of range/);
    });
  });

  it('the storage lives until the last view is disposed', () => {
    const before = liveStorages();
    const t = Tensor.fromArray([1, 2, 3, 4], [4]);
    const v = t.reshape([2, 2]);
    const d = t.detach();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(liveStorages()).toBe(before + 1);
    expect(Array.from(v.toArray())).toEqual([1, 2, 3, 4]);
    v.dispose();
    expect(Array.from(d.toArray())).toEqual([1, 2, 3, 4]);
    d.dispose();
    expect(liveStorages()).toBe(before);
  });

  it('detach shares values but not the graph', () => {
    tidy(() => {
      const x = Tensor.fromArray([1, 2], [2], { requiresGrad: true });
      const y = x.scale(2);
      const d = y.detach();
      expect(d.requiresGrad).toBe(false);
      expect(d.gradNode).toBe(null);
      expect(Array.from(d.toArray())).toEqual([2, 4]);
    });
  });
});

describe('to(device)', () => {
  it('returns the same tensor when it is already there', () => {
    tidy(() => {
      const t = Tensor.zeros([2]);
      expect(t.to('cpu')).toBe(t);
    });
  });

  it('rejects an unknown device', () => {
    tidy(() => {
      expect(() => Tensor.zeros([2]).to('tpu' as 'cpu')).toThrow(/unknown device "tpu"/);
    });
  });
});

describe('dispose', () => {
  it('frees now, is idempotent, and frees the gradient too', () => {
    const before = liveStorages();
    const x = Tensor.fromArray([1, 2, 3], [3], { requiresGrad: true });
    const s = x.sum();
    s.backward();
    expect(x.grad).not.toBe(null);
    expect(liveStorages()).toBe(before + 3); // x, its grad and the sum (no tidy here)
    s.dispose();
    x.dispose();
    x.dispose();
    expect(x.grad).toBe(null);
    expect(liveStorages()).toBe(before);
  });

  it('using a disposed tensor throws ERR_DISPOSED naming the op and argument', () => {
    const a = Tensor.ones([2, 2]);
    const b = Tensor.ones([2, 2]);
    b.dispose();
    try {
      a.add(b);
      expect.fail('add of a disposed tensor did not throw');
    } catch (err) {
      expect(err).toBeInstanceOf(CudalabError);
      expect((err as CudalabError).code).toBe('ERR_DISPOSED');
      expect((err as CudalabError).message).toMatch(/^add: b \(shape \[2,2\], float32 on cpu\) was disposed/);
    }
    a.dispose();
    expect(() => a.toArray()).toThrow(/toArray: input .* was disposed/);
    expect(() => a.relu()).toThrow(/relu: input .* was disposed/);
    expect(() => a.reshape([4])).toThrow(/reshape: .* was disposed/);
  });
});
