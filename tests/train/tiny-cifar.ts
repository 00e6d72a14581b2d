// a tiny CIFAR-10 made up for the tests: images whose colour and a bright
// square depend on the label (so a model can learn something), plus noise,
// all from a fixed LCG. written in the official binary layout when a test
// needs files: cifar-10-batches-bin/ with batches.meta.txt, data_batch_1..5.bin
// (records of 1 label byte + 3072 pixel bytes) and test_batch.bin.
import fs from 'fs';
import path from 'path';

export interface TinySplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export function makeSplit(count: number, seed: number): TinySplit {
  let state = (seed * 2654435761 + 12345) >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state >>> 24;
  };
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = next() % 10;
    labels[i] = label;
    const base = i * 3072;
    for (let c = 0; c < 3; c++) {
      const tint = ((label * (c + 3) * 37) % 160) + 40;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const inSquare = y >= 3 * label && y < 3 * label + 6 && x >= 8 && x < 24;
          const v = (inSquare ? 230 : tint) + (next() % 32) - 16;
          images[base + c * 1024 + y * 32 + x] = Math.max(0, Math.min(255, v));
        }
      }
    }
  }
  return { images, labels, count };
}

function binRecords(s: TinySplit, from: number, to: number): Buffer {
  const out = Buffer.alloc((to - from) * 3073);
  for (let i = from; i < to; i++) {
    const at = (i - from) * 3073;
    out[at] = s.labels[i];
    out.set(s.images.subarray(i * 3072, (i + 1) * 3072), at + 1);
  }
  return out;
}

/** writes dir/cifar-10-batches-bin/ holding train (split over 5 files) and test */
export function writeTinyCifarBin(dir: string, train: TinySplit, test: TinySplit): string {
  const folder = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'batches.meta.txt'), CLASSES.join('\n') + '\n');
  // equal parts: the loader wants the five training files to hold the same count
  if (train.count < 5 || train.count % 5) throw new Error('writeTinyCifarBin: needs a positive multiple of 5 training images (five equal batch files)');
  for (let b = 0; b < 5; b++) {
    const from = Math.floor((b * train.count) / 5);
    const to = Math.floor(((b + 1) * train.count) / 5);
    fs.writeFileSync(path.join(folder, `data_batch_${b + 1}.bin`), binRecords(train, from, to));
  }
  fs.writeFileSync(path.join(folder, 'test_batch.bin'), binRecords(test, 0, test.count));
  return folder;
}
