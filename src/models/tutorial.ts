// PyTorch's CIFAR-10 tutorial CNN: 5x5 convs, no padding (32 -> 28 -> 14 -> 10 -> 5),
// three linear layers, 62,006 parameters.
import { type ModelSpec, conv, flatten, linear, maxpool, relu } from './spec';

export const tutorial: ModelSpec = {
  name: 'tutorial',
  layers: [
    conv(3, 6, 5), relu, maxpool(2),
    conv(6, 16, 5), relu, maxpool(2),
    flatten(16 * 5 * 5),
    linear(400, 120), relu,
    linear(120, 84), relu,
    linear(84, 10),
  ],
};
