// the epoch loop: the run's optimizer (built by createOptimizer from its
// config) on a model by name, a test-set evaluation after every epoch, a
// checkpoint and a metrics row per epoch, the summary at the end (with the
// test accuracy under test-time augmentation too, when the run asks).
//
// each step runs in tidy(), which frees its intermediates. nothing in a step
// reads from the device: the loss is summed on the device and read every
// READ_EVERY steps (and at the end of the epoch), which is also when the
// progress line is redrawn and a non-finite loss is looked for. nor does a
// step copy anything from the host unless --augment is on: the data set
// stays on the device and each batch is gathered, and augmented, there
// (data/device-dataset.ts).
import path from 'path';
import { Tensor, tidy } from '../tensor';
import { crossEntropy, correctCount } from '../ops';
import { Generator } from '../random';
import { createModel, initFromTrainingImages } from '../models';
import type { Module } from '../nn/module';
import { createOptimizer, groupParameters, type Optimizer } from '../optim';
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
import { AUGMENTATION, ConfigError, type RunConfig } from './config';
import { scheduleFactor } from './schedule';
import { emaDecay, Lookahead } from './ema';
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

/** the steps of a run: epochs x steps per epoch, rounded up (airbench94's ceil(len(loader) * epochs)) */
export function totalSteps(batchesPerEpoch: number, epochs: number): number {
  return Math.ceil(batchesPerEpoch * epochs);
}

/** what a step does besides the forward, backward and optimizer step: the schedule, the averaging, the end of the run */
interface StepPlan {
  /** steps taken before this epoch */
  stepsBefore: number;
  total: number;
  /** each group's lr before the schedule */
  initialLrs: number[];
  lookahead: Lookahead | null;
}

/** sets each group's lr for the step after `step` steps: its initial lr times the schedule's factor (PyTorch's LambdaLR) */
function applySchedule(optimizer: Optimizer, config: RunConfig, plan: StepPlan, step: number): void {
  const factor = scheduleFactor(config.schedule, step, plan.total);
  optimizer.paramGroups.forEach((g, i) => (g.lr = plan.initialLrs[i] * factor));
}

function restoreInitialLrs(optimizer: Optimizer, initialLrs: number[]): void {
  optimizer.paramGroups.forEach((g, i) => (g.lr = initialLrs[i]));
}

/** freezes (requiresGrad false: no gradient, so no step) the parameters the run's freeze rules say are done by this epoch */
function applyFreeze(model: Module, config: RunConfig, epoch: number): void {
  for (const rule of config.freeze) {
    if (epoch <= rule.afterEpoch) continue;
    const re = new RegExp(rule.match);
    for (const [name, p] of model.namedParameters()) if (re.test(name)) p.requiresGrad = false;
  }
}

// the device augmentation's key: another stream of the run's seed, so its
// draws are independent of shuffling, init and dropout
const AUGMENT_STREAM = 0x2545f4914f6cdd1dn;

export function augmentSeed(seed: number): bigint {
  return (BigInt(seed) ^ AUGMENT_STREAM) & ((1n << 64n) - 1n);
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
  plan: StepPlan,
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
  // the run's last epoch may be cut short (fractional epochs)
  const steps = Math.min(loader.batches, plan.total - plan.stepsBefore);

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
      if (step === steps) {
        // the run's steps are done: the rest of this (cut) epoch's batches are not trained on
        batch.images.dispose();
        batch.labels.dispose();
        break;
      }
      step++;
      const done = plan.stepsBefore + step - 1;
      applySchedule(optimizer, config, plan, done);
      let out: { value: Tensor; count: Tensor };
      try {
        out = tidy(() => {
          optimizer.zeroGrad();
          const logits = model.forward(batch.images);
          // smoothing 0 takes the plain kernels, so runs without it keep their bits
          const loss = crossEntropy(logits, batch.labels, { labelSmoothing: config.labelSmoothing });
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
      if (plan.lookahead) {
        const decay = emaDecay(config.ema!, done + 1, plan.total);
        if (decay !== null) plan.lookahead.update(decay);
        // the run's last step leaves the net at the average
        if (done + 1 === plan.total) plan.lookahead.update(1);
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
  const optimizer = createOptimizer(groupParameters(model.namedParameters(), config.paramGroups, config), config);
  const initialLrs = optimizer.paramGroups.map((g) => g.lr);
  // made right after init, as airbench94 does; a resume loads its saved state
  const lookahead = config.ema ? new Lookahead(model) : null;
  // both splits stay on the device and each batch is gathered there (no
  // host->device copy in a step), and translated, flipped and cut out there
  // when the run asks (--translate, --flip, --cutout: draws keyed by the
  // epoch and image, so an epoch is the same when resumed). --augment's
  // zero-padded crops and flips are built on the host, drawing from dataGen
  // after the order; the order is the same numbers on both paths.
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
            dropLast: config.dropLast,
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
          dropLast: config.dropLast,
          limit,
          augment: { translate: config.translate, flip: config.flip, cutout: config.cutout, seed: augmentSeed(config.seed) },
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
    if (trainBatches.batches === 0) {
      throw new ConfigError('batch', `batch ${config.batch} with dropLast leaves no batch of the ${trainImages} training images`);
    }
    const total = totalSteps(trainBatches.batches, config.epochs);
    const lastEpoch = Math.ceil(total / trainBatches.batches);
    if (checkpoint) {
      // frozen as the epoch going on is: a parameter frozen before it may never have stepped (no optimizer state)
      applyFreeze(model, config, checkpoint.epoch + 1);
      loadCheckpoint(runDir, checkpoint, model, optimizer, device, {
        epochs: lastEpoch,
        modelName: config.model,
        batchesPerEpoch: trainBatches.batches,
        totalSteps: total,
        rngSeeds: { model: modelGen.seed, data: dataGen.seed },
        lookahead,
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

    for (let epoch = firstEpoch; epoch <= lastEpoch; epoch++) {
      applyFreeze(model, config, epoch);
      // the epoch's augmentation draws, whether or not the epochs before ran in this process
      if (trainBatches instanceof DeviceDataset) trainBatches.epoch = epoch - 1;
      const plan = { stepsBefore: (epoch - 1) * trainBatches.batches, total, initialLrs, lookahead };
      const r = await trainEpoch(epoch, model, optimizer, trainBatches, config, progress, plan, opts.onStep);
      // a checkpoint keeps the run's own lr; the schedule's place is the step count
      restoreInitialLrs(optimizer, initialLrs);
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
        lookahead,
      });
      writeMetrics(runDir, rows);
      // only now that the new checkpoint is complete may older ones go
      pruneCheckpoints(runDir, rows, keep);
      progress.epoch(row, config.epochs);
      // let the event loop breathe between epochs (signals, output)
      await new Promise((resolve) => setImmediate(resolve));
    }
    // the final model's accuracy with test-time augmentation, beside the plain one of the last row
    const tta = config.tta > 0 && rows.length > 0 && !stoppedOnNan ? evaluate(model, testBatches, device, config.tta) : null;
    const summary = buildSummary(config, rows, {
      ttaAccuracy: tta ? tta.accuracy : null,
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
    lookahead?.dispose();
    for (const p of model.parameters()) p.dispose();
  }
}
