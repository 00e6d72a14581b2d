// the real thing: `cudalab train` in a child process, SIGKILLed in the middle
// of its second epoch, then `--resume`d; it must end with exactly the numbers
// of a run that was never interrupted. needs the compiled program (dist/,
// built by `npm install` / `npm run build`, as CI does).
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const args = (name: string) => [
  bin, 'train', '--lr', '0.001', '--batch', '16', '--epochs', '2', '--device', 'cpu', '--seed', '3',
  '--data', path.join(root, 'data'), '--out', path.join(root, 'runs'), '--name', name, '--no-download', '--json',
];

function numbers(summary: { epochs: Array<Record<string, unknown>> }) {
  return summary.epochs.map(({ epoch, train_loss, train_accuracy, test_loss, test_accuracy, nan_at }) => ({
    epoch, train_loss, train_accuracy, test_loss, test_accuracy, nan_at,
  }));
}

describe('train killed with SIGKILL', () => {
  it.skipIf(!built)('resumes with --resume and ends bitwise equal to an uninterrupted run (skipped without dist/: run `npm run build`)', async () => {
    const whole = spawnSync(process.execPath, args('whole'), { encoding: 'utf8' });
    expect(whole.status, whole.stderr).toBe(0);
    const expected = JSON.parse(whole.stdout);

    const runDir = path.join(root, 'runs', 'killed');
    const child = spawn(process.execPath, args('killed'), { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // kill as soon as epoch 1's checkpoint is complete (its .json is written last)
    const marker = path.join(runDir, 'checkpoint-epoch-1.json');
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(fs.existsSync(path.join(runDir, 'summary.json'))).toBe(false);

    const resumed = spawnSync(process.execPath, [bin, 'train', '--resume', runDir, '--json'], { encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* after epoch 1 of 2/);
    expect(numbers(JSON.parse(resumed.stdout))).toEqual(numbers(expected));
    const weights = (name: string) => fs.readFileSync(path.join(root, 'runs', name, 'checkpoint-epoch-2.safetensors'));
    expect(weights('killed').equals(weights('whole'))).toBe(true);
  }, 120_000);
});
