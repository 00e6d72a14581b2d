// sweeps on a real Redis with real workers: a sweep of 6 trials, two worker
// processes, one of them killed (SIGKILL, at a fixed point: right after its
// first trial checkpointed its first epoch), Redis restarted mid-sweep; every
// trial must be in the results exactly once, the killed one run again by the
// other worker from the dead one's checkpoint, each with the accuracy
// `cudalab train` gets for the same config; the finished sweep run again
// runs nothing. CUDALAB_TEST_SWEEP_LOCK_MS (test-only, src/sweep/queue.ts)
// makes a dead worker's lock expire in 2 s instead of 30.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSplit, writeTinyCifarBin } from '../train/tiny-cifar';
import { built, runCliProcess, startCli, until, type CliProcess } from './cli-process';
import { RedisServer, redisServerBinary } from './redis-server';

const redisBinary = redisServerBinary();
const skipReason = !built ? 'no dist/: run `npm run build`' : redisBinary === null ? 'redis-server is not installed (apt-get install redis-server; .ci/run does)' : '';

let root: string;
let redis: RedisServer | null = null;
const workers: CliProcess[] = [];
const env = { CUDALAB_TEST_SWEEP_LOCK_MS: '2000' };

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-sweep-redis-'));
  // 160 training images at batch 16: 10 steps an epoch
  writeTinyCifarBin(path.join(root, 'data'), makeSplit(160, 5), makeSplit(20, 6));
  fs.writeFileSync(path.join(root, 'six.json'), JSON.stringify({
    name: 'six', base: { epochs: 2, batch: 16 }, grid: { lr: [0.001, 0.003, 0.01] }, seeds: [0, 1],
  }));
  fs.writeFileSync(path.join(root, 'long.json'), JSON.stringify({ name: 'long', base: { epochs: 4, batch: 16 }, grid: { lr: [0.002] } }));
  fs.writeFileSync(path.join(root, 'nan.json'), JSON.stringify({
    name: 'nan', base: { epochs: 1, batch: 16, stopOnNan: true }, grid: { lr: [1e30] },
  }));
  if (!skipReason) redis = await RedisServer.start(redisBinary!);
});

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await redis?.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

const workerArgs = () => ['worker', '--redis', redis!.url, '--device', 'cpu', '--data', path.join(root, 'data'), '--out', path.join(root, 'runs'), '--no-download'];
const sweepArgs = (file: string, ...more: string[]) => ['sweep', path.join(root, file), '--redis', redis!.url, '--out', path.join(root, 'runs'), ...more];

interface Row { trial: string; name: string; params: { lr: number; seed: number }; status: string; test_accuracy: number | null; best_accuracy: number | null; worker: string | null; attempts: number; error: string | null }
const readRows = (sweep: string): Row[] => {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'runs', sweep, 'results.json'), 'utf8')).trials;
  } catch {
    return [];
  }
};

