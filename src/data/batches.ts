// an epoch of batches as tensors on the training device, whichever way they
// are made: gathered (and augmented) on the device from a resident data set
// (DeviceDataset, device-dataset.ts), or built on the host by the DataLoader
// and uploaded (HostBatches, the path --augment's zero-padded crops take). the
// trainer and the evaluation read either through TensorBatches.
import type { DeviceName } from '../native';
import { Tensor } from '../tensor';
import type { DataLoader } from './loader';

export interface TensorBatch {
  /** float32 [size, 3, 32, 32], normalised */
  images: Tensor;
  /** int32 [size] */
  labels: Tensor;
  size: number;
  /** the batch's position in its epoch, from 0 */
  index: number;
}

/**
 * one epoch per iteration. the consumer owns each batch's tensors and
 * disposes them once the step is done (they are made outside any tidy of the
 * consumer's, so no scope frees them).
 */
export interface TensorBatches {
  /** batches per epoch */
  readonly batches: number;
  [Symbol.iterator](): Iterator<TensorBatch>;
}

/** the DataLoader's batches, uploaded to the device one at a time */
export class HostBatches implements TensorBatches {
  constructor(private readonly loader: DataLoader, readonly device: DeviceName) {}

  get batches(): number {
    return this.loader.batches;
  }

  *[Symbol.iterator](): Iterator<TensorBatch> {
    for (const b of this.loader) {
      const images = Tensor.fromArray(b.images, [b.size, 3, 32, 32], { device: this.device });
      let labels: Tensor;
      try {
        labels = Tensor.fromArray(b.labels, [b.size], { device: this.device, dtype: 'int32' });
      } catch (err) {
        images.dispose();
        throw err;
      }
      yield { images, labels, size: b.size, index: b.index };
    }
  }
}
