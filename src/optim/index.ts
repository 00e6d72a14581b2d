// optimizers, PyTorch's update rules on the native kernels
export type { Optimizer, OptimizerState } from './optimizer';
export { Adam, type AdamOptions } from './adam';
export { SGD, type SGDOptions } from './sgd';
export { createOptimizer, OPTIMIZER_NAMES, type OptimizerName, type OptimizerSettings } from './create';
