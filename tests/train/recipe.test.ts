// the trainer with a modern recipe's settings: fractional epochs cut the run
// at ceil(steps per epoch x epochs) steps, drop-last batching, the schedule's
// factor reaching every group's lr, the lookahead average ending the run
// with the net set to it, freezing after an epoch, and a killed run with all
// of these resumed to the same bits as one that was never stopped.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunConfig, resolveTrainRequest, type RunConfig } from '../../src/train/config';
import { CheckpointError, checkpointFiles, findLatestCheckpoint } from '../../src/train/checkpoint';
import { readSafetensors } from '../../src/train/safetensors';
import { totalSteps, trainRun, type StepInfo, type TrainData } from '../../src/train/trainer';
import { makeSplit } from './tiny-cifar';

// 56 training images at batch 16: 4 batches an epoch, 3 with drop-last
const data: TrainData = { train: makeSplit(56, 11), test: makeSplit(24, 12) };
let root: string;
let runs = 0;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-recipe-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function config(more: Record<string, unknown>): RunConfig {
  const req = resolveTrainRequest({ lr: 0.02, batch: 16, epochs: 2, seed: 3, device: 'cpu', name: 'run', optimizer: 'sgd', momentum: 0.9, ...more }, ['seedcnn']);
  return { ...makeRunConfig(req, 'cpu', 'test'), keepCheckpoints: 'all' } as RunConfig;
}

const dir = () => path.join(root, `run-${runs++}`);
const tensors = (file: string) => readSafetensors(file).tensors;
const bytes = (file: string) => fs.readFileSync(file);

class Killed extends Error {}
const killAt = (epoch: number, step: number) => (info: StepInfo) => {
  if (info.epoch === epoch && info.step === step) throw new Killed();
};

