// augment_images and shift_flip_images beyond their spec: the same bits for
// any cpu thread count, cuda against the cpu on airbench-sized batches (when
// a GPU is there), and arguments the binding refuses (a translation reflect
// padding cannot make, an unknown flip mode, a cutout larger than the image)
// with typed errors that name them, writing nothing; the ops' own checks.
import { describe, expect, it } from 'vitest';
import { compareBackends, formatResult } from '../../src/spec/checker';
import { augmentImages, shiftFlipImages } from '../../src/spec/augment';
import * as ops from '../../src/ops/augment';
import { Tensor } from '../../src/tensor';
import { expectSameBits } from '../helpers/compare';
import { addon, cudaAvailable, cudaReason, expectNativeError, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('augment_images (cpu)', () => {
  it('gives the same bits for any thread count', () => {
    const rng = new Rng(91);
    const n = 300, image = 3 * 32 * 32;
    const x = Float32Array.from({ length: n * image }, () => rng.next() * 6 - 3);
    const ids = Int32Array.from({ length: n }, () => rng.int(50000));
    const run = (threads: number, flip: number, cutout: number) =>
      withThreads(threads, () => {
        const s = scopes.cpu;
        const out = s.out(n * image);
        addon.augmentImages(n, 3, 32, 32, s.floats(x), s.ints(ids), 77n, 3, 2, flip, cutout, out);
        const shifted = s.out(n * image);
        addon.shiftFlipImages(n, 3, 32, 32, s.floats(x), 1, -1, flip === 1, shifted);
        return [s.read(out, n * image), s.read(shifted, n * image)];
      });
    for (const [flip, cutout] of [[1, 12], [2, 0]]) {
      const one = run(1, flip, cutout);
      for (const threads of [2, 3, 8]) {
        const many = run(threads, flip, cutout);
        expectSameBits(many[0], one[0], `${threads} threads, flip ${flip}`);
        expectSameBits(many[1], one[1], `${threads} threads, shifted`);
      }
    }
  });
});

describe.skipIf(!cudaAvailable)(`augmentation: cuda against cpu${cudaAvailable ? '' : ` (skipped: ${cudaReason})`}`, () => {
  it('agrees bit for bit on every case of the specs', () => {
    for (const spec of [augmentImages, shiftFlipImages]) {
      spec.cases.forEach((_, i) => {
        const r = compareBackends(spec, i, 'cpu', 'cuda');
        if (!r.ok) expect.fail(formatResult(r));
      });
    }
  });
});

describe('augmentation argument checking', () => {
  const parts = (n = 2, h = 4, w = 5) => {
    const s = scopes.cpu;
    return { x: s.floats(new Float32Array(n * 3 * h * w).fill(1)), ids: s.ints([0, 1]), out: s.out(n * 3 * h * w) };
  };

  it('refuses a translation reflect padding cannot make, naming it, and writes nothing', () => {
    const p = parts();
    expectNativeError(() => addon.augmentImages(2, 3, 4, 5, p.x, p.ids, 1n, 0, 4, 1, 0, p.out), 'ERR_ARG', 'augmentImages', "'translate'", '4x5', 'got 4');
    expectNativeError(() => addon.shiftFlipImages(2, 3, 4, 5, p.x, 0, -5, false, p.out), 'ERR_ARG', 'shiftFlipImages', 'shift', 'got 0, -5');
    expectNativeError(() => addon.shiftFlipImages(2, 3, 4, 5, p.x, 4, 0, true, p.out), 'ERR_ARG', 'shiftFlipImages', 'got 4, 0');
    expect(scopes.cpu.read(p.out).every(Number.isNaN)).toBe(true);
  });

  it('refuses an unknown flip mode, a cutout larger than the image, a negative epoch, and short storages', () => {
    const p = parts();
    expectNativeError(() => addon.augmentImages(2, 3, 4, 5, p.x, p.ids, 1n, 0, 1, 3, 0, p.out), 'ERR_ARG', "'flip'");
    expectNativeError(() => addon.augmentImages(2, 3, 4, 5, p.x, p.ids, 1n, 0, 1, 1, 5, p.out), 'ERR_ARG', "'cutout'", 'got 5');
    expectNativeError(() => addon.augmentImages(2, 3, 4, 5, p.x, p.ids, 1n, -1, 1, 1, 0, p.out), 'ERR_ARG', "'epoch'");
    expectNativeError(() => addon.augmentImages(3, 3, 4, 5, p.x, p.ids, 1n, 0, 1, 1, 0, p.out), 'ERR_SHAPE', "'x'");
    expect(scopes.cpu.read(p.out).every(Number.isNaN)).toBe(true);
  });
});

describe('the ops (src/ops/augment.ts) check before calling native code', () => {
  it('wants NCHW float images, one int32 id per image, a known flip mode', () => {
    const x = Tensor.zeros([2, 3, 4, 4]);
    const ids = Tensor.fromArray([0, 1], [2], { dtype: 'int32' });
    const a = { translate: 1, flip: 'random' as const, cutout: 0 };
    expect(() => ops.augmentImages(Tensor.zeros([2, 48]), ids, a, 1n, 0)).toThrow(/augmentImages: images must be 4-d NCHW/);
    expect(() => ops.augmentImages(x, Tensor.fromArray([0, 1, 2], [3], { dtype: 'int32' }), a, 1n, 0)).toThrow(/one int32 per image \(2\)/);
    expect(() => ops.augmentImages(x, Tensor.fromArray([0, 1], [2]), a, 1n, 0)).toThrow(/ids must be int32/);
    expect(() => ops.augmentImages(x, ids, { ...a, flip: 'vertical' as never }, 1n, 0)).toThrow(/flip must be one of none, random, alternating/);
    expect(() => ops.augmentImages(x, ids, { ...a, translate: 4 }, 1n, 0)).toThrow(/translate/);
    expect(ops.augmentImages(x, ids, a, 1n, 0).shape).toEqual([2, 3, 4, 4]);
    expect(() => ops.shiftFlipImages(x, 0, 4, true)).toThrow(/shiftFlipImages/);
    for (const t of [x, ids]) t.dispose();
  });
});
