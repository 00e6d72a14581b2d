// nn.BatchNorm2d against a float64 model of PyTorch's BatchNorm2d (plain
// loops: torch/nn/modules/batchnorm.py's rules written out): training then
// eval, momentum (and None's cumulative average), num_batches_tracked, the
// unbiased running variance; its state dict (keys, order, dtypes) and a round
// trip through safetensors; buffers kept out of the optimizer; frozen weights.
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, CudalabError, Module, ReLU, SGD, Sequential, Tensor, mul, sum, tidy } from '../../src';
import { batchNormApplyRef, batchNormBackwardRef, batchStatsRef, runningUpdateRef } from '../../src/spec/norm';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../../src/train/safetensors';
import { Rng } from '../../src/spec/rng';
import { relativeError } from '../../src/spec/compare';

// PyTorch's BatchNorm2d.forward, in float64
class ReferenceBatchNorm {
  runningMean: Float64Array;
  runningVar: Float64Array;
  numBatchesTracked = 0;
  constructor(readonly c: number, readonly eps: number, readonly momentum: number | null, public weight?: Float64Array, public bias?: Float64Array) {
    this.runningMean = new Float64Array(c);
    this.runningVar = new Float64Array(c).fill(1);
  }
  forward(x: ArrayLike<number>, shape: number[], training: boolean): Float64Array {
    const [n, c, h, w] = shape;
    if (!training) {
      const invstd = this.runningVar.map((v) => 1 / Math.sqrt(v + this.eps));
      return batchNormApplyRef(n, c, h * w, x, this.runningMean, invstd, this.weight, this.bias);
    }
    this.numBatchesTracked++;
    const factor = this.momentum ?? 1 / this.numBatchesTracked;
    const s = batchStatsRef(n, c, h * w, x, this.eps);
    const r = runningUpdateRef(this.runningMean, this.runningVar, s, factor);
    this.runningMean = r.mean;
    this.runningVar = r.var;
    return batchNormApplyRef(n, c, h * w, x, s.mean, s.invstd, this.weight, this.bias);
  }
}

function randomInput(rng: Rng, shape: number[]): Float32Array {
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) x[i] = 1.5 + 2 * rng.normal();
  return x;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  const r = relativeError(actual, expected);
  expect(r.rel, `${what}: worst element ${r.worst}`).toBeLessThanOrEqual(tolerance);
}

// float32 kernels against float64: a few roundings relative to the largest value
const TOLERANCE = 2e-6;

// sets a float32 tensor's values in place (as load_state_dict would)
function setValues(t: Tensor, values: ArrayLike<number>): void {
  const src = Tensor.fromArray(Float32Array.from(values), t.shape.slice());
  const m = new (class extends Module {
    constructor() {
      super();
      this.registerParameter('t', t);
    }
    forward(x: Tensor): Tensor {
      return x;
    }
  })();
  m.loadStateDict({ t: src });
  src.dispose();
}

