// nn.Flatten: [N, C, H, W] -> [N, C*H*W] (a view)
import { Tensor } from '../tensor';
import { flatten } from '../ops/shape';
import { Module } from './module';

export class Flatten extends Module {
  constructor(readonly startDim = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim);
  }
  override extraRepr(): string {
    return `start_dim=${this.startDim}`;
  }
}
