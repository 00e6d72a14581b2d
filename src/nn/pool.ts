// nn.MaxPool2d and nn.AvgPool2d: square windows, stride defaults to the kernel;
// nn.AdaptiveAvgPool2d to one output per plane (the global average pool).
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { avgPool2d, globalAvgPool2d, maxPool2d } from '../ops/pool';
import { Module } from './module';

export class MaxPool2d extends Module {
  constructor(readonly kernel: number, readonly stride: number = kernel, readonly padding = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernel, this.stride, this.padding);
  }
  override extraRepr(): string {
    return `kernel_size=${this.kernel}, stride=${this.stride}, padding=${this.padding}`;
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernel: number, readonly stride: number = kernel, readonly padding = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernel, this.stride, this.padding);
  }
  override extraRepr(): string {
    return `kernel_size=${this.kernel}, stride=${this.stride}, padding=${this.padding}`;
  }
}

/**
 * PyTorch's nn.AdaptiveAvgPool2d for an output of 1 (or [1, 1]), the global
 * average pool: [N, C, H, W] -> [N, C, 1, 1]; other output sizes are not offered
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number] = 1) {
    super();
    const one = outputSize === 1 || (Array.isArray(outputSize) && outputSize.length === 2 && outputSize[0] === 1 && outputSize[1] === 1);
    if (!one) {
      throw new CudalabError('ERR_ARG', `AdaptiveAvgPool2d: only an output size of 1 (a global average pool) is offered, got ${JSON.stringify(outputSize)}`);
    }
  }
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }
  override extraRepr(): string {
    return `output_size=${Array.isArray(this.outputSize) ? `(${this.outputSize.join(', ')})` : this.outputSize}`;
  }
}
