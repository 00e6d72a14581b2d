// nn.ReLU and nn.GELU
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { gelu, relu } from '../ops/elementwise';
import { Module } from './module';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** gelu, exact (erf) form: PyTorch's nn.GELU() (approximate='none'; the tanh form is not offered) */
export class GELU extends Module {
  constructor(readonly approximate: 'none' = 'none') {
    super();
    if (approximate !== 'none') {
      throw new CudalabError('ERR_ARG', `GELU: approximate must be 'none' (the exact erf form; the tanh form is not offered), got ${JSON.stringify(approximate)}`);
    }
  }
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}
