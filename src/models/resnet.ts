// resnet18: the CIFAR-10 ResNet-18 of kuangliu/pytorch-cifar (11,173,962
// parameters). a 3x3 stem without pooling, four stages of two BasicBlocks
// (64, 128, 256, 512 channels; the last three halve the resolution), a 4x4
// average pool and a linear layer. the attribute names are PyTorch's
// (conv1, bn1, layer1.0.conv1, layer2.0.shortcut.0, linear, ...), so a
// checkpoint loads into that model with load_state_dict(strict=True).
import type { Tensor } from '../tensor';
import { add, relu } from '../ops/elementwise';
import { avgPool2d } from '../ops/pool';
import { flatten } from '../ops/shape';
import { BatchNorm2d, Conv2d, Linear, Module, Sequential } from '../nn';
import type { ModelInit } from './context';

/** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut projects when the shape changes */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  /** empty (the identity) unless the block changes the resolution or the width */
  readonly shortcut: Sequential;

  constructor(inPlanes: number, planes: number, stride: number, init: ModelInit) {
    super();
    const { generator, device } = init;
    this.conv1 = new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, generator, device });
    this.bn1 = new BatchNorm2d(planes, { device });
    this.conv2 = new Conv2d(planes, planes, 3, { stride: 1, padding: 1, bias: false, generator, device });
    this.bn2 = new BatchNorm2d(planes, { device });
    // an empty nn.Sequential, as in PyTorch: it has no parameters, so no state dict keys
    this.shortcut = stride !== 1 || inPlanes !== planes
      ? new Sequential(new Conv2d(inPlanes, planes, 1, { stride, bias: false, generator, device }), new BatchNorm2d(planes, { device }))
      : new Sequential();
    this.registerModule('conv1', this.conv1);
    this.registerModule('bn1', this.bn1);
    this.registerModule('conv2', this.conv2);
    this.registerModule('bn2', this.bn2);
    this.registerModule('shortcut', this.shortcut);
  }

  forward(x: Tensor): Tensor {
    const out = relu(this.bn1.forward(this.conv1.forward(x)));
    return relu(add(this.bn2.forward(this.conv2.forward(out)), this.shortcut.forward(x)));
  }
}

/** the stages' widths and first strides */
const STAGES: Array<[number, number]> = [[64, 1], [128, 2], [256, 2], [512, 2]];
const BLOCKS_PER_STAGE = 2;

export class ResNet18 extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[];
  readonly linear: Linear;

  constructor(init: ModelInit, numClasses = 10) {
    super();
    const { generator, device } = init;
    this.conv1 = new Conv2d(3, 64, 3, { stride: 1, padding: 1, bias: false, generator, device });
    this.bn1 = new BatchNorm2d(64, { device });
    this.registerModule('conv1', this.conv1);
    this.registerModule('bn1', this.bn1);
    let inPlanes = 64;
    this.layers = STAGES.map(([planes, stride], i) => {
      const blocks: BasicBlock[] = [];
      for (let b = 0; b < BLOCKS_PER_STAGE; b++) {
        blocks.push(new BasicBlock(inPlanes, planes, b === 0 ? stride : 1, init));
        inPlanes = planes;
      }
      const layer = new Sequential(...blocks);
      this.registerModule(`layer${i + 1}`, layer);
      return layer;
    });
    this.linear = new Linear(512, numClasses, { generator, device });
    this.registerModule('linear', this.linear);
  }

  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.forward(this.conv1.forward(x)));
    for (const layer of this.layers) out = layer.forward(out);
    return this.linear.forward(flatten(avgPool2d(out, 4), 1));
  }
}

/**
 * resnet18's parameters as PyTorch's named_parameters() lists them, [name,
 * shape], without building the model (batch norm buffers are not parameters)
 */
export function resnet18Parameters(numClasses = 10): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  const bn = (name: string, c: number) => out.push([`${name}.weight`, [c]], [`${name}.bias`, [c]]);
  out.push(['conv1.weight', [64, 3, 3, 3]]);
  bn('bn1', 64);
  let inPlanes = 64;
  STAGES.forEach(([planes, stride], i) => {
    for (let b = 0; b < BLOCKS_PER_STAGE; b++) {
      const pre = `layer${i + 1}.${b}`;
      out.push([`${pre}.conv1.weight`, [planes, inPlanes, 3, 3]]);
      bn(`${pre}.bn1`, planes);
      out.push([`${pre}.conv2.weight`, [planes, planes, 3, 3]]);
      bn(`${pre}.bn2`, planes);
      if ((b === 0 ? stride : 1) !== 1 || inPlanes !== planes) {
        out.push([`${pre}.shortcut.0.weight`, [planes, inPlanes, 1, 1]]);
        bn(`${pre}.shortcut.1`, planes);
      }
      inPlanes = planes;
    }
  });
  out.push(['linear.weight', [numClasses, 512]], ['linear.bias', [numClasses]]);
  return out;
}
