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
});
