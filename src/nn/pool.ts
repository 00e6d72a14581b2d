// nn.MaxPool2d and nn.AvgPool2d: square windows, stride defaults to the kernel.
import { Tensor } from '../tensor';
import { avgPool2d, maxPool2d } from '../ops/pool';
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
