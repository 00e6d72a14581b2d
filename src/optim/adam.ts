// Adam and AdamW (decoupled weight decay), PyTorch's update, one native
// adam_step per parameter. a parameter without a gradient is skipped and its
// step count does not advance, as in PyTorch. parameter groups have their own
// lr and weight decay (PyTorch's param_groups); betas, eps and decoupled are
// the optimizer's.
import { native } from '../native';
import { CudalabError } from '../errors';
import type { Tensor } from '../tensor';
import { call } from '../ops/check';
import {
  GroupedOptimizer, type Optimizer, type OptimizerState, type ParamGroupInput, checkHyper, copyBuffer, freeGrads, gradOf,
  groupHyper, loadGroupHyper, onDeviceOf, parseBuffers, stateBuffer,
} from './optimizer';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** true: AdamW (param *= 1 - lr * weightDecay before the update) */
  decoupled?: boolean;
}

const BELOW_ONE = 0.9999999403953552; // the largest float32 below 1

export class Adam extends GroupedOptimizer implements Optimizer {
  beta1: number;
  beta2: number;
  eps: number;
  decoupled: boolean;
  private stepCount = 0;
  private readonly steps: number[];
  private readonly m: Array<Tensor | null>;
  private readonly v: Array<Tensor | null>;

  /** params: the parameters (one group), or groups with their own lr and weight decay */
  constructor(params: Tensor[] | ParamGroupInput[], opts: AdamOptions = {}) {
    const lr = checkHyper('Adam', 'lr', opts.lr ?? 1e-3, 0, Infinity);
    const weightDecay = checkHyper('Adam', 'weightDecay', opts.weightDecay ?? 0, 0, Infinity);
    super('Adam', params, { lr, weightDecay });
    const betas = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new CudalabError('ERR_ARG', 'Adam: betas must be a pair [beta1, beta2]');
    this.beta1 = checkHyper('Adam', 'betas[0]', betas[0], 0, BELOW_ONE);
    this.beta2 = checkHyper('Adam', 'betas[1]', betas[1], 0, BELOW_ONE);
    this.eps = checkHyper('Adam', 'eps', opts.eps ?? 1e-8, 0, Infinity);
    this.decoupled = opts.decoupled ?? false;
    this.steps = this.params.map(() => 0);
    this.m = this.params.map(() => null);
    this.v = this.params.map(() => null);
  }


  step(): void {
    this.paramGroups.forEach((g, i) => {
      checkHyper('Adam', `group ${i} lr`, g.lr, 0, Infinity);
      checkHyper('Adam', `group ${i} weightDecay`, g.weightDecay, 0, Infinity);
    });
    this.stepCount++;
    this.params.forEach((p, i) => {
      const g = gradOf('Adam.step', p, i);
      if (g === null) return;
      const m = this.m[i] ? onDeviceOf(this.m[i]!, p) : (this.m[i] = stateBuffer(p));
      const v = this.v[i] ? onDeviceOf(this.v[i]!, p) : (this.v[i] = stateBuffer(p));
      const step = ++this.steps[i];
      const group = this.paramGroups[this.groupOf[i]];
      call('Adam.step', () =>
        native().adamStep(p.numel, p.storage('Adam.step'), g.storage('Adam.step', 'grad'), m.storage('Adam.step', 'm'),
          v.storage('Adam.step', 'v'), group.lr, this.beta1, this.beta2, this.eps, group.weightDecay, this.decoupled, step),
      );
    });
  }

  zeroGrad(): void {
    freeGrads(this.params);
  }

  /** frees the state buffers; a later step starts them afresh */
  dispose(): void {
    this.params.forEach((_, i) => {
      this.m[i]?.dispose();
      this.v[i]?.dispose();
      this.m[i] = this.v[i] = null;
      this.steps[i] = 0;
    });
  }

  /** the live buffers (not copies) and the hyperparameters */
  stateDict(): OptimizerState {
    const buffers: Record<string, Tensor> = {};
    this.params.forEach((_, i) => {
      if (this.m[i]) buffers[`m.${i}`] = this.m[i]!;
      if (this.v[i]) buffers[`v.${i}`] = this.v[i]!;
    });
    return {
      step: this.stepCount,
      hyper: { ...groupHyper(this.paramGroups), beta1: this.beta1, beta2: this.beta2, eps: this.eps, decoupled: this.decoupled },
      buffers,
    };
  }

  /** copies the buffers in (onto each parameter's device) and restores the hyperparameters */
  loadStateDict(s: OptimizerState): void {
    const parsed = parseBuffers('Adam', s, this.params, ['m', 'v']);
    const h = s.hyper ?? {};
    const num = (k: string, dflt: number): number => (typeof h[k] === 'number' ? (h[k] as number) : dflt);
    const groups = loadGroupHyper('Adam', this.paramGroups, h);
    const beta1 = checkHyper('Adam', 'hyper.beta1', num('beta1', this.beta1), 0, BELOW_ONE);
    const beta2 = checkHyper('Adam', 'hyper.beta2', num('beta2', this.beta2), 0, BELOW_ONE);
    const eps = checkHyper('Adam', 'hyper.eps', num('eps', this.eps), 0, Infinity);
    const decoupled = typeof h.decoupled === 'boolean' ? h.decoupled : this.decoupled;
    this.params.forEach((p, i) => {
      this.m[i]?.dispose();
      this.v[i]?.dispose();
      const m = parsed.get('m')!.get(i);
      const v = parsed.get('v')!.get(i);
      this.m[i] = m ? copyBuffer(m, p) : null;
      this.v[i] = v ? copyBuffer(v, p) : null;
      this.steps[i] = m ? s.step : 0;
    });
    this.stepCount = s.step;
    groups.forEach((g, i) => Object.assign(this.paramGroups[i], g));
    Object.assign(this, { beta1, beta2, eps, decoupled });
  }
}
