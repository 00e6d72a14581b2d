// softmax cross-entropy (fused: the forward keeps the probabilities for the
// backward), and the two ways to read predictions: argmax and the number of
// correct rows, which stays on the device so a training step never waits.
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { accumulate, record } from '../autograd';
import { call, checkDevices, checkRank, checkTensor } from './check';

function checkLogitsLabels(op: string, logits: Tensor, labels: Tensor): [number, number] {
  checkTensor(op, 'logits', logits);
  checkTensor(op, 'labels', labels, 'int32');
  checkRank(op, 'logits', logits, 2, '[batch, classes]');
  const [n, classes] = logits.shape;
  if (labels.shape.length !== 1 || labels.shape[0] !== n) {
    throw new CudalabError('ERR_SHAPE', `${op}: labels must have shape [${n}] for logits ${formatShape(logits.shape)}, got ${formatShape(labels.shape)}`);
  }
  if (classes < 1) throw new CudalabError('ERR_SHAPE', `${op}: logits ${formatShape(logits.shape)} have no classes`);
  checkDevices(op, [['logits', logits], ['labels', labels]]);
  return [n, classes];
}

export interface CrossEntropyOptions {
  /**
   * PyTorch's label_smoothing in [0, 1]: the target becomes (1 - s) * onehot(label) + s / classes,
   * so a row's loss is (1 - s) * (-log p[label]) + s * mean over classes of -log p (0 by default)
   */
  labelSmoothing?: number;
  /** 'mean' over the batch (the default) or 'sum' */
  reduction?: 'mean' | 'sum';
}

function checkOptions(options: unknown): { smoothing: number; reduction: 'mean' | 'sum' } {
  if (options === undefined) return { smoothing: 0, reduction: 'mean' };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CudalabError('ERR_ARG', `crossEntropy: options must be an object { labelSmoothing?, reduction? }, got ${options === null ? 'null' : typeof options}`);
  }
  const { labelSmoothing = 0, reduction = 'mean', ...rest } = options as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new CudalabError('ERR_ARG', `crossEntropy: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (known: labelSmoothing, reduction)`);
  }
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new CudalabError('ERR_ARG', `crossEntropy: labelSmoothing must be a number in [0, 1], got ${String(labelSmoothing)}`);
  }
  if (reduction !== 'mean' && reduction !== 'sum') {
    throw new CudalabError('ERR_ARG', `crossEntropy: reduction must be 'mean' or 'sum', got ${JSON.stringify(reduction)}`);
  }
  return { smoothing: labelSmoothing, reduction };
}

/**
 * cross-entropy of softmax(logits) against the labels: by default the mean over
 * the batch of -log softmax(logits)[label]; with options, PyTorch's label
 * smoothing and a sum over the batch. shape []
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options?: CrossEntropyOptions): Tensor {
  const [n, classes] = checkLogitsLabels('crossEntropy', logits, labels);
  const { smoothing, reduction } = checkOptions(options);
  if (n === 0) throw new CudalabError('ERR_SHAPE', `crossEntropy: the batch is empty (logits [0, classes]); the ${reduction} is not taken`);
  // the plain kernels where they serve, so the default keeps its bits on every backend
  if (smoothing !== 0 || reduction !== 'mean') return smoothedCrossEntropy(logits, labels, n, classes, smoothing, reduction === 'sum');
  const probs = Tensor.empty([n, classes], { device: logits.device });
  const loss = Tensor.empty([], { device: logits.device });
  call('crossEntropy', () =>
    native().softmaxXentForward(n, classes, logits.storage('crossEntropy', 'logits'), labels.storage('crossEntropy', 'labels'),
      probs.storage('crossEntropy', 'probs'), loss.storage('crossEntropy')),
  );
  return record(loss, 'crossEntropy', [logits], (g) => {
    // g is the loss's gradient, still on the device: the kernel reads it there
    const dlogits = Tensor.empty([n, classes], { device: logits.device });
    native().softmaxXentBackward(n, classes, probs.storage('crossEntropy backward', 'probs'), labels.storage('crossEntropy backward', 'labels'),
      g.storage('crossEntropy backward'), dlogits.storage('crossEntropy backward'));
    accumulate(logits, dlogits);
  }, [probs]);
}

function smoothedCrossEntropy(logits: Tensor, labels: Tensor, n: number, classes: number, smoothing: number, sum: boolean): Tensor {
  const probs = Tensor.empty([n, classes], { device: logits.device });
  const loss = Tensor.empty([], { device: logits.device });
  call('crossEntropy', () =>
    native().softmaxXentSmoothForward(n, classes, logits.storage('crossEntropy', 'logits'), labels.storage('crossEntropy', 'labels'),
      smoothing, sum, probs.storage('crossEntropy', 'probs'), loss.storage('crossEntropy')),
  );
  return record(loss, 'crossEntropy', [logits], (g) => {
    const dlogits = Tensor.empty([n, classes], { device: logits.device });
    native().softmaxXentSmoothBackward(n, classes, probs.storage('crossEntropy backward', 'probs'), labels.storage('crossEntropy backward', 'labels'),
      smoothing, sum, g.storage('crossEntropy backward'), dlogits.storage('crossEntropy backward'));
    accumulate(logits, dlogits);
  }, [probs]);
}

/** how many rows' argmax equals the label: int32 [1], left on the device */
export function correctCount(logits: Tensor, labels: Tensor): Tensor {
  const [n, classes] = checkLogitsLabels('correctCount', logits, labels);
  const count = Tensor.empty([1], { device: logits.device, dtype: 'int32' });
  call('correctCount', () =>
    native().correctCount(n, classes, logits.storage('correctCount', 'logits'), labels.storage('correctCount', 'labels'), count.storage('correctCount')),
  );
  return count;
}

/** the first index of each row's maximum: int32 [N] */
export function argmax(logits: Tensor): Tensor {
  checkTensor('argmax', 'logits', logits);
  checkRank('argmax', 'logits', logits, 2, '[batch, classes]');
  const [n, classes] = logits.shape;
  if (classes < 1) throw new CudalabError('ERR_SHAPE', `argmax: logits ${formatShape(logits.shape)} have no classes`);
  const out = Tensor.empty([n], { device: logits.device, dtype: 'int32' });
  call('argmax', () => native().argmax(n, classes, logits.storage('argmax'), out.storage('argmax')));
  return out;
}
