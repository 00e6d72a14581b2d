// classifying image files with a trained run: each image decoded, resized to
// 32x32 as the data set's images were made, normalised with the table the
// run's data loader used, and the batch put through the network in eval
// mode; the class probabilities are the softmax of its logits (in float64).
import { Tensor, tidy } from '../tensor';
import { noGrad } from '../autograd';
import type { Module } from '../nn/module';
import { type Normalization, normalizationTable } from '../data/loader';
import { type ImageFormat, decodeImageFile } from './decode';
import { CIFAR_SIZE, resizeToCifar } from './resize';

export interface RankedClass {
  class: string;
  index: number;
  probability: number;
}

export interface Prediction {
  file: string;
  format: ImageFormat;
  width: number;
  height: number;
  logits: number[];
  /** one per class, in label order, summing to 1 */
  probabilities: number[];
  /** the most probable classes first (ties: the lower label first) */
  top: RankedClass[];
}

/** images a forward pass takes at once: a long list of files does not need memory for all of them */
const BATCH = 64;
const PIXELS = 3 * CIFAR_SIZE * CIFAR_SIZE;

/** an image file made into a CIFAR-10 picture: 32x32 bytes, R, G and B planes */
export interface PreparedImage {
  file: string;
  format: ImageFormat;
  /** the file's own size */
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** decodes and resizes at once, so only the 32x32 picture is kept however large the file's image */
export function prepareImage(file: string): PreparedImage {
  const image = decodeImageFile(file);
  return { file, format: image.format, width: image.width, height: image.height, pixels: resizeToCifar(image.rgb, image.width, image.height) };
}

/** the network's input for a picture: [3, 32, 32] float32, normalised with the table the run's data loader used */
export function imageInput(image: PreparedImage, normalization: Normalization): Float32Array {
  const table = normalizationTable(normalization);
  const out = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) out[i] = table[Math.floor(i / (CIFAR_SIZE * CIFAR_SIZE)) * 256 + image.pixels[i]];
  return out;
}

/** softmax in float64, the largest logit subtracted first so nothing overflows */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** the k most probable classes, most probable first */
export function topClasses(probabilities: number[], classes: readonly string[], k: number): RankedClass[] {
  return probabilities
    .map((probability, index) => ({ class: classes[index] ?? `class ${index}`, index, probability }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, Math.max(0, k));
}

/** the model's logits for inputs [N * 3 * 32 * 32], eval mode, in batches; a row per image */
export function logitsOf(model: Module, inputs: Float32Array, count: number): number[][] {
  const device = model.parameters()[0]?.device ?? 'cpu';
  const wasTraining = model.training;
  model.eval();
  const rows: number[][] = [];
  try {
    for (let start = 0; start < count; start += BATCH) {
      const n = Math.min(BATCH, count - start);
      const values = noGrad(() =>
        tidy(() => {
          const x = Tensor.fromArray(inputs.subarray(start * PIXELS, (start + n) * PIXELS), [n, 3, CIFAR_SIZE, CIFAR_SIZE], { device });
          const logits = model.forward(x);
          if (logits.shape.length !== 2 || logits.shape[0] !== n) throw new RangeError(`predict: the model's output is ${JSON.stringify(logits.shape)}, expected [${n}, classes]`);
          return { data: logits.toArray(), classes: logits.shape[1] };
        }),
      );
      for (let i = 0; i < n; i++) rows.push(Array.from(values.data.subarray(i * values.classes, (i + 1) * values.classes)));
    }
  } finally {
    model.train(wasTraining);
  }
  return rows;
}

export function predictImages(model: Module, images: PreparedImage[], normalization: Normalization, classes: readonly string[], top = 3): Prediction[] {
  const inputs = new Float32Array(images.length * PIXELS);
  images.forEach((img, i) => inputs.set(imageInput(img, normalization), i * PIXELS));
  const logits = logitsOf(model, inputs, images.length);
  return images.map((img, i) => {
    const probabilities = softmax(logits[i]);
    return {
      file: img.file,
      format: img.format,
      width: img.width,
      height: img.height,
      logits: logits[i],
      probabilities,
      top: topClasses(probabilities, classes, top),
    };
  });
}
