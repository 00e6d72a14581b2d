// augment_images and shift_flip_images (native/cpu/augment.cc,
// native/cuda/augment.cu, the formulas in native/common/augment.h): training
// augmentation of a gathered batch and test-time views. the reference draws
// the same philox words through the independent philox4x32 reference
// (random.ts) and moves the pixels with plain loops. every output is a copy
// of an input float or a cutout zero: bit for bit on every backend.
//
// the draws of image `id` in epoch e: the words of counter (e + 1) * 2^32 + id
// under key seed; word 0 picks the row shift, word 1 the column shift (each
// modulo 2*translate + 1, minus translate), the top bit of word 2 the random
// flip, word 3 the cutout centre (low 16 bits modulo the height: the row;
// high 16 bits modulo the width: the column). the alternating flip's coin is
// the top bit of word 2 of counter id, toggled in odd epochs.
import type { OpSpec } from './types';
import { philoxWords } from './random';

export const FLIP_MODES = ['none', 'random', 'alternating'] as const;
export type FlipMode = (typeof FLIP_MODES)[number];

interface AugmentCase {
  batch: number;
  /** ids are drawn from [0, count), repeats included */
  count: number;
  channels: number;
  height: number;
  width: number;
  seed: bigint;
  epoch: number;
  translate: number;
  flip: FlipMode;
  cutout: number;
}

/** what image `id` gets in `epoch`, from the philox reference */
export function augmentChoiceRef(seed: bigint, epoch: number, id: number, p: { translate: number; flip: FlipMode; cutout: number; height: number; width: number }) {
  const w = philoxWords(seed, BigInt(epoch + 1) << 32n, id >>> 0);
  const span = 2 * p.translate + 1;
  let flip = false;
  if (p.flip === 'random') flip = w[2] >>> 31 === 1;
  else if (p.flip === 'alternating') flip = ((philoxWords(seed, 0n, id >>> 0)[2] >>> 31) ^ (epoch & 1)) === 1;
  return {
    dy: (w[0] % span) - p.translate,
    dx: (w[1] % span) - p.translate,
    flip,
    cutY0: ((w[3] & 0xffff) % p.height) - Math.floor(p.cutout / 2),
    cutX0: ((w[3] >>> 16) % p.width) - Math.floor(p.cutout / 2),
  };
}

/** PyTorch's reflect padding: -1 -> 1, n -> n - 2 */
export function reflectRef(j: number, n: number): number {
  if (j < 0) return -j;
  if (j >= n) return 2 * (n - 1) - j;
  return j;
}

/** one image (channels*height*width at `at` of x) translated, mirrored and cut out, written at `at` of out */
function transformRef(
  x: ArrayLike<number>, out: Float64Array, at: number, channels: number, height: number, width: number,
  c: { dy: number; dx: number; flip: boolean; cutY0: number; cutX0: number }, cutout: number,
): void {
  const plane = height * width;
  for (let ch = 0; ch < channels; ch++)
    for (let y = 0; y < height; y++)
      for (let xx = 0; xx < width; xx++) {
        const cut = cutout > 0 && y >= c.cutY0 && y < c.cutY0 + cutout && xx >= c.cutX0 && xx < c.cutX0 + cutout;
        const sy = reflectRef(y + c.dy, height);
        const sx = reflectRef((c.flip ? width - 1 - xx : xx) + c.dx, width);
        out[at + ch * plane + y * width + xx] = cut ? 0 : x[at + ch * plane + sy * width + sx];
      }
}

const augmentCase = (
  batch: number, count: number, channels: number, height: number, width: number, translate: number, flip: FlipMode,
  cutout: number, epoch: number, seed: bigint,
): AugmentCase => ({ batch, count, channels, height, width, translate, flip, cutout, epoch, seed });

