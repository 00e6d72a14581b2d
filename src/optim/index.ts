// optimizers, PyTorch's update rules on the native kernels
export type { Optimizer, OptimizerState, ParamGroup, ParamGroupInput } from './optimizer';
export { Adam, type AdamOptions } from './adam';
export { SGD, type SGDOptions } from './sgd';
export { createOptimizer, OPTIMIZER_NAMES, type OptimizerName, type OptimizerSettings } from './create';
export { groupParameters, type ParamGroupRule } from './groups';
