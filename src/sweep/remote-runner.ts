// a sweep on Redis: `cudalab sweep FILE --redis URL` puts the trials in the
// sweep's queue and waits while workers run them, showing progress and
// keeping the results table (OUT/SWEEP/results.json, .md) up to date from
// the queue: a trial's row is its job's, so it is there exactly once however
// many times the trial ran. Redis going away is waited out (the connection
// retries forever); a trial whose job went missing (a Redis that lost its
// data) is enqueued again.
import fs from 'fs';
import path from 'path';
import { writeFileAtomic } from '../atomic-file';
import type { Progress } from '../train/progress';
import type { ConnectionOptions } from 'bullmq';
import { enqueueTrials, isListed, openQueue, openRegistry, rowOfJob } from './queue';
import { makeResults, progressLine, queuedRow, readSweepResults, startingRows, sweepDir, writeSweepResults, type TrialResult } from './results';
import type { SweepFile } from './sweep-file';
import type { Trial } from './trials';

export interface RemoteOptions {
  connection: ConnectionOptions;
  out: string;
  attempts: number;
  progress: Progress;
  /** how often the queue is read, ms */
  pollMs?: number;
}

/** the sweep was cancelled (`cudalab sweep cancel`) while this waited */
export class SweepCancelledError extends Error {
  readonly code = 'ERR_SWEEP_CANCELLED';
  constructor(name: string) {
    super(`sweep ${name} was cancelled (cudalab sweep cancel); the results table keeps what finished before`);
    this.name = 'SweepCancelledError';
  }
}

function writeDvcFileOf(dir: string, name: string, text: string): void {
  const file = path.join(dir, `${name}.dvc`);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const final = (r: TrialResult) => r.status === 'done' || r.status === 'failed';

export async function runSweepOnRedis(sweep: SweepFile, trials: readonly Trial[], opts: RemoteOptions): Promise<TrialResult[]> {
  const dir = sweepDir(opts.out, sweep.name);
  const rows = startingRows(trials, readSweepResults(dir), queuedRow);
  const byId = new Map(trials.map((t) => [t.id, t]));
  let lastError = '';
  const onError = (err: Error) => {
    if (err.message === lastError) return;
    lastError = err.message;
    opts.progress.message(`sweep ${sweep.name}: Redis: ${err.message} (waiting for it)`);
  };
  const queue = openQueue(sweep.name, opts.connection);
  queue.on('error', onError);
  const registry = openRegistry(opts.connection, onError);
  try {
    const pending = rows.filter((r) => !final(r)).map((r) => byId.get(r.trial)!);
    const skipped = rows.length - pending.length;
    if (skipped > 0) opts.progress.message(`sweep ${sweep.name}: ${skipped} of ${rows.length} trials finished before; queueing the other ${pending.length}`);
    await enqueueTrials(registry, queue, pending, opts.attempts);
    writeSweepResults(dir, makeResults(sweep, rows));
    opts.progress.message(`sweep ${sweep.name}: ${pending.length} trials in queue ${sweep.name}; start workers with \`cudalab worker --redis URL\``);
    let shown = '';
    for (;;) {
      if (!(await isListed(registry, sweep.name))) throw new SweepCancelledError(sweep.name);
      const missing: Trial[] = [];
      for (let i = 0; i < rows.length; i++) {
        if (final(rows[i])) continue;
        const trial = byId.get(rows[i].trial)!;
        const row = await rowOfJob(queue, trial);
        if (row === null) missing.push(trial);
        else rows[i] = row;
        // an uploaded run: its .dvc file beside the results, for `cudalab data pull`
        if (row?.status === 'done' && typeof row.upload === 'string') writeDvcFileOf(dir, row.name, row.upload);
      }
      if (missing.length > 0) {
        opts.progress.message(`sweep ${sweep.name}: ${missing.length} trials are missing from the queue (Redis lost them?); queueing them again`);
        await enqueueTrials(registry, queue, missing, opts.attempts);
      }
      lastError = '';
      const snapshot = JSON.stringify(rows.map((r) => [r.status, r.worker]));
      if (snapshot !== shown) {
        shown = snapshot;
        writeSweepResults(dir, makeResults(sweep, rows));
        opts.progress.message(`sweep ${sweep.name}: ${progressLine(rows)}`);
      }
      if (rows.every(final)) return rows;
      await sleep(opts.pollMs ?? 1000);
    }
  } finally {
    await queue.close().catch(() => undefined);
    registry.disconnect();
  }
}
