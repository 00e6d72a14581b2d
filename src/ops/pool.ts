// 2-d max and average pooling, square windows, PyTorch's defaults: stride =
// kernel, floor mode, padding as -inf (max) or zeros counted in the divisor
// (avg); and the global average pool, one window over each whole plane.
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
  return averagePool('avgPool2d', x, poolShape('avgPool2d', x, kernel, stride, padding));
}

/**
 * the mean over each whole plane: [N, C, H, W] -> [N, C, 1, 1], PyTorch's
 * adaptive_avg_pool2d(x, 1) (one window the size of the input, any H and W)
 */
export function globalAvgPool2d(x: Tensor): Tensor {
  checkTensor('globalAvgPool2d', 'input', x);
  checkRank('globalAvgPool2d', 'input', x, 4, '[N, C, H, W]');
  const [n, c, h, w] = x.shape;
  if (h < 1 || w < 1) throw new CudalabError('ERR_SHAPE', `globalAvgPool2d: the input planes are empty (input shape ${formatShape(x.shape)})`);
  const s: PoolShape = { n, c, h, w, kh: h, kw: w, strideH: h, strideW: w, padH: 0, padW: 0, p: 1, q: 1 };
  return averagePool('globalAvgPool2d', x, s);
}

function averagePool(op: string, x: Tensor, s: PoolShape): Tensor {
  const out = Tensor.empty([s.n, s.c, s.p, s.q], { device: x.device });
  call(op, () => native().avgpool2dForward(s, x.storage(op), out.storage(op)));
  return record(out, op, [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().avgpool2dBackward(s, g.storage(`${op} backward`), dx.storage(`${op} backward`));
    accumulate(x, dx);
  });
}
