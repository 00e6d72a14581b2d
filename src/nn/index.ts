// the layers, PyTorch's names and defaults
export { Module } from './module';
export { Conv2d, type Conv2dLayerOptions } from './conv';
export { Linear, type LinearOptions } from './linear';
export { MaxPool2d, AvgPool2d } from './pool';
export { ReLU } from './activation';
export { Flatten } from './flatten';
export { Dropout } from './dropout';
export { Sequential } from './sequential';
export { BatchNorm2d, type BatchNorm2dOptions } from './norm';
export { GELU } from './activation';
export { AdaptiveAvgPool2d } from './pool';
export { Mul } from './mul';
