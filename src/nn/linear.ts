// nn.Linear: y = x @ weight^T + bias, weight [out, in] as in PyTorch.
import type { DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import type { Generator } from '../random';
import { linear } from '../ops/matmul';
import { Module } from './module';
import { defaultUniform } from './init';

export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
  device?: DeviceName;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    for (const [what, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new CudalabError('ERR_ARG', `Linear: ${what} must be a positive integer, got ${String(v)}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = defaultUniform([outFeatures, inFeatures], inFeatures, opts.generator, opts.device);
    this.bias = opts.bias === false ? null : defaultUniform([outFeatures], inFeatures, opts.generator, opts.device);
    this.registerParameter('weight', this.weight);
    this.registerParameter('bias', this.bias);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}
