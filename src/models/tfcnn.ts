// "tfcnn" in docs/reference-results.md: the TensorFlow tutorial's CNN,
// unpadded 3x3 convs (32 -> 30 -> 15 -> 13 -> 6 -> 4), 122,570 parameters.
import { type ModelSpec, conv, flatten, linear, maxpool, relu } from './spec';

export const tfcnn: ModelSpec = {
  name: 'tfcnn',
  layers: [
    conv(3, 32, 3), relu, maxpool(2),
    conv(32, 64, 3), relu, maxpool(2),
    conv(64, 64, 3), relu,
    flatten(64 * 4 * 4),
    linear(1024, 64), relu,
    linear(64, 10),
  ],
};