describe('a modern recipe in the trainer (cpu)', () => {
  it('fractional epochs: ceil(steps per epoch x epochs) steps, the last epoch cut; drop-last leaves the short batch out', async () => {
    expect(totalSteps(48, 9.9)).toBe(476); // airbench94: 50,000 images at 1024, drop-last
    const a = dir();
    const s = await trainRun({ config: config({ epochs: 1.6 }), runDir: a, data });
    // 4 batches an epoch x 1.6 = 6.4: 7 steps, 4 then 3
    expect(s.epochs.length).toBe(2);
    expect(findLatestCheckpoint(a)!.optimizer.step).toBe(7);
    expect(findLatestCheckpoint(a)!.loader.batches_per_epoch).toBe(4);
    // the rates count the images trained on: a whole first epoch, then 3 batches of 16
    const trained = data.train.count + 3 * 16;
    const seconds = s.epochs.reduce((t, r) => t + r.seconds, 0);
    expect(s.epochs[1].images_per_second * s.epochs[1].seconds).toBeCloseTo(3 * 16, 6);
    expect(s.images_per_second * seconds).toBeCloseTo(trained, 6);
    const b = dir();
    await trainRun({ config: config({ epochs: 1.5, dropLast: true }), runDir: b, data });
    // 3 batches an epoch with drop-last x 1.5 = 4.5: 5 steps
    expect(findLatestCheckpoint(b)!.loader.batches_per_epoch).toBe(3);
    expect(findLatestCheckpoint(b)!.optimizer.step).toBe(5);
  });

  it("the schedule's factor multiplies the lr: lr 0.04 at a constant factor 0.5 trains as lr 0.02, and a changing one differently", async () => {
    const plain = dir();
    const halved = dir();
    const cosine = dir();
    await trainRun({ config: config({}), runDir: plain, data });
    await trainRun({ config: config({ lr: 0.04, schedule: { kind: 'piecewise', points: [[0, 0.5], [1, 0.5]] } }), runDir: halved, data });
    await trainRun({ config: config({ schedule: { kind: 'cosine' } }), runDir: cosine, data });
    expect(bytes(checkpointFiles(halved, 2).weights).equals(bytes(checkpointFiles(plain, 2).weights))).toBe(true);
    expect(bytes(checkpointFiles(cosine, 2).weights).equals(bytes(checkpointFiles(plain, 2).weights))).toBe(false);
    // the checkpoint keeps the run's own lr (the schedule's place is the step count)
    expect(findLatestCheckpoint(halved)!.optimizer.hyper.lr).toBe(0.04);
  });

  it("the schedule counts the run's steps, not the epoch's: lr 0 from half the run on leaves epoch 2 untrained", async () => {
    const a = dir();
    await trainRun({ config: config({ schedule: { kind: 'step', milestones: [0.5], gamma: 0 } }), runDir: a, data });
    // the files' headers differ in their epoch; the tensors are the same
    expect(tensors(checkpointFiles(a, 2).weights)).toEqual(tensors(checkpointFiles(a, 1).weights));
  });

  it('parameter groups reach the trainer: a group at 0 lr does not move', async () => {
    const a = dir();
    await trainRun({ config: config({ paramGroups: [{ match: 'bias', lrScale: 1e-30, weightDecayScale: 0 }] }), runDir: a, data });
    const first = tensors(checkpointFiles(a, 1).weights);
    const last = tensors(checkpointFiles(a, 2).weights);
    // lr 2e-32 in float32 moves nothing of order 0.01
    expect(Array.from(last['0.bias'].data)).toEqual(Array.from(first['0.bias'].data));
    expect(Array.from(last['0.weight'].data)).not.toEqual(Array.from(first['0.weight'].data));
    expect(findLatestCheckpoint(a)!.optimizer.hyper).toMatchObject({ lr: 0.02, 'lr.1': 0.02 * 1e-30 });
  });

  it('the lookahead average is in the checkpoint, and the run ends with the net set to it', async () => {
    const a = dir();
    await trainRun({ config: config({ epochs: 1.6, ema: { every: 2, decay: 0.9, power: 1 } }), runDir: a, data });
    const weights = tensors(checkpointFiles(a, 2).weights);
    const saved = tensors(checkpointFiles(a, 2).optimizer);
    for (const [name, t] of Object.entries(weights)) expect(Array.from(saved[`ema.${name}`].data)).toEqual(Array.from(t.data));
    // mid-run (epoch 1 ends at step 4, an update step: net = average there too; the average differs from a run without it)
    const plain = dir();
    await trainRun({ config: config({ epochs: 1.6 }), runDir: plain, data });
    expect(bytes(checkpointFiles(a, 2).weights).equals(bytes(checkpointFiles(plain, 2).weights))).toBe(false);
  });

  it('freezes what a rule names after its epoch', async () => {
    const a = dir();
    await trainRun({ config: config({ epochs: 3, freeze: [{ match: '^0\\.bias$', afterEpoch: 1 }] }), runDir: a, data });
    const e1 = tensors(checkpointFiles(a, 1).weights);
    const e3 = tensors(checkpointFiles(a, 3).weights);
    expect(Array.from(e3['0.bias'].data)).toEqual(Array.from(e1['0.bias'].data));
    expect(Array.from(e3['0.weight'].data)).not.toEqual(Array.from(e1['0.weight'].data));
  });

  const recipe = {
    epochs: 2.5,
    dropLast: true,
    nesterov: true,
    weightDecay: 1e-3,
    paramGroups: [{ match: 'bias', lrScale: 4, weightDecayScale: 0.25 }],
    schedule: { kind: 'piecewise', points: [[0, 0.2], [0.23, 1], [1, 0.07]] },
    ema: { every: 2, decay: 0.95 ** 5, power: 3 },
    freeze: [{ match: '^0\\.bias$', afterEpoch: 1 }],
  };

  it('a killed run with a schedule, groups, averaging, freezing and a cut epoch resumes to the same bits', async () => {
    const whole = dir();
    const done = await trainRun({ config: config(recipe), runDir: whole, data });
    for (const [epoch, step] of [[2, 2], [3, 1]]) {
      const killed = dir();
      await expect(trainRun({ config: config(recipe), runDir: killed, data, onStep: killAt(epoch, step) })).rejects.toThrow(Killed);
      const resumed = await trainRun({ config: config(recipe), runDir: killed, data, resume: true });
      expect(resumed.epochs.map((r) => r.test_loss)).toEqual(done.epochs.map((r) => r.test_loss));
      for (const f of ['weights', 'optimizer'] as const) expect(bytes(checkpointFiles(killed, 3)[f]).equals(bytes(checkpointFiles(whole, 3)[f]))).toBe(true);
    }
  });

  it('a parameter frozen from the start has no optimizer state, and its run resumes all the same', async () => {
    const frozen = { freeze: [{ match: '^0\\.', afterEpoch: 0 }] };
    const whole = dir();
    await trainRun({ config: config(frozen), runDir: whole, data });
    expect(Object.keys(tensors(checkpointFiles(whole, 2).optimizer)).sort()).toEqual(['momentum.2', 'momentum.3', 'momentum.4', 'momentum.5', 'momentum.6', 'momentum.7']);
    const killed = dir();
    await expect(trainRun({ config: config(frozen), runDir: killed, data, onStep: killAt(2, 1) })).rejects.toThrow(Killed);
    await trainRun({ config: config(frozen), runDir: killed, data, resume: true });
    expect(bytes(checkpointFiles(killed, 2).weights).equals(bytes(checkpointFiles(whole, 2).weights))).toBe(true);
  });

  it('refuses to go on past a cut last epoch, and a checkpoint without the run\'s average', async () => {
    const a = dir();
    await trainRun({ config: config({ epochs: 1.5 }), runDir: a, data });
    await expect(trainRun({ config: config({ epochs: 3 }), runDir: a, data, resume: true })).rejects.toThrow(
      /optimizer\.step is 6, the run's 12 steps give 8 after epoch 2 \(a last epoch cut short by fractional epochs cannot be gone on from\)/,
    );
    const b = dir();
    await trainRun({ config: config({ epochs: 1 }), runDir: b, data });
    const err = await trainRun({ config: config({ epochs: 2, ema: { every: 2, decay: 0.5, power: 1 } }), runDir: b, data, resume: true }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/missing "ema\.0\.weight" \(the lookahead average of 0\.weight, \[16, 3, 3, 3\]\)/);
  });

  it('label smoothing reaches the loss', async () => {
    const plain = await trainRun({ config: config({ epochs: 1 }), runDir: dir(), data });
    const smoothed = await trainRun({ config: config({ epochs: 1, labelSmoothing: 0.2 }), runDir: dir(), data });
    expect(smoothed.epochs[0].train_loss).not.toBe(plain.epochs[0].train_loss);
  });
});
