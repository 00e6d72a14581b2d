// Adam, AdamW and SGD against PyTorch's update rules written out in float64
// (torch/optim/adam.py and sgd.py, single-tensor path), over several steps
// with changing gradients, and against a few updates worked out by hand.
import { describe, expect, it } from 'vitest';
import { Adam, CudalabError, SGD, Tensor, keep, tidy } from '../../src';
import { createOptimizer, groupParameters, type Optimizer } from '../../src/optim';
import { expectClose, TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';
import { adamStepRef, sgdStepRef, type AdamConfig, type SgdConfig } from '../../src/spec/optim';

type AdamHyper = AdamConfig;
type SgdHyper = SgdConfig;

// the optimizer references of the op specs (torch.optim's single-tensor
// updates in float64), driven over a whole gradient sequence
function adamReference(p0: Float32Array, grads: Float32Array[], h: AdamHyper): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length), v = new Float64Array(p.length);
  grads.forEach((g, s) => adamStepRef(p, g, m, v, h, s + 1));
  return p;
}

function sgdReference(p0: Float32Array, grads: Float32Array[], h: SgdHyper): Float64Array {
  const p = Float64Array.from(p0);
  const buf = new Float64Array(p.length);
  grads.forEach((g, s) => sgdStepRef(p, g, buf, h, s === 0));
  return p;
}

/** runs the optimizer over the gradient sequence on a fresh parameter; returns its values */
function run(make: (params: Tensor[]) => { step(): void; zeroGrad(): void; dispose(): void }, p0: Float32Array, grads: Float32Array[]): Float32Array {
  const p = keep(Tensor.fromArray(p0, [p0.length], { requiresGrad: true }));
  const opt = make([p]);
  for (const g of grads) {
    p.grad = Tensor.fromArray(g, [g.length]);
    opt.step();
    opt.zeroGrad();
  }
  const out = p.toArray() as Float32Array;
  opt.dispose();
  p.dispose();
  return out;
}

const rng = new Rng(21);
const p0 = rng.floats(50);
const grads = Array.from({ length: 6 }, () => rng.floats(50, -2, 2));