describe('BatchNorm2d against PyTorch\'s rules', () => {
  for (const momentum of [0.1, 0.4, null]) {
    it(`trains then evaluates like PyTorch (momentum ${momentum})`, () => {
      const rng = new Rng(7);
      const shape = [4, 3, 5, 3];
      const bn = new BatchNorm2d(3, { momentum, eps: 1e-3 });
      const weight = Float64Array.from([0.5, 1.25, -0.75]), bias = Float64Array.from([0.1, -0.2, 0.3]);
      setValues(bn.weight!, weight);
      setValues(bn.bias!, bias);
      const ref = new ReferenceBatchNorm(3, Math.fround(1e-3), momentum, weight, bias);
      for (let step = 0; step < 3; step++) {
        const x = randomInput(rng, shape);
        const y = tidy(() => bn.forward(Tensor.fromArray(x, shape)).toArray());
        expectClose(y, ref.forward(x, shape, true), TOLERANCE, `training step ${step} y`);
        expectClose(bn.runningMean!.toArray(), ref.runningMean, TOLERANCE, `step ${step} running_mean`);
        expectClose(bn.runningVar!.toArray(), ref.runningVar, TOLERANCE, `step ${step} running_var`);
        expect(Array.from(bn.numBatchesTracked!.toArray())).toEqual([step + 1]);
      }
      bn.eval();
      const x = randomInput(rng, [2, 3, 4, 4]);
      const before = Array.from(bn.runningMean!.toArray());
      const y = tidy(() => bn.forward(Tensor.fromArray(x, [2, 3, 4, 4])).toArray());
      expectClose(y, ref.forward(x, [2, 3, 4, 4], false), TOLERANCE, 'eval y');
      // eval mode neither moves the running statistics nor counts the batch
      expect(Array.from(bn.runningMean!.toArray())).toEqual(before);
      expect(Array.from(bn.numBatchesTracked!.toArray())).toEqual([3]);
      bn.dispose();
    });
  }

  it('moves running_var towards the unbiased variance and normalises with the biased one', () => {
    // one channel holding 1 and 3: mean 2, biased variance 1, unbiased 2
    const bn = new BatchNorm2d(1, { momentum: 1, eps: 0 });
    const y = tidy(() => bn.forward(Tensor.fromArray([1, 3], [2, 1, 1, 1])).toArray());
    expect(Array.from(y)).toEqual([-1, 1]);
    expect(Array.from(bn.runningMean!.toArray())).toEqual([2]);
    expect(Array.from(bn.runningVar!.toArray())).toEqual([2]);
    bn.dispose();
  });

  it('gives the gradients of x, weight and bias through autograd, in training and in eval mode', () => {
    const rng = new Rng(3);
    const shape = [2, 3, 3, 2];
    for (const training of [true, false]) {
      const bn = new BatchNorm2d(3);
      setValues(bn.weight!, [0.5, 1.5, -1]);
      setValues(bn.bias!, [0.2, 0, -0.3]);
      setValues(bn.runningMean!, [0.5, -0.5, 1]);
      setValues(bn.runningVar!, [2, 0.5, 1.5]);
      bn.train(training);
      const xs = randomInput(rng, shape);
      const dy = Float32Array.from(randomInput(rng, shape), (v) => v / 4);
      const x = Tensor.fromArray(xs, shape, { requiresGrad: true });
      tidy(() => sum(mul(bn.forward(x), Tensor.fromArray(dy, shape))).backward());
      const eps = Math.fround(1e-5);
      const stats = training
        ? batchStatsRef(2, 3, 6, xs, eps)
        : { mean: Float64Array.from([0.5, -0.5, 1]), invstd: Float64Array.from([2, 0.5, 1.5], (v) => 1 / Math.sqrt(v + eps)) };
      const ref = batchNormBackwardRef(2, 3, 6, xs, dy, stats.mean, stats.invstd, [0.5, 1.5, -1], training);
      expectClose(x.grad!.toArray(), ref.dx, 1e-5, `${training ? 'training' : 'eval'} dx`);
      expectClose(bn.weight!.grad!.toArray(), ref.dweight, 1e-5, 'dweight');
      expectClose(bn.bias!.grad!.toArray(), ref.dbias, 1e-5, 'dbias');
      x.dispose();
      bn.dispose();
    }
  });

  it('uses the batch statistics in eval mode too when it tracks no running statistics', () => {
    const bn = new BatchNorm2d(1, { trackRunningStats: false, eps: 0 });
    bn.eval();
    const y = tidy(() => bn.forward(Tensor.fromArray([1, 3], [1, 1, 1, 2])).toArray());
    expect(Array.from(y)).toEqual([-1, 1]);
    bn.dispose();
  });

  it('rejects one value per channel in training, and a wrong channel count', () => {
    const bn = new BatchNorm2d(2);
    const one = Tensor.fromArray([1, 2], [1, 2, 1, 1]);
    expect(() => bn.forward(one)).toThrow(/more than 1 value per channel/);
    expect(Array.from(bn.numBatchesTracked!.toArray())).toEqual([0]);
    expect(() => bn.forward(Tensor.fromArray([1, 2, 3], [1, 3, 1, 1]))).toThrow(CudalabError);
    // eval mode takes a single value
    bn.eval();
    expect(Array.from(bn.forward(one).toArray()).every(Number.isFinite)).toBe(true);
    bn.dispose();
  });
});

