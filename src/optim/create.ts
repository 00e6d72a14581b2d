// the one place a training run's optimizer is built from its settings, so
// the trainer works with any Optimizer and a new one is added here and in the
// run config's table, nowhere else. names and defaults are PyTorch's.
import type { Tensor } from '../tensor';
import type { Optimizer, ParamGroupInput } from './optimizer';
import { Adam } from './adam';
import { SGD } from './sgd';

export const OPTIMIZER_NAMES = ['adam', 'sgd', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** what the factory reads; each optimizer takes the hyperparameters it has, PyTorch's defaults for the rest */
export interface OptimizerSettings {
  optimizer: OptimizerName;
  lr: number;
  weightDecay?: number;
  /** adam, adamw */
  betas?: [number, number];
  eps?: number;
  /** sgd */
  momentum?: number;
  nesterov?: boolean;
}

/** params: the parameters, or parameter groups with their own lr and weight decay (see groups.ts) */
export function createOptimizer(params: Tensor[] | ParamGroupInput[], s: OptimizerSettings): Optimizer {
  switch (s.optimizer) {
    case 'adam':
    case 'adamw':
      // adamw: PyTorch's AdamW, whose weight decay is decoupled (param *= 1 - lr * weightDecay)
      return new Adam(params, { lr: s.lr, betas: s.betas, eps: s.eps, weightDecay: s.weightDecay, decoupled: s.optimizer === 'adamw' });
    case 'sgd':
      return new SGD(params, { lr: s.lr, momentum: s.momentum, nesterov: s.nesterov, weightDecay: s.weightDecay });
  }
}
