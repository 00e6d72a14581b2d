// "ptcnn" in docs/reference-results.md: the PyTorch reference CNN (2,122,186
// parameters).
import { type ModelSpec, conv, flatten, linear, maxpool, relu } from './spec';

export const ptcnn: ModelSpec = {
  name: 'ptcnn',
  layers: [
    conv(3, 32, 3, 1), relu, maxpool(2),
    conv(32, 64, 3, 1), relu, maxpool(2),
    flatten(64 * 8 * 8),
    linear(4096, 512), relu,
    linear(512, 10),
  ],
};
