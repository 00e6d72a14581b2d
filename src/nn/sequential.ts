// nn.Sequential: runs its modules in order; they are named "0", "1", ...
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { Module } from './module';

export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...modules: Module[]) {
    super();
    this.layers = modules;
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new CudalabError('ERR_ARG', `Sequential: argument ${i} is not a Module`);
      this.registerModule(String(i), m);
    });
  }

  get length(): number {
    return this.layers.length;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
