// an image of any size to CIFAR-10's 32x32, as the data set's images were
// made as far as that is known: the CIFAR-10 images were taken from the 80
// million tiny images, which were downsampled from larger pictures to 32x32
// and stored as 8-bit RGB. so a larger image is shrunk by averaging
// (a box filter: each output pixel is the mean of the source area it covers,
// partial pixels weighted by how much of them it covers; PIL's BOX,
// OpenCV's INTER_AREA), which keeps the fine detail from aliasing the way
// picking pixels would; a smaller one is enlarged bilinearly (pixel centres
// at +0.5, edges clamped: PIL's BILINEAR and torch's align_corners=False).
// each axis is resized on its own, so a 64x20 image is averaged across and
// interpolated down. the result is rounded to 8 bits, as the data set's
// images are, so the model sees an image the data set could have held and
// the same normalisation table turns it into the model's input.
//
// the arithmetic is exact: along an axis every weight is a whole number over
// one denominator (the source size for averaging, twice the output size for
// interpolating), so the sums are whole numbers and the rounding (half up)
// does not depend on the order of the additions. a tie, an average of
// exactly k + 0.5, is common (a 64x48 image has them), and float weights
// would round it either way.
export const CIFAR_SIZE = 32;

/** the source pixels an output pixel mixes: weights[k] / denominator of pixel first + k */
interface Taps {
  first: number;
  weights: number[];
}

export interface AxisTaps {
  /** the weights of every output pixel sum to it */
  denominator: number;
  taps: Taps[];
}

/** for each of dst output pixels along an axis of src pixels */
export function axisTaps(src: number, dst: number): AxisTaps {
  if (!(Number.isInteger(src) && src >= 1 && Number.isInteger(dst) && dst >= 1)) throw new RangeError(`axisTaps: sizes must be positive integers, got ${src} -> ${dst}`);
  const taps: Taps[] = [];
  if (src === dst) {
    for (let i = 0; i < dst; i++) taps.push({ first: i, weights: [1] });
    return { denominator: 1, taps };
  }
  if (src > dst) {
    // in units of 1/dst of a source pixel, output pixel i covers [i src, (i + 1) src)
    // and source pixel j covers [j dst, (j + 1) dst): the overlaps are whole numbers summing to src
    for (let i = 0; i < dst; i++) {
      const lo = i * src, hi = (i + 1) * src;
      const first = Math.floor(lo / dst);
      const weights: number[] = [];
      for (let j = first; j * dst < hi; j++) weights.push(Math.min(hi, (j + 1) * dst) - Math.max(lo, j * dst));
      taps.push({ first, weights });
    }
    return { denominator: src, taps };
  }
  // the centre of output pixel i in source pixels is (i + 0.5) src / dst - 0.5:
  // in units of 1/(2 dst), (2i + 1) src - dst, clamped to the first and last source centres
  const unit = 2 * dst;
  for (let i = 0; i < dst; i++) {
    const x = Math.min(Math.max((2 * i + 1) * src - dst, 0), unit * (src - 1));
    const first = Math.floor(x / unit);
    const t = x - first * unit;
    taps.push(t === 0 ? { first, weights: [unit] } : { first, weights: [unit - t, t] });
  }
  return { denominator: unit, taps };
}

/**
 * rgb (height rows of width R G B bytes) resized to size x size and rounded
 * to bytes, as CIFAR-10 stores an image: the R plane, the G plane, the B plane
 */
export function resizeToCifar(rgb: Uint8Array, width: number, height: number, size = CIFAR_SIZE): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`resizeToCifar: ${rgb.length} bytes do not make a ${width}x${height} RGB image`);
  const across = axisTaps(width, size);
  const down = axisTaps(height, size);
  // across first: [height][size][3], whole numbers (at most 255 x the denominator)
  const rows = new Float64Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < size; x++) {
      const { first, weights } = across.taps[x];
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k] * rgb[(y * width + first + k) * 3 + c];
        rows[(y * size + x) * 3 + c] = s;
      }
    }
  }
  // whole numbers up to 255 x both denominators, far below 2^53 for any image the decoder accepts
  const denominator = across.denominator * down.denominator;
  const out = new Uint8Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const { first, weights } = down.taps[y];
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k] * rows[((first + k) * size + x) * 3 + c];
        // s / denominator rounded half up, in whole numbers
        out[c * size * size + y * size + x] = Math.min(255, Math.floor((2 * s + denominator) / (2 * denominator)));
      }
    }
  }
  return out;
}
