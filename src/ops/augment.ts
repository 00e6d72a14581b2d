// data augmentation on the training device: a gathered batch translated
// (reflect padding), mirrored and cut out as philox draws keyed by (seed,
// epoch, image id) say, and the fixed views test-time augmentation averages.
// both move pixels only (native/common/augment.h), so they are bit-identical
// on every backend; neither is differentiable (they feed the model's input).
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { FLIP_MODES, type FlipMode } from '../spec/augment';
import { call, checkDevices, checkNonNegativeInt, checkRank, checkTensor } from './check';

export { FLIP_MODES, type FlipMode };

export interface Augmentation {
  /** the largest translation in pixels, each direction (reflect padding); 0: none */
  translate: number;
  /** none; random: a coin per image and epoch; alternating: a coin per image, then all toggled every other epoch */
  flip: FlipMode;
  /** the side of the square set to 0 (the normalised mean); 0: none */
  cutout: number;
}

/** whether the augmentation changes anything */
export function augments(a: Augmentation): boolean {
  return a.translate > 0 || a.flip !== 'none' || a.cutout > 0;
}

function checkImages(op: string, x: Tensor): [number, number, number, number] {
  checkTensor(op, 'images', x);
  checkRank(op, 'images', x, 4, 'NCHW');
  const [n, c, h, w] = x.shape;
  return [n, c, h, w];
}

/**
 * the batch x (N, C, H, W), image i being image ids[i] of the data set,
 * augmented as epoch `epoch` of the stream `seed` draws it
 */
export function augmentImages(x: Tensor, ids: Tensor, a: Augmentation, seed: bigint, epoch: number): Tensor {
  const op = 'augmentImages';
  const [n, c, h, w] = checkImages(op, x);
  checkTensor(op, 'ids', ids, 'int32');
  if (ids.shape.length !== 1 || ids.shape[0] !== n) {
    throw new CudalabError('ERR_SHAPE', `${op}: ids must hold one int32 per image (${n}), got shape [${ids.shape.join(', ')}]`);
  }
  checkDevices(op, [['images', x], ['ids', ids]]);
  checkNonNegativeInt(op, 'epoch', epoch);
  if (!FLIP_MODES.includes(a.flip)) throw new CudalabError('ERR_ARG', `${op}: flip must be one of ${FLIP_MODES.join(', ')}, got ${String(a.flip)}`);
  const out = Tensor.empty(x.shape, { device: x.device });
  if (x.numel === 0) return out;
  call(op, () =>
    native().augmentImages(n, c, h, w, x.storage(op), ids.storage(op, 'ids'), seed, epoch, a.translate, FLIP_MODES.indexOf(a.flip),
      a.cutout, out.storage(op, 'out')),
  );
  return out;
}

/** every image of x (N, C, H, W) translated by (dy, dx) with reflect padding, then mirrored when flip */
export function shiftFlipImages(x: Tensor, dy: number, dx: number, flip: boolean): Tensor {
  const op = 'shiftFlipImages';
  const [n, c, h, w] = checkImages(op, x);
  const out = Tensor.empty(x.shape, { device: x.device });
  if (x.numel === 0) return out;
  call(op, () => native().shiftFlipImages(n, c, h, w, x.storage(op), dy, dx, flip, out.storage(op, 'out')));
  return out;
}
