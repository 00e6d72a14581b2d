// nn.Dropout: drops in training mode only; the mask comes from the generator.
import { CudalabError } from '../errors';
import { Tensor, getDefaultGenerator } from '../tensor';
import type { Generator } from '../random';
import { dropout } from '../ops/dropout';
import { Module } from './module';

export class Dropout extends Module {
  readonly generator: Generator;

  constructor(readonly p = 0.5, generator?: Generator) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new CudalabError('ERR_ARG', `Dropout: p must be in [0, 1], got ${String(p)}`);
    this.generator = generator ?? getDefaultGenerator();
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
