// PyTorch's default initialisation for Conv2d and Linear, drawn from our
// generator: kaiming_uniform_(w, a=sqrt(5)) has gain sqrt(2 / (1 + 5)) and
// bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); the bias is uniform in
// the same +-1/sqrt(fan_in). the weight is drawn before the bias, as in PyTorch.
import type { DeviceName } from '../native';
import { Tensor, getDefaultGenerator } from '../tensor';
import type { Generator } from '../random';

/** U(-1/sqrt(fanIn), 1/sqrt(fanIn)) of shape */
export function defaultUniform(shape: number[], fanIn: number, generator: Generator | undefined, device: DeviceName | undefined): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return Tensor.uniform(shape, -bound, bound, { generator: generator ?? getDefaultGenerator(), device });
}
