// the errors a user meets: each names the op, the argument and what was expected.
import { describe, expect, it } from 'vitest';
import {
  CudalabError, Tensor, argmax, avgPool2d, conv2d, correctCount, crossEntropy, linear, matmul, maxPool2d, native, tidy,
} from '../../src';

const cudaInfo = native().cudaInfo();

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof CudalabError)) throw err;
    return `${err.code}: ${err.message}`;
  }
  throw new Error('expected a CudalabError, nothing was thrown');
}

describe('shape errors', () => {
  it('conv2d: channel mismatch names both counts and the weight shape', () => {
    tidy(() => {
      const x = Tensor.zeros([2, 4, 8, 8]);
      const w = Tensor.zeros([16, 3, 3, 3]);
      expect(codeOf(() => conv2d(x, w, null))).toBe('ERR_SHAPE: conv2d: input has 4 channels, weight expects 3 (weight shape [16,3,3,3])');
      expect(codeOf(() => conv2d(Tensor.zeros([4, 8, 8]), w, null))).toMatch(/^ERR_SHAPE: conv2d: input must be 4-d \[N, C, H, W\], got shape \[4,8,8\]/);
      expect(codeOf(() => conv2d(Tensor.zeros([1, 3, 2, 2]), w, null))).toMatch(/ERR_SHAPE: conv2d: the 3x3 kernel does not fit the 2x2 input/);
      expect(codeOf(() => conv2d(Tensor.zeros([1, 3, 4, 4]), w, Tensor.zeros([8])))).toMatch(/conv2d: bias must have shape \[16\]/);
      expect(codeOf(() => conv2d(Tensor.zeros([1, 3, 4, 4]), w, null, { stride: 0 }))).toMatch(/ERR_ARG: conv2d: stride must be a positive integer, got 0/);
    });
  });

  it('linear, matmul and the loss', () => {
    tidy(() => {
      expect(codeOf(() => linear(Tensor.zeros([2, 5]), Tensor.zeros([3, 4]), null))).toBe(
        'ERR_SHAPE: linear: input has 5 features, weight expects 4 (weight shape [3,4])',
      );
      expect(codeOf(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([2, 3])))).toMatch(/ERR_SHAPE: matmul: a is \[2,3\], b is \[2,3\]: inner sizes 3 and 2 differ/);
      const logits = Tensor.zeros([4, 10]);
      expect(codeOf(() => crossEntropy(logits, Tensor.zeros([3], { dtype: 'int32' })))).toMatch(/labels must have shape \[4\] for logits \[4,10\], got \[3\]/);
      expect(codeOf(() => crossEntropy(logits, Tensor.zeros([4])))).toMatch(/^ERR_DTYPE: crossEntropy: labels must be int32, got float32/);
      expect(codeOf(() => correctCount(logits, Tensor.zeros([5], { dtype: 'int32' })))).toMatch(/^ERR_SHAPE: correctCount/);
      expect(codeOf(() => argmax(Tensor.zeros([10])))).toMatch(/argmax: logits must be 2-d/);
    });
  });

  it('a label out of range is caught on the cpu (by the addon) as a CudalabError naming the op', () => {
    tidy(() => {
      expect(codeOf(() => crossEntropy(Tensor.zeros([2, 3]), Tensor.fromArray([0, 3], [2], { dtype: 'int32' })))).toMatch(/^ERR_ARG: crossEntropy: .*labels\[1\] = 3/);
    });
  });

  it('pooling', () => {
    tidy(() => {
      expect(codeOf(() => maxPool2d(Tensor.zeros([1, 1, 1, 1]), 2))).toMatch(/ERR_SHAPE: maxPool2d: the 2x2 window does not fit the 1x1 input/);
      expect(codeOf(() => avgPool2d(Tensor.zeros([1, 1, 4, 4]), 2, 2, 2))).toMatch(/ERR_ARG: avgPool2d: padding 2 is more than half the kernel size 2/);
      expect(codeOf(() => maxPool2d(Tensor.zeros([1, 1, 4, 4]), 0))).toMatch(/kernel must be a positive integer/);
    });
  });

  it('elementwise ops do not broadcast', () => {
    tidy(() => {
      expect(codeOf(() => Tensor.zeros([2, 3]).add(Tensor.zeros([3])))).toBe(
        'ERR_SHAPE: add: shapes differ: [2,3] and [3] (no broadcasting; reshape first)',
      );
    });
  });
});

describe('dtype errors', () => {
  it('float ops refuse int32 tensors; int32 tensors cannot need gradients', () => {
    tidy(() => {
      const i = Tensor.zeros([2, 2], { dtype: 'int32' });
      expect(codeOf(() => i.relu())).toBe('ERR_DTYPE: relu: input must be float32, got int32 (shape [2,2])');
      expect(codeOf(() => Tensor.zeros([2], { dtype: 'int32', requiresGrad: true }))).toMatch(/^ERR_DTYPE: requiresGrad: only float32/);
    });
  });
});

describe('devices', () => {
  it.skipIf(cudaInfo.available)(`asking for cuda without a usable GPU is ERR_NO_CUDA with the reason (runs only without a GPU)`, () => {
    const msg = codeOf(() => Tensor.zeros([2], { device: 'cuda' }));
    expect(msg).toMatch(/^ERR_NO_CUDA: /);
    expect(msg.length).toBeGreaterThan('ERR_NO_CUDA: Tensor.empty: '.length + 5);
  });

  it.skipIf(!cudaInfo.available)(`mixed cpu/cuda operands are ERR_DEVICE naming both (needs a GPU${cudaInfo.available ? '' : `: ${cudaInfo.reason}`})`, () => {
    tidy(() => {
      const a = Tensor.ones([2, 2]);
      const b = Tensor.ones([2, 2], { device: 'cuda' });
      expect(codeOf(() => a.add(b))).toBe('ERR_DEVICE: add: a is on cpu but b is on cuda; move them to one device with .to()');
      const x = Tensor.zeros([1, 3, 4, 4], { device: 'cuda' });
      expect(codeOf(() => conv2d(x, Tensor.zeros([2, 3, 3, 3]), null))).toMatch(/^ERR_DEVICE: conv2d: input is on cuda but weight is on cpu/);
      const labels = Tensor.zeros([2], { dtype: 'int32' });
      expect(codeOf(() => crossEntropy(Tensor.zeros([2, 3], { device: 'cuda' }), labels))).toMatch(/^ERR_DEVICE: crossEntropy: logits is on cuda but labels is on cpu/);
    });
  });
});
