// the trainer with the optimizer its config names: SGD runs resume bitwise
// like Adam runs, keep their momentum in the checkpoint, and give back every
// native storage (SGD's scratch block included) when they end.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { makeRunConfig, resolveTrainRequest, type RunConfig } from '../../src/train/config';
import { checkpointFiles, findLatestCheckpoint } from '../../src/train/checkpoint';
import { readSafetensors } from '../../src/train/safetensors';
import { trainRun, type StepInfo, type TrainData } from '../../src/train/trainer';
import { makeSplit } from './tiny-cifar';

// 48 training images at batch 16: 3 steps an epoch
const data: TrainData = { train: makeSplit(48, 7), test: makeSplit(24, 8) };
let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-optim-run-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function config(more: Record<string, unknown>): RunConfig {
  const req = resolveTrainRequest({ lr: 0.01, batch: 16, epochs: 2, seed: 4, device: 'cpu', name: 'run', ...more }, ['seedcnn']);
  return makeRunConfig(req, 'cpu', 'test');
}

class Killed extends Error {}
const killAt = (epoch: number, step: number) => (info: StepInfo) => {
  if (info.epoch === epoch && info.step === step) throw new Killed();
};
const weights = (dir: string) => fs.readFileSync(checkpointFiles(dir, 2).weights);

describe('trainer with sgd (cpu)', () => {
  const sgd = { optimizer: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-3 };

  it('keeps the momentum buffers in its checkpoints and resumes a killed run to the same bits', async () => {
    const whole = path.join(root, 'whole');
    const done = await trainRun({ config: config(sgd), runDir: whole, data });
    const ck = findLatestCheckpoint(whole)!;
    expect(ck.optimizer.type).toBe('sgd');
    expect(ck.optimizer.step).toBe(6);
    const buffers = Object.keys(readSafetensors(checkpointFiles(whole, 2).optimizer).tensors);
    const params = Object.keys(readSafetensors(checkpointFiles(whole, 2).weights).tensors);
    expect(buffers.sort()).toEqual(params.map((_, i) => `momentum.${i}`).sort());

    const killed = path.join(root, 'killed');
    await expect(trainRun({ config: config(sgd), runDir: killed, data, onStep: killAt(2, 2) })).rejects.toThrow(Killed);
    const resumed = await trainRun({ config: config(sgd), runDir: killed, data, resume: true });
    expect(resumed.epochs.map((r) => r.test_loss)).toEqual(done.epochs.map((r) => r.test_loss));
    expect(weights(killed).equals(weights(whole))).toBe(true);

    // and it is SGD that trained: the same run with Adam ends elsewhere
    const adam = path.join(root, 'adam');
    await trainRun({ config: config({}), runDir: adam, data });
    expect(weights(adam).equals(weights(whole))).toBe(false);
  });

  it('gives back every native storage it made, momentum or not', async () => {
    const before = native().memoryStats('cpu').storages;
    await trainRun({ config: config({ optimizer: 'sgd' }), runDir: path.join(root, 'plain'), data });
    expect(native().memoryStats('cpu').storages).toBe(before);
    await expect(trainRun({ config: config(sgd), runDir: path.join(root, 'plain-killed'), data, onStep: killAt(2, 1) })).rejects.toThrow(Killed);
    expect(native().memoryStats('cpu').storages).toBe(before);
  });
});
