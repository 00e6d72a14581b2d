// Module: names, state dicts, modes, gradients, devices.
import { describe, expect, it } from 'vitest';
import {
  Conv2d, CudalabError, Dropout, Flatten, Generator, Linear, MaxPool2d, Module, ReLU, Sequential, Tensor, native, tidy,
} from '../../src';

const cudaInfo = native().cudaInfo();

class Net extends Module {
  readonly features: Sequential;
  readonly head: Linear;
  constructor(g: Generator) {
    super();
    this.features = new Sequential(new Conv2d(3, 4, 3, { padding: 1, generator: g }), new ReLU(), new MaxPool2d(2), new Flatten());
    this.head = new Linear(4 * 2 * 2, 5, { generator: g });
    this.registerModule('features', this.features);
    this.registerModule('head', this.head);
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x));
  }
}

describe('parameter names', () => {
  it('are PyTorch-style and in registration order, through nesting', () => {
    const net = new Net(new Generator(0));
    expect(net.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['features.0.weight', [4, 3, 3, 3]],
      ['features.0.bias', [4]],
      ['head.weight', [5, 16]],
      ['head.bias', [5]],
    ]);
    expect(net.parameters().every((p) => p.requiresGrad && p.kept)).toBe(true);
    expect(net.parameterCount()).toBe(4 * 27 + 4 + 80 + 5);
    net.dispose();
  });

  it('a layer without bias has no bias parameter', () => {
    const seq = new Sequential(new Conv2d(1, 2, 3, { bias: false }), new ReLU(), new Linear(2, 2, { bias: false }));
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '2.weight']);
    seq.dispose();
  });
});

describe('state dicts', () => {
  it('round trip: a second model loads the first one\'s state and computes the same', () => {
    const a = new Net(new Generator(1));
    const b = new Net(new Generator(2));
    const x = Tensor.randn([2, 3, 4, 4], { generator: new Generator(3) });
    tidy(() => {
      const ya = a.forward(x).toArray();
      expect(Array.from(b.forward(x).toArray())).not.toEqual(Array.from(ya));
      const sd = a.stateDict();
      expect(Object.keys(sd)).toEqual(['features.0.weight', 'features.0.bias', 'head.weight', 'head.bias']);
      b.loadStateDict(sd);
      expect(Array.from(b.forward(x).toArray())).toEqual(Array.from(ya));
      // copies, not shared storage: changing b leaves a alone
      for (const [name, t] of b.namedParameters()) expect(t).not.toBe(sd[name]);
    });
    a.dispose();
    b.dispose();
    x.dispose();
  });

  it('lists missing and unexpected keys and size mismatches in one error, and copies nothing', () => {
    const net = new Net(new Generator(1));
    const before = net.parameters().map((p) => Array.from(p.toArray()));
    tidy(() => {
      const sd: Record<string, Tensor> = { ...net.stateDict() };
      sd['head.weight'] = Tensor.zeros([5, 17]);
      sd['features.0.bias'] = Tensor.zeros([4]); // a valid one: must not be copied either
      delete sd['head.bias'];
      sd['head.extra'] = Tensor.zeros([1]);
      let err: CudalabError | null = null;
      try {
        net.loadStateDict(sd);
      } catch (e) {
        err = e as CudalabError;
      }
      expect(err).toBeInstanceOf(CudalabError);
      expect(err!.code).toBe('ERR_STATE');
      expect(err!.message).toContain('missing keys: "head.bias"');
      expect(err!.message).toContain('unexpected keys: "head.extra"');
      expect(err!.message).toContain('size mismatch for head.weight: the state dict has [5,17], the model has [5,16]');
    });
    expect(net.parameters().map((p) => Array.from(p.toArray()))).toEqual(before);
    net.dispose();
  });
});

describe('modes and gradients', () => {
  it('train/eval reach every sub-module; dropout acts only in training', () => {
    const g = new Generator(4);
    const seq = new Sequential(new Linear(8, 8, { generator: g }), new Dropout(0.5, g));
    tidy(() => {
      const x = Tensor.ones([4, 8]);
      seq.eval();
      expect(seq.layers.every((m) => !m.training)).toBe(true);
      const e1 = seq.forward(x).toArray();
      const e2 = seq.forward(x).toArray();
      expect(Array.from(e1)).toEqual(Array.from(e2));
      seq.train();
      expect(seq.layers.every((m) => m.training)).toBe(true);
      const t = seq.forward(x).toArray();
      const zeros = Array.from(t).filter((v) => v === 0).length;
      expect(zeros).toBeGreaterThan(4);
      // survivors are scaled by 1/(1-p) = 2
      for (let i = 0; i < t.length; i++) if (t[i] !== 0) expect(t[i]).toBeCloseTo(2 * e1[i], 5);
    });
    seq.dispose();
  });

  it('zeroGrad frees every parameter gradient', () => {
    const net = new Net(new Generator(5));
    tidy(() => {
      net.forward(Tensor.ones([1, 3, 4, 4])).sum().backward();
    });
    expect(net.parameters().every((p) => p.grad !== null && !p.grad.disposed)).toBe(true);
    const before = native().memoryStats('cpu').storages;
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    expect(native().memoryStats('cpu').storages).toBe(before - 4);
    net.dispose();
  });

  it('a model built inside a tidy keeps its parameters', () => {
    const net = tidy(() => {
      const m = new Net(new Generator(6));
      m.forward(Tensor.ones([1, 3, 4, 4]));
      return m;
    });
    expect(net.parameters().every((p) => !p.disposed)).toBe(true);
    net.dispose();
  });
});

describe('devices', () => {
  it('to("cpu") on a cpu model keeps the same tensors', () => {
    const net = new Net(new Generator(7));
    const params = net.parameters();
    expect(net.to('cpu')).toBe(net);
    expect(net.parameters()).toEqual(params);
    net.dispose();
  });

  it.skipIf(!cudaInfo.available)(`to("cuda") moves parameters in place, values intact (needs a GPU${cudaInfo.available ? '' : `: ${cudaInfo.reason}`})`, () => {
    const net = new Net(new Generator(8));
    const params = net.parameters();
    const values = params.map((p) => Array.from(p.toArray()));
    net.to('cuda');
    expect(net.parameters().every((p, i) => p === params[i] && p.device === 'cuda')).toBe(true);
    expect(net.parameters().map((p) => Array.from(p.toArray()))).toEqual(values);
    net.to('cpu');
    expect(net.parameters().map((p) => Array.from(p.toArray()))).toEqual(values);
    net.dispose();
  });
});
