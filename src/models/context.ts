// what building a model takes, and what a model may ask for after it is built.
import type { DeviceName } from '../native';
import type { Generator } from '../random';
import type { Tensor } from '../tensor';
import type { Module } from '../nn';

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
