// test-set evaluation: no graph, the model in eval mode (dropout off), the
// loss and correct counts summed on the device and read once at the end.
import { Tensor, tidy } from '../tensor';
import { noGrad } from '../autograd';
import { crossEntropy, correctCount } from '../ops';
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

export function evaluate(model: Module, loader: TensorBatches, device: Tensor['device']): Evaluation {
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
            const logits = model.forward(batch.images);
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
