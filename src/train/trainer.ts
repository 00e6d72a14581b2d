// the epoch loop: the run's optimizer (built by createOptimizer from its
// config) on a model by name, a test-set evaluation after every epoch, a
// checkpoint and a metrics row per epoch, the summary at the end.
//
// each step runs in tidy(), which frees its intermediates. nothing in a step
// reads from the device: the loss is summed on the device and read every
// READ_EVERY steps (and at the end of the epoch), which is also when the
// progress line is redrawn and a non-finite loss is looked for. nor does a
// step copy anything from the host unless augmentation is on: the data set
// stays on the device and each batch is gathered there (data/device-dataset.ts).
import path from 'path';
import { Tensor, tidy } from '../tensor';
import { crossEntropy, correctCount } from '../ops';
import { Generator } from '../random';
import { createModel, initFromTrainingImages } from '../models';
import type { Module } from '../nn/module';
import { createOptimizer, type Optimizer } from '../optim';
import { DataLoader } from '../data/loader';
import { HostBatches, type TensorBatches } from '../data/batches';
import { DeviceDataset } from '../data/device-dataset';
import type { Split } from '../data/cifar10';
import { writeJsonAtomic } from '../atomic-file';
import { makeDirectory } from '../make-directory';
import { DeviceCount, DeviceSum } from './accumulate';
import { findLatestCheckpoint, loadCheckpoint, pruneCheckpoints, removeRunFiles, saveCheckpoint } from './checkpoint';
import { removeTemporaries } from '../atomic-file';
import { testHook } from '../test-hooks';
import { AUGMENTATION, type RunConfig } from './config';
import { evaluate } from './evaluate';
import {
  buildSummary,
  CONFIG_FILE,
  finiteOrNull,
  writeMetrics,
  writeSummary,
  type EpochMetrics,
  type NanAt,
  type RunSummary,
} from './metrics';
import { Progress } from './progress';

/** steps between reads of the loss (each read waits for the device) */
export const READ_EVERY = 20;

// the data generator's key: the run's seed mixed with a constant, so shuffling
// draws from a stream of its own, independent of weight init and dropout
const DATA_STREAM = 0x5851f42d4c957f2dn;

export function dataSeed(seed: number): bigint {
  return (BigInt(seed) ^ DATA_STREAM) & ((1n << 64n) - 1n);
}

export interface TrainData {
  train: Split;
  test: Split;
}

export interface StepInfo {
  epoch: number;
  /** 1-based within the epoch */
  step: number;
  model: Module;
}

export interface TrainOptions {
  config: RunConfig;
  runDir: string;
  data: TrainData;
  /** go on from the newest checkpoint in runDir (from scratch when there is none) */
  resume?: boolean;
  progress?: Progress;
  /** called after every step; throwing stops the run there, as a kill would */
  onStep?: (info: StepInfo) => void;
}

interface EpochResult {
  loss: number;
  accuracy: number;
  images: number;
  seconds: number;
  nanAt: NanAt | null;
  stopped: boolean;
}

