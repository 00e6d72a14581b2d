// a run owns its directory: a second `cudalab train`, `--resume` or
// `experiments` into a directory in use stops, names the holder and writes
// nothing there; a lock left by a process that is gone is taken over; a lock
// from another host is not. the holder is this test process itself (its pid
// is alive for as long as the test runs), or a child that holds the lock
// until told to stop, so nothing here depends on timing.
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireRunLock, LOCK_FILE, RunLockedError } from '../../src/train/run-lock';
import { runCli as cli } from '../helpers/run-cli';
import { snapshot } from '../helpers/snapshot';
import { makeSplit, writeTinyCifarBin } from './tiny-cifar';

const repo = path.join(__dirname, '..', '..');
const distLock = path.join(repo, 'dist', 'train', 'run-lock.js');
const built = fs.existsSync(distLock);

let root: string;
let dataDir: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-lock-'));
  dataDir = path.join(root, 'data');
  writeTinyCifarBin(dataDir, makeSplit(40, 3), makeSplit(20, 4));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const train = (out: string, name: string, lr = '0.001') =>
  cli('train', '--lr', lr, '--batch', '16', '--epochs', '1', '--limit', '32', '--device', 'cpu', '--data', dataDir,
    '--out', out, '--name', name, '--no-download', '--json');

/** the pid of a process that has exited */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('the run lock', () => {
  it('is exclusive: a second taking fails with ERR_RUN_LOCKED naming the holder, until the first is released', () => {
    const dir = path.join(root, 'unit');
    const first = acquireRunLock(dir, { command: 'first' });
    const info = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
    expect(info).toMatchObject({ pid: process.pid, host: os.hostname(), command: 'first' });
    expect(Number.isNaN(Date.parse(info.started_at))).toBe(false);
    let caught: unknown;
    try {
      acquireRunLock(dir, { command: 'second' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RunLockedError);
    expect(caught).toMatchObject({ code: 'ERR_RUN_LOCKED', dir, holder: { pid: process.pid, command: 'first' } });
    first.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    const again = acquireRunLock(dir, { command: 'again' });
    // releasing twice, or releasing a lock that is no longer this one, leaves the current lock alone
    first.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    again.release();
  });

  it('stops a second train, --resume and experiments into a directory in use, and they write nothing there', async () => {
    const out = path.join(root, 'busy');
    expect((await train(out, 'r')).code).toBe(0);
    const runDir = path.join(out, 'r');
    const lock = acquireRunLock(runDir, { command: 'cudalab train --name r' });
    try {
      const before = snapshot(out);
      const second = await train(out, 'r', '0.003');
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`${runDir} is in use by another run: pid ${process.pid} on ${os.hostname()}`);
      expect(second.stderr).toContain('(cudalab train --name r)');
      expect(second.stdout).toBe('');
      const resumed = await cli('train', '--resume', runDir, '--epochs', '2', '--json');
      expect(resumed.code).toBe(1);
      expect(resumed.stderr).toContain(`${runDir} is in use by another run`);
      expect(snapshot(out)).toEqual(before);
    } finally {
      lock.release();
    }
    // the experiments' results folder is owned the same way
    const config = path.join(root, 'grid.json');
    fs.writeFileSync(config, JSON.stringify({ name: 'grid', experiments: [{ name: 'a', lr: 0.001, batch: 16, epochs: 1 }] }));
    const gridDir = path.join(out, 'grid');
    const gridLock = acquireRunLock(gridDir);
    try {
      const before = snapshot(out);
      const r = await cli('experiments', '--config', config, '--data', dataDir, '--device', 'cpu', '--limit', '32', '--out', out, '--no-download');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${gridDir} is in use by another run: pid ${process.pid}`);
      expect(snapshot(out)).toEqual(before);
    } finally {
      gridLock.release();
    }
    // once released, the directory is free again, and a finished run leaves no lock behind
    const after = await train(out, 'r', '0.003');
    expect(after.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')).lr).toBe(0.003);
    expect(fs.existsSync(path.join(runDir, LOCK_FILE))).toBe(false);
  });

  it('takes over the lock of a process that is gone, saying so', async () => {
    const out = path.join(root, 'stale');
    const runDir = path.join(out, 'r');
    fs.mkdirSync(runDir, { recursive: true });
    const pid = deadPid();
    fs.writeFileSync(path.join(runDir, LOCK_FILE), JSON.stringify({ pid, host: os.hostname(), started_at: '2024-01-01T00:00:00.000Z', command: 'cudalab train', token: 'x' }));
    const r = await train(out, 'r');
    expect(r.stderr).toContain(`${runDir}: taking over the lock of a run that is gone (pid ${pid} on ${os.hostname()}`);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(runDir, 'summary.json'))).toBe(true);
    expect(fs.existsSync(path.join(runDir, LOCK_FILE))).toBe(false);
  });

  it('never takes over a lock from another host or one that says nothing, and says how to remove it', async () => {
    const out = path.join(root, 'elsewhere');
    expect((await train(out, 'r')).code).toBe(0);
    const runDir = path.join(out, 'r');
    const lockFile = path.join(runDir, LOCK_FILE);
    fs.writeFileSync(lockFile, JSON.stringify({ pid: 4242, host: 'gpu-box-7', started_at: '2024-01-01T00:00:00.000Z', command: 'cudalab train', token: 'y' }));
    const before = snapshot(out);
    const r = await train(out, 'r');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${runDir} is in use by another run: pid 4242 on gpu-box-7`);
    expect(r.stderr).toContain(`if that run is no longer going, remove ${lockFile}`);
    expect(snapshot(out)).toEqual(before);
    // an empty lock file: its taker is between creating and filling it
    fs.writeFileSync(lockFile, '');
    const empty = await train(out, 'r');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(`${lockFile} exists but does not say by whom; if no run is using ${runDir}, remove ${lockFile}`);
  });

  it('is released when the run fails', async () => {
    const out = path.join(root, 'fails');
    const r = await cli('train', '--lr', '0.001', '--batch', '16', '--device', 'cpu', '--data', path.join(root, 'no-data'), '--out', out, '--name', 'r', '--no-download');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CIFAR-10/);
    expect(fs.existsSync(path.join(out, 'r', LOCK_FILE))).toBe(false);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it.skipIf(!built)(`is released when its process gets ${signal} (skipped without dist/: run \`npm run build\`)`, async () => {
      const dir = path.join(root, `signal-${signal}`);
      // holds the lock until a signal comes; says so on stdout once it holds it
      const child = spawn(process.execPath, ['-e', `
        require(${JSON.stringify(distLock)}).acquireRunLock(process.argv[1], { command: 'holder' });
        process.stdout.write('locked\\n');
        setInterval(() => {}, 1 << 30);`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(child.pid);
      child.kill(signal);
      // it dies of the signal, as without the handler, and the lock is gone
      expect(await exited).toBe(signal);
      expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    });
  }
});
