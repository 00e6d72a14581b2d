// PyTorch's default initialisation for Conv2d and Linear, drawn from our
// generator: kaiming_uniform_(w, a=sqrt(5)) has gain sqrt(2 / (1 + 5)) and
// bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); the bias is uniform in
// the same +-1/sqrt(fan_in). the weight is drawn before the bias, as in PyTorch.
// besides: dirac (identity) filters and zeros, which some models start from.
import { native, type DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape, getDefaultGenerator } from '../tensor';
import type { Generator } from '../random';

/** U(-1/sqrt(fanIn), 1/sqrt(fanIn)) of shape */
export function defaultUniform(shape: number[], fanIn: number, generator: Generator | undefined, device: DeviceName | undefined): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return Tensor.uniform(shape, -bound, bound, { generator: generator ?? getDefaultGenerator(), device });
}

/**
 * torch.nn.init.dirac_ on the first `filters` filters of a conv weight
 * [out, in, kh, kw]: they become zero but for a 1 at [d, d, kh/2, kw/2], so
 * filter d passes input channel d through unchanged (an identity conv, with
 * same padding). the other filters keep their values.
 */
export function diracInit(weight: Tensor, filters: number = weight.shape[0]): void {
  if (weight.shape.length !== 4) {
    throw new CudalabError('ERR_SHAPE', `diracInit: expected a conv weight [out, in, kh, kw], got shape ${formatShape(weight.shape)}`);
  }
  const [out, inC, kh, kw] = weight.shape;
  if (!Number.isInteger(filters) || filters < 0 || filters > out) {
    throw new CudalabError('ERR_ARG', `diracInit: filters must be an integer from 0 to ${out}, got ${String(filters)}`);
  }
  const w = weight.toArray() as Float32Array;
  const perFilter = inC * kh * kw;
  w.fill(0, 0, filters * perFilter);
  const centre = Math.floor(kh / 2) * kw + Math.floor(kw / 2);
  for (let d = 0; d < Math.min(filters, inC); d++) w[d * perFilter + d * kh * kw + centre] = 1;
  native().write(weight.storage('diracInit', 'weight'), w);
}

/** every value of t set to zero, in place (a bias that starts at 0) */
export function zeroInit(t: Tensor): void {
  native().fill(t.numel, t.storage('zeroInit'), 0);
}
