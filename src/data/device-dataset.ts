// a split kept on the training device as bytes (images and labels uploaded
// once), with each batch built there by one native op (gatherImages): a
// training step copies nothing from the host. only an epoch's order goes up,
// once, when the epoch starts.
//
// the batches are the DataLoader's, bit for bit: the same generator call
// draws the order when an epoch starts (permutation(n), nothing else, as the
// loader without augmentation), the same batchSize / dropLast / limit rules
// cut it, and the pixels go through the loader's own normalisation table.
//
// with `augment`, each gathered batch is translated, mirrored and cut out on
// the device too (ops/augment.ts): the choices are philox draws keyed by
// (seed, epoch, image index), so they take nothing from the generator, the
// batch order aside, and an epoch is the same whenever it is run, a resumed
// one included. `epoch` says which epoch the next iteration is.
import { native, type DeviceName, type NativeStorage } from '../native';
import { fromNative } from '../errors';
import type { Generator } from '../random';
import { Tensor } from '../tensor';
import type { TensorBatch, TensorBatches } from './batches';
import { IMAGE_BYTES, type Split } from './cifar10';
import { DEFAULT_NORMALIZATION, normalizationTable, planEpochs, type Normalization } from './loader';
import { augmentImages, augments, type Augmentation } from '../ops/augment';

const CHANNELS = 3;
const SIDE = 32;
const PLANE = SIDE * SIDE;

export interface DeviceDatasetOptions {
  device: DeviceName;
  batchSize: number;
  shuffle: boolean;
  generator?: Generator;
  normalization?: Normalization;
  dropLast?: boolean;
  /** keep only the first `limit` images of the split */
  limit?: number;
  /** augmentation on the device, its draws keyed by seed (not taken from the generator) */
  augment?: Augmentation & { seed: bigint };
}

export class DeviceDataset implements TensorBatches {
  /** batches per epoch */
  readonly batches: number;
  /** images per epoch (the split, cut to `limit`) */
  readonly size: number;
  readonly batchSize: number;
  readonly device: DeviceName;
  private readonly shuffle: boolean;
  private readonly generator: Generator | undefined;
  private readonly augment: (Augmentation & { seed: bigint }) | null;
  /** the epoch (from 0) whose augmentation the next iteration draws; each iteration moves it on by one */
  epoch = 0;
  // null once disposed
  private storages: { images: NativeStorage; labels: NativeStorage; table: NativeStorage } | null;

  constructor(split: Split, opts: DeviceDatasetOptions) {
    const { batchSize, size, batches } = planEpochs('DeviceDataset', split, opts);
    if (opts.shuffle && !opts.generator) throw new RangeError('DeviceDataset: shuffle draws from a generator; pass opts.generator');
    // the table checks the normalisation (and says which channel is wrong)
    const table = normalizationTable(opts.normalization ?? DEFAULT_NORMALIZATION);
    this.device = opts.device;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle;
    this.generator = opts.generator;
    this.size = size;
    this.batches = batches;
    this.augment = opts.augment && augments(opts.augment) ? { ...opts.augment } : null;
    this.storages = this.upload(split, table);
  }

  // only the images an epoch can reach go up; a storage is never empty
  private upload(split: Split, table: Float32Array) {
    const addon = native();
    const made: NativeStorage[] = [];
    const make = (bytes: number, data: ArrayBufferView | null) => {
      const s = new addon.Storage(this.device, Math.max(4, bytes));
      made.push(s);
      if (data && data.byteLength > 0) addon.write(s, data);
      return s;
    };
    try {
      return {
        images: make(this.size * IMAGE_BYTES, split.images.subarray(0, this.size * IMAGE_BYTES)),
        labels: make(this.size, split.labels.subarray(0, this.size)),
        table: make(table.byteLength, table),
      };
    } catch (err) {
      for (const s of made) s.free();
      throw fromNative('DeviceDataset', err);
    }
  }

  get disposed(): boolean {
    return this.storages === null;
  }

  /** frees the data set's device memory now (idempotent); batches already made stay valid */
  dispose(): void {
    if (!this.storages) return;
    for (const s of Object.values(this.storages)) s.free();
    this.storages = null;
  }

  // the gathered batch augmented (and freed); its image indices are order[start, start + size)
  private augmented(gathered: Tensor, order: NativeStorage, start: number, size: number, epoch: number): Tensor {
    const a = this.augment as Augmentation & { seed: bigint };
    const ids = Tensor.empty([size], { device: this.device, dtype: 'int32' });
    try {
      native().copy(ids.storage('DeviceDataset', 'ids'), order, size * 4, 0, start * 4);
      return augmentImages(gathered, ids, a, a.seed, epoch);
    } finally {
      ids.dispose();
      gathered.dispose();
    }
  }

  /** one epoch; the order is drawn (and uploaded) when it starts */
  *[Symbol.iterator](): Iterator<TensorBatch> {
    if (!this.storages) throw new RangeError('DeviceDataset: the data set was disposed');
    const n = this.size;
    let order = this.shuffle ? (this.generator as Generator).permutation(n) : null;
    const epoch = this.epoch++;
    if (this.batches === 0) return;
    // the augmentation keys its draws by each image's index: it reads them from the order
    if (this.augment && !order) order = Int32Array.from({ length: n }, (_, i) => i);
    let orderStorage: NativeStorage | null = null;
    try {
      if (order) {
        try {
          orderStorage = new (native().Storage)(this.device, order.byteLength);
          native().write(orderStorage, order);
        } catch (err) {
          throw fromNative('DeviceDataset', err);
        }
      }
      for (let b = 0; b < this.batches; b++) {
        const s = this.storages;
        if (!s) throw new RangeError('DeviceDataset: the data set was disposed during an epoch');
        const start = b * this.batchSize;
        const size = Math.min(this.batchSize, n - start);
        let images = Tensor.empty([size, CHANNELS, SIDE, SIDE], { device: this.device });
        const labels = Tensor.empty([size], { device: this.device, dtype: 'int32' });
        try {
          native().gatherImages(size, n, CHANNELS, PLANE, s.images, s.labels, orderStorage, start, s.table,
            images.storage('DeviceDataset', 'images'), labels.storage('DeviceDataset', 'labels'));
          if (this.augment) images = this.augmented(images, orderStorage as NativeStorage, start, size, epoch);
        } catch (err) {
          images.dispose();
          labels.dispose();
          throw fromNative('DeviceDataset', err);
        }
        yield { images, labels, size, index: b };
      }
    } finally {
      // ops on the order already enqueued keep their place on the stream: freeing it here is safe
      orderStorage?.free();
    }
  }
}
