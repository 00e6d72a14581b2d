// augmentation on the training device: each batch of an augmented
// DeviceDataset equals a plain-loop reference (the bytes normalised, then
// translated with reflect padding, mirrored and cut out as the philox
// reference of src/spec says for (seed, epoch, image index)), whatever the
// thread count and run; an epoch is the same when a resumed run makes it;
// the alternating flip mirrors every image every other epoch; and the
// augmentation takes nothing from the generator. on the cpu always, on cuda
// too when a GPU is there.
import { describe, expect, it } from 'vitest';
import { DeviceDataset } from '../../src/data/device-dataset';
import { CIFAR10_NORMALIZATION, type Normalization } from '../../src/data/loader';
import type { DeviceName } from '../../src/native';
import type { Augmentation } from '../../src/ops/augment';
import { Generator } from '../../src/random';
import { augmentChoiceRef, reflectRef } from '../../src/spec/augment';
import { cudaAvailable, withThreads } from '../helpers/native';
import { makeSplit, type TinySplit } from '../train/tiny-cifar';

const devices: DeviceName[] = cudaAvailable ? ['cpu', 'cuda'] : ['cpu'];
const SIDE = 32, PLANE = SIDE * SIDE, IMAGE = 3 * PLANE;
const AIRBENCH: Augmentation = { translate: 2, flip: 'alternating', cutout: 0 };

interface Epoch {
  images: Float32Array[];
  labels: Int32Array[];
}

function readEpoch(ds: DeviceDataset): Epoch {
  const e: Epoch = { images: [], labels: [] };
  for (const b of ds) {
    e.images.push(b.images.toArray() as Float32Array);
    e.labels.push(b.labels.toArray() as Int32Array);
    b.images.dispose();
    b.labels.dispose();
  }
  return e;
}

function expectSameBits(got: Epoch, want: Epoch, label: string): void {
  expect(got.images.length, label).toBe(want.images.length);
  got.images.forEach((g, i) => {
    expect(Buffer.from(g.buffer).equals(Buffer.from(want.images[i].buffer)), `${label} batch ${i} images`).toBe(true);
    expect(Array.from(got.labels[i]), `${label} batch ${i} labels`).toEqual(Array.from(want.labels[i]));
  });
}

// image id of the split, normalised (float32, as the table rounds it) and augmented by plain loops
function referenceImage(split: TinySplit, id: number, norm: Normalization, a: Augmentation, seed: bigint, epoch: number): Float32Array {
  const c = augmentChoiceRef(seed, epoch, id, { ...a, height: SIDE, width: SIDE });
  const out = new Float32Array(IMAGE);
  for (let ch = 0; ch < 3; ch++)
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) {
        const cut = a.cutout > 0 && y >= c.cutY0 && y < c.cutY0 + a.cutout && x >= c.cutX0 && x < c.cutX0 + a.cutout;
        const sy = reflectRef(y + c.dy, SIDE), sx = reflectRef((c.flip ? SIDE - 1 - x : x) + c.dx, SIDE);
        const v = split.images[id * IMAGE + ch * PLANE + sy * SIDE + sx];
        out[ch * PLANE + y * SIDE + x] = cut ? 0 : Math.fround((v / 255 - norm.mean[ch]) / norm.std[ch]);
      }
  return out;
}

// the epoch a reference makes: the order from a generator of the same seed, cut into batches
function referenceEpoch(split: TinySplit, order: Int32Array, batchSize: number, norm: Normalization, a: Augmentation, seed: bigint, epoch: number): Epoch {
  const e: Epoch = { images: [], labels: [] };
  for (let start = 0; start < order.length; start += batchSize) {
    const ids = order.subarray(start, Math.min(order.length, start + batchSize));
    const images = new Float32Array(ids.length * IMAGE);
    ids.forEach((id, i) => images.set(referenceImage(split, id, norm, a, seed, epoch), i * IMAGE));
    e.images.push(images);
    e.labels.push(Int32Array.from(ids, (id) => split.labels[id]));
  }
  return e;
}

