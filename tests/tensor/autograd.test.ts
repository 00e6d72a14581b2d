// the autograd engine: recording, accumulation, ordering, noGrad, and what backward refuses.
import { describe, expect, it } from 'vitest';
import { CudalabError, Tensor, crossEntropy, maxPool2d, native, noGrad, isGradEnabled, tidy } from '../../src';

function liveStorages(): number {
  return native().memoryStats('cpu').storages;
}

describe('backward', () => {
  it('micrograd example: gradients through a diamond accumulate over both paths', () => {
    tidy(() => {
      // y = relu(a*b + a) * b ; dy/da = b*(b + 1), dy/db = (a*b + a) + a*b  (all positive)
      const a = Tensor.fromArray([2], [1], { requiresGrad: true });
      const b = Tensor.fromArray([3], [1], { requiresGrad: true });
      const y = a.mul(b).add(a).relu().mul(b);
      y.backward();
      expect(y.item()).toBe(24);
      expect(a.grad!.item()).toBe(12);
      expect(b.grad!.item()).toBe(14);
    });
  });

  it('leaf gradients accumulate across backward calls until zeroed; intermediates keep none', () => {
    tidy(() => {
      const x = Tensor.fromArray([1, 2, 3], [3], { requiresGrad: true });
      const h = x.scale(2);
      h.sum().backward();
      expect(h.grad).toBe(null);
      expect(Array.from(x.grad!.toArray())).toEqual([2, 2, 2]);
      x.scale(3).sum().backward();
      expect(Array.from(x.grad!.toArray())).toEqual([5, 5, 5]);
    });
  });

  it('frees every intermediate gradient: only the leaf grads are new', () => {
    tidy(() => {
      const x = Tensor.fromArray([1, -2, 3, 4], [2, 2], { requiresGrad: true });
      const y = x.relu().scale(2).reshape([4]).mul(Tensor.ones([4])).sum();
      const before = liveStorages();
      y.backward();
      expect(liveStorages()).toBe(before + 1);
    });
  });

  it('a non-scalar needs an explicit gradient; the given gradient is copied, not taken', () => {
    tidy(() => {
      const x = Tensor.fromArray([1, 2], [2], { requiresGrad: true });
      const y = x.scale(3);
      expect(() => y.backward()).toThrow(/only for a one-element tensor; this one has shape \[2\], pass grad/);
      const g = Tensor.fromArray([1, 10], [2]);
      y.backward(g);
      expect(g.disposed).toBe(false);
      expect(Array.from(x.grad!.toArray())).toEqual([3, 30]);
      expect(() => y.backward(Tensor.ones([3]))).toThrow(/grad has shape \[3\]/);
    });
  });

  it('refuses a tensor that needs no gradient', () => {
    tidy(() => {
      const y = Tensor.ones([2]).sum();
      expect(y.requiresGrad).toBe(false);
      expect(() => y.backward()).toThrow(/does not require grad/);
    });
  });

  it('refuses to run twice through an op whose saved tensors were freed, and says why', () => {
    tidy(() => {
      const x = Tensor.fromArray([3, 1, 2, 4], [1, 1, 2, 2], { requiresGrad: true });
      const y = maxPool2d(x, 2).sum();
      y.backward();
      expect(Array.from(x.grad!.toArray())).toEqual([0, 0, 0, 1]);
      expect(() => y.backward()).toThrow(/already used by a backward pass.*run the forward again/);
    });
  });

  it('refuses a graph whose intermediate was disposed', () => {
    tidy(() => {
      const x = Tensor.fromArray([1, 2], [2], { requiresGrad: true });
      const h = x.scale(2);
      const y = h.sum();
      h.dispose();
      try {
        y.backward();
        expect.fail('backward through a disposed tensor did not throw');
      } catch (err) {
        expect((err as CudalabError).code).toBe('ERR_DISPOSED');
        expect((err as Error).message).toMatch(/the output of scale .* was disposed before backward/);
      }
    });
  });

  it('the loss gradient reaches the logits on the device (crossEntropy backward with a scaled upstream gradient)', () => {
    tidy(() => {
      const z = Tensor.fromArray([0, 0, 0, 0], [2, 2], { requiresGrad: true });
      const loss = crossEntropy(z, Tensor.fromArray([0, 1], [2], { dtype: 'int32' }));
      loss.scale(4).backward();
      // (softmax - onehot) / n * 4 = (0.5 - 1) / 2 * 4 = -1 and 0.5 / 2 * 4 = 1
      expect(Array.from(z.grad!.toArray())).toEqual([-1, 1, 1, -1]);
    });
  });
});

describe('noGrad', () => {
  it('records nothing: results need no gradient and have no node', () => {
    tidy(() => {
      const x = Tensor.ones([3], { requiresGrad: true });
      expect(isGradEnabled()).toBe(true);
      const y = noGrad(() => {
        expect(isGradEnabled()).toBe(false);
        return x.scale(2).relu().sum();
      });
      expect(isGradEnabled()).toBe(true);
      expect(y.requiresGrad).toBe(false);
      expect(y.gradNode).toBe(null);
      expect(() => y.backward()).toThrow(/does not require grad/);
    });
  });

  it('frees the tensors an op would have saved for backward', () => {
    tidy(() => {
      const x = Tensor.ones([1, 1, 4, 4], { requiresGrad: true });
      const before = liveStorages();
      const y = noGrad(() => maxPool2d(x, 2));
      expect(liveStorages()).toBe(before + 1); // the output, no argmax
      const z = maxPool2d(x, 2);
      expect(liveStorages()).toBe(before + 3); // the output and its argmax
      expect(z.gradNode!.saved.length).toBe(1);
      y.dispose();
    });
  });

  it('restores the mode when fn throws', () => {
    expect(() => noGrad(() => { throw new Error('x'); })).toThrow('x');
    expect(isGradEnabled()).toBe(true);
  });
});
