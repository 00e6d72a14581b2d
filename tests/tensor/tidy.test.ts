// tidy(): what it frees, what it keeps. live storages are counted by the addon.
import { describe, expect, it } from 'vitest';
import { Adam, CudalabError, Generator, Linear, Tensor, crossEntropy, keep, native, tidy } from '../../src';

function liveStorages(): number {
  return native().memoryStats('cpu').storages;
}

describe('tidy', () => {
  it('frees every intermediate and keeps the returned tensor', () => {
    const before = liveStorages();
    const out = tidy(() => {
      const a = Tensor.ones([4, 4]);
      const b = a.add(a).relu().scale(3).reshape([16]);
      return b.sum();
    });
    expect(liveStorages()).toBe(before + 1);
    expect(out.item()).toBe(96);
    out.dispose();
    expect(liveStorages()).toBe(before);
  });

  it('keeps tensors returned inside arrays and plain objects, and frees the rest', () => {
    const before = liveStorages();
    const r = tidy(() => {
      const a = Tensor.ones([2]);
      const b = a.scale(2);
      const c = b.scale(2);
      Tensor.zeros([100]);
      return { pair: [a, c], n: 3 };
    });
    expect(liveStorages()).toBe(before + 2);
    expect(Array.from(r.pair[1].toArray())).toEqual([4, 4]);
    r.pair.forEach((t) => t.dispose());
    expect(liveStorages()).toBe(before);
  });

  it('nests: an inner result moves to the outer scope, which frees it unless returned', () => {
    const before = liveStorages();
    let inner: Tensor | null = null;
    const outer = tidy(() => {
      inner = tidy(() => Tensor.ones([3]).scale(2));
      expect(liveStorages()).toBe(before + 1);
      return inner.scale(5);
    });
    expect(inner!.disposed).toBe(true);
    expect(Array.from(outer.toArray())).toEqual([10, 10, 10]);
    outer.dispose();
    expect(liveStorages()).toBe(before);
  });

  it('never frees kept tensors', () => {
    const before = liveStorages();
    let kept: Tensor | null = null;
    tidy(() => {
      kept = keep(Tensor.ones([2]));
      Tensor.ones([2]);
    });
    expect(kept!.disposed).toBe(false);
    expect(liveStorages()).toBe(before + 1);
    kept!.dispose();
  });

  it('frees everything when fn throws, and rethrows', () => {
    const before = liveStorages();
    expect(() =>
      tidy(() => {
        Tensor.ones([5]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(liveStorages()).toBe(before);
  });

  it('refuses an async fn', () => {
    const before = liveStorages();
    expect(() => tidy(() => Promise.resolve(Tensor.ones([1])) as unknown as Tensor)).toThrow(/returned a Promise/);
    expect(liveStorages()).toBe(before);
  });

  it('a training step in a tidy: parameters, their grads and optimizer state survive, nothing else does', () => {
    const g = new Generator(0);
    const layer = new Linear(6, 3, { generator: g });
    const opt = new Adam(layer.parameters(), { lr: 0.01 });
    const x = Tensor.randn([5, 6], { generator: g });
    const y = Tensor.fromArray([0, 1, 2, 0, 1], [5], { dtype: 'int32' });
    const base = liveStorages(); // 2 parameters + x + y
    const step = (): number =>
      tidy(() => {
        opt.zeroGrad();
        const loss = crossEntropy(layer.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      });
    step();
    // + 2 grads + m and v for 2 parameters
    expect(liveStorages()).toBe(base + 6);
    for (let i = 0; i < 5; i++) step();
    expect(liveStorages()).toBe(base + 6);
    expect(layer.weight.grad).not.toBe(null);
    layer.zeroGrad();
    expect(liveStorages()).toBe(base + 4);
    for (const t of [x, y, ...layer.parameters(), ...Object.values(opt.stateDict().buffers)]) t.dispose();
    expect(liveStorages()).toBe(base - 4);
  });

  it('a leaf created inside frees its gradient with it, unless the gradient is returned', () => {
    const before = liveStorages();
    tidy(() => {
      const x = Tensor.ones([3], { requiresGrad: true });
      x.sum().backward();
    });
    expect(liveStorages()).toBe(before);
    const grad = tidy(() => {
      const x = Tensor.ones([3], { requiresGrad: true });
      x.scale(2).sum().backward();
      return x.grad!;
    });
    expect(liveStorages()).toBe(before + 1);
    expect(Array.from(grad.toArray())).toEqual([2, 2, 2]);
    grad.dispose();
    expect(liveStorages()).toBe(before);
  });

  it('a tidy inside a failing op leaves nothing behind', () => {
    const before = liveStorages();
    expect(() =>
      tidy(() => {
        const a = Tensor.ones([2, 3]);
        return a.matmul(Tensor.ones([2, 3]));
      }),
    ).toThrow(CudalabError);
    expect(liveStorages()).toBe(before);
  });
});
