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

/** the mean over the batch of -log softmax(logits)[label]; shape [] */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const [n, classes] = checkLogitsLabels('crossEntropy', logits, labels);
  if (n === 0) throw new CudalabError('ERR_SHAPE', 'crossEntropy: the batch is empty (logits [0, classes]); the mean is undefined');
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