export const augmentImages: OpSpec<AugmentCase> = {
  name: 'augment_images',
  family: 'augment',
  cases: [
    // cifar batches as airbench94 trains them: translate 2, alternating flips, in an even and an odd epoch
    augmentCase(64, 50000, 3, 32, 32, 2, 'alternating', 0, 0, 1234n),
    augmentCase(64, 50000, 3, 32, 32, 2, 'alternating', 0, 1, 1234n),
    augmentCase(100, 1000, 3, 32, 32, 2, 'random', 12, 5, 7n),
    augmentCase(17, 40, 3, 32, 32, 4, 'random', 16, 2, 0n),
    augmentCase(1, 1, 3, 32, 32, 2, 'alternating', 8, 0, 99n),
    augmentCase(1, 5, 3, 32, 32, 31, 'random', 32, 3, 5n),
    // odd shapes: non-square, odd cutout, a 1x1 image (translate 0 only), one channel
    augmentCase(5, 9, 2, 7, 9, 3, 'alternating', 4, 3, 42n),
    augmentCase(4, 4, 3, 5, 3, 2, 'none', 3, 0, 11n),
    augmentCase(3, 2, 1, 1, 1, 0, 'random', 1, 9, 3n),
    augmentCase(6, 6, 4, 2, 6, 1, 'random', 0, 4, 8n),
    // the key's and the epoch's extremes
    augmentCase(8, 8, 3, 8, 8, 2, 'alternating', 5, 2 ** 31 - 2, 0xffffffffffffffffn),
    augmentCase(8, 8, 3, 8, 8, 0, 'none', 0, 0, 1n),
  ],
  label: (p) =>
    `b${p.batch} c${p.channels} ${p.height}x${p.width} translate ${p.translate} flip ${p.flip} cutout ${p.cutout} epoch ${p.epoch} seed ${p.seed}`,
  inputs: (p, rng) => ({
    x: rng.floats(p.batch * p.channels * p.height * p.width, -3, 3),
    ids: rng.ints(p.batch, p.count),
  }),
  outputs: (p) => ({ out: { length: p.batch * p.channels * p.height * p.width, dtype: 'f32' } }),
  call: (addon, p, s) =>
    addon.augmentImages(p.batch, p.channels, p.height, p.width, s.x, s.ids, p.seed, p.epoch, p.translate, FLIP_MODES.indexOf(p.flip),
      p.cutout, s.out),
  reference(p, { x, ids }) {
    const image = p.channels * p.height * p.width;
    const out = new Float64Array(p.batch * image);
    for (let i = 0; i < p.batch; i++) {
      transformRef(x, out, i * image, p.channels, p.height, p.width, augmentChoiceRef(p.seed, p.epoch, ids[i], p), p.cutout);
    }
    return { out };
  },
  // copies: bit for bit
  tolerance: { reference: 0, backends: 0 },
  bench: {
    // airbench94's training batch, and one with cutout
    cases: [
      augmentCase(1024, 50000, 3, 32, 32, 2, 'alternating', 0, 1, 1n),
      augmentCase(1024, 50000, 3, 32, 32, 2, 'random', 12, 1, 1n),
    ],
    // a float read and written per pixel, an id per image
    bytes: (p) => p.batch * p.channels * p.height * p.width * 8 + p.batch * 4,
  },
};

interface ShiftCase {
  batch: number;
  channels: number;
  height: number;
  width: number;
  dy: number;
  dx: number;
  flip: boolean;
}

const shiftCase = (batch: number, channels: number, height: number, width: number, dy: number, dx: number, flip: boolean): ShiftCase => ({
  batch, channels, height, width, dy, dx, flip,
});

export const shiftFlipImages: OpSpec<ShiftCase> = {
  name: 'shift_flip_images',
  family: 'augment',
  cases: [
    // airbench's test-time views: the image, its mirror, one pixel up-left and down-right, each mirrored
    shiftCase(50, 3, 32, 32, 0, 0, true),
    shiftCase(50, 3, 32, 32, -1, -1, false),
    shiftCase(50, 3, 32, 32, 1, 1, true),
    shiftCase(1, 3, 32, 32, 0, 0, false),
    shiftCase(3, 2, 5, 7, 4, -6, true),
    shiftCase(2, 1, 1, 1, 0, 0, true),
    shiftCase(4, 3, 6, 2, -5, 1, false),
  ],
  label: (p) => `b${p.batch} c${p.channels} ${p.height}x${p.width} shift ${p.dy},${p.dx}${p.flip ? ' mirrored' : ''}`,
  inputs: (p, rng) => ({ x: rng.floats(p.batch * p.channels * p.height * p.width, -3, 3) }),
  outputs: (p) => ({ out: { length: p.batch * p.channels * p.height * p.width, dtype: 'f32' } }),
  call: (addon, p, s) => addon.shiftFlipImages(p.batch, p.channels, p.height, p.width, s.x, p.dy, p.dx, p.flip, s.out),
  reference(p, { x }) {
    const image = p.channels * p.height * p.width;
    const out = new Float64Array(p.batch * image);
    const c = { dy: p.dy, dx: p.dx, flip: p.flip, cutY0: 0, cutX0: 0 };
    for (let i = 0; i < p.batch; i++) transformRef(x, out, i * image, p.channels, p.height, p.width, c, 0);
    return { out };
  },
  tolerance: { reference: 0, backends: 0 },
  bench: {
    // an evaluation batch of airbench's size
    cases: [shiftCase(2000, 3, 32, 32, 1, 1, true)],
    bytes: (p) => p.batch * p.channels * p.height * p.width * 8,
  },
};

export const augmentSpecs = [augmentImages, shiftFlipImages];
