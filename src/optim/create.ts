// the one place a training run's optimizer is built from its settings, so
// the trainer works with any Optimizer and a new one is added here and in the
// run config's table, nowhere else. names and defaults are PyTorch's.
import type { Tensor } from '../tensor';
import type { Optimizer } from './optimizer';
import { Adam } from './adam';
import { SGD } from './sgd';

export const OPTIMIZER_NAMES = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** what the factory reads; each optimizer takes the hyperparameters it has, PyTorch's defaults for the rest */
export interface OptimizerSettings {
  optimizer: OptimizerName;
  lr: number;
  weightDecay?: number;
  /** adam */
  betas?: [number, number];
  eps?: number;
  /** sgd */
  momentum?: number;
  nesterov?: boolean;
}

export function createOptimizer(params: Tensor[], s: OptimizerSettings): Optimizer {
  switch (s.optimizer) {
    case 'adam':
      return new Adam(params, { lr: s.lr, betas: s.betas, eps: s.eps, weightDecay: s.weightDecay });
    case 'sgd':
      return new SGD(params, { lr: s.lr, momentum: s.momentum, nesterov: s.nesterov, weightDecay: s.weightDecay });
  }
}
