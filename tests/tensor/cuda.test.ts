// the tensor layer on cuda: forward values and gradients of every op against
// the float64 references and central differences, creation and random
// streams, transfers and memory. skipped where no CUDA device can be used (the
// reason is in the test names).
import { describe, expect, it } from 'vitest';
import {
  Generator, Tensor, add, avgPool2d, conv2d, correctCount, argmax, crossEntropy, dropout, flatten, linear, matmul,
  maxPool2d, mean, mul, native, relu, scale, sub, sum, tidy,
} from '../../src';
import { argmaxRef } from '../../src/spec/loss';
import { dropoutMaskRef } from '../../src/spec/random';
import { TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';
import {
  addRef, awayFromZero, checkGradients, conv2dRef, crossEntropyRef, distinctValues, linearRef, matmulRef, mulRef, poolRef,
  reluRef, scaleRef, subRef, sumRef,
} from './reference';

const info = native().cudaInfo();
const gpu = info.available;
const why = gpu ? 'cuda' : `skipped, no GPU: ${info.reason}`;

// the differentiable ops on cuda against the float64 references (the op
// specs'), gradients against central differences: the same judge as on the
// cpu (tests/tensor/gradients.test.ts), not the cpu backend's answer
describe.skipIf(!gpu)(`ops on cuda against the float64 references (${why})`, () => {
  const rng = new Rng(31);
  const v = (n: number, lo = -1, hi = 1): Float32Array => rng.floats(n, lo, hi);
  const device = 'cuda' as const;

  it('elementwise and reductions', () => {
    const a = { data: v(120), shape: [10, 12] }, b = { data: v(120), shape: [10, 12] };
    checkGradients({ label: 'add', device, inputs: [a, b], op: ([x, y]) => add(x, y), ref: addRef, forwardTol: TOL.eltwise });
    checkGradients({ label: 'sub', device, inputs: [a, b], op: ([x, y]) => sub(x, y), ref: subRef, forwardTol: TOL.eltwise });
    checkGradients({ label: 'mul', device, inputs: [a, b], op: ([x, y]) => mul(x, y), ref: mulRef, forwardTol: TOL.eltwise });
    checkGradients({ label: 'scale', device, inputs: [a], op: ([x]) => scale(x, 0.3), ref: scaleRef(0.3), forwardTol: TOL.eltwise });
    checkGradients({ label: 'relu', device, inputs: [{ data: awayFromZero(rng, 120), shape: [10, 12] }], op: ([x]) => relu(x), ref: reluRef, forwardTol: TOL.exact });
    checkGradients({ label: 'sum', device, inputs: [a], op: ([x]) => sum(x), ref: sumRef, forwardTol: TOL.reduce });
    checkGradients({ label: 'mean', device, inputs: [a], op: ([x]) => mean(x), ref: ([x]) => sumRef([x]).map((t) => t / x.length), forwardTol: TOL.reduce });
    checkGradients({ label: 'flatten', device, inputs: [{ data: v(120), shape: [2, 3, 4, 5] }], op: ([x]) => scale(flatten(x), 2), ref: scaleRef(2), forwardTol: TOL.eltwise });
  });

  it('matmul and linear', () => {
    checkGradients({ label: 'matmul', device, inputs: [{ data: v(12 * 16), shape: [12, 16] }, { data: v(16 * 10), shape: [16, 10] }], op: ([x, y]) => matmul(x, y), ref: matmulRef(12, 16, 10) });
    checkGradients({ label: 'linear', device, inputs: [{ data: v(8 * 64), shape: [8, 64] }, { data: v(32 * 64, -0.1, 0.1), shape: [32, 64] }, { data: v(32), shape: [32] }],
      op: ([x, w, b]) => linear(x, w, b), ref: linearRef(8, 64, 32, true) });
  });

  it('conv2d: padded, strided and 5x5', () => {
    checkGradients({ label: 'conv 3x3 pad 1', device, inputs: [{ data: v(2 * 4 * 6 * 6), shape: [2, 4, 6, 6] }, { data: v(5 * 4 * 9, -0.2, 0.2), shape: [5, 4, 3, 3] }, { data: v(5), shape: [5] }],
      op: ([x, w, b]) => conv2d(x, w, b, { padding: 1 }), ref: conv2dRef({ n: 2, c: 4, h: 6, w: 6, k: 5, r: 3, s: 3 }, [1, 1], [1, 1], true) });
    checkGradients({ label: 'conv 3x3 stride 2', device, inputs: [{ data: v(2 * 3 * 9 * 7), shape: [2, 3, 9, 7] }, { data: v(4 * 3 * 9), shape: [4, 3, 3, 3] }, { data: v(4), shape: [4] }],
      op: ([x, w, b]) => conv2d(x, w, b, { stride: 2, padding: [1, 0] }), ref: conv2dRef({ n: 2, c: 3, h: 9, w: 7, k: 4, r: 3, s: 3 }, [2, 2], [1, 0], true) });
    checkGradients({ label: 'conv 5x5', device, inputs: [{ data: v(1 * 3 * 8 * 8), shape: [1, 3, 8, 8] }, { data: v(3 * 3 * 25, -0.2, 0.2), shape: [3, 3, 5, 5] }],
      op: ([x, w]) => conv2d(x, w, null), ref: conv2dRef({ n: 1, c: 3, h: 8, w: 8, k: 3, r: 5, s: 5 }, [1, 1], [0, 0], false) });
  });

  it('pooling', () => {
    const dims = { n: 2, c: 3, h: 8, w: 8 };
    const x = { data: distinctValues(rng, 2 * 3 * 8 * 8, 1e-3), shape: [2, 3, 8, 8] };
    checkGradients({ label: 'maxPool2d', device, inputs: [x], op: ([t]) => maxPool2d(t, 2), ref: poolRef('max', dims, 2, 2, 0), forwardTol: TOL.exact });
    checkGradients({ label: 'maxPool2d 3/2/1', device, inputs: [x], op: ([t]) => maxPool2d(t, 3, 2, 1), ref: poolRef('max', dims, 3, 2, 1), forwardTol: TOL.exact });
    checkGradients({ label: 'avgPool2d', device, inputs: [x], op: ([t]) => avgPool2d(t, 2), ref: poolRef('avg', dims, 2, 2, 0), forwardTol: TOL.reduce });
    checkGradients({ label: 'avgPool2d 3/2/1', device, inputs: [x], op: ([t]) => avgPool2d(t, 3, 2, 1), ref: poolRef('avg', dims, 3, 2, 1), forwardTol: TOL.reduce });
  });

  it('crossEntropy, argmax and correctCount', () => {
    const labels = Int32Array.from(rng.labels(64, 10));
    const z = { data: v(640, -4, 4), shape: [64, 10] };
    const labelsOn = (t: Tensor) => Tensor.fromArray(labels, [64], { dtype: 'int32', device: t.device });
    checkGradients({ label: 'crossEntropy', device, inputs: [z], op: ([t]) => crossEntropy(t, labelsOn(t)), ref: crossEntropyRef(64, 10, labels), forwardTol: TOL.reduce });
    checkGradients({ label: 'argmax', device, inputs: [{ ...z, grad: false }], op: ([t]) => argmax(t), ref: ([t]) => Float64Array.from(argmaxRef(64, 10, t)), forwardTol: TOL.exact });
    checkGradients({ label: 'correctCount', device, inputs: [{ ...z, grad: false }], op: ([t]) => correctCount(t, labelsOn(t)),
      ref: ([t]) => Float64Array.of(argmaxRef(64, 10, t).filter((c, i) => c === labels[i]).length), forwardTol: TOL.exact });
  });

  it('dropout masks as the philox reference says, from the generator state', () => {
    const gen = new Generator(77);
    const mask = dropoutMaskRef(1024, Math.fround(0.25), gen.seed, gen.offset);
    checkGradients({ label: 'dropout', device, inputs: [{ data: v(1024), shape: [32, 32] }], op: ([t]) => dropout(t, 0.25, true, gen), ref: ([t]) => mulRef([t, mask]), forwardTol: TOL.eltwise });
  });
});

describe.skipIf(!gpu)(`tensors on cuda (${why})`, () => {
  it('creation and reading', () => {
    tidy(() => {
      expect(Array.from(Tensor.full([3], 2.5, { device: 'cuda' }).toArray())).toEqual([2.5, 2.5, 2.5]);
      expect(Array.from(Tensor.full([2], -3, { device: 'cuda', dtype: 'int32' }).toArray())).toEqual([-3, -3]);
      expect(Array.from(Tensor.zeros([2], { device: 'cuda', dtype: 'int32' }).toArray())).toEqual([0, 0]);
      const t = Tensor.fromArray([1, 2, 3, 4], [2, 2], { device: 'cuda' });
      expect(t.device).toBe('cuda');
      expect(t.to('cuda')).toBe(t);
      expect(Array.from(t.reshape([4]).toArray())).toEqual([1, 2, 3, 4]);
      expect(t.sum().item()).toBe(10);
    });
  });

  it('randn and rand give the cpu\'s numbers bit for bit', () => {
    tidy(() => {
      const a = Tensor.randn([5000], { generator: new Generator(3), device: 'cuda' }).toArray();
      const b = Tensor.randn([5000], { generator: new Generator(3) }).toArray();
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      const c = Tensor.rand([5000], { generator: new Generator(4), device: 'cuda' }).toArray();
      const d = Tensor.rand([5000], { generator: new Generator(4) }).toArray();
      expect(Buffer.from(c.buffer).equals(Buffer.from(d.buffer))).toBe(true);
    });
  });

  it('to() copies across devices and the gradient flows back', () => {
    tidy(() => {
      const x = Tensor.fromArray([1, -2, 3], [3], { requiresGrad: true });
      const y = x.to('cuda').scale(2).relu().sum();
      expect(y.device).toBe('cuda');
      y.backward();
      expect(x.grad!.device).toBe('cpu');
      expect(Array.from(x.grad!.toArray())).toEqual([2, 0, 2]);
    });
  });

  it('tidy frees cuda storages too', () => {
    const before = native().memoryStats('cuda').storages;
    const kept = tidy(() => {
      const a = Tensor.ones([256, 256], { device: 'cuda' });
      return a.matmul(a).relu().sum();
    });
    expect(native().memoryStats('cuda').storages).toBe(before + 1);
    expect(kept.item()).toBe(256 * 256 * 256);
    kept.dispose();
    expect(native().memoryStats('cuda').storages).toBe(before);
  });
});