describe('Adam', () => {
  it('a first step worked by hand: p - lr * g / (|g| + eps)', () => {
    // step 1: m = (1-b1) g, v = (1-b2) g^2, bias corrections cancel them
    const out = run((ps) => new Adam(ps, { lr: 0.1 }), Float32Array.of(1, -1, 0.5), [Float32Array.of(0.5, 0.25, -4)]);
    expect(out[0]).toBeCloseTo(0.9, 6);
    expect(out[1]).toBeCloseTo(-1.1, 6);
    expect(out[2]).toBeCloseTo(0.6, 6);
  });

  const cases: Array<[string, AdamHyper]> = [
    ['defaults', { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }],
    ['weight decay (L2 in the gradient)', { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false }],
    ['AdamW (decoupled weight decay)', { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, decoupled: true }],
  ];
  for (const [name, h] of cases) {
    it(`matches PyTorch's update over 6 steps: ${name}`, () => {
      const out = run((ps) => new Adam(ps, { lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.weightDecay, decoupled: h.decoupled }), p0, grads);
      expectClose(out, adamReference(p0, grads, h), TOL.reduce, name);
    });
  }

  it('skips a parameter without a gradient, and lr can change between steps', () => {
    const a = keep(Tensor.fromArray([1, 2], [2], { requiresGrad: true }));
    const b = keep(Tensor.fromArray([3], [1], { requiresGrad: true }));
    const opt = new Adam([a, b], { lr: 0.5 });
    a.grad = Tensor.fromArray([1, -1], [2]);
    opt.step();
    expect(Array.from(b.toArray())).toEqual([3]);
    expect(a.toArray()[0]).toBeCloseTo(0.5, 6);
    opt.lr = 0.25;
    a.grad.dispose();
    a.grad = Tensor.fromArray([1, -1], [2]);
    opt.step();
    expect(a.toArray()[0]).toBeCloseTo(0.25, 5);
    opt.zeroGrad();
    expect(a.grad).toBe(null);
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  it('state dict round trip: a fresh optimizer resumes with identical updates', () => {
    const h: AdamHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false };
    const p = keep(Tensor.fromArray(p0, [50], { requiresGrad: true }));
    const opt = new Adam([p], { lr: h.lr });
    for (const g of grads.slice(0, 3)) {
      p.grad = Tensor.fromArray(g, [50]);
      opt.step();
      opt.zeroGrad();
    }
    const sd = opt.stateDict();
    expect(sd.step).toBe(3);
    expect(Object.keys(sd.buffers).sort()).toEqual(['m.0', 'v.0']);
    expect(sd.hyper).toMatchObject({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false });
    const resumed = new Adam([p], { lr: 0.5 }); // the state's lr wins
    resumed.loadStateDict(sd);
    expect(resumed.lr).toBe(1e-2);
    for (const g of grads.slice(3)) {
      p.grad = Tensor.fromArray(g, [50]);
      resumed.step();
      resumed.zeroGrad();
    }
    expectClose(p.toArray(), adamReference(p0, grads, h), TOL.reduce, 'resumed');
    [opt, resumed, p].forEach((x) => x.dispose());
  });

  it('loadStateDict names what does not fit', () => {
    const p = keep(Tensor.zeros([4], { requiresGrad: true }));
    const opt = new Adam([p]);
    tidy(() => {
      const bad = { step: 2, hyper: {}, buffers: { 'm.0': Tensor.zeros([5]), 'v.0': Tensor.zeros([4]), 'm.3': Tensor.zeros([4]), 'x.0': Tensor.zeros([4]) } };
      let err: CudalabError | null = null;
      try {
        opt.loadStateDict(bad);
      } catch (e) {
        err = e as CudalabError;
      }
      expect(err?.code).toBe('ERR_STATE');
      expect(err?.message).toContain('size mismatch for "m.0": the state has [5], parameter 0 has [4]');
      expect(err?.message).toContain('buffer "m.3" is for parameter 3, there are 1');
      expect(err?.message).toContain('unexpected buffer "x.0"');
    });
    p.dispose();
  });

  it('rejects bad hyperparameters', () => {
    const p = keep(Tensor.zeros([1], { requiresGrad: true }));
    expect(() => new Adam([p], { lr: -1 })).toThrow(/Adam: lr must be in \[0, Infinity\], got -1/);
    expect(() => new Adam([p], { betas: [1, 0.9] })).toThrow(/betas\[0\] must be in/);
    expect(() => new Adam([])).toThrow(/non-empty array of parameters/);
    p.dispose();
  });
});

describe('SGD', () => {
  it('a plain step worked by hand: p - lr * (g + wd * p)', () => {
    const out = run((ps) => new SGD(ps, { lr: 0.1, weightDecay: 0.5 }), Float32Array.of(2, -1), [Float32Array.of(1, 3)]);
    // 2 - 0.1 * (1 + 1) = 1.8 ; -1 - 0.1 * (3 - 0.5) = -1.25
    expect(out[0]).toBeCloseTo(1.8, 6);
    expect(out[1]).toBeCloseTo(-1.25, 6);
  });

  const cases: Array<[string, SgdHyper]> = [
    ['no momentum', { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }],
    ['momentum with dampening and weight decay', { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false }],
    ['nesterov', { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true }],
  ];
  for (const [name, h] of cases) {
    it(`matches PyTorch's update over 6 steps: ${name}`, () => {
      const out = run((ps) => new SGD(ps, h), p0, grads);
      expectClose(out, sgdReference(p0, grads, h), TOL.reduce, name);
    });
  }

  it('keeps momentum buffers in its state dict, and resumes from them', () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false };
    const p = keep(Tensor.fromArray(p0, [50], { requiresGrad: true }));
    const opt = new SGD([p], h);
    for (const g of grads.slice(0, 2)) {
      p.grad = Tensor.fromArray(g, [50]);
      opt.step();
      opt.zeroGrad();
    }
    const sd = opt.stateDict();
    expect(Object.keys(sd.buffers)).toEqual(['momentum.0']);
    const resumed = new SGD([p], { lr: 1 });
    resumed.loadStateDict(sd);
    for (const g of grads.slice(2)) {
      p.grad = Tensor.fromArray(g, [50]);
      resumed.step();
      resumed.zeroGrad();
    }
    expectClose(p.toArray(), sgdReference(p0, grads, h), TOL.reduce, 'resumed');
    [opt, resumed, p].forEach((x) => x.dispose());
  });

  it('needs lr, and nesterov needs momentum without dampening', () => {
    const p = keep(Tensor.zeros([1], { requiresGrad: true }));
    expect(() => new SGD([p], {} as { lr: number })).toThrow(/SGD: lr is required/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov momentum requires momentum > 0 and dampening = 0/);
    p.dispose();
  });
});

