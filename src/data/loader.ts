// batches of normalised float images for training and evaluation.
// a pixel becomes (v/255 - mean[c]) / std[c] through a 256-entry table per
// channel, so an epoch is one table lookup per byte. all randomness (the order
// of an epoch, crop offsets and flips) comes from the Generator and is drawn
// when an epoch starts: first the permutation, then one number per image for
// its augmentation. the generator's state after an epoch therefore depends
// only on its state before, not on how far the epoch was read, which keeps
// resumed runs on the same numbers.

import { Generator } from '../random';
import { IMAGE_BYTES, Split } from './cifar10';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

/** (x/255 - 0.5) / 0.5: pixels in [-1, 1] */
export const DEFAULT_NORMALIZATION: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** CIFAR-10's training-set channel means and standard deviations (airbench's, torchvision's recipes') */
export const CIFAR10_NORMALIZATION: Normalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

export interface LoaderOptions {
  batchSize: number;
  shuffle: boolean;
  generator?: Generator;
  normalization?: Normalization;
  /** crop: zero padding on each side before a random 32x32 crop; flip: random horizontal flip */
  augment?: { crop?: number; flip?: boolean };
  dropLast?: boolean;
  /** use only the first `limit` images of the split */
  limit?: number;
}

export interface Batch {
  /** size*3*32*32, CHW per image */
  images: Float32Array;
  labels: Int32Array;
  size: number;
  /** the batch's position in its epoch, from 0 */
  index: number;
}

/** table[c*256 + v] = (v/255 - mean[c]) / std[c], rounded to float32 */
export function normalizationTable(n: Normalization = DEFAULT_NORMALIZATION): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    if (!(n.std[c] > 0) || !Number.isFinite(n.mean[c])) {
      throw new RangeError(`normalization: channel ${c} needs a finite mean and std > 0, got mean ${n.mean[c]}, std ${n.std[c]}`);
    }
    for (let v = 0; v < 256; v++) table[c * 256 + v] = (v / 255 - n.mean[c]) / n.std[c];
  }
  return table;
}

/**
 * the batching rules every batch source shares (the host loader and the
 * device-resident data set): checks batchSize, limit and the split's sizes,
 * and gives the images an epoch covers and its number of batches
 */
