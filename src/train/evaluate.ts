// test-set evaluation: no graph, the model in eval mode (dropout off), the
// loss and correct counts summed on the device and read once at the end.
//
// with test-time augmentation the logits are a weighted average over views of
// each image, airbench94's: level 1 the image and its mirror (1/2 each);
// level 2 those two at weight 1/4 each, and the image moved one pixel up-left
// and one down-right (reflect padding), each with its mirror, at 1/8 each.
import { Tensor, tidy } from '../tensor';
import { noGrad } from '../autograd';
import { add, crossEntropy, correctCount, scale, shiftFlipImages } from '../ops';
import type { Module } from '../nn/module';
import type { TensorBatches } from '../data/batches';
import { DeviceCount, DeviceSum } from './accumulate';

export interface Evaluation {
  loss: number;
  accuracy: number;
  correct: number;
  count: number;
  seconds: number;
}

/** a view of the batch: moved by (dy, dx), mirrored when flip, its logits weighted by weight */
export interface TtaView {
  dy: number;
  dx: number;
  flip: boolean;
  weight: number;
}

/** the views of each test-time augmentation level (0: the image itself) */
export const TTA_VIEWS: readonly (readonly TtaView[])[] = [
  [{ dy: 0, dx: 0, flip: false, weight: 1 }],
  [
    { dy: 0, dx: 0, flip: false, weight: 0.5 },
    { dy: 0, dx: 0, flip: true, weight: 0.5 },
  ],
  [
    { dy: 0, dx: 0, flip: false, weight: 0.25 },
    { dy: 0, dx: 0, flip: true, weight: 0.25 },
    { dy: -1, dx: -1, flip: false, weight: 0.125 },
    { dy: -1, dx: -1, flip: true, weight: 0.125 },
    { dy: 1, dx: 1, flip: false, weight: 0.125 },
    { dy: 1, dx: 1, flip: true, weight: 0.125 },
  ],
];

/** the model's logits for images, averaged over the views of a test-time augmentation level */
export function ttaLogits(model: Module, images: Tensor, level: number): Tensor {
  const views = TTA_VIEWS[level];
  if (!views) throw new RangeError(`evaluate: the test-time augmentation level must be 0, 1 or 2, got ${level}`);
  if (level === 0) return model.forward(images);
  let sum: Tensor | null = null;
  for (const v of views) {
    const input = v.dy === 0 && v.dx === 0 && !v.flip ? images : shiftFlipImages(images, v.dy, v.dx, v.flip);
    const weighted = scale(model.forward(input), v.weight);
    sum = sum === null ? weighted : add(sum, weighted);
  }
  return sum as Tensor;
}

export function evaluate(model: Module, loader: TensorBatches, device: Tensor['device'], tta = 0): Evaluation {
  const start = performance.now();
  const wasTraining = model.training;
  model.eval();
  const lossSum = new DeviceSum(device);
  const correct = new DeviceCount();
  let count = 0;
  try {
    noGrad(() => {
      for (const batch of loader) {
        try {
          const c = tidy(() => {
            const logits = ttaLogits(model, batch.images, tta);
            lossSum.add(crossEntropy(logits, batch.labels), batch.size);
            return correctCount(logits, batch.labels);
          });
          correct.add(c);
        } finally {
          batch.images.dispose();
          batch.labels.dispose();
        }
        count += batch.size;
      }
    });
    const loss = lossSum.read();
    const right = correct.read();
    return {
      loss: count > 0 ? loss / count : NaN,
      accuracy: count > 0 ? right / count : 0,
      correct: right,
      count,
      seconds: (performance.now() - start) / 1000,
    };
  } finally {
    lossSum.dispose();
    correct.dispose();
    model.train(wasTraining);
  }
}
