// resnet18 (kuangliu/pytorch-cifar's CIFAR ResNet-18): PyTorch's parameter
// names and 11,173,962 parameters, the residual BasicBlock against float64
// references, shapes and gradients.
import { describe, expect, it } from 'vitest';
import { Generator, Tensor, createModel, describeModel, modelNames, modelParameterCount, nn, noGrad, sum, tidy } from '../../src';
import { BasicBlock, ResNet18, resnet18Parameters } from '../../src/models';
import { zeroInit } from '../../src/nn/init';

// PyTorch's list(ResNet18().state_dict()) without the batch norm buffers, i.e. named_parameters()
const PYTORCH_NAMES = [
  'conv1.weight', 'bn1.weight', 'bn1.bias', 'layer1.0.conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias',
  'layer1.0.conv2.weight', 'layer1.0.bn2.weight', 'layer1.0.bn2.bias', 'layer1.1.conv1.weight', 'layer1.1.bn1.weight',
  'layer1.1.bn1.bias', 'layer1.1.conv2.weight', 'layer1.1.bn2.weight', 'layer1.1.bn2.bias', 'layer2.0.conv1.weight',
  'layer2.0.bn1.weight', 'layer2.0.bn1.bias', 'layer2.0.conv2.weight', 'layer2.0.bn2.weight', 'layer2.0.bn2.bias',
  'layer2.0.shortcut.0.weight', 'layer2.0.shortcut.1.weight', 'layer2.0.shortcut.1.bias', 'layer2.1.conv1.weight',
  'layer2.1.bn1.weight', 'layer2.1.bn1.bias', 'layer2.1.conv2.weight', 'layer2.1.bn2.weight', 'layer2.1.bn2.bias',
  'layer3.0.conv1.weight', 'layer3.0.bn1.weight', 'layer3.0.bn1.bias', 'layer3.0.conv2.weight', 'layer3.0.bn2.weight',
  'layer3.0.bn2.bias', 'layer3.0.shortcut.0.weight', 'layer3.0.shortcut.1.weight', 'layer3.0.shortcut.1.bias',
  'layer3.1.conv1.weight', 'layer3.1.bn1.weight', 'layer3.1.bn1.bias', 'layer3.1.conv2.weight', 'layer3.1.bn2.weight',
  'layer3.1.bn2.bias', 'layer4.0.conv1.weight', 'layer4.0.bn1.weight', 'layer4.0.bn1.bias', 'layer4.0.conv2.weight',
  'layer4.0.bn2.weight', 'layer4.0.bn2.bias', 'layer4.0.shortcut.0.weight', 'layer4.0.shortcut.1.weight',
  'layer4.0.shortcut.1.bias', 'layer4.1.conv1.weight', 'layer4.1.bn1.weight', 'layer4.1.bn1.bias', 'layer4.1.conv2.weight',
  'layer4.1.bn2.weight', 'layer4.1.bn2.bias', 'linear.weight', 'linear.bias',
];
const BATCH_NORMS = PYTORCH_NAMES.filter((n) => /(bn\d|shortcut\.1)\.weight$/.test(n)).map((n) => n.slice(0, -'.weight'.length));
const PARAMETERS = 11_173_962;

