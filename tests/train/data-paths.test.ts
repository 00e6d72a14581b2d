// the trainer's two ways to its batches: resident on the device (no
// augmentation) and built on the host (augmentation). both must be
// deterministic and resumable, and a run must give back all native memory it
// took, the resident data sets included, whether it ends or is killed.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { makeRunConfig, resolveTrainRequest, type RunConfig } from '../../src/train/config';
import { checkpointFiles } from '../../src/train/checkpoint';
import type { EpochMetrics } from '../../src/train/metrics';
import { trainRun, type StepInfo, type TrainData } from '../../src/train/trainer';
import { makeSplit } from './tiny-cifar';

const data: TrainData = { train: makeSplit(40, 3), test: makeSplit(20, 4) };
let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-paths-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function config(augment: boolean): RunConfig {
  const req = resolveTrainRequest({ lr: 0.001, batch: 16, epochs: 2, seed: 3, device: 'cpu', name: 'run', augment }, ['seedcnn']);
  return makeRunConfig(req, 'cpu', 'test');
}

// airbench's augmentation on the device, with cutout, and its test-time augmentation
function deviceAugmented(epochs: number): RunConfig {
  const req = resolveTrainRequest(
    { lr: 0.001, batch: 16, epochs, seed: 3, device: 'cpu', name: 'run', translate: 2, flip: 'alternating', cutout: 8, normalize: 'cifar', tta: 2 },
    ['seedcnn'],
  );
  return { ...makeRunConfig(req, 'cpu', 'test'), keepCheckpoints: 'all' } as RunConfig;
}

function numbers(rows: EpochMetrics[]) {
  return rows.map(({ epoch, train_loss, train_accuracy, test_loss, test_accuracy }) => ({ epoch, train_loss, train_accuracy, test_loss, test_accuracy }));
}

const weights = (dir: string) => fs.readFileSync(checkpointFiles(dir, 2).weights);

describe('trainer data paths (cpu)', () => {
  it('gives back every native storage it made, after a finished run and after a killed one', async () => {
    const before = native().memoryStats('cpu').storages;
    await trainRun({ config: config(false), runDir: path.join(root, 'plain'), data });
    expect(native().memoryStats('cpu').storages).toBe(before);
    const kill = (info: StepInfo) => {
      if (info.epoch === 2 && info.step === 1) throw new Error('killed');
    };
    await expect(trainRun({ config: config(false), runDir: path.join(root, 'killed'), data, onStep: kill })).rejects.toThrow('killed');
    expect(native().memoryStats('cpu').storages).toBe(before);
    await trainRun({ config: config(false), runDir: path.join(root, 'killed'), data, resume: true });
    expect(weights(path.join(root, 'killed')).equals(weights(path.join(root, 'plain')))).toBe(true);
  });

  it('augmented runs take the host path: deterministic, resumable, and not the unaugmented numbers', async () => {
    const a = await trainRun({ config: config(true), runDir: path.join(root, 'aug-a'), data });
    const b = await trainRun({ config: config(true), runDir: path.join(root, 'aug-b'), data });
    expect(numbers(b.epochs)).toEqual(numbers(a.epochs));
    expect(weights(path.join(root, 'aug-b')).equals(weights(path.join(root, 'aug-a')))).toBe(true);
    expect(weights(path.join(root, 'aug-a')).equals(weights(path.join(root, 'plain')))).toBe(false);

    const dir = path.join(root, 'aug-killed');
    const kill = (info: StepInfo) => {
      if (info.epoch === 2 && info.step === 2) throw new Error('killed');
    };
    await expect(trainRun({ config: config(true), runDir: dir, data, onStep: kill })).rejects.toThrow('killed');
    const resumed = await trainRun({ config: config(true), runDir: dir, data, resume: true });
    expect(numbers(resumed.epochs)).toEqual(numbers(a.epochs));
    expect(weights(dir).equals(weights(path.join(root, 'aug-a')))).toBe(true);
  });

  it('device-augmented runs: deterministic, resumed in a later epoch to the same bits, memory given back, TTA in the summary', async () => {
    const at = (dir: string, epoch: number) => fs.readFileSync(checkpointFiles(path.join(root, dir), epoch).weights);
    const before = native().memoryStats('cpu').storages;
    const a = await trainRun({ config: deviceAugmented(3), runDir: path.join(root, 'dev-a'), data });
    const b = await trainRun({ config: deviceAugmented(3), runDir: path.join(root, 'dev-b'), data });
    expect(native().memoryStats('cpu').storages).toBe(before);
    expect(numbers(b.epochs)).toEqual(numbers(a.epochs));
    expect(at('dev-b', 3).equals(at('dev-a', 3))).toBe(true);
    // the augmentation changes the run: not the plain one's first epoch
    const plain = await trainRun({ config: { ...deviceAugmented(1), translate: 0, flip: 'none', cutout: 0 }, runDir: path.join(root, 'dev-plain'), data });
    expect(at('dev-plain', 1).equals(at('dev-a', 1))).toBe(false);
    expect(plain.test_accuracy_tta).not.toBeNull();

    // killed in the third epoch: the resumed process starts at that epoch's draws, not the first's
    const dir = path.join(root, 'dev-killed');
    const kill = (info: StepInfo) => {
      if (info.epoch === 3 && info.step === 2) throw new Error('killed');
    };
    await expect(trainRun({ config: deviceAugmented(3), runDir: dir, data, onStep: kill })).rejects.toThrow('killed');
    expect(native().memoryStats('cpu').storages).toBe(before);
    const resumed = await trainRun({ config: deviceAugmented(3), runDir: dir, data, resume: true });
    expect(numbers(resumed.epochs)).toEqual(numbers(a.epochs));
    expect(at('dev-killed', 3).equals(at('dev-a', 3))).toBe(true);

    // the summary: the plain accuracy of the last epoch beside the one with test-time augmentation (20 test images)
    expect(a.tta).toBe(2);
    expect(a.test_accuracy).toBe(a.epochs[2].test_accuracy);
    expect(a.test_accuracy_tta).not.toBeNull();
    expect(Number.isInteger(Math.round((a.test_accuracy_tta as number) * 20 * 1e9) / 1e9)).toBe(true);
    expect(resumed.test_accuracy_tta).toBe(a.test_accuracy_tta);
    const unaugmented = await trainRun({ config: config(false), runDir: path.join(root, 'no-tta'), data });
    expect(unaugmented).toMatchObject({ tta: 0, test_accuracy_tta: null });
  });
});
