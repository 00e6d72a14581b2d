// nn.ReLU
import { Tensor } from '../tensor';
import { relu } from '../ops/elementwise';
import { Module } from './module';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}
