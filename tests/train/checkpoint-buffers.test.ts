// a checkpoint of a model with batch norm: the running statistics and
// num_batches_tracked are saved in the weights file and restored, and a
// frozen parameter (no gradient, so no optimizer buffer) does not stop the
// resume from trusting the optimizer file.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, Generator, SGD, Sequential, Tensor, mean, tidy } from '../../src';
import { checkpointFiles, loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint';
import { readSafetensors } from '../../src/train/safetensors';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function model(): Sequential {
  return new Sequential(new Conv2d(2, 3, 1, { generator: new Generator(1) }), new BatchNorm2d(3, { weightFrozen: true, momentum: 0.4 }));
}

describe('checkpoints with buffers and frozen parameters', () => {
  it('save the buffers, and resume with SGD momentum though the frozen weight has no momentum buffer', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-bn-'));
    dirs.push(dir);
    const net = model();
    const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = Tensor.fromArray(Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), [2, 2, 4, 2]);
    for (let step = 0; step < 2; step++) {
      tidy(() => mean(net.forward(x)).backward());
      opt.step();
      opt.zeroGrad();
    }
    const rng = { model: new Generator(1).state(), data: new Generator(2).state() };
    const sidecar = saveCheckpoint(dir, { epoch: 1, modelName: 'bn-test', model: net, optimizer: opt, rng, batchesPerEpoch: 2, metrics: [] });
    const weights = readSafetensors(checkpointFiles(dir, 1).weights).tensors;
    expect(Object.keys(weights).sort()).toEqual(['0.bias', '0.weight', '1.bias', '1.num_batches_tracked', '1.running_mean', '1.running_var', '1.weight']);
    expect(weights['1.num_batches_tracked']).toMatchObject({ dtype: 'I32', shape: [], data: Int32Array.of(2) });

    const fresh = model();
    const freshOpt = new SGD(fresh.parameters(), { lr: 0.1, momentum: 0.9 });
    loadCheckpoint(dir, sidecar, fresh, freshOpt, 'cpu', {
      epochs: 2, modelName: 'bn-test', batchesPerEpoch: 2, totalSteps: 4, rngSeeds: { model: 1n, data: 2n },
    });
    for (const [name, t] of Object.entries(net.stateDict())) {
      expect(Array.from(fresh.stateDict()[name].toArray()), name).toEqual(Array.from(t.toArray()));
    }
    x.dispose();
    for (const m of [net, fresh]) m.dispose();
    opt.dispose();
    freshOpt.dispose();
  });
});
