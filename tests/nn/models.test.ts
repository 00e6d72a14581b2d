// the models by name: the parameter counts of docs/reference-results.md,
// PyTorch's names, shapes, and that the default model can learn (it overfits a
// tiny batch).
import { describe, expect, it } from 'vitest';
import {
  Adam, CudalabError, Generator, Tensor, createModel, crossEntropy, correctCount, describeModel, modelNames,
  modelParameterCount, native, noGrad, tidy,
} from '../../src';

const expectedCounts: Record<string, number> = {
  seedcnn: 532_202, // c16-32-p1-fc256
  ptcnn: 2_122_186,
  tfcnn: 122_570,
  tutorial: 62_006,
};

describe('the models', () => {
  it('are seedcnn (the default), ptcnn, tfcnn, tutorial, resnet18 and airbench94', () => {
    expect(modelNames).toEqual(['seedcnn', 'ptcnn', 'tfcnn', 'tutorial', 'resnet18', 'airbench94']);
  });

  for (const name of Object.keys(expectedCounts)) {
    it(`${name}: ${expectedCounts[name].toLocaleString('en-US')} parameters, logits [N, 10] for CIFAR-10 images`, () => {
      const model = createModel(name, { generator: new Generator(0) });
      const counted = model.parameters().reduce((s, p) => s + p.numel, 0);
      expect(counted).toBe(expectedCounts[name]);
      expect(modelParameterCount(name)).toBe(expectedCounts[name]);
      expect(describeModel(name)).toContain(`${expectedCounts[name].toLocaleString('en-US')} parameters`);
      tidy(() => {
        const y = noGrad(() => model.forward(Tensor.randn([2, 3, 32, 32], { generator: new Generator(1) })));
        expect(y.shape).toEqual([2, 10]);
        expect(Array.from(y.toArray()).every(Number.isFinite)).toBe(true);
      });
      model.dispose();
    });
  }

  it('seedcnn has nn.Sequential\'s names and PyTorch\'s shapes, so checkpoints load in PyTorch', () => {
    const model = createModel('seedcnn', { generator: new Generator(0) });
    expect(model.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['0.weight', [16, 3, 3, 3]], ['0.bias', [16]],
      ['3.weight', [32, 16, 3, 3]], ['3.bias', [32]],
      ['7.weight', [256, 2048]], ['7.bias', [256]],
      ['9.weight', [10, 256]], ['9.bias', [10]],
    ]);
    model.dispose();
  });

  it('describes each model in one line', () => {
    expect(describeModel('seedcnn')).toBe(
      'conv3x3(3->16, pad 1)-ReLU-maxpool2 - conv3x3(16->32, pad 1)-ReLU-maxpool2 - flatten(2048) - linear(2048->256)-ReLU - linear(256->10); 532,202 parameters',
    );
    for (const name of modelNames) expect(describeModel(name)).not.toContain('\n');
  });

  it('an unknown name is an error that lists the models', () => {
    let err: CudalabError | null = null;
    try {
      createModel('resnet', { generator: new Generator(0) });
    } catch (e) {
      err = e as CudalabError;
    }
    expect(err?.code).toBe('ERR_MODEL');
    expect(err?.message).toBe('unknown model "resnet"; the models are: seedcnn, ptcnn, tfcnn, tutorial, resnet18, airbench94, or a model file (./my-net.js)');
    expect(() => describeModel('toString')).toThrow(/unknown model "toString"/);
  });

  it('the same seed builds the same model', () => {
    const a = createModel('tfcnn', { generator: new Generator(9) });
    const b = createModel('tfcnn', { generator: new Generator(9) });
    const bytes = (t: Tensor): Buffer => Buffer.from(t.toArray().buffer);
    a.parameters().forEach((p, i) => expect(bytes(p).equals(bytes(b.parameters()[i]))).toBe(true));
    a.dispose();
    b.dispose();
  });
});

describe('learning', () => {
  it('seedcnn overfits a batch of 8 random images in 50 Adam steps, with flat memory', () => {
    const g = new Generator(7);
    const model = createModel('seedcnn', { generator: g });
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    const x = Tensor.randn([8, 3, 32, 32], { generator: g });
    const y = Tensor.fromArray([0, 1, 2, 3, 4, 5, 6, 7], [8], { dtype: 'int32' });
    const losses: number[] = [];
    let storagesAfterFirst = 0;
    for (let step = 0; step < 50; step++) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = crossEntropy(model.forward(x), y);
        l.backward();
        opt.step();
        return l.item();
      });
      losses.push(loss);
      if (step === 0) storagesAfterFirst = native().memoryStats('cpu').storages;
    }
    expect(native().memoryStats('cpu').storages).toBe(storagesAfterFirst);
    console.log(`seedcnn overfit: loss ${losses[0].toFixed(3)} -> ${losses[49].toFixed(4)}`);
    expect(losses[0]).toBeGreaterThan(1.8);
    expect(losses[49]).toBeLessThan(0.05);
    const correct = tidy(() => noGrad(() => correctCount(model.eval().forward(x), y).item()));
    expect(correct).toBe(8);
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