export function planEpochs(
  who: string,
  split: Split,
  opts: { batchSize: number; limit?: number; dropLast?: boolean },
): { batchSize: number; size: number; batches: number } {
  const { batchSize, limit } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`${who}: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`${who}: limit must be a non-negative integer, got ${limit}`);
  }
  if (split.images.length !== split.count * IMAGE_BYTES || split.labels.length !== split.count) {
    throw new RangeError(
      `${who}: split of ${split.count} images needs ${split.count * IMAGE_BYTES} image bytes and ${split.count} labels, ` +
        `got ${split.images.length} and ${split.labels.length}`,
    );
  }
  const size = limit === undefined ? split.count : Math.min(limit, split.count);
  return { batchSize, size, batches: opts.dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize) };
}

export class DataLoader {
  /** batches per epoch */
  readonly batches: number;
  /** images per epoch (the split, cut to `limit`) */
  readonly size: number;
  readonly batchSize: number;
  private readonly split: Split;
  private readonly shuffle: boolean;
  private readonly generator: Generator | undefined;
  private readonly table: Float32Array;
  private readonly pad: number;
  private readonly flip: boolean;
  private readonly words: Uint32Array | null;

  constructor(split: Split, opts: LoaderOptions) {
    const { batchSize, size, batches } = planEpochs('DataLoader', split, opts);
    const pad = opts.augment?.crop ?? 0;
    if (!Number.isInteger(pad) || pad < 0 || pad > SIDE) {
      throw new RangeError(`DataLoader: augment.crop (the padding) must be an integer in 0..${SIDE}, got ${pad}`);
    }
    this.pad = pad;
    this.flip = opts.augment?.flip ?? false;
    if ((opts.shuffle || this.pad > 0 || this.flip) && !opts.generator) {
      throw new RangeError('DataLoader: shuffle and augment draw from a generator; pass opts.generator');
    }
    this.split = split;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle;
    this.generator = opts.generator;
    // a Uint32Array needs 4-byte alignment and the host's byte order must put the first pixel in the low byte
    const aligned = split.images.byteOffset % 4 === 0 && split.images.byteLength % 4 === 0;
    this.words = aligned && LITTLE_ENDIAN ? new Uint32Array(split.images.buffer, split.images.byteOffset, split.images.byteLength / 4) : null;
    this.table = normalizationTable(opts.normalization ?? DEFAULT_NORMALIZATION);
    this.size = size;
    this.batches = batches;
  }

  /** one epoch; the order and augmentation are drawn when it starts */
  *[Symbol.iterator](): Iterator<Batch> {
    const n = this.size;
    const order = this.shuffle ? (this.generator as Generator).permutation(n) : null;
    const aug = this.drawAugmentation(n);
    for (let b = 0; b < this.batches; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, n - start);
      const images = new Float32Array(size * IMAGE_BYTES);
      const labels = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        const k = start + i;
        const idx = order ? order[k] : k;
        labels[i] = this.split.labels[idx];
        if (aug) this.writeAugmented(images, i * IMAGE_BYTES, idx, aug[k]);
        else this.writePlain(images, i * IMAGE_BYTES, idx);
      }
      yield { images, labels, size, index: b };
    }
  }

  // one draw per image codes its crop offsets and flip:
  // code = ((dy * (2p+1)) + dx) * flips + flip
  private drawAugmentation(n: number): Int32Array | null {
    if (this.pad === 0 && !this.flip) return null;
    const g = this.generator as Generator;
    const side = 2 * this.pad + 1;
    const choices = side * side * (this.flip ? 2 : 1);
    const codes = new Int32Array(n);
    for (let i = 0; i < n; i++) codes[i] = g.int(choices);
    return codes;
  }

  // four pixels per 32-bit read: an image starts on a multiple of 3072 bytes,
  // so the words line up when the split's bytes do (`words` is null otherwise)
  private writePlain(out: Float32Array, o: number, idx: number): void {
    const t = this.table;
    const words = this.words;
    if (words === null) {
      const img = this.split.images;
      const src = idx * IMAGE_BYTES;
      for (let i = 0; i < IMAGE_BYTES; i++) out[o + i] = t[((i >> 10) << 8) | img[src + i]];
      return;
    }
    let w4 = (idx * IMAGE_BYTES) >> 2;
    for (let c = 0; c < 3; c++) {
      const tc = c * 256;
      let oo = o + c * PLANE;
      for (let i = 0; i < PLANE / 4; i++) {
        const w = words[w4++];
        out[oo] = t[tc + (w & 255)];
        out[oo + 1] = t[tc + ((w >>> 8) & 255)];
        out[oo + 2] = t[tc + ((w >>> 16) & 255)];
        out[oo + 3] = t[tc + (w >>> 24)];
        oo += 4;
      }
    }
  }

  // the 32x32 window at (dy, dx) of the image padded by `pad` zeros, then
  // mirrored when flipped: out(y, x) = padded(y + dy, (flip ? 31 - x : x) + dx).
  // per row, the columns that fall on the image are worked out once and read
  // a word (four pixels) at a time where they can be; the rest is padding.
  private writeAugmented(out: Float32Array, o: number, idx: number, code: number): void {
    const img = this.split.images;
    const words = this.words;
    const t = this.table;
    const pad = this.pad;
    const side = 2 * pad + 1;
    let flipped = false;
    if (this.flip) {
      flipped = (code & 1) === 1;
      code >>= 1;
    }
    const dy = Math.floor(code / side) - pad;
    const dx = (code % side) - pad;
    // output columns [x0, x1) read the image, at source columns [s0, s1)
    const x0 = flipped ? Math.max(0, dx) : Math.max(0, -dx);
    const x1 = flipped ? Math.min(SIDE, SIDE + dx) : Math.min(SIDE, SIDE - dx);
    const s0 = flipped ? SIDE - x1 + dx : x0 + dx;
    const s1 = flipped ? SIDE - x0 + dx : x1 + dx;
    const src = idx * IMAGE_BYTES;
    for (let c = 0; c < 3; c++) {
      const tc = c * 256;
      const zero = t[tc];
      const so = src + c * PLANE;
      for (let y = 0; y < SIDE; y++) {
        const sy = y + dy;
        const oo = o + c * PLANE + y * SIDE;
        if (sy < 0 || sy >= SIDE || x0 >= x1) {
          for (let x = 0; x < SIDE; x++) out[oo + x] = zero;
          continue;
        }
        // (plain loops: fill() costs more than it saves on a few floats)
        for (let x = 0; x < x0; x++) out[oo + x] = zero;
        for (let x = x1; x < SIDE; x++) out[oo + x] = zero;
        const row = so + sy * SIDE; // a multiple of 4
        // source column sx lands at out[ob + sx], or out[ob - sx] when flipped
        let sx = s0;
        if (!flipped) {
          const ob = oo - dx;
          for (; sx < s1 && (sx & 3) !== 0; sx++) out[ob + sx] = t[tc + img[row + sx]];
          if (words !== null) {
            for (let wi = (row + sx) >> 2; sx + 4 <= s1; sx += 4) {
              const w = words[wi++];
              const b = ob + sx;
              out[b] = t[tc + (w & 255)];
              out[b + 1] = t[tc + ((w >>> 8) & 255)];
              out[b + 2] = t[tc + ((w >>> 16) & 255)];
              out[b + 3] = t[tc + (w >>> 24)];
            }
          }
          for (; sx < s1; sx++) out[ob + sx] = t[tc + img[row + sx]];
        } else {
          const ob = oo + SIDE - 1 + dx;
          for (; sx < s1 && (sx & 3) !== 0; sx++) out[ob - sx] = t[tc + img[row + sx]];
          if (words !== null) {
            for (let wi = (row + sx) >> 2; sx + 4 <= s1; sx += 4) {
              const w = words[wi++];
              const b = ob - sx;
              out[b] = t[tc + (w & 255)];
              out[b - 1] = t[tc + ((w >>> 8) & 255)];
              out[b - 2] = t[tc + ((w >>> 16) & 255)];
              out[b - 3] = t[tc + (w >>> 24)];
            }
          }
          for (; sx < s1; sx++) out[ob - sx] = t[tc + img[row + sx]];
        }
      }
    }
  }
}
