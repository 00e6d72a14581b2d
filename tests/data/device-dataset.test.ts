// the device-resident data set yields the DataLoader's batches bit for bit
// (same shuffles from the same generator, same batch cuts for batchSize,
// dropLast and limit, same normalisation table), leaves the generator where
// the loader leaves it, frees what it allocates, and refuses bad options.
// on the cpu always; on cuda too when a GPU is there.
import { describe, expect, it } from 'vitest';
import type { Split } from '../../src/data/cifar10';
import { DeviceDataset, type DeviceDatasetOptions } from '../../src/data/device-dataset';
import { DataLoader, type Normalization } from '../../src/data/loader';
import { native, type DeviceName } from '../../src/native';
import { Generator } from '../../src/random';
import { cudaAvailable, cudaReason } from '../helpers/native';
import { makeSplit } from '../train/tiny-cifar';

const devices: DeviceName[] = cudaAvailable ? ['cpu', 'cuda'] : ['cpu'];
if (!cudaAvailable) console.log(`device-dataset: cuda cases skipped (${cudaReason})`);

type Options = Omit<DeviceDatasetOptions, 'device' | 'generator'> & { seed?: number };

interface HostCopy {
  images: Float32Array;
  labels: Int32Array;
  size: number;
  index: number;
}

// an epoch of the device data set, read back and its tensors disposed
function deviceEpoch(ds: DeviceDataset): HostCopy[] {
  const out: HostCopy[] = [];
  for (const b of ds) {
    expect(b.images.shape).toEqual([b.size, 3, 32, 32]);
    expect(b.labels.dtype).toBe('int32');
    out.push({ images: b.images.toArray() as Float32Array, labels: b.labels.toArray() as Int32Array, size: b.size, index: b.index });
    b.images.dispose();
    b.labels.dispose();
  }
  return out;
}

function expectSameBatches(got: HostCopy[], want: HostCopy[], label: string): void {
  expect(got.map((b) => [b.index, b.size]), label).toEqual(want.map((b) => [b.index, b.size]));
  got.forEach((b, i) => {
    expect(Buffer.from(b.images.buffer).equals(Buffer.from(want[i].images.buffer)), `${label} batch ${i} images`).toBe(true);
    expect(Array.from(b.labels), `${label} batch ${i} labels`).toEqual(Array.from(want[i].labels));
  });
}

// epochs of both, each with its own generator of the same seed; the generators must end level
function compare(split: Split, device: DeviceName, opts: Options, epochs = 2): void {
  const seed = opts.seed ?? 5;
  const g1 = new Generator(seed), g2 = new Generator(seed);
  const { seed: _, ...rest } = opts;
  const loader = new DataLoader(split, { ...rest, generator: g1 });
  const ds = new DeviceDataset(split, { ...rest, device, generator: g2 });
  try {
    expect(ds.batches).toBe(loader.batches);
    expect(ds.size).toBe(loader.size);
    for (let e = 0; e < epochs; e++) {
      const label = `${device} ${JSON.stringify(rest)} epoch ${e + 1}`;
      expectSameBatches(deviceEpoch(ds), [...loader], label);
      expect(g2.state(), label).toEqual(g1.state());
    }
  } finally {
    ds.dispose();
  }
}

describe.each(devices)('DeviceDataset on %s', (device) => {
  const split = makeSplit(53, 11);

  it('yields the DataLoader batches, shuffled or in order, for ragged and dropped last batches', () => {
    compare(split, device, { batchSize: 16, shuffle: true });
    compare(split, device, { batchSize: 16, shuffle: true, dropLast: true });
    compare(split, device, { batchSize: 1, shuffle: true }, 1);
    compare(split, device, { batchSize: 53, shuffle: true });
    compare(split, device, { batchSize: 100, shuffle: true, dropLast: true });
    compare(split, device, { batchSize: 10, shuffle: false });
    compare(split, device, { batchSize: 7, shuffle: false, dropLast: true });
  });

  it('honours limit (only the first images go up) and a normalisation of its own', () => {
    const normalization: Normalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
    compare(split, device, { batchSize: 8, shuffle: true, limit: 20 });
    compare(split, device, { batchSize: 8, shuffle: false, limit: 500, normalization });
    compare(split, device, { batchSize: 6, shuffle: true, limit: 13, dropLast: true, normalization, seed: 9 });
    compare(split, device, { batchSize: 4, shuffle: true, limit: 0 });
    const ds = new DeviceDataset(split, { device, batchSize: 8, shuffle: false, limit: 20 });
    expect(native().memoryStats(device).allocated).toBeGreaterThanOrEqual(20 * 3072);
    ds.dispose();
  });

  it('goes on where the loader goes on after an epoch cut short (resume between epochs)', () => {
    const g1 = new Generator(3), g2 = new Generator(3);
    const loader = new DataLoader(split, { batchSize: 16, shuffle: true, generator: g1 });
    const ds = new DeviceDataset(split, { device, batchSize: 16, shuffle: true, generator: g2 });
    try {
      // read one batch of the first epoch and stop; the order was drawn whole
      loader[Symbol.iterator]().next();
      for (const b of ds) {
        b.images.dispose();
        b.labels.dispose();
        break;
      }
      expect(g2.state()).toEqual(g1.state());
      expectSameBatches(deviceEpoch(ds), [...loader], 'the next epoch');
    } finally {
      ds.dispose();
    }
  });

  it('frees what it allocates: the order at the end of an epoch (or a break), the data set on dispose', () => {
    const before = native().memoryStats(device).storages;
    const ds = new DeviceDataset(split, { device, batchSize: 16, shuffle: true, generator: new Generator(1) });
    const held = native().memoryStats(device).storages;
    expect(held).toBe(before + 3);
    deviceEpoch(ds);
    expect(native().memoryStats(device).storages).toBe(held);
    for (const b of ds) {
      b.images.dispose();
      b.labels.dispose();
      break;
    }
    expect(native().memoryStats(device).storages).toBe(held);
    ds.dispose();
    ds.dispose();
    expect(ds.disposed).toBe(true);
    expect(native().memoryStats(device).storages).toBe(before);
    expect(() => [...ds]).toThrow(/disposed/);
  });
});

describe('DeviceDataset options', () => {
  const split = makeSplit(10, 12);
  it('refuses what the DataLoader refuses', () => {
    expect(() => new DeviceDataset(split, { device: 'cpu', batchSize: 0, shuffle: false })).toThrow(/batchSize/);
    expect(() => new DeviceDataset(split, { device: 'cpu', batchSize: 2.5, shuffle: false })).toThrow(/batchSize/);
    expect(() => new DeviceDataset(split, { device: 'cpu', batchSize: 2, shuffle: true })).toThrow(/generator/);
    expect(() => new DeviceDataset(split, { device: 'cpu', batchSize: 2, shuffle: false, limit: -1 })).toThrow(/limit/);
    expect(() => new DeviceDataset(split, { device: 'cpu', batchSize: 2, shuffle: false, normalization: { mean: [0, 0, 0], std: [1, 0, 1] } })).toThrow(
      /channel 1/,
    );
    expect(() => new DeviceDataset({ images: new Uint8Array(10), labels: new Uint8Array(1), count: 1 }, { device: 'cpu', batchSize: 1, shuffle: false })).toThrow(
      /3072 image bytes/,
    );
  });

  it.skipIf(cudaAvailable)(`says why cuda cannot be used${cudaAvailable ? '' : ` (${cudaReason})`}`, () => {
    expect(() => new DeviceDataset(split, { device: 'cuda', batchSize: 2, shuffle: false })).toThrow(/DeviceDataset/);
  });
});
