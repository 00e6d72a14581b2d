// cudalab's public API: tensors with explicit lifetimes, autograd, the
// differentiable ops, layers, optimizers and the models by name.
export { Tensor, tidy, keep, untracked, getDefaultGenerator, type DType, type TensorOptions, type RandomOptions } from './tensor';
export { noGrad, isGradEnabled } from './autograd';
export { CudalabError, type ErrorCode } from './errors';
export {
  add, sub, mul, scale, relu, sum, mean, matmul, linear, conv2d, maxPool2d, avgPool2d, reshape, flatten, to,
  dropout, crossEntropy, correctCount, argmax, type Conv2dOptions,
} from './ops';
export * as nn from './nn';
export { batchNorm2d, type BatchNormOptions } from './ops';
export { BatchNorm2d, type BatchNorm2dOptions } from './nn';
export { Module, Conv2d, Linear, MaxPool2d, AvgPool2d, ReLU, Flatten, Dropout, Sequential } from './nn';
export { Adam, SGD, type Optimizer, type OptimizerState, type AdamOptions, type SGDOptions } from './optim';
export {
  modelNames, createModel, describeModel, modelParameterCount, imageInitOf, ResNet18, BasicBlock, Airbench94, ConvGroup,
  type InitFromImages, type UserModelContext, type UserModelFactory,
} from './models';
export { Generator, type GeneratorState } from './random';
export { native, type DeviceName } from './native';
export { gelu, globalAvgPool2d, type CrossEntropyOptions } from './ops';
export { GELU, AdaptiveAvgPool2d, Mul } from './nn';
export { loadTrainedModel, type TrainedModel } from './predict/trained-model';
export { predictImages, prepareImage, type Prediction, type PreparedImage } from './predict/predict';
export { exportOnnx, type OnnxExportOptions } from './export/onnx';
export { registerOnnxExporter, type LayerExporter, type LayerContext } from './export/onnx-layers';
export { ExportError } from './export/errors';
// training in your own loop: data, parameter groups, schedules, evaluation, weights on disk
export { loadCifar10, type Cifar10, type Split } from './data/cifar10';
export { DataLoader, CIFAR10_NORMALIZATION, DEFAULT_NORMALIZATION, type LoaderOptions, type Normalization, type Batch } from './data/loader';
export { HostBatches, type TensorBatch, type TensorBatches } from './data/batches';
export { groupParameters, type ParamGroup, type ParamGroupInput, type ParamGroupRule } from './optim';
export { scheduleFactor, type ScheduleSpec } from './train/schedule';
export { evaluate, type Evaluation } from './train/evaluate';
export { saveWeights, loadWeights } from './train/weights';
export { readSafetensors, writeSafetensors, SafetensorsError, type SafetensorsTensor, type SafetensorsContents } from './train/safetensors';
export { addonOrigin, type AddonOrigin } from './native';
