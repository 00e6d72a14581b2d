// 2-d convolution (cross-correlation, as PyTorch's F.conv2d), NCHW.
import { native, type ConvShape, type NativeError } from '../native';
import { CudalabError, fromNative } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { accumulate, record } from '../autograd';
import { call, checkDevices, checkRank, checkTensor, pair } from './check';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
}

/** x [N, C, H, W], w [K, C, R, S], bias [K] or null -> [N, K, P, Q] */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  checkTensor('conv2d', 'input', x);
  checkTensor('conv2d', 'weight', w);
  if (bias !== null) checkTensor('conv2d', 'bias', bias);
  checkRank('conv2d', 'input', x, 4, '[N, C, H, W]');
  checkRank('conv2d', 'weight', w, 4, '[out_channels, in_channels, kh, kw]');
  const [n, c, h, wd] = x.shape;
  const [k, wc, r, s] = w.shape;
  if (c !== wc) {
    throw new CudalabError('ERR_SHAPE', `conv2d: input has ${c} channels, weight expects ${wc} (weight shape ${formatShape(w.shape)})`);
  }
  if (bias !== null && (bias.shape.length !== 1 || bias.shape[0] !== k)) {
    throw new CudalabError('ERR_SHAPE', `conv2d: bias must have shape [${k}] for weight ${formatShape(w.shape)}, got ${formatShape(bias.shape)}`);
  }
  const [strideH, strideW] = pair('conv2d', 'stride', opts.stride, 1, true);
  const [padH, padW] = pair('conv2d', 'padding', opts.padding, 0, false);
  // the output size by the addon's rule, the one its checks hold the shape to
  let p: number, q: number;
  try {
    p = native().convOutputSize(h, r, strideH, padH);
    q = native().convOutputSize(wd, s, strideW, padW);
  } catch (err) {
    if ((err as NativeError).code !== 'ERR_SHAPE') throw fromNative('conv2d', err);
    throw new CudalabError(
      'ERR_SHAPE',
      `conv2d: the ${r}x${s} kernel does not fit the ${h}x${wd} input with padding ${padH},${padW} (input shape ${formatShape(x.shape)})`,
    );
  }
  checkDevices('conv2d', [['input', x], ['weight', w], ['bias', bias]]);
  const shape: ConvShape = { n, c, h, w: wd, k, r, s, strideH, strideW, padH, padW, p, q };
  const out = Tensor.empty([n, k, p, q], { device: x.device });
  call('conv2d', () =>
    native().conv2dForward(shape, x.storage('conv2d', 'input'), w.storage('conv2d', 'weight'),
      bias === null ? null : bias.storage('conv2d', 'bias'), out.storage('conv2d')),
  );
  return record(out, 'conv2d', [x, w, bias], (g) => {
    const gs = g.storage('conv2d backward');
    if (x.requiresGrad) {
      const dx = Tensor.empty(x.shape, { device: x.device });
      native().conv2dBackwardInput(shape, gs, w.storage('conv2d backward', 'weight'), dx.storage('conv2d backward'));
      accumulate(x, dx);
    }
    const wantBias = bias !== null && bias.requiresGrad;
    if (w.requiresGrad || wantBias) {
      // one kernel writes both; a bias gradient nobody wants is dropped
      const dw = Tensor.empty(w.shape, { device: w.device });
      const db = bias === null ? null : Tensor.empty(bias.shape, { device: w.device });
      native().conv2dBackwardWeight(shape, x.storage('conv2d backward', 'input'), gs, dw.storage('conv2d backward'),
        db === null ? null : db.storage('conv2d backward'));
      accumulate(w, dw);
      if (db !== null) accumulate(bias!, db);
    }
  });
}
