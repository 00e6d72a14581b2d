// SGD with momentum, dampening, nesterov and weight decay: PyTorch's update,
// one native sgd_step per parameter. the momentum buffer starts as the first
// gradient (first_step), as in PyTorch. parameter groups have their own lr
// and weight decay (PyTorch's param_groups); momentum, dampening and nesterov
// are the optimizer's.
import { native, type DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor, keep } from '../tensor';
import { call } from '../ops/check';
import {
  GroupedOptimizer, type Optimizer, type OptimizerState, type ParamGroupInput, checkHyper, copyBuffer, freeGrads, gradOf,
  groupHyper, loadGroupHyper, onDeviceOf, parseBuffers, stateBuffer,
} from './optimizer';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends GroupedOptimizer implements Optimizer {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  private stepCount = 0;
  private readonly buffers: Array<Tensor | null>;
  // without momentum the kernel never touches its buffer, but it wants one:
  // a single scratch block per device, as big as the largest parameter
  private scratch: Tensor | null = null;

  /** params: the parameters (one group), or groups with their own lr and weight decay */
  constructor(params: Tensor[] | ParamGroupInput[], opts: SGDOptions) {
    if (!opts || opts.lr === undefined) throw new CudalabError('ERR_ARG', 'SGD: lr is required (there is no default, as in PyTorch)');
    const lr = checkHyper('SGD', 'lr', opts.lr, 0, Infinity);
    const weightDecay = checkHyper('SGD', 'weightDecay', opts.weightDecay ?? 0, 0, Infinity);
    super('SGD', params, { lr, weightDecay });
    this.momentum = checkHyper('SGD', 'momentum', opts.momentum ?? 0, 0, Infinity);
    this.dampening = checkHyper('SGD', 'dampening', opts.dampening ?? 0, -Infinity, Infinity);
    this.nesterov = opts.nesterov ?? false;
    this.checkNesterov();
    this.buffers = this.params.map(() => null);
  }


  private checkNesterov(): void {
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new CudalabError('ERR_ARG', 'SGD: nesterov momentum requires momentum > 0 and dampening = 0 (as in PyTorch)');
    }
  }

  private scratchOn(device: DeviceName): Tensor {
    if (this.scratch && this.scratch.device !== device) {
      this.scratch.dispose();
      this.scratch = null;
    }
    if (!this.scratch) {
      const n = Math.max(...this.params.map((p) => p.numel));
      this.scratch = keep(Tensor.empty([n], { device }));
    }
    return this.scratch;
  }

  step(): void {
    this.paramGroups.forEach((g, i) => {
      checkHyper('SGD', `group ${i} lr`, g.lr, 0, Infinity);
      checkHyper('SGD', `group ${i} weightDecay`, g.weightDecay, 0, Infinity);
    });
    this.checkNesterov();
    this.stepCount++;
    this.params.forEach((p, i) => {
      const g = gradOf('SGD.step', p, i);
      if (g === null) return;
      let buf: Tensor;
      let first = false;
      if (this.momentum === 0) {
        buf = this.scratchOn(p.device);
      } else if (this.buffers[i]) {
        buf = onDeviceOf(this.buffers[i]!, p);
      } else {
        buf = this.buffers[i] = stateBuffer(p);
        first = true;
      }
      const group = this.paramGroups[this.groupOf[i]];
      call('SGD.step', () =>
        native().sgdStep(p.numel, p.storage('SGD.step'), g.storage('SGD.step', 'grad'), buf.storage('SGD.step', 'momentum buffer'),
          group.lr, this.momentum, this.dampening, group.weightDecay, this.nesterov, first),
      );
    });
  }

  zeroGrad(): void {
    freeGrads(this.params);
  }

  /** frees the momentum buffers and the scratch block */
  dispose(): void {
    this.buffers.forEach((b, i) => {
      b?.dispose();
      this.buffers[i] = null;
    });
    this.scratch?.dispose();
    this.scratch = null;
  }

  /** the live momentum buffers (not copies) and the hyperparameters */
  stateDict(): OptimizerState {
    const buffers: Record<string, Tensor> = {};
    this.buffers.forEach((b, i) => {
      if (b) buffers[`momentum.${i}`] = b;
    });
    return {
      step: this.stepCount,
      hyper: { ...groupHyper(this.paramGroups), momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov },
      buffers,
    };
  }

  loadStateDict(s: OptimizerState): void {
    const parsed = parseBuffers('SGD', s, this.params, ['momentum']).get('momentum')!;
    const h = s.hyper ?? {};
    const num = (k: string, dflt: number): number => (typeof h[k] === 'number' ? (h[k] as number) : dflt);
    const groups = loadGroupHyper('SGD', this.paramGroups, h);
    const momentum = checkHyper('SGD', 'hyper.momentum', num('momentum', this.momentum), 0, Infinity);
    const dampening = checkHyper('SGD', 'hyper.dampening', num('dampening', this.dampening), -Infinity, Infinity);
    const nesterov = typeof h.nesterov === 'boolean' ? h.nesterov : this.nesterov;
    this.params.forEach((p, i) => {
      this.buffers[i]?.dispose();
      const b = parsed.get(i);
      this.buffers[i] = b ? copyBuffer(b, p) : null;
    });
    this.stepCount = s.step;
    groups.forEach((g, i) => Object.assign(this.paramGroups[i], g));
    Object.assign(this, { momentum, dampening, nesterov });
    this.checkNesterov();
  }
}