describe.skipIf(skipReason !== '')(`sweep on Redis${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('runs 6 trials on two workers through a worker killed mid-trial and a Redis restart, each trial once, as `cudalab train` would', async () => {
    // worker A kills itself (kill -9) when its first trial begins epoch 2, epoch 1 checkpointed
    const a = startCli(workerArgs(), { ...env, CUDALAB_TEST_KILL_AT: 'worker-trial-epoch:2' });
    workers.push(a);
    await a.line(/waiting for trials/);
    const sweep = startCli(sweepArgs('six.json'), env);
    const killedTrial = (await a.line(/: six: trial (\S+) \(attempt 1\)/))[1];
    const b = startCli(workerArgs(), env);
    workers.push(b);
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // Redis goes away and comes back while trials are left
    await until('2 trials done', () => readRows('six').filter((r) => r.status === 'done').length >= 2);
    const doneBeforeRestart = readRows('six').filter((r) => r.status === 'done').length;
    await redis!.restart();
    const end = await sweep.exited;
    expect(end, sweep.stderr()).toEqual({ code: 0, signal: null });
    expect(doneBeforeRestart).toBeLessThan(6);

    const rows = readRows('six');
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => r.trial)).size).toBe(6);
    expect(rows.map((r) => `${r.params.lr}/${r.params.seed}`).sort()).toEqual(['0.001/0', '0.001/1', '0.003/0', '0.003/1', '0.01/0', '0.01/1']);
    for (const r of rows) expect(r.status, JSON.stringify(r)).toBe('done');
    // the killed worker's trial: finished by the other worker, from the checkpoint the first left
    const killed = rows.find((r) => r.name === killedTrial)!;
    expect(killed.worker).toContain(`:${b.child.pid} cpu`);
    expect(b.stderr()).toMatch(new RegExp(`\\[${killedTrial}\\] .*exists: resuming from its last checkpoint`));
    // from epoch 1's checkpoint: the dead worker's trial process stopped too, it did not train on alone
    expect(b.stderr()).toMatch(new RegExp(`\\[${killedTrial}\\] resuming .* after epoch 1 of 2`));
    expect(fs.existsSync(path.join(root, 'runs', 'six', killedTrial, 'checkpoint-epoch-2.json'))).toBe(true);
    // each trial was taken once, the killed one twice (A, then B): the locks of the
    // trials that trained on were renewed, none was taken for stalled
    const taken = (p: CliProcess) => [...p.stderr().matchAll(/: six: trial (\S+) \(attempt/g)].map((m) => m[1]);
    const counts = new Map<string, number>();
    for (const name of [...taken(a), ...taken(b)]) counts.set(name, (counts.get(name) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(rows.map((r) => [r.name, r.name === killedTrial ? 2 : 1])));

    // run again: every trial is finished, nothing is queued or run
    const trialsRunByB = b.stderr().match(/: six: trial \S+ \(attempt/g)!.length;
    const again = await runCliProcess(sweepArgs('six.json', '--json'), env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/6 of 6 trials finished before; queueing the other 0/);
    expect(JSON.parse(again.stdout).map((r: Row) => [r.trial, r.test_accuracy])).toEqual(rows.map((r) => [r.trial, r.test_accuracy]));
    expect(b.stderr().match(/: six: trial \S+ \(attempt/g)!.length).toBe(trialsRunByB);

    // each trial's accuracies are the ones `cudalab train` gets with the same settings
    for (const r of rows) {
      const t = await runCliProcess(['train', '--lr', String(r.params.lr), '--batch', '16', '--epochs', '2', '--seed', String(r.params.seed), '--device', 'cpu',
        '--data', path.join(root, 'data'), '--out', path.join(root, 'reference'), '--name', `ref-${r.trial}`, '--no-download', '--json']);
      expect(t.code, t.stderr).toBe(0);
      const summary = JSON.parse(t.stdout);
      expect(r.test_accuracy).toBe(summary.test_accuracy);
      expect(r.best_accuracy).toBe(Math.max(...summary.epochs.map((e: { test_accuracy: number }) => e.test_accuracy)));
    }

    // `sweep status` reads the same from the queue
    const status = await runCliProcess(['sweep', 'status', 'six', '--redis', redis!.url, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).map((r: Row) => r.status)).toEqual(Array(6).fill('done'));
  }, 90_000);

  it('records a trial that fails (a NaN with stopOnNan) as failed after its bounded attempts, and exits 1', async () => {
    const w = workers.find((p) => p.child.exitCode === null && p.child.signalCode === null)!;
    const r = await runCliProcess(sweepArgs('nan.json', '--attempts', '2', '--json'), env);
    expect(r.code, r.stderr).toBe(1);
    const [row] = JSON.parse(r.stdout) as Row[];
    expect(row).toMatchObject({ status: 'failed', attempts: 2 });
    expect(row.error).toMatch(/the loss was not finite at epoch 1, step \d+ \(stopOnNan\)/);
    expect(w.stderr().match(/: nan: trial \S+ failed \(attempt \d of 2\)/g)).toHaveLength(2);
    // run again it stays failed; with its row removed from results.json it is tried again (as often)
    expect((await runCliProcess(sweepArgs('nan.json', '--attempts', '2'), env)).code).toBe(1);
    expect(w.stderr().match(/: nan: trial \S+ failed \(attempt \d of 2\)/g)).toHaveLength(2);
    const resultsFile = path.join(root, 'runs', 'nan', 'results.json');
    fs.writeFileSync(resultsFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(resultsFile, 'utf8')), trials: [] }));
    const retried = await runCliProcess(sweepArgs('nan.json', '--attempts', '2', '--json'), env);
    expect(retried.code, retried.stderr).toBe(1);
    expect(JSON.parse(retried.stdout)[0]).toMatchObject({ status: 'failed', attempts: 2 });
    expect(w.stderr().match(/: nan: trial \S+ failed \(attempt \d of 2\)/g)).toHaveLength(4);
    // cancelled, the queue is gone and status says there is no such sweep
    expect((await runCliProcess(['sweep', 'cancel', 'nan', '--redis', redis!.url])).code).toBe(0);
    const status = await runCliProcess(['sweep', 'status', 'nan', '--redis', redis!.url]);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/no sweep nan on redis:\/\/127\.0\.0\.1:\d+/);
  }, 30_000);

  it("keeps a trial's lock while it trains for many times the lock's duration (the trial is in its own process)", async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    // a 600 ms lock, renewed every 300 ms, on a trial of 40 steps and 4 evaluations (seconds):
    // a lock left to expire would send the trial back to the queue, and this worker would take it again
    const fast = { CUDALAB_TEST_SWEEP_LOCK_MS: '600' };
    const c = startCli(workerArgs(), fast);
    workers.push(c);
    const r = await runCliProcess(sweepArgs('long.json', '--json'), fast);
    expect(r.code, r.stderr).toBe(0);
    const [row] = JSON.parse(r.stdout) as Row[];
    expect(row).toMatchObject({ status: 'done', attempts: 1 });
    expect(c.stderr().match(/: long: trial \S+ \(attempt/g)).toHaveLength(1);
    expect(c.stderr()).not.toMatch(/could not be recorded|cannot renew/);
  }, 30_000);
});
