// which checkpoints a run keeps (the last N and the best by test accuracy,
// or all), that a run pruned so still resumes, and what a checkpoint that
// cannot be written (a full disk, injected through CUDALAB_TEST_FAIL_AT)
// leaves: a message naming the file and the space left, no half checkpoint,
// and the previous checkpoint to resume from.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeRunConfig, resolveTrainRequest, type RunConfig } from '../../src/train/config';
import { CheckpointWriteError, checkpointFiles, checkpointsToKeep } from '../../src/train/checkpoint';
import type { EpochMetrics, RunSummary } from '../../src/train/metrics';
import { isTemporaryName } from '../../src/atomic-file';
import { trainRun, type StepInfo, type TrainData } from '../../src/train/trainer';
import { makeSplit } from './tiny-cifar';

const data: TrainData = { train: makeSplit(48, 1), test: makeSplit(24, 2) };
let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-retention-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.CUDALAB_TEST_FAIL_AT;
});

function config(epochs: number, keepCheckpoints?: number | 'all'): RunConfig {
  const req = resolveTrainRequest({ lr: 0.001, batch: 16, epochs, seed: 0, device: 'cpu', name: 'run' }, ['seedcnn']);
  const c = makeRunConfig(req, 'cpu', 'test');
  return (keepCheckpoints === undefined ? c : { ...c, keepCheckpoints }) as RunConfig;
}

function row(epoch: number, test_accuracy: number): EpochMetrics {
  return { epoch, train_loss: 1, train_accuracy: 0.5, test_loss: 1, test_accuracy, seconds: 1, images_per_second: 1, eval_seconds: 1, nan_at: null };
}

/** the epochs whose checkpoint files are in dir (any of the three), and whether each has all three */
function checkpointsOnDisk(dir: string): number[] {
  const epochs = new Set<number>();
  for (const f of fs.readdirSync(dir)) {
    const m = /^checkpoint-epoch-(\d+)\./.exec(f);
    if (m) epochs.add(Number(m[1]));
  }
  const list = [...epochs].sort((a, b) => a - b);
  for (const e of list) for (const f of Object.values(checkpointFiles(dir, e))) expect(fs.existsSync(f), f).toBe(true);
  return list;
}

/** the test's own statement of the rule: the last `keep` epochs and the first epoch of the highest test accuracy */
function expectedKept(rows: EpochMetrics[], keep: number | 'all'): number[] {
  const epochs = rows.map((r) => r.epoch);
  if (keep === 'all') return epochs;
  let best = rows[0];
  for (const r of rows) if (r.test_accuracy > best.test_accuracy) best = r;
  return [...new Set([...epochs.slice(-keep), best.epoch])].sort((a, b) => a - b);
}

describe('which checkpoints are kept', () => {
  const rows = [row(1, 0.1), row(2, 0.5), row(3, 0.3), row(4, 0.5), row(5, 0.2)];
  it('the last N and the best by test accuracy (the earliest of equals), or every one', () => {
    const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
    expect(sorted(checkpointsToKeep([1, 2, 3, 4, 5], rows, 1))).toEqual([2, 5]);
    expect(sorted(checkpointsToKeep([1, 2, 3, 4, 5], rows, 2))).toEqual([2, 4, 5]);
    expect(sorted(checkpointsToKeep([1, 2, 3, 4, 5], rows, 4))).toEqual([2, 3, 4, 5]);
    expect(sorted(checkpointsToKeep([1, 2, 3, 4, 5], rows, 10))).toEqual([1, 2, 3, 4, 5]);
    expect(sorted(checkpointsToKeep([1, 2, 3, 4, 5], rows, 'all'))).toEqual([1, 2, 3, 4, 5]);
    // the best among the checkpoints there are (epoch 2's was removed before)
    expect(sorted(checkpointsToKeep([1, 3, 4, 5], rows, 1))).toEqual([4, 5]);
    expect(sorted(checkpointsToKeep([3, 5], rows, 1))).toEqual([3, 5]);
  });

});