describe.each(devices)('augmentation on %s', (device) => {
  const split = makeSplit(53, 21);
  const seed = 0x9e3779b97f4a7c15n;

  const make = (a: Augmentation, opts: { shuffle?: boolean; generator?: Generator; batchSize?: number; normalization?: Normalization } = {}) =>
    new DeviceDataset(split, {
      device,
      batchSize: opts.batchSize ?? 16,
      shuffle: opts.shuffle ?? true,
      generator: opts.generator ?? new Generator(3),
      normalization: opts.normalization ?? CIFAR10_NORMALIZATION,
      augment: { ...a, seed },
    });

  it('gives the reference batches: shuffled and in order, every flip mode, translations, cutout, batch 1', () => {
    const cases: Array<[Augmentation, boolean, number]> = [
      [AIRBENCH, true, 16],
      [{ translate: 4, flip: 'random', cutout: 12 }, true, 16],
      [{ translate: 0, flip: 'none', cutout: 32 }, false, 53],
      [{ translate: 31, flip: 'alternating', cutout: 5 }, false, 1],
    ];
    for (const [a, shuffle, batchSize] of cases) {
      const g = new Generator(3), orders = new Generator(3);
      const ds = make(a, { shuffle, generator: g, batchSize });
      try {
        for (let epoch = 0; epoch < 3; epoch++) {
          const order = shuffle ? orders.permutation(53) : Int32Array.from({ length: 53 }, (_, i) => i);
          const label = `${JSON.stringify(a)} shuffle ${shuffle} batch ${batchSize} epoch ${epoch}`;
          expectSameBits(readEpoch(ds), referenceEpoch(split, order, batchSize, CIFAR10_NORMALIZATION, a, seed, epoch), label);
          // the augmentation draws nothing from the generator: only the order does
          expect(g.state(), label).toEqual(orders.state());
        }
      } finally {
        ds.dispose();
      }
    }
  });

  it('gives the same bits on 1, 2 and 3 threads and in a second run', () => {
    const epochs = (threads: number) =>
      withThreads(threads, () => {
        const ds = make({ translate: 2, flip: 'random', cutout: 8 });
        try {
          return [readEpoch(ds), readEpoch(ds)];
        } finally {
          ds.dispose();
        }
      });
    const one = epochs(1);
    for (const threads of [2, 3, 1]) {
      const many = epochs(threads);
      many.forEach((e, i) => expectSameBits(e, one[i], `${threads} threads, epoch ${i}`));
    }
  });

  it('makes the same epoch in a resumed run: the generator state and the epoch number are all it needs', () => {
    const g = new Generator(8);
    const ds = make(AIRBENCH, { generator: g });
    let state;
    let third: Epoch;
    try {
      readEpoch(ds);
      readEpoch(ds);
      state = g.state();
      third = readEpoch(ds);
    } finally {
      ds.dispose();
    }
    const resumed = new Generator(8);
    resumed.setState(state);
    const again = make(AIRBENCH, { generator: resumed });
    try {
      again.epoch = 2;
      expectSameBits(readEpoch(again), third, 'resumed epoch 3');
    } finally {
      again.dispose();
    }
  });

  it("alternating flips: about half the images mirrored at first, then every image toggled each epoch (airbench's)", () => {
    const plain = make({ translate: 0, flip: 'none', cutout: 0 }, { shuffle: false, batchSize: 53 });
    const alt = make({ translate: 0, flip: 'alternating', cutout: 0 }, { shuffle: false, batchSize: 53 });
    try {
      const original = readEpoch(plain).images[0];
      const epochs = [0, 1, 2, 3].map(() => readEpoch(alt).images[0]);
      const mirrored = (img: Float32Array, i: number) => {
        for (let ch = 0; ch < 3; ch++)
          for (let y = 0; y < SIDE; y++)
            for (let x = 0; x < SIDE; x++) {
              if (img[i * IMAGE + ch * PLANE + y * SIDE + x] !== original[i * IMAGE + ch * PLANE + y * SIDE + (SIDE - 1 - x)]) return false;
            }
        return true;
      };
      const same = (img: Float32Array, i: number) =>
        Buffer.from(img.buffer, i * IMAGE * 4, IMAGE * 4).equals(Buffer.from(original.buffer, i * IMAGE * 4, IMAGE * 4));
      const flips = epochs.map((img) => Array.from({ length: 53 }, (_, i) => (mirrored(img, i) ? 1 : same(img, i) ? 0 : -1)));
      // every image is either itself or its mirror (no image here is symmetric)
      for (const f of flips) expect(f).not.toContain(-1);
      const flippedFirst = flips[0].reduce((s: number, f) => s + f, 0);
      expect(flippedFirst).toBeGreaterThan(10);
      expect(flippedFirst).toBeLessThan(43);
      for (let i = 0; i < 53; i++) {
        expect(flips[1][i], `image ${i}, epoch 2`).toBe(1 - flips[0][i]);
        expect(flips[2][i], `image ${i}, epoch 3`).toBe(flips[0][i]);
        expect(flips[3][i], `image ${i}, epoch 4`).toBe(flips[1][i]);
      }
    } finally {
      plain.dispose();
      alt.dispose();
    }
  });

  it('gives the plain batches, and the same generator draws, when every augmentation is off', () => {
    const g1 = new Generator(4), g2 = new Generator(4);
    const off = make({ translate: 0, flip: 'none', cutout: 0 }, { generator: g1 });
    const plain = new DeviceDataset(split, { device, batchSize: 16, shuffle: true, generator: g2, normalization: CIFAR10_NORMALIZATION });
    try {
      expectSameBits(readEpoch(off), readEpoch(plain), 'augmentation off');
      expect(g1.state()).toEqual(g2.state());
    } finally {
      off.dispose();
      plain.dispose();
    }
  });
});
