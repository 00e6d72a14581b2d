// the differentiable gelu, label-smoothed cross-entropy and global average
// pool: forward against the op specs' float64 references, gradients against
// central differences of those references (reference.ts); and the options'
// checks.
import { describe, expect, it } from 'vitest';
import { CudalabError, Tensor, crossEntropy, gelu, globalAvgPool2d, tidy } from '../../src';
import { geluRef } from '../../src/spec/eltwise';
import { smoothXentRef, softmaxXentRef } from '../../src/spec/loss';
import { avgpool2dRef, poolShape } from '../../src/spec/pool';
import { expectSameBits, TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';
import { checkGradients } from './reference';

describe('gelu', () => {
  const rng = new Rng(21);
  it('forward and gradient (erf form) against float64', () =>
    checkGradients({
      label: 'gelu',
      inputs: [{ data: rng.floats(60, -4, 4), shape: [3, 4, 5] }],
      op: ([x]) => gelu(x),
      ref: ([x]) => x.map(geluRef),
      forwardTol: TOL.eltwise,
    }));

  it('gives x * Phi(x) at known points, to a few float roundings', () => {
    tidy(() => {
      const y = gelu(Tensor.fromArray([0, 1, -1, 3, -3], [5])).toArray();
      // x * 0.5 * math.erfc(-x / math.sqrt(2)) in Python (float64)
      const known = [0, 0.8413447460685429, -0.15865525393145707, 2.99595030590511, -0.004049694094890287];
      // 4 roundings where x >= 0; on the left tail, rounding x / sqrt(2) once
      // moves erfc(z) by ~2z^2 roundings (9 at x = -3): 16 there
      known.forEach((v, i) => expect(Math.abs(y[i] - v)).toBeLessThanOrEqual(Math.abs(v) * (v < 0 ? 2 ** -20 : 2 ** -22)));
    });
  });
});

describe('global average pool', () => {
  const rng = new Rng(22);
  for (const [h, w] of [[4, 4], [3, 5], [1, 1]]) {
    it(`[2, 3, ${h}, ${w}] -> [2, 3, 1, 1], gradient spread evenly`, () =>
      checkGradients({
        label: 'globalAvgPool2d',
        inputs: [{ data: rng.floats(2 * 3 * h * w), shape: [2, 3, h, w] }],
        op: ([x]) => {
          const y = globalAvgPool2d(x);
          expect(y.shape).toEqual([2, 3, 1, 1]);
          return y;
        },
        ref: ([x]) => avgpool2dRef(poolShape(2, 3, h, w, h, w), x),
        forwardTol: TOL.reduce,
      }));
  }

  it('rejects an input that is not [N, C, H, W]', () => {
    tidy(() => expect(() => globalAvgPool2d(Tensor.zeros([2, 3, 4]))).toThrow(/globalAvgPool2d: input must be 4-d/));
  });
});

describe('cross-entropy with label smoothing and reductions', () => {
  const rng = new Rng(23);
  const [n, classes] = [6, 5];
  const logits = rng.floats(n * classes, -3, 3);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 3) % classes);
  const withLabels = (f: (z: Tensor, l: Tensor) => Tensor) => ([z]: Tensor[]) => f(z, Tensor.fromArray(labels, [n], { dtype: 'int32' }));

  for (const [smoothing, reduction] of [[0.2, 'mean'], [0.2, 'sum'], [0, 'sum'], [1, 'mean']] as const) {
    it(`smoothing ${smoothing}, ${reduction}: loss and gradient against float64`, () =>
      checkGradients({
        label: `crossEntropy ${smoothing} ${reduction}`,
        inputs: [{ data: logits, shape: [n, classes] }],
        op: withLabels((z, l) => crossEntropy(z, l, { labelSmoothing: smoothing, reduction })),
        ref: ([z]) => Float64Array.of(smoothXentRef(n, classes, z, labels, Math.fround(smoothing), reduction).loss),
        forwardTol: TOL.reduce,
      }));
  }

  it('is PyTorch\'s definition: (1 - s) * nll + s * mean over classes of -log p', () => {
    // an independent reading of the definition, from the unsmoothed reference's probabilities
    const { probs } = softmaxXentRef(n, classes, logits, labels);
    const s = 0.2;
    let total = 0;
    for (let i = 0; i < n; i++) {
      let uniform = 0;
      for (let j = 0; j < classes; j++) uniform -= Math.log(probs[i * classes + j]) / classes;
      total += (1 - s) * -Math.log(probs[i * classes + labels[i]]) + s * uniform;
    }
    tidy(() => {
      const loss = crossEntropy(Tensor.fromArray(logits, [n, classes]), Tensor.fromArray(labels, [n], { dtype: 'int32' }), { labelSmoothing: s });
      expect(Math.abs(loss.item() - total / n)).toBeLessThan(1e-6 * (total / n));
    });
  });

  it('without options, and with the defaults spelled out, gives the same bits', () => {
    tidy(() => {
      const z = Tensor.fromArray(logits, [n, classes], { requiresGrad: true });
      const l = Tensor.fromArray(labels, [n], { dtype: 'int32' });
      const plain = crossEntropy(z, l);
      plain.backward();
      const gPlain = z.grad!.toArray();
      const z2 = Tensor.fromArray(logits, [n, classes], { requiresGrad: true });
      const spelled = crossEntropy(z2, l, { labelSmoothing: 0, reduction: 'mean' });
      spelled.backward();
      expectSameBits(plain.toArray() as Float32Array, spelled.toArray() as Float32Array, 'loss');
      expectSameBits(gPlain as Float32Array, z2.grad!.toArray() as Float32Array, 'gradient');
    });
  });

  it('rejects bad options with typed errors naming the option', () => {
    tidy(() => {
      const z = Tensor.fromArray(logits, [n, classes]);
      const l = Tensor.fromArray(labels, [n], { dtype: 'int32' });
      const bad: Array<[unknown, RegExp]> = [
        [{ labelSmoothing: 1.5 }, /labelSmoothing must be a number in \[0, 1\], got 1.5/],
        [{ labelSmoothing: -0.1 }, /labelSmoothing/],
        [{ labelSmoothing: NaN }, /labelSmoothing/],
        [{ labelSmoothing: '0.2' }, /labelSmoothing/],
        [{ reduction: 'none' }, /reduction must be 'mean' or 'sum', got "none"/],
        [{ smoothing: 0.2 }, /unknown option 'smoothing'/],
        [0.2, /options must be an object/],
      ];
      for (const [options, message] of bad) {
        let err: unknown = null;
        try {
          crossEntropy(z, l, options as never);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(CudalabError);
        expect((err as CudalabError).code).toBe('ERR_ARG');
        expect((err as Error).message).toMatch(message);
      }
    });
  });
});