async function trainEpoch(
  epoch: number,
  model: Module,
  optimizer: Optimizer,
  loader: TensorBatches,
  config: RunConfig,
  progress: Progress,
  onStep?: (info: StepInfo) => void,
): Promise<EpochResult> {
  const device = config.device;
  const lossSum = new DeviceSum(device);
  const correct = new DeviceCount();
  // the per-step losses since the last read: looked at only when the sum turns out not finite
  let window: Tensor[] = [];
  let windowStart = 1;
  let nanAt: NanAt | null = null;
  let images = 0;
  let step = 0;
  let stopped = false;
  const start = performance.now();
  const steps = loader.batches;

  const readBack = () => {
    const sum = lossSum.read(); // the one wait on the device
    const right = correct.read();
    if (!Number.isFinite(sum) && nanAt === null) {
      for (let i = 0; i < window.length; i++) {
        if (!Number.isFinite(window[i].item())) {
          nanAt = { epoch, step: windowStart + i };
          break;
        }
      }
    }
    for (const t of window) t.dispose();
    window = [];
    windowStart = step + 1;
    const elapsed = (performance.now() - start) / 1000;
    progress.step({
      epoch,
      epochs: config.epochs,
      step,
      steps,
      loss: sum / images,
      accuracy: right / images,
      imagesPerSecond: elapsed > 0 ? images / elapsed : 0,
      elapsed,
    });
    return { sum, right };
  };

  let last = { sum: 0, right: 0 };
  let readAt = -1;
  try {
    for (const batch of loader) {
      step++;
      let out: { value: Tensor; count: Tensor };
      try {
        out = tidy(() => {
          optimizer.zeroGrad();
          const logits = model.forward(batch.images);
          const loss = crossEntropy(logits, batch.labels);
          const count = correctCount(logits, batch.labels);
          loss.backward();
          optimizer.step();
          const value = loss.detach();
          lossSum.add(value, batch.size);
          return { value, count };
        });
      } finally {
        batch.images.dispose();
        batch.labels.dispose();
      }
      window.push(out.value);
      correct.add(out.count);
      images += batch.size;
      if (step % READ_EVERY === 0 || step === steps) {
        last = readBack();
        readAt = step;
        if (nanAt !== null && config.stopOnNan) {
          stopped = true;
          break;
        }
        // let the event loop run at each read: a SIGINT or SIGTERM is handled
        // (the run's lock released) within READ_EVERY steps, not at the epoch's end
        await new Promise((resolve) => setImmediate(resolve));
      }
      onStep?.({ epoch, step, model });
      testHook(`step:${(epoch - 1) * steps + step}`);
    }
    if (readAt !== step) last = readBack();
    return {
      loss: images > 0 ? last.sum / images : NaN,
      accuracy: images > 0 ? last.right / images : 0,
      images,
      seconds: (performance.now() - start) / 1000,
      nanAt,
      stopped,
    };
  } finally {
    for (const t of window) t.dispose();
    lossSum.dispose();
    correct.dispose();
  }
}

