// the default model, "c16-32-p1-fc256" in docs/reference-results.md: the
// small CNN that reproduces the seed lab's table (66% at lr 0.001, collapse to
// 10% at 0.01).
import { type ModelSpec, conv, flatten, linear, maxpool, relu } from './spec';

export const seedcnn: ModelSpec = {
  name: 'seedcnn',
  layers: [
    conv(3, 16, 3, 1), relu, maxpool(2),
    conv(16, 32, 3, 1), relu, maxpool(2),
    flatten(32 * 8 * 8),
    linear(2048, 256), relu,
    linear(256, 10),
  ],
};
