// whole-tensor reductions to a scalar (shape []), as PyTorch's x.sum() and x.mean().
import { native } from '../native';
import { Tensor } from '../tensor';
import { accumulate, record } from '../autograd';
import { call, checkTensor } from './check';

// dx[i] = alpha * g[0]: the scalar gradient spread over x's shape, on the device
// (bias_add of a one-channel bias onto zeros), with no read back to the host
function broadcastScalar(op: string, g: Tensor, shape: number[], n: number, alpha: number): Tensor {
  const dx = Tensor.empty(shape, { device: g.device });
  const s = dx.storage(op);
  native().fill(n, s, 0);
  native().biasAdd(1, 1, n, s, g.storage(op), s);
  if (alpha !== 1) native().scale(n, s, alpha, s);
  return dx;
}

/** the sum of all elements, shape [] */
export function sum(x: Tensor): Tensor {
  checkTensor('sum', 'input', x);
  const n = x.numel;
  const out = Tensor.empty([], { device: x.device });
  call('sum', () => native().sumAxis(1, n, 1, x.storage('sum'), out.storage('sum')));
  return record(out, 'sum', [x], (g) => accumulate(x, broadcastScalar('sum backward', g, x.shape, n, 1)));
}

/** the mean of all elements, shape [] */
export function mean(x: Tensor): Tensor {
  checkTensor('mean', 'input', x);
  const n = x.numel;
  const out = Tensor.empty([], { device: x.device });
  call('mean', () => {
    const y = out.storage('mean');
    native().sumAxis(1, n, 1, x.storage('mean'), y);
    native().scale(1, y, 1 / n, y);
  });
  return record(out, 'mean', [x], (g) => accumulate(x, broadcastScalar('mean backward', g, x.shape, n, 1 / n)));
}
