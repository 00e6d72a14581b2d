// batch normalisation over the channels of NCHW, PyTorch's
// F.batch_norm(input, running_mean, running_var, weight, bias, training,
// momentum, eps): training mode normalises with the batch's mean and biased
// variance and, when running statistics are given, moves them towards the
// batch's in place (the unbiased variance); eval mode normalises with the
// running statistics, which are then constants for the gradient.
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { accumulate, record } from '../autograd';
import { call, checkDevices, checkRank, checkTensor } from './check';

export interface BatchNormOptions {
  /** batch statistics (and a running update) rather than the running ones */
  training: boolean;
  /** running = (1 - momentum)*running + momentum*batch statistic; in [0, 1] */
  momentum?: number;
  /** added to the variance before the square root; >= 0 */
  eps?: number;
}

function checkChannelVector(op: string, arg: string, t: Tensor | null, c: number): void {
  if (t === null) return;
  checkTensor(op, arg, t);
  if (t.shape.length !== 1 || t.shape[0] !== c) {
    throw new CudalabError('ERR_SHAPE', `${op}: ${arg} must have shape [${c}] (one value per channel), got ${formatShape(t.shape)}`);
  }
}

function checkUnit(op: string, arg: string, v: number, hi: number): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= hi)) {
    throw new CudalabError('ERR_ARG', `${op}: ${arg} must be a number in [0, ${hi === Infinity ? 'inf' : hi}], got ${String(v)}`);
  }
  return v;
}

/** x [N, C, H, W] -> the same shape, normalised per channel */
export function batchNorm2d(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null, bias: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  const op = 'batchNorm2d';
  checkTensor(op, 'input', x);
  checkRank(op, 'input', x, 4, '[N, C, H, W]');
  const [n, c, h, w] = x.shape;
  const hw = h * w;
  checkChannelVector(op, 'runningMean', runningMean, c);
  checkChannelVector(op, 'runningVar', runningVar, c);
  checkChannelVector(op, 'weight', weight, c);
  checkChannelVector(op, 'bias', bias, c);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new CudalabError('ERR_ARG', `${op}: runningMean and runningVar must both be given or both be null`);
  }
  const training = opts.training;
  if (typeof training !== 'boolean') throw new CudalabError('ERR_ARG', `${op}: training must be a boolean, got ${String(training)}`);
  const momentum = checkUnit(op, 'momentum', opts.momentum ?? 0.1, 1);
  const eps = checkUnit(op, 'eps', opts.eps ?? 1e-5, Infinity);
  if (!training && runningMean === null) {
    throw new CudalabError('ERR_ARG', `${op}: eval mode needs running statistics (runningMean and runningVar), got null`);
  }
  if (training && n * hw < 2) {
    throw new CudalabError('ERR_SHAPE', `${op}: expected more than 1 value per channel when training, got input of shape ${formatShape(x.shape)}`);
  }
  checkDevices(op, [['input', x], ['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]]);
  const device = x.device;
  const st = (t: Tensor | null, arg: string) => (t === null ? null : t.storage(op, arg));

  // the mean and invstd the normalisation used, saved for the backward
  const invstd = Tensor.empty([c], { device });
  let mean: Tensor;
  if (training) {
    mean = Tensor.empty([c], { device });
    call(op, () =>
      native().batchNorm2dStats(n, c, hw, x.storage(op, 'input'), eps, momentum, st(runningMean, 'runningMean'),
        st(runningVar, 'runningVar'), mean.storage(op, 'mean'), invstd.storage(op, 'invstd')));
  } else {
    mean = runningMean!;
    call(op, () => native().batchNorm2dInvstd(c, runningVar!.storage(op, 'runningVar'), eps, invstd.storage(op, 'invstd')));
  }
  const out = Tensor.empty(x.shape, { device });
  call(op, () =>
    native().batchNorm2dForward(n, c, hw, x.storage(op, 'input'), mean.storage(op, 'mean'), invstd.storage(op, 'invstd'),
      st(weight, 'weight'), st(bias, 'bias'), out.storage(op)));
  const saved = training ? [mean, invstd] : [invstd];
  return record(out, op, [x, weight, bias], (g) => {
    const back = `${op} backward`;
    const dx = Tensor.empty(x.shape, { device });
    const dweight = weight !== null && weight.requiresGrad ? Tensor.empty([c], { device }) : null;
    const dbias = bias !== null && bias.requiresGrad ? Tensor.empty([c], { device }) : null;
    native().batchNorm2dBackward(n, c, hw, x.storage(back, 'input'), g.storage(back), mean.storage(back, 'mean'),
      invstd.storage(back, 'invstd'), st(weight, 'weight'), training, dx.storage(back), st(dweight, 'dweight'), st(dbias, 'dbias'));
    accumulate(x, dx);
    if (dweight !== null) accumulate(weight!, dweight);
    if (dbias !== null) accumulate(bias!, dbias);
  }, saved);
}