/** trains (or resumes) one run in runDir; returns the summary it also writes */
export async function trainRun(opts: TrainOptions): Promise<RunSummary> {
  const { config, runDir } = opts;
  const progress = opts.progress ?? new Progress(null);
  const device = config.device;
  const keep = config.keepCheckpoints;
  makeDirectory(runDir);

  removeTemporaries(runDir);
  const checkpoint = opts.resume ? findLatestCheckpoint(runDir) : null;
  if (!checkpoint) removeRunFiles(runDir);

  const modelGen = new Generator(config.seed);
  const dataGen = new Generator(dataSeed(config.seed));
  const model = createModel(config.model, { generator: modelGen, device });
  model.train();
  const optimizer = createOptimizer(model.parameters(), config);
  // without augmentation both splits stay on the device and each batch is
  // gathered there (no host->device copy in a step); augmented batches are
  // built on the host. both draw the same numbers from dataGen, so a run's
  // batches do not depend on which path made them.
  const limit = config.limit ?? undefined;
  const makeTrainBatches = (): TensorBatches =>
    config.augment
      ? new HostBatches(
          new DataLoader(opts.data.train, {
            batchSize: config.batch,
            shuffle: true,
            generator: dataGen,
            normalization: config.normalization,
            augment: AUGMENTATION,
            dropLast: false,
            limit,
          }),
          device,
        )
      : new DeviceDataset(opts.data.train, {
          device,
          batchSize: config.batch,
          shuffle: true,
          generator: dataGen,
          normalization: config.normalization,
          dropLast: false,
          limit,
        });
  const makeTestBatches = (): DeviceDataset =>
    new DeviceDataset(opts.data.test, { device, batchSize: config.evalBatch, shuffle: false, normalization: config.normalization, limit });
  const trainImages = Math.min(config.limit ?? Infinity, opts.data.train.count);
  const testImages = Math.min(config.limit ?? Infinity, opts.data.test.count);

  let rows: EpochMetrics[] = [];
  let firstEpoch = 1;
  let stoppedOnNan = false;
  let trainBatches: TensorBatches | null = null;
  let testBatches: DeviceDataset | null = null;
  try {
    trainBatches = makeTrainBatches();
    testBatches = makeTestBatches();
    if (checkpoint) {
      loadCheckpoint(runDir, checkpoint, model, optimizer, device, {
        epochs: config.epochs,
        modelName: config.model,
        batchesPerEpoch: trainBatches.batches,
        rngSeeds: { model: modelGen.seed, data: dataGen.seed },
      });
      modelGen.setState(checkpoint.rng.model);
      dataGen.setState(checkpoint.rng.data);
      rows = checkpoint.metrics.slice(0, checkpoint.epoch);
      firstEpoch = checkpoint.epoch + 1;
      // rows past the checkpoint belong to the part that is redone
      writeMetrics(runDir, rows);
      // written once the saved state checked out: a refused resume leaves the run as it was
      writeJsonAtomic(path.join(runDir, CONFIG_FILE), config);
      progress.message(`resuming ${runDir} after epoch ${checkpoint.epoch} of ${config.epochs}`);
    } else {
      // airbench94's whitening layer starts from the training images' patch statistics
      initFromTrainingImages(model, opts.data.train, config.normalization, config.limit, device);
      writeJsonAtomic(path.join(runDir, CONFIG_FILE), config);
      writeMetrics(runDir, rows);
    }

    for (let epoch = firstEpoch; epoch <= config.epochs; epoch++) {
      const r = await trainEpoch(epoch, model, optimizer, trainBatches, config, progress, opts.onStep);
      const ev = evaluate(model, testBatches, device);
      const row: EpochMetrics = {
        epoch,
        train_loss: finiteOrNull(r.loss),
        train_accuracy: r.accuracy,
        test_loss: finiteOrNull(ev.loss),
        test_accuracy: ev.accuracy,
        seconds: r.seconds,
        images_per_second: r.seconds > 0 ? r.images / r.seconds : 0,
        eval_seconds: ev.seconds,
        nan_at: r.nanAt,
      };
      rows.push(row);
      if (r.nanAt) progress.message(`loss is not finite at epoch ${r.nanAt.epoch}, step ${r.nanAt.step}${config.stopOnNan ? '; stopping (--stop-on-nan)' : ''}`);
      if (r.stopped) {
        // a cut-short epoch is no state to resume from: no checkpoint for it
        stoppedOnNan = true;
        writeMetrics(runDir, rows);
        progress.epoch(row, config.epochs);
        break;
      }
      saveCheckpoint(runDir, {
        epoch,
        modelName: config.model,
        model,
        optimizer,
        rng: { model: modelGen.state(), data: dataGen.state() },
        batchesPerEpoch: trainBatches.batches,
        metrics: rows,
      });
      writeMetrics(runDir, rows);
      // only now that the new checkpoint is complete may older ones go
      pruneCheckpoints(runDir, rows, keep);
      progress.epoch(row, config.epochs);
      // let the event loop breathe between epochs (signals, output)
      await new Promise((resolve) => setImmediate(resolve));
    }
    const summary = buildSummary(config, rows, {
      trainImages,
      testImages,
      parameters: model.parameters().reduce((n, p) => n + p.numel, 0),
      runDir,
      stoppedOnNan,
    });
    writeSummary(runDir, summary);
    return summary;
  } finally {
    progress.done();
    if (trainBatches instanceof DeviceDataset) trainBatches.dispose();
    testBatches?.dispose();
    // parameters and optimizer state live outside every tidy: free them here
    optimizer.dispose();
    for (const p of model.parameters()) p.dispose();
  }
}