describe('createOptimizer', () => {
  it("builds the run config's optimizer with its hyperparameters: adam", () => {
    const h: AdamHyper = { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false };
    const made: Optimizer[] = [];
    const out = run((ps) => {
      const o = createOptimizer(ps, { optimizer: 'adam', lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.weightDecay });
      made.push(o);
      return o;
    }, p0, grads);
    expect(made[0]).toBeInstanceOf(Adam);
    expectClose(out, adamReference(p0, grads, h), TOL.reduce, 'adam');
  });

  it("builds the run config's optimizer with its hyperparameters: sgd", () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true };
    const made: Optimizer[] = [];
    const out = run((ps) => {
      const o = createOptimizer(ps, { optimizer: 'sgd', lr: h.lr, momentum: h.momentum, nesterov: h.nesterov, weightDecay: h.weightDecay });
      made.push(o);
      return o;
    }, p0, grads);
    expect(made[0]).toBeInstanceOf(SGD);
    expectClose(out, sgdReference(p0, grads, h), TOL.reduce, 'sgd');
  });

  it("takes PyTorch's defaults for what the settings leave out", () => {
    const out = run((ps) => createOptimizer(ps, { optimizer: 'sgd', lr: 0.1 }), p0, grads);
    expectClose(out, sgdReference(p0, grads, { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }), TOL.reduce, 'sgd defaults');
  });
});

