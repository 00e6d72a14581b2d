// a resume checks the whole saved state before training: the checkpoint's
// .json (epoch, step counts, generators, loader, metrics rows, optimizer
// settings) and its optimizer file (every parameter's buffers). a
// hand-edited or mismatched checkpoint is refused with a CheckpointError
// naming the file and what is wrong, and the run directory is left as it was.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunConfig, resolveTrainRequest, type RunConfig } from '../../src/train/config';
import { CheckpointError, checkpointFiles } from '../../src/train/checkpoint';
import { readSafetensors, writeSafetensors } from '../../src/train/safetensors';
import { trainRun, type TrainData } from '../../src/train/trainer';
import { snapshot } from '../helpers/snapshot';
import { makeSplit } from './tiny-cifar';

// 48 images at batch 16: 3 steps an epoch
const data: TrainData = { train: makeSplit(48, 1), test: makeSplit(24, 2) };
let root: string;
let baselineDir: string;

function config(epochs = 2): RunConfig {
  const req = resolveTrainRequest({ lr: 0.001, batch: 16, epochs, seed: 0, device: 'cpu', name: 'run' }, ['seedcnn']);
  return { ...makeRunConfig(req, 'cpu', 'test'), keepCheckpoints: 'all' } as RunConfig;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-resume-'));
  baselineDir = path.join(root, 'baseline');
  await trainRun({ config: config(), runDir: baselineDir, data });
  // a run whose summary is not written yet: the resume goes to the checkpoint
  fs.rmSync(path.join(baselineDir, 'summary.json'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

let copies = 0;
function copyOfBaseline(): string {
  const dir = path.join(root, `copy-${copies++}`);
  fs.cpSync(baselineDir, dir, { recursive: true });
  return dir;
}

function editSidecar(dir: string, edit: (s: any) => void): string {
  const file = checkpointFiles(dir, 2).sidecar;
  const s = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(s);
  fs.writeFileSync(file, JSON.stringify(s, null, 2));
  return file;
}

/** rewrites the optimizer file through the real writer, with edited tensors or metadata */
function editOptimizer(dir: string, edit: (c: ReturnType<typeof readSafetensors>) => void): string {
  const file = checkpointFiles(dir, 2).optimizer;
  const c = readSafetensors(file);
  edit(c);
  writeSafetensors(file, c.tensors, c.metadata);
  return file;
}

async function expectRefused(dir: string, file: string, message: RegExp, epochs = 2): Promise<void> {
  const before = snapshot(dir);
  let caught: unknown;
  try {
    await trainRun({ config: config(epochs), runDir: dir, data, resume: true });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  expect(caught).toMatchObject({ code: 'ERR_CHECKPOINT', file });
  expect((caught as Error).message.startsWith(`${file}: `)).toBe(true);
  expect((caught as Error).message).toMatch(message);
  expect(snapshot(dir)).toEqual(before);
}

describe('resume refuses a saved state it cannot trust', () => {
  it('resumes the untouched copy (the edits below are what is refused)', async () => {
    const dir = copyOfBaseline();
    const s = await trainRun({ config: config(3), runDir: dir, data, resume: true });
    expect(s.epochs.map((r) => r.epoch)).toEqual([1, 2, 3]);
  });

  const sidecarEdits: Array<[string, (s: any) => void, RegExp]> = [
    ['metrics: [null, null]', (s) => (s.metrics = [null, null]), /metrics\[0\]: expected an object \{epoch, train_loss, \.\.\.\}, got null/],
    ['epoch: 99', (s) => (s.epoch = 99), /epoch must be 2 \(the file's name says so\), got 99/],
    ['a negative generator offset (text)', (s) => (s.rng.data.offset = '-5'), /rng\.data: offset must be a non-negative integer below 2\^64 .*got "-5"/],
    ['a negative generator offset (number)', (s) => (s.rng.model.offset = -5), /rng\.model: offset must be a non-negative integer below 2\^64 .*got -5/],
    ['an offset of 2^64', (s) => (s.rng.model.offset = '18446744073709551616'), /rng\.model: offset must be/],
    ['another seed', (s) => (s.rng.model.seed = '7'), /rng\.model\.seed is 7, the run's seed gives 0/],
    ['a step count that does not add up', (s) => (s.optimizer.step = 5), /optimizer\.step is 5, the run's \d+ steps give 6 after epoch 2/],
    ['a step count past its epochs', (s) => (s.optimizer.step = 7), /optimizer\.step must be 6 \(2 epochs of 3 steps; fewer, above 3, for a cut last epoch\), got 7/],
    ['a fractional step count', (s) => (s.optimizer.step = 5.5), /optimizer\.step must be an integer >= 0, got 5\.5/],
    ['another learning rate', (s) => (s.optimizer.hyper.lr = 0.5), /optimizer\.hyper\.lr is 0\.5, the run's config gives 0\.001/],
    ['another loader', (s) => ((s.loader.batches_per_epoch = 4), (s.optimizer.step = 8)), /loader\.batches_per_epoch is 4, the run's data and batch size give 3/],
    ['a loader mid-epoch', (s) => (s.loader.next_batch = 1), /loader\.next_batch must be 0/],
    ['an accuracy above 1', (s) => (s.metrics[1].test_accuracy = 1.5), /metrics\[1\]: test_accuracy must be a number in \[0, 1\], got 1\.5/],
    ['a row of the wrong epoch', (s) => (s.metrics[1].epoch = 1), /metrics\[1\]: epoch must be 2, got 1/],
    ['a missing row', (s) => s.metrics.pop(), /metrics must hold one row per epoch done \(2\), got 1 rows/],
    ['a loss that is text', (s) => (s.metrics[0].train_loss = '1.2'), /metrics\[0\]: train_loss must be a finite number or null/],
    ['weights outside the run', (s) => (s.weights = '../baseline/checkpoint-epoch-2.safetensors'), /weights must be "checkpoint-epoch-2\.safetensors"/],
    ['another model', (s) => (s.model = 'resnet'), /model is "resnet", the run's config says "seedcnn"/],
  ];
  for (const [what, edit, message] of sidecarEdits) {
    it(`a checkpoint .json with ${what}`, async () => {
      const dir = copyOfBaseline();
      await expectRefused(dir, editSidecar(dir, edit), message);
    });
  }

  it('a checkpoint past the run\'s epochs', async () => {
    const dir = copyOfBaseline();
    await expectRefused(dir, checkpointFiles(dir, 2).sidecar, /epoch 2 is past the run's 1 epochs/, 1);
  });

  it('an optimizer file missing both Adam buffers of a parameter', async () => {
    const dir = copyOfBaseline();
    const file = editOptimizer(dir, (c) => {
      delete c.tensors['m.3'];
      delete c.tensors['v.3'];
    });
    await expectRefused(dir, file, /the optimizer state does not fit the model: missing "m\.3" \(\S+, \[\d+(, \d+)*\]\); missing "v\.3"/);
  });

  it('an optimizer file missing one Adam buffer', async () => {
    const dir = copyOfBaseline();
    const file = editOptimizer(dir, (c) => delete c.tensors['v.0']);
    await expectRefused(dir, file, /missing "v\.0"/);
  });

  it('an optimizer buffer of the right size but the wrong shape', async () => {
    const dir = copyOfBaseline();
    const file = editOptimizer(dir, (c) => {
      const m = c.tensors['m.0'];
      m.shape = [m.data.length];
    });
    await expectRefused(dir, file, /"m\.0" is float32 \[\d+\], \S+ needs float32 \[\d+, \d+, \d+, \d+\]/);
  });

  it('an optimizer file with a buffer for no parameter, or another step count', async () => {
    const dir = copyOfBaseline();
    const file = editOptimizer(dir, (c) => (c.tensors['m.99'] = c.tensors['m.0']));
    await expectRefused(dir, file, /unexpected "m\.99"/);
    const other = copyOfBaseline();
    const file2 = editOptimizer(other, (c) => (c.metadata = { step: '5' }));
    await expectRefused(other, file2, /metadata step is "5", checkpoint-epoch-2\.json says 6/);
  });

  it('a weights file missing a parameter', async () => {
    const dir = copyOfBaseline();
    const file = checkpointFiles(dir, 2).weights;
    const c = readSafetensors(file);
    const name = Object.keys(c.tensors)[0];
    delete c.tensors[name];
    writeSafetensors(file, c.tensors, c.metadata);
    await expectRefused(dir, file, new RegExp(`missing keys: "${name.replace(/\./g, '\\.')}"`));
  });
});
