// the tensor layer on cuda against the same calls on the cpu (the reference
// backend), as ggml's test-backend-ops does: forward values and gradients of
// every op, creation and random streams, transfers and memory. skipped where
// no CUDA device can be used (the reason is in the test names).
import { describe, expect, it } from 'vitest';
import {
  Generator, Tensor, add, avgPool2d, conv2d, correctCount, argmax, crossEntropy, dropout, flatten, linear, matmul,
  maxPool2d, mean, mul, native, relu, scale, sub, sum, tidy, type DeviceName,
} from '../../src';
import { expectClose, TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';
import { distinctValues } from './reference';

const info = native().cudaInfo();
const gpu = info.available;
const why = gpu ? 'cuda' : `skipped, no GPU: ${info.reason}`;

interface Input { data: Float32Array; shape: number[]; grad?: boolean }

/** runs op on one device: the output and every input's gradient for upstream gradient r */
function runOn(device: DeviceName, inputs: Input[], op: (ts: Tensor[]) => Tensor, r: Float32Array | null): Array<Float32Array | Int32Array> {
  return tidy(() => {
    const ts = inputs.map((i) => Tensor.fromArray(i.data, i.shape, { device, requiresGrad: i.grad !== false }));
    const out = op(ts);
    const results = [out.toArray()];
    if (r !== null) {
      out.backward(Tensor.fromArray(r, out.shape, { device }));
      ts.forEach((t, i) => {
        if (inputs[i].grad !== false) results.push(t.grad!.toArray());
      });
    }
    return results;
  });
}

function compareDevices(label: string, inputs: Input[], op: (ts: Tensor[]) => Tensor, tol: number, backward = true): void {
  const outShape = tidy(() => op(inputs.map((i) => Tensor.fromArray(i.data, i.shape))).shape);
  const r = backward ? new Rng(5).floats(outShape.reduce((a, b) => a * b, 1)) : null;
  const cpu = runOn('cpu', inputs, op, r);
  const cuda = runOn('cuda', inputs, op, r);
  expect(cuda.length).toBe(cpu.length);
  cpu.forEach((c, i) => expectClose(cuda[i], c, tol, `${label} ${i === 0 ? 'forward' : `grad ${i - 1}`}`));
}

describe.skipIf(!gpu)(`ops on cuda match the cpu backend (${why})`, () => {
  const rng = new Rng(31);
  const v = (n: number, lo = -1, hi = 1): Float32Array => rng.floats(n, lo, hi);

  it('elementwise and reductions', () => {
    const a = { data: v(1000), shape: [10, 100] }, b = { data: v(1000), shape: [10, 100] };
    compareDevices('add', [a, b], ([x, y]) => add(x, y), TOL.eltwise);
    compareDevices('sub', [a, b], ([x, y]) => sub(x, y), TOL.eltwise);
    compareDevices('mul', [a, b], ([x, y]) => mul(x, y), TOL.eltwise);
    compareDevices('scale', [a], ([x]) => scale(x, 0.3), TOL.eltwise);
    compareDevices('relu', [a], ([x]) => relu(x), TOL.exact);
    compareDevices('sum', [a], ([x]) => sum(x), TOL.reduce);
    compareDevices('mean', [a], ([x]) => mean(x), TOL.reduce);
    compareDevices('flatten', [{ data: v(120), shape: [2, 3, 4, 5] }], ([x]) => scale(flatten(x), 2), TOL.eltwise);
  });

  it('matmul and linear at the seed model\'s sizes', () => {
    compareDevices('matmul', [{ data: v(64 * 96), shape: [64, 96] }, { data: v(96 * 40), shape: [96, 40] }], ([x, y]) => matmul(x, y), TOL.matmul);
    compareDevices('linear', [{ data: v(64 * 2048), shape: [64, 2048] }, { data: v(256 * 2048, -0.02, 0.02), shape: [256, 2048] }, { data: v(256), shape: [256] }],
      ([x, w, b]) => linear(x, w, b), TOL.matmul);
  });

  it('conv2d: padded, strided and 5x5', () => {
    compareDevices('conv 3x3 pad 1', [{ data: v(8 * 16 * 16 * 16), shape: [8, 16, 16, 16] }, { data: v(32 * 16 * 9, -0.1, 0.1), shape: [32, 16, 3, 3] }, { data: v(32), shape: [32] }],
      ([x, w, b]) => conv2d(x, w, b, { padding: 1 }), TOL.matmul);
    compareDevices('conv 3x3 stride 2', [{ data: v(2 * 3 * 15 * 13), shape: [2, 3, 15, 13] }, { data: v(8 * 3 * 9), shape: [8, 3, 3, 3] }, { data: v(8), shape: [8] }],
      ([x, w, b]) => conv2d(x, w, b, { stride: 2, padding: [1, 0] }), TOL.matmul);
    compareDevices('conv 5x5', [{ data: v(4 * 3 * 32 * 32), shape: [4, 3, 32, 32] }, { data: v(6 * 3 * 25, -0.2, 0.2), shape: [6, 3, 5, 5] }],
      ([x, w]) => conv2d(x, w, null), TOL.matmul);
  });

  it('pooling', () => {
    const x = { data: distinctValues(rng, 4 * 8 * 12 * 12, 1e-3), shape: [4, 8, 12, 12] };
    compareDevices('maxPool2d', [x], ([t]) => maxPool2d(t, 2), TOL.exact);
    compareDevices('maxPool2d 3/2/1', [x], ([t]) => maxPool2d(t, 3, 2, 1), TOL.exact);
    compareDevices('avgPool2d', [x], ([t]) => avgPool2d(t, 2), TOL.reduce);
    compareDevices('avgPool2d 3/2/1', [x], ([t]) => avgPool2d(t, 3, 2, 1), TOL.reduce);
  });

  it('crossEntropy, argmax and correctCount', () => {
    const labels = Int32Array.from(rng.labels(64, 10));
    const z = { data: v(640, -4, 4), shape: [64, 10] };
    compareDevices('crossEntropy', [z], ([t]) => crossEntropy(t, Tensor.fromArray(labels, [64], { dtype: 'int32', device: t.device })), TOL.reduce);
    compareDevices('argmax', [{ ...z, grad: false }], ([t]) => argmax(t), TOL.exact, false);
    compareDevices('correctCount', [{ ...z, grad: false }], ([t]) => correctCount(t, Tensor.fromArray(labels, [64], { dtype: 'int32', device: t.device })), TOL.exact, false);
  });

  it('dropout draws the same mask on both devices from the same generator state', () => {
    const x = { data: v(4096), shape: [64, 64] };
    compareDevices('dropout', [x], ([t]) => dropout(t, 0.25, true, new Generator(77)), TOL.exact);
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