describe('parameter groups', () => {
  // three parameters: a and c in one group, b in another; each group's own lr
  // and weight decay, a schedule's factor changing every group's lr per step
  const sizes = [7, 5, 3];
  const starts = sizes.map((n) => rng.floats(n));
  const gradSeq = Array.from({ length: 5 }, () => sizes.map((n) => rng.floats(n, -2, 2)));
  const factors = [0.2, 0.6, 1, 0.5, 0.07];

  /** steps the optimizer over gradSeq with group lr = initial lr x factor; returns every parameter's values */
  function runGroups(make: (ps: Tensor[]) => Optimizer): Float32Array[] {
    const ps = starts.map((s) => keep(Tensor.fromArray(s, [s.length], { requiresGrad: true })));
    const opt = make(ps);
    const initial = opt.paramGroups.map((g) => g.lr);
    gradSeq.forEach((gs, k) => {
      opt.paramGroups.forEach((g, i) => (g.lr = initial[i] * factors[k]));
      ps.forEach((p, i) => (p.grad = Tensor.fromArray(gs[i], [gs[i].length])));
      opt.step();
      opt.zeroGrad();
    });
    const out = ps.map((p) => p.toArray() as Float32Array);
    opt.dispose();
    ps.forEach((p) => p.dispose());
    return out;
  }

  it("SGD: each group steps with its own lr and weight decay (PyTorch's param_groups), nesterov momentum shared", () => {
    const base = { momentum: 0.85, dampening: 0, nesterov: true };
    const groupA = { lr: 0.05 * 64, weightDecay: 0.01 / 64 };
    const groupB = { lr: 0.05, weightDecay: 0.01 };
    const out = runGroups(([a, b, c]) => new SGD([{ params: [a, c], ...groupA }, { params: [b] }], { lr: groupB.lr, weightDecay: groupB.weightDecay, ...base }));
    const ref = (i: number, g: { lr: number; weightDecay: number }) => {
      const p = Float64Array.from(starts[i]);
      const buf = new Float64Array(p.length);
      gradSeq.forEach((gs, k) => sgdStepRef(p, gs[i], buf, { ...base, lr: g.lr * factors[k], weightDecay: g.weightDecay }, k === 0));
      return p;
    };
    expectClose(out[0], ref(0, groupA), TOL.reduce, 'a (group 0)');
    expectClose(out[1], ref(1, groupB), TOL.reduce, 'b (group 1, the defaults)');
    expectClose(out[2], ref(2, groupA), TOL.reduce, 'c (group 0)');
  });

  it('Adam and AdamW: each group its own lr and weight decay', () => {
    for (const decoupled of [false, true]) {
      const shared = { beta1: 0.9, beta2: 0.99, eps: 1e-8, decoupled };
      const groupA = { lr: 0.02, weightDecay: 0.3 };
      const groupB = { lr: 0.005, weightDecay: 0 };
      const out = runGroups(([a, b, c]) =>
        createOptimizer([{ params: [b], ...groupB }, { params: [a, c] }], {
          optimizer: decoupled ? 'adamw' : 'adam', lr: groupA.lr, weightDecay: groupA.weightDecay, betas: [shared.beta1, shared.beta2], eps: shared.eps,
        }),
      );
      const ref = (i: number, g: { lr: number; weightDecay: number }) => {
        const p = Float64Array.from(starts[i]);
        const m = new Float64Array(p.length), v = new Float64Array(p.length);
        gradSeq.forEach((gs, k) => adamStepRef(p, gs[i], m, v, { ...shared, lr: g.lr * factors[k], weightDecay: g.weightDecay }, k + 1));
        return p;
      };
      expectClose(out[0], ref(0, groupA), TOL.reduce, `a (${decoupled ? 'adamw' : 'adam'})`);
      expectClose(out[1], ref(1, groupB), TOL.reduce, `b (${decoupled ? 'adamw' : 'adam'})`);
      expectClose(out[2], ref(2, groupA), TOL.reduce, `c (${decoupled ? 'adamw' : 'adam'})`);
    }
  });

  it('groupParameters: the rest at the run\'s own lr and weight decay, then the first rule that matches a name, scaling them', () => {
    const t = (n: number) => keep(Tensor.zeros([n], { requiresGrad: true }));
    const named: Array<[string, Tensor]> = [['0.weight', t(1)], ['0.bias', t(1)], ['2.norm1.bias', t(2)], ['2.conv1.weight', t(3)], ['4.norm2.bias', t(2)]];
    const groups = groupParameters(named, [{ match: 'norm', lrScale: 64, weightDecayScale: 1 / 64 }, { match: 'bias$', lrScale: 2 }, { match: 'nothing' }], { lr: 1.5, weightDecay: 0.01 });
    expect(groups.map((g) => [g.params.map((p) => named.find(([, q]) => q === p)![0]), g.lr, g.weightDecay])).toEqual([
      [['0.weight', '2.conv1.weight'], 1.5, 0.01],
      [['2.norm1.bias', '4.norm2.bias'], 96, 0.01 / 64],
      [['0.bias'], 3, 0.01],
    ]);
    // the state dict keeps each group's lr and weight decay, and a fresh optimizer takes them back
    const opt = new SGD(groups, { lr: 1.5, weightDecay: 0.01, momentum: 0.9 });
    expect(opt.params.length).toBe(5);
    expect(opt.stateDict().hyper).toMatchObject({ lr: 1.5, weightDecay: 0.01, 'lr.1': 96, 'weightDecay.1': 0.01 / 64, 'lr.2': 3, 'weightDecay.2': 0.01 });
    const again = new SGD(groupParameters(named, [{ match: 'norm' }, { match: 'bias$' }], { lr: 0.1, weightDecay: 0 }), { lr: 0.1, momentum: 0.9 });
    again.loadStateDict(opt.stateDict());
    expect(again.paramGroups.map((g) => [g.lr, g.weightDecay])).toEqual([[1.5, 0.01], [96, 0.01 / 64], [3, 0.01]]);
    // setting lr sets every group's (the single-group use of before)
    again.lr = 0.5;
    expect(again.paramGroups.map((g) => g.lr)).toEqual([0.5, 0.5, 0.5]);
    expect(() => new SGD([{ params: [] }], { lr: 0.1 })).toThrow(/parameter group 0 must be \{params: a non-empty array/);
    expect(() => new SGD([{ params: [named[0][1]] }, { params: [named[0][1]] }], { lr: 0.1 })).toThrow(/appears twice/);
    [opt, again].forEach((o) => o.dispose());
    named.forEach(([, p]) => p.dispose());
  });
});
