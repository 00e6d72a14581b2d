// nn.Mul: multiplies its input by a fixed number (airbench's last layer, a
// scale of 1/9 on the logits); nothing to train
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { scale } from '../ops/elementwise';
import { Module } from './module';

export class Mul extends Module {
  constructor(readonly scale: number) {
    super();
    if (typeof scale !== 'number' || !Number.isFinite(scale)) {
      throw new CudalabError('ERR_ARG', `Mul: scale must be a finite number, got ${String(scale)}`);
    }
  }
  forward(x: Tensor): Tensor {
    return scale(x, this.scale);
  }
  override extraRepr(): string {
    return `scale=${this.scale}`;
  }
}
