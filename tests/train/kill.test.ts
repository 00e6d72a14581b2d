// the real thing: `cudalab train` in a child process that SIGKILLs itself in
// the middle of its second epoch (at a step named by CUDALAB_TEST_KILL_AT, so
// the kill lands at the same place every time), then `--resume`d; it must end
// with exactly the numbers of a run that was never interrupted. needs the
// compiled program (dist/, built by `npm install` / `npm run build`, as CI does).
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTemporaryName } from '../../src/atomic-file';
import { makeSplit, writeTinyCifarBin } from './tiny-cifar';

const repo = path.join(__dirname, '..', '..');
const bin = path.join(repo, 'bin', 'cudalab.js');
const built = fs.existsSync(path.join(repo, 'dist', 'cli', 'index.js'));

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-kill-'));
  writeTinyCifarBin(path.join(root, 'data'), makeSplit(160, 5), makeSplit(20, 6));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

// 160 images at batch 16: 10 steps an epoch, so a kill right after the first checkpoint lands mid-epoch
const args = (name: string, epochs = 2) => [
  bin, 'train', '--lr', '0.001', '--batch', '16', '--epochs', String(epochs), '--device', 'cpu', '--seed', '3',
  '--data', path.join(root, 'data'), '--out', path.join(root, 'runs'), '--name', name, '--no-download', '--json',
];

function numbers(summary: { epochs: Array<Record<string, unknown>> }) {
  return summary.epochs.map(({ epoch, train_loss, train_accuracy, test_loss, test_accuracy, nan_at }) => ({
    epoch, train_loss, train_accuracy, test_loss, test_accuracy, nan_at,
  }));
}

/** runs the command line in a child process; CUDALAB_TEST_KILL_AT=point makes it send itself `signal` there */
function run(argv: string[], killAt?: string, signal: NodeJS.Signals = 'SIGKILL') {
  const env = { ...process.env };
  delete env.CUDALAB_TEST_KILL_AT;
  delete env.CUDALAB_TEST_KILL_SIGNAL;
  if (killAt !== undefined) Object.assign(env, { CUDALAB_TEST_KILL_AT: killAt, CUDALAB_TEST_KILL_SIGNAL: signal });
  return spawnSync(process.execPath, argv, { encoding: 'utf8', env });
}

describe('train killed with SIGKILL', () => {
  it.skipIf(!built)('resumes with --resume and ends bitwise equal to an uninterrupted run (skipped without dist/: run `npm run build`)', () => {
    const whole = run(args('whole'));
    expect(whole.status, whole.stderr).toBe(0);
    const expected = JSON.parse(whole.stdout);

    // killed after step 13 of the run: epoch 2, step 3, with epoch 1's checkpoint complete
    const runDir = path.join(root, 'runs', 'killed');
    const killed = run(args('killed'), 'step:13');
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toMatch(/^epoch 1\/2: train loss/m);
    expect(killed.stderr).not.toMatch(/^epoch 2\/2:/m);
    expect(fs.existsSync(path.join(runDir, 'checkpoint-epoch-1.json'))).toBe(true);
    expect(fs.existsSync(path.join(runDir, 'checkpoint-epoch-2.json'))).toBe(false);
    expect(fs.existsSync(path.join(runDir, 'summary.json'))).toBe(false);

    const resumed = run([bin, 'train', '--resume', runDir, '--json']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* after epoch 1 of 2/);
    expect(numbers(JSON.parse(resumed.stdout))).toEqual(numbers(expected));
    const weights = (name: string) => fs.readFileSync(path.join(root, 'runs', name, 'checkpoint-epoch-2.safetensors'));
    expect(weights('killed').equals(weights('whole'))).toBe(true);
  }, 120_000);
});

describe('train stopped with SIGINT or SIGTERM', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it.skipIf(!built)(`${signal} mid-epoch stops the run before that epoch ends, releases its lock, and --resume goes on`, () => {
      const runDir = path.join(root, 'runs', signal);
      const stopped = run(args(signal), 'step:13', signal);
      // it dies of the signal, as it would without the lock's handler
      expect(stopped.signal).toBe(signal);
      expect(fs.existsSync(path.join(runDir, '.lock'))).toBe(false);
      expect(fs.existsSync(path.join(runDir, 'checkpoint-epoch-1.json'))).toBe(true);
      expect(fs.existsSync(path.join(runDir, 'checkpoint-epoch-2.json'))).toBe(false);
      const resumed = run([bin, 'train', '--resume', runDir, '--json']);
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stderr).not.toContain('taking over');
      expect(JSON.parse(resumed.stdout).epochs).toHaveLength(2);
    }, 60_000);
  }
});

// each file a run writes, killed after its temporary is complete and before
// the rename: the temporary and a stale lock are left behind, and the next
// command (a resume, or a fresh run where there is no config.json to resume
// from) removes the one and takes over the other
describe('train killed while writing a file', () => {
  const writers = [
    'config.json', 'metrics.jsonl', 'checkpoint-epoch-1.safetensors', 'checkpoint-epoch-1.optimizer.safetensors',
    'checkpoint-epoch-1.json', 'summary.json',
  ];
  for (const [i, file] of writers.entries()) {
    it.skipIf(!built)(`${file}: the next command leaves no temporary behind`, () => {
      const name = `write-${i}`;
      const runDir = path.join(root, 'runs', name);
      const argv = args(name, 1);
      const killed = run(argv, `write:${file}`);
      expect(killed.signal).toBe('SIGKILL');
      const temporaries = () => fs.readdirSync(runDir).filter(isTemporaryName);
      expect(temporaries()).toHaveLength(1);
      expect(temporaries()[0].startsWith(`.${file}.`)).toBe(true);
      expect(fs.existsSync(path.join(runDir, '.lock'))).toBe(true);

      const next = fs.existsSync(path.join(runDir, 'config.json')) ? run([bin, 'train', '--resume', runDir, '--json']) : run(argv);
      expect(next.status, next.stderr).toBe(0);
      expect(next.stderr).toContain(`${runDir}: taking over the lock of a run that is gone (pid ${killed.pid}`);
      expect(temporaries()).toEqual([]);
      expect(fs.existsSync(path.join(runDir, '.lock'))).toBe(false);
      expect(JSON.parse(next.stdout).epochs).toHaveLength(1);
    }, 60_000);
  }
});
