// nn.Conv2d: a 2-d convolution layer, weight [out, in, kh, kw] and bias [out].
import type { DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import type { Generator } from '../random';
import { conv2d } from '../ops/conv';
import { Module } from './module';
import { defaultUniform } from './init';

export interface Conv2dLayerOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  bias?: boolean;
  generator?: Generator;
  device?: DeviceName;
}

function positive(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new CudalabError('ERR_ARG', `Conv2d: ${what} must be a positive integer, got ${String(v)}`);
  return v;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: number | [number, number];
  readonly padding: number | [number, number];

  constructor(inChannels: number, outChannels: number, kernel: number | [number, number], opts: Conv2dLayerOptions = {}) {
    super();
    this.inChannels = positive('inChannels', inChannels);
    this.outChannels = positive('outChannels', outChannels);
    const [kh, kw] = Array.isArray(kernel) ? kernel : [kernel, kernel];
    this.kernelSize = [positive('kernel', kh), positive('kernel', kw)];
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const fanIn = inChannels * kh * kw;
    this.weight = defaultUniform([outChannels, inChannels, kh, kw], fanIn, opts.generator, opts.device);
    this.bias = opts.bias === false ? null : defaultUniform([outChannels], fanIn, opts.generator, opts.device);
    this.registerParameter('weight', this.weight);
    this.registerParameter('bias', this.bias);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }

  override extraRepr(): string {
    const k = this.kernelSize;
    return `${this.inChannels}, ${this.outChannels}, kernel_size=(${k[0]}, ${k[1]}), stride=${String(this.stride)}, padding=${String(this.padding)}${this.bias ? '' : ', bias=False'}`;
  }
}
