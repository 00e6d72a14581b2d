// the test harness checks itself: the comparison catches NaN (an unwritten,
// poisoned output) and errors past tolerance, finite differences recover known
// gradients, and the references agree with hand-computed answers. a harness
// that cannot fail would prove nothing about the kernels.
import { describe, expect, it } from 'vitest';
import { expectClose, expectExact, relativeError } from '../helpers/compare';
import { numericGradient, numericGradientScalar } from '../helpers/gradcheck';
import { conv2dRef, convShape } from '../../src/spec/conv';
import { gemmRef } from '../../src/spec/gemm';
import { softmaxXentRef } from '../../src/spec/loss';
import { avgpool2dRef, maxpool2dRef, poolShape } from '../../src/spec/pool';
import { Rng } from '../helpers/rng';

describe('test harness', () => {
  it('relative error is max |a - b| over max |ref|', () => {
    const r = relativeError([1, 2, 3.5], [1, 2, 4]);
    expect(r.rel).toBeCloseTo(0.125, 12);
    expect(r.worst).toBe(2);
    expect(relativeError([0, 0], [0, 0]).rel).toBe(0);
  });

  it('fails on NaN, on errors past tolerance, and on any difference when exact', () => {
    expect(() => expectClose([1, NaN, 3], [1, 2, 3], 1, 'poisoned')).toThrow(/NaN at element 1/);
    expect(() => expectClose([1, 2, 3.001], [1, 2, 3], 1e-4)).toThrow(/relative error/);
    expect(() => expectClose([1, 2, 3.0001], [1, 2, 3], 1e-4)).not.toThrow();
    expect(() => expectExact([1, 2, 3.0000001], [1, 2, 3])).toThrow(/element 2/);
    expect(() => expectExact([0], [-0])).toThrow();
  });

  it('finite differences recover known gradients', () => {
    const x = [0.3, -1.2, 2];
    // d/dx sum(x^3 * dy) = 3 x^2 dy
    const dy = [1, -2, 0.5];
    expectClose(numericGradient((v) => Array.from(v, (t) => t ** 3), x, dy), x.map((t, i) => 3 * t * t * dy[i]), 1e-8);
    expectClose(numericGradientScalar((v) => Math.sin(v[0]) * v[1], [0.7, 2]), [Math.cos(0.7) * 2, Math.sin(0.7)], 1e-8);
  });

  it('references give hand-computed answers', () => {
    // [[1 2] [3 4]] x [[5 6] [7 8]]
    expectExact(gemmRef(false, false, 2, 2, 2, 1, [1, 2, 3, 4], [5, 6, 7, 8], 0, null), [19, 22, 43, 50]);
    expectExact(gemmRef(true, false, 2, 2, 2, 1, [1, 3, 2, 4], [5, 6, 7, 8], 0, null), [19, 22, 43, 50]);
    // a 3x3 kernel with a single 1 in the middle, padding 1: the identity
    const s = convShape(1, 1, 3, 4, 1, 3, 3, 1, 1);
    const x = Array.from({ length: 12 }, (_, i) => i);
    expectExact(conv2dRef(s, x, [0, 0, 0, 0, 1, 0, 0, 0, 0], [0.5]), x.map((v) => v + 0.5));
    const ps = poolShape(1, 1, 2, 4, 2, 2);
    expectExact(maxpool2dRef(ps, [1, 5, 0, 2, 3, 4, 9, 1]).y, [5, 9]);
    expectExact(avgpool2dRef(ps, [1, 5, 0, 2, 3, 4, 9, 1]), [13 / 4, 12 / 4]);
    // uniform logits: loss log(classes)
    expect(softmaxXentRef(2, 4, new Float64Array(8), [0, 3]).loss).toBeCloseTo(Math.log(4), 14);
  });

  it('the seeded generator repeats', () => {
    expectExact(new Rng(5).floats(10), new Rng(5).floats(10));
    expect(Array.from(new Rng(5).floats(3))).not.toEqual(Array.from(new Rng(6).floats(3)));
  });
});
