// what building a model takes, and what a model may ask for after it is built.
import type { DeviceName } from '../native';
import type { Generator } from '../random';
import { Tensor, tidy } from '../tensor';
import type { Module } from '../nn';
import type { Split } from '../data/cifar10';
import { type Normalization, normalizationTable } from '../data/loader';

/** every parameter is drawn from the generator, on device (default cpu) */
export interface ModelInit {
  generator: Generator;
  device?: DeviceName;
}

/**
 * a model whose init needs training images (airbench94's whitening layer):
 * before the first step, the trainer passes it the first `initImages`
 * training images, normalised and not augmented, [N, 3, H, W] on its device
 */
export interface InitFromImages {
  readonly initImages: number;
  initFromImages(images: Tensor): void;
}

/** the model's image init, or null when it has none */
export function imageInitOf(model: Module): InitFromImages | null {
  const m = model as Partial<InitFromImages>;
  return typeof m.initFromImages === 'function' && typeof m.initImages === 'number' ? (m as InitFromImages) : null;
}

/** the first `count` images of a split (at most its size), normalised, [N, 3, 32, 32] on device: what initFromImages takes */
export function imagesForInit(split: Split, normalization: Normalization, count: number, device?: DeviceName): Tensor {
  const n = Math.min(count, split.count);
  const table = normalizationTable(normalization);
  const pixels = 3 * 32 * 32;
  const out = new Float32Array(n * pixels);
  for (let i = 0; i < n * pixels; i++) out[i] = table[(Math.floor(i / 1024) % 3) * 256 + split.images[i]];
  return Tensor.fromArray(out, [n, 3, 32, 32], { device });
}

/**
 * gives a model that asks for training images (imageInitOf) the first of
 * them, at most `limit`; a fresh run does this once before its first step
 * (a resumed one has the result in its checkpoint). true when it did.
 */
export function initFromTrainingImages(model: Module, split: Split, normalization: Normalization, limit: number | null, device?: DeviceName): boolean {
  const init = imageInitOf(model);
  if (!init) return false;
  tidy(() => init.initFromImages(imagesForInit(split, normalization, Math.min(init.initImages, limit ?? Infinity), device)));
  return true;
}
