// end-to-end runs on a made-up tiny CIFAR-10, on the CPU: determinism,
// resume after a kill, NaN reports, and the shape of what a run writes.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { makeRunConfig, resolveTrainRequest, type RunConfig } from '../../src/train/config';
import { readSafetensors } from '../../src/train/safetensors';
import { isTemporaryName, tempPathBeside } from '../../src/atomic-file';
import { checkpointFiles, findLatestCheckpoint } from '../../src/train/checkpoint';
import { readMetrics, type EpochMetrics, type RunSummary } from '../../src/train/metrics';
import { trainRun, type TrainData, type StepInfo } from '../../src/train/trainer';
import { makeSplit } from './tiny-cifar';

// 48 training images at batch 16: 3 steps an epoch, so runs take well under a second
const data: TrainData = { train: makeSplit(48, 1), test: makeSplit(24, 2) };
let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-train-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function config(over: { lr?: number; batch?: number; epochs?: number; seed?: number; stopOnNan?: boolean; name?: string } = {}): RunConfig {
  const req = resolveTrainRequest(
    {
      lr: over.lr ?? 0.001,
      batch: over.batch ?? 16,
      epochs: over.epochs ?? 2,
      seed: over.seed ?? 0,
      stopOnNan: over.stopOnNan ?? false,
      device: 'cpu',
      name: over.name ?? 'run',
    },
    ['seedcnn'],
  );
  // every epoch's checkpoint kept: these tests look at them (retention.test.ts tests what is pruned)
  return { ...makeRunConfig(req, 'cpu', 'test'), keepCheckpoints: 'all' } as RunConfig;
}

// what must match bit for bit between two runs (timings never do)
function numbers(rows: EpochMetrics[]) {
  return rows.map(({ epoch, train_loss, train_accuracy, test_loss, test_accuracy, nan_at }) => ({
    epoch,
    train_loss,
    train_accuracy,
    test_loss,
    test_accuracy,
    nan_at,
  }));
}

function weightsBytes(runDir: string, epoch: number): Buffer {
  return fs.readFileSync(checkpointFiles(runDir, epoch).weights);
}

class Killed extends Error {}

function killAt(epoch: number, step: number) {
  return (info: StepInfo) => {
    if (info.epoch === epoch && info.step === step) throw new Killed(`killed at epoch ${epoch}, step ${step}`);
  };
}

