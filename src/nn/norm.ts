// nn.BatchNorm2d, PyTorch's semantics and state dict: weight (ones) and bias
// (zeros) when affine, the buffers running_mean (zeros), running_var (ones)
// and num_batches_tracked (0) when tracking running statistics. training mode
// normalises with the batch's statistics and moves the running ones towards
// them; eval mode normalises with the running ones. a module that does not
// track running statistics uses the batch's in both modes, as PyTorch does.
//
// a frozen weight (airbench's BatchNorm keeps it at 1): weightFrozen: true, or
// bn.weight.requiresGrad = false, as PyTorch's requires_grad_(False). it is
// saved and loaded like any parameter but gets no gradient, so no optimizer
// step moves it (and trainableParameters() leaves it out).
import { native, type DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { batchNorm2d } from '../ops/norm';
import { Module } from './module';

export interface BatchNorm2dOptions {
  /** added to the variance (default 1e-5) */
  eps?: number;
  /** running = (1 - momentum)*running + momentum*batch (default 0.1); null: a cumulative average, as PyTorch's momentum=None */
  momentum?: number | null;
  /** a learnt per-channel weight and bias (default true) */
  affine?: boolean;
  /** keep running statistics for eval mode (default true) */
  trackRunningStats?: boolean;
  /** the weight stays at 1: requiresGrad false (default false) */
  weightFrozen?: boolean;
  /** the bias stays at 0: requiresGrad false (default false) */
  biasFrozen?: boolean;
  device?: DeviceName;
}

export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  /** int32 here (PyTorch's is int64; load_state_dict copies across the two) */
  readonly numBatchesTracked: Tensor | null;
  // the count numBatchesTracked holds, kept on the host so a step never reads the device
  private batchesTracked = 0;

  constructor(numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new CudalabError('ERR_ARG', `BatchNorm2d: numFeatures must be a positive integer, got ${String(numFeatures)}`);
    }
    const eps = opts.eps ?? 1e-5;
    if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) {
      throw new CudalabError('ERR_ARG', `BatchNorm2d: eps must be a finite number >= 0, got ${String(eps)}`);
    }
    const momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (momentum !== null && (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))) {
      throw new CudalabError('ERR_ARG', `BatchNorm2d: momentum must be in [0, 1] or null, got ${String(momentum)}`);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const device = opts.device;
    this.weight = this.affine ? Tensor.ones([numFeatures], { device }) : null;
    this.bias = this.affine ? Tensor.zeros([numFeatures], { device }) : null;
    this.registerParameter('weight', this.weight);
    this.registerParameter('bias', this.bias);
    if (opts.weightFrozen && this.weight) this.weight.requiresGrad = false;
    if (opts.biasFrozen && this.bias) this.bias.requiresGrad = false;
    const track = this.trackRunningStats;
    this.runningMean = track ? Tensor.zeros([numFeatures], { device }) : null;
    this.runningVar = track ? Tensor.ones([numFeatures], { device }) : null;
    this.numBatchesTracked = track ? Tensor.zeros([], { device, dtype: 'int32' }) : null;
    this.registerBuffer('running_mean', this.runningMean);
    this.registerBuffer('running_var', this.runningVar);
    this.registerBuffer('num_batches_tracked', this.numBatchesTracked);
  }

  forward(x: Tensor): Tensor {
    if (x instanceof Tensor && (x.shape.length !== 4 || x.shape[1] !== this.numFeatures)) {
      throw new CudalabError('ERR_SHAPE', `BatchNorm2d: expected input [N, ${this.numFeatures}, H, W], got ${formatShape(x.shape)}`);
    }
    let momentum = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked !== null) {
      if (x.shape[0] * x.shape[2] * x.shape[3] < 2) {
        throw new CudalabError('ERR_SHAPE', `BatchNorm2d: expected more than 1 value per channel when training, got input of shape ${formatShape(x.shape)}`);
      }
      this.batchesTracked++;
      native().write(this.numBatchesTracked.storage('BatchNorm2d', 'num_batches_tracked'), Int32Array.of(this.batchesTracked));
      if (this.momentum === null) momentum = 1 / this.batchesTracked;
    }
    // without running statistics the batch's are used in eval mode too
    const batchStats = this.training || this.runningMean === null;
    return batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: batchStats, momentum, eps: this.eps });
  }

  protected override stateLoaded(): void {
    if (this.numBatchesTracked !== null) this.batchesTracked = this.numBatchesTracked.toArray()[0];
  }

  override extraRepr(): string {
    const py = (b: boolean) => (b ? 'True' : 'False');
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum ?? 'None'}, affine=${py(this.affine)}, track_running_stats=${py(this.trackRunningStats)}`;
  }
}
