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
export const CIFAR_SIZE = 32;

/** the source pixels an output pixel mixes, and their weights (summing to 1) */
interface Taps {
  first: number;
  weights: number[];
}

/** for each of dst output pixels along an axis of src pixels */
export function axisTaps(src: number, dst: number): Taps[] {
  const taps: Taps[] = [];
  for (let i = 0; i < dst; i++) {
    if (src === dst) taps.push({ first: i, weights: [1] });
    else if (src > dst) {
      // the output pixel covers [lo, hi) of the source
      const scale = src / dst;
      const lo = i * scale, hi = (i + 1) * scale;
      const first = Math.floor(lo);
      const weights: number[] = [];
      for (let j = first; j < Math.min(src, Math.ceil(hi)); j++) weights.push((Math.min(hi, j + 1) - Math.max(lo, j)) / scale);
      taps.push({ first, weights });
    } else {
      const x = Math.min(Math.max((i + 0.5) * (src / dst) - 0.5, 0), src - 1);
      const first = Math.floor(x);
      const t = x - first;
      taps.push(first + 1 < src ? { first, weights: [1 - t, t] } : { first, weights: [1] });
    }
  }
  return taps;
}

/**
 * rgb (height rows of width R G B bytes) resized to size x size and rounded
 * to bytes, as CIFAR-10 stores an image: the R plane, the G plane, the B plane
 */
export function resizeToCifar(rgb: Uint8Array, width: number, height: number, size = CIFAR_SIZE): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`resizeToCifar: ${rgb.length} bytes do not make a ${width}x${height} RGB image`);
  const across = axisTaps(width, size);
  const down = axisTaps(height, size);
  // across first: [height][size][3], in float64
  const rows = new Float64Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < size; x++) {
      const { first, weights } = across[x];
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k] * rgb[(y * width + first + k) * 3 + c];
        rows[(y * size + x) * 3 + c] = s;
      }
    }
  }
  const out = new Uint8Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const { first, weights } = down[y];
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k] * rows[((first + k) * size + x) * 3 + c];
        out[c * size * size + y * size + x] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return out;
}
