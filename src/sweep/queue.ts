// a sweep on Redis, with BullMQ: a queue named after the sweep holds a job
// per trial whose id is the trial's id, so enqueueing the same trial again is
// a no-op (BullMQ keeps the job, done or not); workers find the queues in a
// Redis set, cudalab:sweeps. a job is tried a bounded number of times (a
// failed trial is not retried forever), and a job whose worker stopped
// renewing its lock (killed, machine gone) goes back to the queue after the
// lock expires (BullMQ's stalled-job check) and another worker runs it.
import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../train/config';
import { SWEEP_NAME_PATTERN } from './sweep-file';
import { failedRow, queuedRow, type TrialResult } from './results';
import type { Trial } from './trials';

/** the Redis set that lists every sweep queue, for workers to find them */
export const SWEEPS_SET = 'cudalab:sweeps';

/** what a trial's job carries */
export interface TrialJobData {
  sweep: string;
  trial: Trial;
}

/** what a running job's progress holds: who runs it, and the epoch it is in */
export interface TrialJobProgress {
  worker: string;
  epoch: number;
}

/**
 * how long a worker's lock on a job lasts (it renews it at half that) and
 * how often the stalled-job check runs. BullMQ's defaults, 30 s each;
 * CUDALAB_TEST_SWEEP_LOCK_MS shortens both (the check at half the lock) so
 * the tests see a killed worker's trial go back to the queue in seconds.
 * only the tests set it.
 */
export function lockTiming(): { lockDuration: number; stalledInterval: number } {
  const ms = Number(process.env.CUDALAB_TEST_SWEEP_LOCK_MS);
  if (Number.isInteger(ms) && ms >= 200) return { lockDuration: ms, stalledInterval: Math.max(100, Math.floor(ms / 2)) };
  return { lockDuration: 30_000, stalledInterval: 30_000 };
}

/** the connection a --redis URL names (redis://[user:password@]host[:port][/db]) */
export function connectionOf(url: string, argument = '--redis'): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(argument, `${argument} must be a Redis URL such as redis://127.0.0.1:6379, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:' || u.hostname === '') {
    throw new ConfigError(argument, `${argument} must be a Redis URL such as redis://127.0.0.1:6379, got ${JSON.stringify(url)}`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new ConfigError(argument, `${argument}: the database must be a number (redis://host:port/0), got ${JSON.stringify(db)}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 6379 : Number(u.port),
    db: db === '' ? 0 : Number(db),
    username: u.username === '' ? undefined : decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    // commands wait for Redis to come back instead of failing (a restart
    // mid-sweep is ridden out), and reconnecting goes on forever, at most 2 s apart
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}

export function checkSweepName(name: string, argument: string): string {
  if (!SWEEP_NAME_PATTERN.test(name)) throw new ConfigError(argument, `${argument} must be a sweep name (letters, digits and . _ -), got ${JSON.stringify(name)}`);
  return name;
}

export function openQueue(name: string, connection: ConnectionOptions): Queue<TrialJobData, TrialResult> {
  return new Queue<TrialJobData, TrialResult>(name, { connection });
}

/**
 * a plain Redis connection for the sweeps set (ours, not BullMQ's); the
 * same options, so it too waits out a restart
 */
export function openRegistry(connection: ConnectionOptions, onError: (err: Error) => void): Redis {
  return new Redis(connection as RedisOptions).on('error', onError);
}

/**
 * adds the trials' jobs and lists the queue for the workers. a job already
 * there stays as it is, except a failed one: the caller enqueues only trials
 * it has no final row for, so a failed trial whose row was removed runs again
 */
export async function enqueueTrials(registry: Redis, queue: Queue<TrialJobData, TrialResult>, trials: readonly Trial[], attempts: number): Promise<void> {
  await registry.sadd(SWEEPS_SET, queue.name);
  if (trials.length === 0) return;
  await queue.addBulk(trials.map((trial) => ({
    name: trial.name,
    data: { sweep: queue.name, trial },
    opts: { jobId: trial.id, attempts, removeOnComplete: false, removeOnFail: false },
  })));
  for (const trial of trials) {
    const job = await queue.getJob(trial.id);
    if (job && (await job.getState()) === 'failed') await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  }
}

export async function listedSweeps(registry: Redis): Promise<string[]> {
  return (await registry.smembers(SWEEPS_SET)).sort();
}

export async function isListed(registry: Redis, name: string): Promise<boolean> {
  return (await registry.sismember(SWEEPS_SET, name)) === 1;
}

/** cancels a sweep: no worker takes its trials any more, and its jobs are gone (a running trial finishes on its worker, unrecorded) */
export async function cancelSweep(registry: Redis, queue: Queue): Promise<void> {
  await registry.srem(SWEEPS_SET, queue.name);
  await queue.obliterate({ force: true });
}

function progressOf(job: Job): TrialJobProgress | null {
  const p = job.progress as Partial<TrialJobProgress> | number;
  return typeof p === 'object' && p !== null && typeof p.worker === 'string' ? (p as TrialJobProgress) : null;
}

/** a trial's row as its job stands; null when the queue has no such job */
export async function rowOfJob(queue: Queue<TrialJobData, TrialResult>, trial: Trial): Promise<TrialResult | null> {
  const job = await queue.getJob(trial.id);
  if (!job) return null;
  const state = await job.getState();
  const progress = progressOf(job);
  if (state === 'completed' && job.returnvalue && typeof job.returnvalue === 'object') return { ...job.returnvalue, trial: trial.id };
  if (state === 'failed') return failedRow(trial, job.failedReason ?? 'failed', progress?.worker ?? null, job.attemptsMade, null);
  const row = queuedRow(trial);
  row.attempts = job.attemptsMade;
  if (state === 'active') {
    row.status = 'running';
    row.worker = progress?.worker ?? null;
  }
  return row;
}

/** every trial's row as the queue has it; a trial it lacks counts as queued */
export async function rowsOfQueue(queue: Queue<TrialJobData, TrialResult>, trials: readonly Trial[]): Promise<TrialResult[]> {
  return Promise.all(trials.map(async (t) => (await rowOfJob(queue, t)) ?? queuedRow(t)));
}

/** the trials a queue holds (for `sweep status`, which has no sweep file) */
export async function trialsOfQueue(queue: Queue<TrialJobData, TrialResult>): Promise<Trial[]> {
  const jobs = await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed']);
  const seen = new Map<string, Trial>();
  for (const j of jobs) if (j && j.data?.trial && !seen.has(j.data.trial.id)) seen.set(j.data.trial.id, j.data.trial);
  return [...seen.values()];
}