describe('resnet18: what PyTorch has', () => {
  it('is registered, with 11,173,962 parameters under PyTorch\'s names and shapes', () => {
    expect(modelNames).toContain('resnet18');
    const params = resnet18Parameters();
    expect(params.map(([n]) => n)).toEqual(PYTORCH_NAMES);
    expect(params.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0)).toBe(PARAMETERS);
    expect(modelParameterCount('resnet18')).toBe(PARAMETERS);
    expect(describeModel('resnet18')).toContain('11,173,962 parameters');
    const shape = new Map(params);
    expect(shape.get('conv1.weight')).toEqual([64, 3, 3, 3]);
    expect(shape.get('layer2.0.conv1.weight')).toEqual([128, 64, 3, 3]);
    expect(shape.get('layer3.0.shortcut.0.weight')).toEqual([256, 128, 1, 1]);
    expect(shape.get('layer4.1.conv2.weight')).toEqual([512, 512, 3, 3]);
    expect(shape.get('linear.weight')).toEqual([10, 512]);
    expect(BATCH_NORMS.length).toBe(20);
  });

  it('the built model has those parameters, and a state dict with every batch norm\'s buffers', () => {
    const model = createModel('resnet18', { generator: new Generator(0) });
    expect(model).toBeInstanceOf(ResNet18);
    expect(model.namedParameters().map(([n, t]) => [n, t.shape])).toEqual(resnet18Parameters());
    expect(model.parameterCount()).toBe(PARAMETERS);
    const buffers = BATCH_NORMS.flatMap((bn) => ['running_mean', 'running_var', 'num_batches_tracked'].map((b) => `${bn}.${b}`));
    expect(Object.keys(model.stateDict()).sort()).toEqual([...PYTORCH_NAMES, ...buffers].sort());
    // convs without bias, the linear layer with one; every conv and linear weight at PyTorch's default bound
    for (const [name, t] of model.namedParameters()) {
      if (!name.endsWith('weight') || t.shape.length === 1) continue;
      const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
      expect(t.toArray().every((v) => Math.abs(v) < 1 / Math.sqrt(fanIn)), name).toBe(true);
    }
    model.dispose();
  });

  it('train() and eval() reach every batch norm inside the blocks', () => {
    const model = new ResNet18({ generator: new Generator(0) });
    const all = (m: nn.Module): nn.Module[] => [m, ...m.namedChildren().flatMap(([, c]) => all(c))];
    model.eval();
    expect(all(model).every((m) => !m.training)).toBe(true);
    model.train();
    expect(all(model).every((m) => m.training)).toBe(true);
    expect(all(model).filter((m) => m instanceof BasicBlock).length).toBe(8);
    model.dispose();
  });

  it('maps [2, 3, 32, 32] images to [2, 10] logits, and every parameter gets a gradient', () => {
    const model = createModel('resnet18', { generator: new Generator(0) });
    tidy(() => {
      const y = model.forward(Tensor.randn([2, 3, 32, 32], { generator: new Generator(1) }));
      expect(y.shape).toEqual([2, 10]);
      expect(Array.from(y.toArray()).every(Number.isFinite)).toBe(true);
      sum(y).backward();
    });
    for (const [name, p] of model.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect(p.grad!.shape, name).toEqual(p.shape);
    }
    model.zeroGrad();
    model.eval();
    tidy(() => expect(noGrad(() => model.forward(Tensor.randn([3, 3, 32, 32], { generator: new Generator(2) }))).shape).toEqual([3, 10]));
    model.dispose();
  });
});

describe('BasicBlock', () => {
  it('has kuangliu\'s parameter names: a projection shortcut only where the shape changes', () => {
    // the names are those of resnet18's blocks; built only where batch norm exists
    const names = resnet18Parameters().map(([n]) => n);
    expect(names.filter((n) => n.startsWith('layer1.0.'))).toEqual([
      'layer1.0.conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias', 'layer1.0.conv2.weight', 'layer1.0.bn2.weight', 'layer1.0.bn2.bias',
    ]);
    expect(names.filter((n) => n.includes('shortcut')).length).toBe(9);
  });

  it('with conv2 at zero it is relu(x + 0): the identity shortcut adds the input', () => {
    const block = new BasicBlock(4, 4, 1, { generator: new Generator(3) });
    expect(block.namedParameters().map(([n]) => n)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'bn2.weight', 'bn2.bias']);
    zeroInit(block.conv2.weight);
    // training mode: bn2 of an all-zero batch is (0 - 0) / sqrt(0 + eps) * 1 + 0 = 0
    const x = Tensor.randn([2, 4, 6, 6], { generator: new Generator(4) });
    const y = noGrad(() => block.forward(x));
    expect(Array.from(y.toArray())).toEqual(Array.from(x.toArray()).map((v) => Math.max(v, 0)));
    [x, y].forEach((t) => t.dispose());
    block.dispose();
  });

  it('with a stride or a new width the shortcut is a 1x1 conv and a batch norm: relu(bn(conv1x1(x)))', () => {
    const block = new BasicBlock(3, 5, 2, { generator: new Generator(5) });
    expect(block.namedParameters().map(([n]) => n).slice(6)).toEqual(['shortcut.0.weight', 'shortcut.1.weight', 'shortcut.1.bias']);
    zeroInit(block.conv2.weight);
    block.eval(); // fresh running statistics: mean 0, variance 1, so bn(v) = v / sqrt(1 + 1e-5)
    const x = Tensor.randn([2, 3, 6, 6], { generator: new Generator(6) });
    const y = noGrad(() => block.forward(x));
    expect(y.shape).toEqual([2, 5, 3, 3]);
    const xs = x.toArray(), ys = y.toArray();
    const w = (block.shortcut.layers[0] as nn.Conv2d).weight.toArray();
    for (let n = 0; n < 2; n++) for (let o = 0; o < 5; o++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let c = 0; c < 3; c++) s += w[o * 3 + c] * xs[((n * 3 + c) * 6 + 2 * i) * 6 + 2 * j];
      const expected = Math.max(0, s / Math.sqrt(1 + 1e-5));
      expect(Math.abs(ys[((n * 5 + o) * 3 + i) * 3 + j] - expected)).toBeLessThan(1e-5);
    }
    [x, y].forEach((t) => t.dispose());
    block.dispose();
  });
});
