// the differentiable ops, functional style (PyTorch's torch.nn.functional)
export { add, sub, mul, scale, relu } from './elementwise';
export { sum, mean } from './reduce';
export { matmul, linear } from './matmul';
export { conv2d, type Conv2dOptions } from './conv';
export { maxPool2d, avgPool2d } from './pool';
export { reshape, flatten, to } from './shape';
export { dropout } from './dropout';
export { crossEntropy, correctCount, argmax } from './loss';
export { augmentImages, shiftFlipImages, augments, FLIP_MODES, type Augmentation, type FlipMode } from './augment';
export { batchNorm2d, type BatchNormOptions } from './norm';
export { gelu } from './elementwise';
export { globalAvgPool2d } from './pool';
export { type CrossEntropyOptions } from './loss';
