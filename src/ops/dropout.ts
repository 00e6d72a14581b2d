// inverted dropout: in training each element is zeroed with probability p and
// the rest scaled by 1/(1-p), so evaluation needs no rescaling. the mask comes
// from the generator's philox stream (take(n) reserves its numbers), so a run
// is reproducible from (seed, offset) on any backend.
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { Generator } from '../random';
import { accumulate, record } from '../autograd';
import { call, checkTensor } from './check';

/** x with elements dropped with probability p when training; x itself otherwise */
export function dropout(x: Tensor, p: number, training: boolean, generator: Generator): Tensor {
  checkTensor('dropout', 'input', x);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new CudalabError('ERR_ARG', `dropout: p must be a probability in [0, 1], got ${String(p)}`);
  }
  if (!training || p === 0) return x;
  if (!(generator instanceof Generator)) {
    throw new CudalabError('ERR_ARG', 'dropout: a Generator is needed in training mode (it draws the mask)');
  }
  const n = x.numel;
  const out = Tensor.empty(x.shape, { device: x.device });
  const mask = Tensor.empty(x.shape, { device: x.device });
  call('dropout', () => {
    if (p === 1) {
      // (u >= 1) / 0 would be 0/0: everything is dropped, the mask is zeros
      native().fill(n, mask.storage('dropout', 'mask'), 0);
      native().mul(n, x.storage('dropout'), mask.storage('dropout', 'mask'), out.storage('dropout'));
    } else {
      native().dropoutForward(n, x.storage('dropout'), out.storage('dropout'), mask.storage('dropout', 'mask'), p,
        generator.seed, generator.take(n));
    }
  });
  return record(out, 'dropout', [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().dropoutBackward(n, g.storage('dropout backward'), mask.storage('dropout backward', 'mask'), dx.storage('dropout backward'));
    accumulate(x, dx);
  }, [mask]);
}