describe('BatchNorm2d state', () => {
  it('has PyTorch\'s state dict keys, in PyTorch\'s order, with num_batches_tracked a scalar integer', () => {
    const net = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new ReLU());
    const sd = net.stateDict();
    expect(Object.keys(sd)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect(sd['1.num_batches_tracked'].shape).toEqual([]);
    expect(sd['1.num_batches_tracked'].dtype).toBe('int32');
    expect(Array.from(sd['1.running_var'].toArray())).toEqual([1, 1, 1, 1]);
    expect(Object.keys(new BatchNorm2d(2, { affine: false }).stateDict())).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    expect(Object.keys(new BatchNorm2d(2, { trackRunningStats: false }).stateDict())).toEqual(['weight', 'bias']);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['1.running_mean', '1.running_var', '1.num_batches_tracked']);
    net.dispose();
  });

  it('round-trips through safetensors, and the loaded module counts on from the saved count', () => {
    const rng = new Rng(11);
    const a = new Sequential(new BatchNorm2d(3, { momentum: 0.4 }));
    for (let i = 0; i < 2; i++) tidy(() => a.forward(Tensor.fromArray(randomInput(rng, [2, 3, 2, 2]), [2, 3, 2, 2])));
    const entries: Record<string, SafetensorsTensor> = {};
    for (const [name, t] of Object.entries(a.stateDict())) {
      entries[name] = { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: t.shape.slice(), data: t.toArray() };
    }
    const decoded = decodeSafetensors(encodeSafetensors(entries)).tensors;
    expect(decoded['0.num_batches_tracked']).toMatchObject({ dtype: 'I32', shape: [] });
    const b = new Sequential(new BatchNorm2d(3, { momentum: 0.4 }));
    const loaded: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(decoded)) loaded[name] = Tensor.fromArray(t.data, t.shape, { dtype: t.dtype === 'I32' ? 'int32' : 'float32' });
    b.loadStateDict(loaded);
    for (const [name, t] of Object.entries(b.stateDict())) expect(Array.from(t.toArray()), name).toEqual(Array.from(a.stateDict()[name].toArray()));
    // both take the same next step
    const x = randomInput(rng, [2, 3, 2, 2]);
    for (const m of [a, b]) tidy(() => m.forward(Tensor.fromArray(x, [2, 3, 2, 2])));
    expect(Array.from(b.stateDict()['0.num_batches_tracked'].toArray())).toEqual([3]);
    expect(Array.from(b.stateDict()['0.running_var'].toArray())).toEqual(Array.from(a.stateDict()['0.running_var'].toArray()));
    // a float where the integer count belongs is refused, like a shape mismatch
    const wrong = { ...loaded, '0.num_batches_tracked': Tensor.fromArray([3], []) };
    expect(() => b.loadStateDict(wrong)).toThrow(/num_batches_tracked is float32, expected int32/);
    for (const t of Object.values(loaded)) t.dispose();
    a.dispose();
    b.dispose();
  });

  it('loads its own state dict (the live tensors) as a no-op, as PyTorch does', () => {
    const bn = new BatchNorm2d(2);
    tidy(() => bn.forward(Tensor.fromArray([1, 2, 3, 5, 8, 13, 21, 34], [2, 2, 2, 1])));
    const before = Object.values(bn.stateDict()).map((t) => Array.from(t.toArray()));
    bn.loadStateDict(bn.stateDict());
    expect(Object.values(bn.stateDict()).map((t) => Array.from(t.toArray()))).toEqual(before);
    bn.dispose();
  });

  it('keeps buffers out of the parameters an optimizer gets, and alive through tidy', () => {
    const bn = new BatchNorm2d(2);
    expect(bn.parameters()).toEqual([bn.weight, bn.bias]);
    expect(bn.buffers()).toEqual([bn.runningMean, bn.runningVar, bn.numBatchesTracked]);
    expect(bn.buffers().every((t) => t.kept && !t.requiresGrad)).toBe(true);
    const opt = new SGD(bn.parameters(), { lr: 0.5, momentum: 0.9, weightDecay: 0.1 });
    tidy(() => sum(mul(bn.forward(Tensor.fromArray([1, 2, 3, 5, 8, 13, 21, 34], [2, 2, 2, 1])), Tensor.fromArray([1, -1, 2, 0, 1, 3, -2, 1], [2, 2, 2, 1]))).backward());
    const running = [Array.from(bn.runningMean!.toArray()), Array.from(bn.runningVar!.toArray())];
    opt.step();
    expect([Array.from(bn.runningMean!.toArray()), Array.from(bn.runningVar!.toArray())]).toEqual(running);
    expect(Array.from(bn.bias!.toArray())).not.toEqual([0, 0]);
    expect(bn.runningMean!.disposed).toBe(false);
    opt.dispose();
    bn.dispose();
  });

  for (const how of ['weightFrozen: true', 'weight.requiresGrad = false']) {
    it(`a frozen weight (${how}) gets no gradient and no update, and is still saved`, () => {
      const bn = how === 'weightFrozen: true' ? new BatchNorm2d(2, { weightFrozen: true }) : new BatchNorm2d(2);
      if (how !== 'weightFrozen: true') bn.weight!.requiresGrad = false;
      expect(bn.trainableParameters()).toEqual([bn.bias]);
      expect(Object.keys(bn.stateDict())).toContain('weight');
      // the optimizer may be handed every parameter, as in PyTorch: the frozen one has no gradient, so it is skipped
      const opt = new SGD(bn.parameters(), { lr: 0.5, weightDecay: 0.1 });
      tidy(() => sum(mul(bn.forward(Tensor.fromArray([1, 2, 3, 5, 8, 13, 21, 34], [2, 2, 2, 1])), Tensor.fromArray([1, -1, 2, 0, 1, 3, -2, 1], [2, 2, 2, 1]))).backward());
      expect(bn.weight!.grad).toBeNull();
      opt.step();
      expect(Array.from(bn.weight!.toArray())).toEqual([1, 1]);
      expect(Array.from(bn.bias!.toArray())).not.toEqual([0, 0]);
      opt.dispose();
      bn.dispose();
    });
  }

  it('train() and eval() reach a batch norm inside nested modules', () => {
    const bn = new BatchNorm2d(2);
    const net = new Sequential(new Sequential(bn));
    net.eval();
    expect(bn.training).toBe(false);
    net.train();
    expect(bn.training).toBe(true);
    net.dispose();
  });
});
