// 2-d max and average pooling, square windows, PyTorch's defaults: stride =
// kernel, floor mode, padding as -inf (max) or zeros counted in the divisor (avg).
import { native, type NativeError, type PoolShape } from '../native';
import { CudalabError, fromNative } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { accumulate, record } from '../autograd';
import { call, checkNonNegativeInt, checkPositiveInt, checkRank, checkTensor } from './check';

function poolShape(op: string, x: Tensor, kernel: number, stride: number | undefined, padding: number | undefined): PoolShape {
  checkTensor(op, 'input', x);
  checkRank(op, 'input', x, 4, '[N, C, H, W]');
  const k = checkPositiveInt(op, 'kernel', kernel);
  const st = checkPositiveInt(op, 'stride', stride ?? k);
  const pad = checkNonNegativeInt(op, 'padding', padding ?? 0);
  const [n, c, h, w] = x.shape;
  // the output size by the addon's rule, the one its checks hold the shape to
  let p: number, q: number;
  try {
    p = native().poolOutputSize(h, k, st, pad);
    q = native().poolOutputSize(w, k, st, pad);
  } catch (err) {
    const { code, message } = err as NativeError;
    if (code === 'ERR_ARG' && message.includes('half the window')) {
      throw new CudalabError('ERR_ARG', `${op}: padding ${pad} is more than half the kernel size ${k}`);
    }
    if (code !== 'ERR_SHAPE') throw fromNative(op, err);
    throw new CudalabError('ERR_SHAPE', `${op}: the ${k}x${k} window does not fit the ${h}x${w} input with padding ${pad} (input shape ${formatShape(x.shape)})`);
  }
  return { n, c, h, w, kh: k, kw: k, strideH: st, strideW: st, padH: pad, padW: pad, p, q };
}

/** max over kernel x kernel windows; saves the argmax for the backward */
export function maxPool2d(x: Tensor, kernel: number, stride?: number, padding?: number): Tensor {
  const s = poolShape('maxPool2d', x, kernel, stride, padding);
  const out = Tensor.empty([s.n, s.c, s.p, s.q], { device: x.device });
  const argmax = Tensor.empty([s.n, s.c, s.p, s.q], { device: x.device, dtype: 'int32' });
  call('maxPool2d', () => native().maxpool2dForward(s, x.storage('maxPool2d'), out.storage('maxPool2d'), argmax.storage('maxPool2d', 'argmax')));
  return record(out, 'maxPool2d', [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().maxpool2dBackward(s, g.storage('maxPool2d backward'), argmax.storage('maxPool2d backward', 'argmax'), dx.storage('maxPool2d backward'));
    accumulate(x, dx);
  }, [argmax]);
}

/** mean over kernel x kernel windows */
export function avgPool2d(x: Tensor, kernel: number, stride?: number, padding?: number): Tensor {
  const s = poolShape('avgPool2d', x, kernel, stride, padding);
  const out = Tensor.empty([s.n, s.c, s.p, s.q], { device: x.device });
  call('avgPool2d', () => native().avgpool2dForward(s, x.storage('avgPool2d'), out.storage('avgPool2d')));
  return record(out, 'avgPool2d', [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().avgpool2dBackward(s, g.storage('avgPool2d backward'), dx.storage('avgPool2d backward'));
    accumulate(x, dx);
  });
}
