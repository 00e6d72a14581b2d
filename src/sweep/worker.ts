// `cudalab worker`: takes trials from every sweep queue on a Redis (the
// queues the cudalab:sweeps set lists) and runs them, `concurrency` at a
// time, on one device, each in its own process with the trainer of
// `cudalab train` (trial-process.ts says why a process).
//
// jobs are fetched by hand (BullMQ's manual processing) rather than by a
// BullMQ worker per queue running on its own: those would each take a job
// from their queue at once, and a worker process must never hold more
// trials than it has slots, across all the sweeps. so each slot asks the
// queues in turn for a job, renews that job's lock while its trial trains,
// and completes or fails it. the stalled-job check (a dead worker's job back
// to the queue) runs in every worker process, for every queue.
import crypto from 'crypto';
import os from 'os';
import path from 'path';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { deviceSpecText, runDeviceOf, type DeviceSpec } from '../device-spec';
import type { Progress } from '../train/progress';
import { testHook } from '../test-hooks';
import { doneRow, sweepDir, type TrialResult } from './results';
import { listedSweeps, lockTiming, type TrialJobData, type TrialJobProgress } from './queue';
import { runTrialProcess } from './trial-process';
import { uploadRun } from './upload';

export interface WorkerOptions {
  connection: ConnectionOptions;
  registry: Redis;
  device: DeviceSpec;
  data: string;
  out: string;
  download: boolean;
  concurrency: number;
  progress: Progress;
  /** --upload: push each finished run directory to this DVC remote (remote undefined: the repository's default); null: no upload */
  upload: { remote: string | undefined } | null;
  /** how often an idle slot looks for work, ms */
  pollMs?: number;
}

type TrialJob = Job<TrialJobData, TrialResult>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SweepWorker {
  /** who runs a trial, in the results: host:pid device */
  readonly id: string;
  private readonly queues = new Map<string, Worker<TrialJobData, TrialResult>>();
  private next = 0;

  constructor(private readonly opts: WorkerOptions) {
    this.id = `${os.hostname()}:${process.pid} ${deviceSpecText(opts.device)}`;
  }

  /** runs until the process is stopped (see src/cli/worker.ts); the slots share the queues */
  async run(): Promise<void> {
    const slots = Array.from({ length: this.opts.concurrency }, (_, i) => this.slot(i));
    await Promise.all(slots);
  }

  // a BullMQ worker per sweep queue, only to fetch from it and check it for stalled jobs
  private async refreshQueues(): Promise<Array<Worker<TrialJobData, TrialResult>>> {
    const names = await listedSweeps(this.opts.registry);
    const timing = lockTiming();
    for (const name of names) {
      if (this.queues.has(name)) continue;
      const w = new Worker<TrialJobData, TrialResult>(name, null, {
        connection: this.opts.connection,
        autorun: false,
        lockDuration: timing.lockDuration,
        stalledInterval: timing.stalledInterval,
        // a job whose workers keep dying is failed in the end, like one that keeps failing
        maxStalledCount: 2,
      });
      w.on('error', (err) => this.opts.progress.message(`worker: queue ${name}: ${err.message}`));
      this.queues.set(name, w);
      await w.startStalledCheckTimer();
      this.opts.progress.message(`worker: taking trials from sweep ${name}`);
    }
    for (const [name, w] of this.queues) {
      if (names.includes(name)) continue;
      this.queues.delete(name);
      this.opts.progress.message(`worker: sweep ${name} is gone (cancelled)`);
      void w.close(true).catch(() => undefined);
    }
    return [...this.queues.values()];
  }

  // the next job of any queue, the queues taken in turn so no sweep starves another
  private async fetch(token: string): Promise<{ job: TrialJob; queue: Worker<TrialJobData, TrialResult> } | null> {
    const queues = await this.refreshQueues();
    for (let i = 0; i < queues.length; i++) {
      const queue = queues[(this.next + i) % queues.length];
      const job = (await queue.getNextJob(token, { block: false })) as TrialJob | undefined;
      if (job) {
        this.next = (this.next + i + 1) % queues.length;
        return { job, queue };
      }
    }
    return null;
  }

  private async slot(index: number): Promise<void> {
    const pollMs = this.opts.pollMs ?? 500;
    for (;;) {
      const token = crypto.randomUUID();
      let fetched;
      try {
        fetched = await this.fetch(token);
      } catch (err) {
        this.opts.progress.message(`worker: cannot reach Redis (${(err as Error).message}); trying again`);
        await sleep(1000);
        continue;
      }
      if (fetched === null) {
        await sleep(pollMs);
        continue;
      }
      await this.runJob(fetched.job, token, index);
    }
  }

  private async runJob(job: TrialJob, token: string, slot: number): Promise<void> {
    const { trial, sweep } = job.data;
    const out = sweepDir(this.opts.out, sweep);
    const runDir = path.join(out, trial.name);
    const attempt = job.attemptsMade + 1;
    const say = (text: string) => this.opts.progress.message(`worker${this.opts.concurrency > 1 ? ` slot ${slot}` : ''}: ${text}`);
    say(`${sweep}: trial ${trial.name} (attempt ${attempt})`);
    const progress = (epoch: number) => job.updateProgress({ worker: this.id, epoch } satisfies TrialJobProgress).catch(() => undefined);
    void progress(0);
    // the lock is renewed at half its duration while the trial trains (this
    // process's event loop is free: the trial runs in its own process)
    const { lockDuration } = lockTiming();
    const renew = setInterval(() => {
      job.extendLock(token, lockDuration).catch((err: Error) => say(`cannot renew the lock of ${trial.name}: ${err.message}`));
    }, Math.max(50, Math.floor(lockDuration / 2)));
    try {
      let row: TrialResult | null = null;
      let failure: Error | null = null;
      try {
        const summary = await runTrialProcess(
          { config: trial.config, name: trial.name, placement: { device: runDeviceOf(this.opts.device), data: this.opts.data, out, download: this.opts.download } },
          {
            device: this.opts.device,
            onLine: (line) => this.opts.progress.message(`  [${trial.name}] ${line}`),
            onEpoch: (epoch) => {
              void progress(epoch);
              // a test's kill -9 of this worker mid-trial, the epochs before checkpointed
              testHook(`worker-trial-epoch:${epoch}`);
            },
          },
        );
        row = doneRow(trial, summary, this.id, attempt, runDir);
        // an upload that fails fails the attempt: the next one finds the run done and uploads again
        if (this.opts.upload !== null) {
          row.upload = await uploadRun(runDir, this.opts.upload.remote);
          say(`${sweep}: trial ${trial.name} uploaded to the DVC remote`);
        }
      } catch (err) {
        failure = err as Error;
      }
      // completing or failing waits for Redis when it is away; a job whose lock
      // was lost meanwhile (taken for stalled) is another worker's now
      try {
        if (row !== null) {
          await job.moveToCompleted(row, token, false);
          say(`${sweep}: trial ${trial.name} done, test accuracy ${(100 * row.test_accuracy!).toFixed(2)}%`);
        } else {
          await job.moveToFailed(failure!, token, false);
          say(`${sweep}: trial ${trial.name} failed (attempt ${attempt} of ${job.opts.attempts ?? 1}): ${failure!.message}`);
        }
      } catch (err) {
        say(`${sweep}: trial ${trial.name}: its result could not be recorded (${(err as Error).message}); the queue runs it again`);
      }
    } finally {
      clearInterval(renew);
    }
  }
}