describe('a run keeps', () => {
  const runs: Record<string, RunSummary> = {};
  for (const keep of [undefined, 2, 'all'] as const) {
    it(`${keep === undefined ? 'by default the last and the best checkpoint' : `with keepCheckpoints ${keep}`}`, async () => {
      const dir = path.join(root, `keep-${keep}`);
      const s = await trainRun({ config: config(5, keep), runDir: dir, data });
      runs[String(keep)] = s;
      expect(checkpointsOnDisk(dir)).toEqual(expectedKept(s.epochs, keep ?? 1));
      if (keep === undefined) expect(checkpointsOnDisk(dir).length).toBeLessThanOrEqual(2);
      if (keep === 'all') expect(checkpointsOnDisk(dir)).toEqual([1, 2, 3, 4, 5]);
    });
  }

  it('and resumes from the last one after pruning, bitwise where an uninterrupted run ends', async () => {
    const dir = path.join(root, 'killed');
    const kill = (info: StepInfo) => {
      if (info.epoch === 5 && info.step === 2) throw new Error('killed');
    };
    await expect(trainRun({ config: config(5), runDir: dir, data, onStep: kill })).rejects.toThrow('killed');
    expect(checkpointsOnDisk(dir).at(-1)).toBe(4);
    const resumed = await trainRun({ config: config(5), runDir: dir, data, resume: true });
    const numbers = (s: RunSummary) => s.epochs.map(({ train_loss, train_accuracy, test_loss, test_accuracy }) => ({ train_loss, train_accuracy, test_loss, test_accuracy }));
    expect(numbers(resumed)).toEqual(numbers(runs.undefined));
    const weights = (d: string) => fs.readFileSync(checkpointFiles(d, 5).weights);
    expect(weights(dir).equals(weights(path.join(root, 'keep-undefined')))).toBe(true);
    expect(checkpointsOnDisk(dir)).toEqual(expectedKept(resumed.epochs, 1));
  });
});

describe('a checkpoint that cannot be written', () => {
  let wholeDir: string;
  let whole: RunSummary;
  beforeAll(async () => {
    wholeDir = path.join(root, 'whole');
    whole = await trainRun({ config: config(2), runDir: wholeDir, data });
  });

  for (const failing of ['checkpoint-epoch-2.safetensors', 'checkpoint-epoch-2.optimizer.safetensors', 'checkpoint-epoch-2.json']) {
    it(`(${failing}) is reported with the space left, leaves no half checkpoint, and the run resumes from the one before`, async () => {
      const dir = path.join(root, `full-${failing}`);
      process.env.CUDALAB_TEST_FAIL_AT = `write:${failing}`;
      let caught: unknown;
      try {
        await trainRun({ config: config(2), runDir: dir, data });
      } catch (err) {
        caught = err;
      }
      delete process.env.CUDALAB_TEST_FAIL_AT;
      const file = path.join(dir, failing);
      expect(caught).toBeInstanceOf(CheckpointWriteError);
      expect(caught).toMatchObject({ code: 'ERR_CHECKPOINT_WRITE', file });
      // the space left is what statfs says; the file system is shared, so only its kind is checked
      expect((caught as CheckpointWriteError).bytesFree).toBeGreaterThan(0);
      expect((caught as Error).message).toMatch(
        new RegExp(`^could not write ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(ENOSPC: .*\\); [\\d.]+ [KMG]B left on that file system\\. ` +
          `checkpoint-epoch-1 is complete: free some space and go on with cudalab train --resume `),
      );
      // epoch 1's checkpoint whole, nothing of epoch 2's, no temporaries
      expect(checkpointsOnDisk(dir)).toEqual([1]);
      expect(fs.readdirSync(dir).filter(isTemporaryName)).toEqual([]);
      const resumed = await trainRun({ config: config(2), runDir: dir, data, resume: true });
      expect(resumed.epochs.map((r) => r.test_accuracy)).toEqual(whole.epochs.map((r) => r.test_accuracy));
      expect(fs.readFileSync(checkpointFiles(dir, 2).weights).equals(fs.readFileSync(checkpointFiles(wholeDir, 2).weights))).toBe(true);
    });
  }
});