describe('trainer (cpu)', () => {
  let baseline: RunSummary;
  let baselineDir: string;

  beforeAll(async () => {
    baselineDir = path.join(root, 'baseline');
    baseline = await trainRun({ config: config(), runDir: baselineDir, data });
  });

  it('writes config.json, metrics.jsonl, a checkpoint per epoch and summary.json of the documented shape', () => {
    const files = fs.readdirSync(baselineDir).sort();
    expect(files).toEqual([
      'checkpoint-epoch-1.json',
      'checkpoint-epoch-1.optimizer.safetensors',
      'checkpoint-epoch-1.safetensors',
      'checkpoint-epoch-2.json',
      'checkpoint-epoch-2.optimizer.safetensors',
      'checkpoint-epoch-2.safetensors',
      'config.json',
      'metrics.jsonl',
      'summary.json',
    ]);
    const cfg = JSON.parse(fs.readFileSync(path.join(baselineDir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ name: 'run', model: 'seedcnn', lr: 0.001, batch: 16, epochs: 2, seed: 0, device: 'cpu', optimizer: 'adam', limit: null });

    const rows = readMetrics(baselineDir);
    expect(rows.map((r) => r.epoch)).toEqual([1, 2]);
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(
        ['epoch', 'eval_seconds', 'images_per_second', 'nan_at', 'seconds', 'test_accuracy', 'test_loss', 'train_accuracy', 'train_loss'].sort(),
      );
      expect(r.train_loss).toBeGreaterThan(0);
      expect(r.test_loss).toBeGreaterThan(0);
      expect(r.train_accuracy).toBeGreaterThanOrEqual(0);
      expect(r.train_accuracy).toBeLessThanOrEqual(1);
      // accuracies are counts over 48 training and 24 test images
      expect(Math.abs(r.train_accuracy * 48 - Math.round(r.train_accuracy * 48))).toBeLessThan(1e-9);
      expect(Math.abs(r.test_accuracy * 24 - Math.round(r.test_accuracy * 24))).toBeLessThan(1e-9);
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.images_per_second).toBeCloseTo(48 / r.seconds, 6);
      expect(r.nan_at).toBeNull();
    }

    const summary = JSON.parse(fs.readFileSync(path.join(baselineDir, 'summary.json'), 'utf8'));
    expect(summary).toEqual(JSON.parse(JSON.stringify(baseline)));
    expect(summary).toMatchObject({ name: 'run', model: 'seedcnn', device: 'cpu', lr: 0.001, batch: 16, nan: null, train_images: 48, test_images: 24 });
    expect(summary.test_accuracy).toBe(rows[1].test_accuracy);
    expect(summary.epochs).toEqual(rows);
    expect(summary.seconds_per_epoch).toBeCloseTo((rows[0].seconds + rows[1].seconds) / 2, 9);
    expect(summary.parameters).toBeGreaterThan(0);
  });

  it('stores weights under PyTorch names, with Adam state and RNG state beside them', () => {
    const ck = findLatestCheckpoint(baselineDir)!;
    expect(ck.epoch).toBe(2);
    const w = readSafetensors(checkpointFiles(baselineDir, 2).weights);
    expect(w.metadata).toMatchObject({ format: 'pt', model: 'seedcnn', epoch: '2' });
    const names = Object.keys(w.tensors);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(/^([A-Za-z_][A-Za-z0-9_]*|\d+)(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*\.(weight|bias)$/);
    const opt = readSafetensors(checkpointFiles(baselineDir, 2).optimizer);
    const keys = Object.keys(opt.tensors);
    expect(keys.filter((k) => k.startsWith('m.')).length).toBe(names.length);
    expect(keys.filter((k) => k.startsWith('v.')).length).toBe(names.length);
    // 2 epochs of 3 steps
    expect(ck.optimizer.step).toBe(6);
    expect(ck.loader).toEqual({ epoch: 2, next_batch: 0, batches_per_epoch: 3 });
    expect(BigInt(ck.rng.model.seed)).toBe(0n);
    expect(BigInt(ck.rng.data.offset)).toBeGreaterThan(0n);
  });

  it('gives identical numbers and weights for two runs with the same seed, and others for another seed', async () => {
    const again = await trainRun({ config: config(), runDir: path.join(root, 'again'), data });
    expect(numbers(again.epochs)).toEqual(numbers(baseline.epochs));
    expect(weightsBytes(path.join(root, 'again'), 2).equals(weightsBytes(baselineDir, 2))).toBe(true);
    const other = await trainRun({ config: config({ seed: 1 }), runDir: path.join(root, 'seed1'), data });
    expect(weightsBytes(path.join(root, 'seed1'), 2).equals(weightsBytes(baselineDir, 2))).toBe(false);
    expect(other.epochs.length).toBe(2);
  });

  it('resumes a run killed mid-epoch from its last checkpoint and ends bitwise where an uninterrupted run ends', async () => {
    const dir = path.join(root, 'killed');
    await expect(trainRun({ config: config(), runDir: dir, data, onStep: killAt(2, 2) })).rejects.toThrow(Killed);
    expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(false);
    expect(findLatestCheckpoint(dir)!.epoch).toBe(1);
    const resumed = await trainRun({ config: config(), runDir: dir, data, resume: true });
    expect(numbers(resumed.epochs)).toEqual(numbers(baseline.epochs));
    expect(numbers(readMetrics(dir))).toEqual(numbers(baseline.epochs));
    expect(weightsBytes(dir, 2).equals(weightsBytes(baselineDir, 2))).toBe(true);
    const opt = (d: string) => fs.readFileSync(checkpointFiles(d, 2).optimizer);
    expect(opt(dir).equals(opt(baselineDir))).toBe(true);
  });

  it('ignores a checkpoint cut short while being written (no .json yet) and leftover temporaries', async () => {
    // what a kill during checkpoint-epoch-2's writing leaves: its weights, no sidecar, a temporary
    const dir = path.join(root, 'cut-checkpoint');
    fs.cpSync(baselineDir, dir, { recursive: true });
    fs.rmSync(checkpointFiles(dir, 2).sidecar);
    fs.rmSync(path.join(dir, 'summary.json'));
    // named as the writer names its temporaries (atomic-file.ts), since that is what a kill leaves
    const temporary = tempPathBeside(checkpointFiles(dir, 2).sidecar);
    fs.writeFileSync(temporary, '{"format": "cudalab-chec');
    expect(isTemporaryName(path.basename(temporary))).toBe(true);
    expect(findLatestCheckpoint(dir)!.epoch).toBe(1);
    const resumed = await trainRun({ config: config(), runDir: dir, data, resume: true });
    expect(numbers(resumed.epochs)).toEqual(numbers(baseline.epochs));
    expect(weightsBytes(dir, 2).equals(weightsBytes(baselineDir, 2))).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('resumes a run killed before its first checkpoint from scratch, with the same result', async () => {
    const dir = path.join(root, 'killed-early');
    await expect(trainRun({ config: config(), runDir: dir, data, onStep: killAt(1, 2) })).rejects.toThrow(Killed);
    expect(findLatestCheckpoint(dir)).toBeNull();
    const resumed = await trainRun({ config: config(), runDir: dir, data, resume: true });
    expect(numbers(resumed.epochs)).toEqual(numbers(baseline.epochs));
  });

  // the last layer's bias turned NaN after step 2 of epoch 1: step 3's loss is the first NaN
  const poison = (info: StepInfo) => {
    if (info.epoch === 1 && info.step === 2) {
      const p = info.model.parameters().at(-1)!;
      native().fill(p.numel, p.storage('test'), NaN);
    }
  };

  it('reports the epoch and step where the loss stops being finite and goes on', async () => {
    const dir = path.join(root, 'nan');
    const s = await trainRun({ config: config(), runDir: dir, data, onStep: poison });
    expect(s.nan).toEqual({ epoch: 1, step: 3 });
    expect(s.epochs.map((r) => r.nan_at)).toEqual([{ epoch: 1, step: 3 }, { epoch: 2, step: 1 }]);
    expect(s.epochs.map((r) => r.train_loss)).toEqual([null, null]);
    expect(s.epochs.length).toBe(2);
    expect(s.stopped_on_nan).toBe(false);
    const line = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n')[0];
    expect(line).toContain('"train_loss":null');
    expect(line).toContain('"nan_at":{"epoch":1,"step":3}');
  });

  it('stops at a non-finite loss with stopOnNan, without a checkpoint of the cut-short epoch', async () => {
    const dir = path.join(root, 'stop');
    const s = await trainRun({ config: config({ stopOnNan: true }), runDir: dir, data, onStep: poison });
    expect(s.nan).toEqual({ epoch: 1, step: 3 });
    expect(s.stopped_on_nan).toBe(true);
    expect(s.epochs.length).toBe(1);
    expect(fs.existsSync(checkpointFiles(dir, 1).sidecar)).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'))).toMatchObject({ nan: { epoch: 1, step: 3 }, stopped_on_nan: true });
  });
});
