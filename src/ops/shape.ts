// views and transfers: reshape and flatten share the input's storage (no
// copy; the gradient is the output's gradient seen in the input's shape);
// to() copies across devices and copies the gradient back.
import { native, type DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape, shapeNumel } from '../tensor';
import { accumulate, record } from '../autograd';
import { call } from './check';

function liveTensor(op: string, x: Tensor): void {
  if (!(x instanceof Tensor)) throw new CudalabError('ERR_ARG', `${op}: input must be a Tensor`);
  x.storage(op);
}

/** the shape with its one -1 resolved, checked against numel */
export function resolveShape(op: string, shape: number[], numel: number, from: readonly number[]): number[] {
  if (!Array.isArray(shape)) throw new CudalabError('ERR_SHAPE', `${op}: shape must be an array, got ${String(shape)}`);
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === -1) {
      if (infer >= 0) throw new CudalabError('ERR_SHAPE', `${op}: only one size may be -1, got ${formatShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new CudalabError('ERR_SHAPE', `${op}: ${formatShape(shape)} has a size that is not a non-negative integer (${d})`);
    } else {
      known *= d;
    }
  }
  const out = shape.slice();
  if (infer >= 0) {
    if (known === 0 || numel % known !== 0) {
      throw new CudalabError('ERR_SHAPE', `${op}: cannot view ${formatShape(from)} (${numel} elements) as ${formatShape(shape)}`);
    }
    out[infer] = numel / known;
  } else if (known !== numel) {
    throw new CudalabError('ERR_SHAPE', `${op}: cannot view ${formatShape(from)} (${numel} elements) as ${formatShape(shape)} (${shapeNumel(shape)} elements)`);
  }
  return out;
}

/** a view of x with another shape; one size may be -1 */
export function reshape(x: Tensor, shape: number[]): Tensor {
  liveTensor('reshape', x);
  const target = resolveShape('reshape', shape, x.numel, x.shape);
  const out = x.view(target);
  return record(out, 'reshape', [x], (g) => accumulate(x, g.view(x.shape.slice())));
}

/** dims startDim.. merged into one, as torch.flatten(x, startDim) (default 1, as nn.Flatten) */
export function flatten(x: Tensor, startDim = 1): Tensor {
  liveTensor('flatten', x);
  const rank = x.shape.length;
  const d = startDim < 0 ? startDim + rank : startDim;
  if (!Number.isInteger(d) || d < 0 || d >= Math.max(rank, 1)) {
    throw new CudalabError('ERR_SHAPE', `flatten: startDim ${startDim} is out of range for shape ${formatShape(x.shape)}`);
  }
  return reshape(x, [...x.shape.slice(0, d), shapeNumel(x.shape.slice(d))]);
}

/** x on device: x itself when it is there already, else a copy (the gradient is copied back) */
export function to(x: Tensor, device: DeviceName): Tensor {
  liveTensor('to', x);
  if (device !== 'cpu' && device !== 'cuda') {
    throw new CudalabError('ERR_DEVICE', `to: unknown device "${String(device)}" (expected "cpu" or "cuda")`);
  }
  if (x.device === device) return x;
  const out = Tensor.empty(x.shape, { device, dtype: x.dtype });
  const bytes = x.numel * 4;
  call('to', () => native().copy(out.storage('to'), x.storage('to'), bytes));
  return record(out, 'to', [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().copy(dx.storage('to backward'), g.storage('to backward'), bytes);
    accumulate(x, dx);
  });
}
