// a small cifar-shaped data set made in the test, with known contents: every
// class has its own colour and stripe direction (so a grid of samples is easy
// to check by eye), pixel noise from a seeded generator, and duplicates placed
// on purpose so the duplicate finder has something to find.
import fs from 'fs';
import path from 'path';

export const CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export interface SyntheticSplit { images: Uint8Array; labels: Uint8Array; count: number }
export interface SyntheticData { classes: string[]; train: SyntheticSplit; test: SyntheticSplit; dir: string; format: string }

// mulberry32: tiny, seeded, good enough for test pixels
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HUES: Array<[number, number, number]> = [
  [90, 140, 230], [220, 40, 40], [200, 170, 60], [150, 110, 80], [120, 160, 60],
  [180, 120, 60], [40, 180, 80], [140, 80, 40], [30, 90, 180], [200, 200, 210],
];

export function makeImage(label: number, random: () => number): Uint8Array {
  const img = new Uint8Array(3072);
  const [r, g, b] = HUES[label % HUES.length];
  const vertical = label % 2 === 0;
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const stripe = ((vertical ? x : y) >> 2) % 2 === 0 ? 1 : 0.55;
      const noise = () => (random() - 0.5) * 40;
      const p = y * 32 + x;
      img[p] = Math.max(0, Math.min(255, Math.round(r * stripe + noise())));
      img[1024 + p] = Math.max(0, Math.min(255, Math.round(g * stripe + noise())));
      img[2048 + p] = Math.max(0, Math.min(255, Math.round(b * stripe + noise())));
    }
  }
  return img;
}

export function makeSplit(count: number, seed: number, classes = 10): SyntheticSplit {
  const random = rng(seed);
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % classes;
    images.set(makeImage(labels[i], random), i * 3072);
  }
  return { images, labels, count };
}

export function copyImage(from: SyntheticSplit, i: number, to: SyntheticSplit, j: number, label?: number): void {
  to.images.set(from.images.subarray(i * 3072, (i + 1) * 3072), j * 3072);
  if (label !== undefined) to.labels[j] = label;
}

// the data set the eda tests share: 200 train and 50 test images, with
//   train 5 = train 0 (within train), test 3 = test 1 (within test),
//   test 7 = train 12 (across), test 9 = train 20 but labelled differently
export function makeDataSet(): SyntheticData {
  const train = makeSplit(200, 1);
  const test = makeSplit(50, 2);
  copyImage(train, 0, train, 5, train.labels[0]);
  copyImage(test, 1, test, 3, test.labels[1]);
  copyImage(train, 12, test, 7, train.labels[12]);
  copyImage(train, 20, test, 9, (train.labels[20] + 1) % 10);
  return { classes: CLASS_NAMES, train, test, dir: '(generated)', format: 'generated' };
}

// the same data in the official binary layout, for the command-line path
export function writeBinLayout(data: SyntheticData, root: string): string {
  const dir = path.join(root, 'cifar-10-batches-bin');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'batches.meta.txt'), data.classes.join('\n') + '\n\n');
  const records = (s: SyntheticSplit, from: number, to: number) => {
    const buf = Buffer.alloc((to - from) * 3073);
    for (let i = from; i < to; i++) {
      buf[(i - from) * 3073] = s.labels[i];
      buf.set(s.images.subarray(i * 3072, (i + 1) * 3072), (i - from) * 3073 + 1);
    }
    return buf;
  };
  const per = data.train.count / 5;
  for (let b = 0; b < 5; b++) fs.writeFileSync(path.join(dir, `data_batch_${b + 1}.bin`), records(data.train, b * per, (b + 1) * per));
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), records(data.test, 0, data.test.count));
  return root;
}
