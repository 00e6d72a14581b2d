// the process one trial trains in (forked by trial-process.ts). it runs the
// same code as `cudalab train`: startRun for a fresh run directory, resumeRun
// (from the last checkpoint) when one is already there, as after a worker that
// died mid-trial on shared storage. it reports over the IPC channel:
//   {type: 'epoch', epoch}       an epoch began (the one before it checkpointed)
//   {type: 'done', summary}      the run's summary.json
//   {type: 'failed', message}    the run failed (or stopped on a NaN with stopOnNan)
// and it stops as soon as its parent is gone: an orphan must not go on
// training (and holding the run's lock) after its worker was killed.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { findLatestCheckpoint } from '../train/checkpoint';
import { SUMMARY_FILE, type RunSummary } from '../train/metrics';
import { Progress } from '../train/progress';
import { RunLockedError, processAlive } from '../train/run-lock';
import { resumeRun, startRun, type RunHooks } from '../train/run';
import { trialSettings, type Placement, type TrialConfig } from './trials';

export interface TrialRequest {
  config: TrialConfig;
  name: string;
  placement: Placement;
}

export type TrialMessage =
  | { type: 'epoch'; epoch: number }
  | { type: 'done'; summary: RunSummary }
  | { type: 'failed'; message: string; code: string | null };

const send = (m: TrialMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

function hasRun(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, SUMMARY_FILE)) || findLatestCheckpoint(runDir) !== null;
}

async function runTrial(req: TrialRequest): Promise<RunSummary> {
  const settings = trialSettings(req.config, req.name, req.placement, `trial ${req.name}`);
  const runDir = path.join(settings.out, settings.name);
  const progress = new Progress(process.stderr, { tty: false });
  const parent = process.ppid;
  let epoch = 0;
  const hooks: RunHooks = {
    progress,
    onStep: (info) => {
      // checked every step: a parent that died is noticed at once, without the event loop
      if (process.ppid !== parent) process.exit(1);
      if (info.epoch !== epoch) {
        epoch = info.epoch;
        process.send!({ type: 'epoch', epoch } satisfies TrialMessage);
      }
    },
  };
  // an earlier attempt's process may still hold the run's lock for a moment
  // (a trial process whose worker was killed stops at its next step): wait for it
  for (let waited = 0; ; waited += 100) {
    try {
      if (hasRun(runDir)) {
        progress.message(`${runDir} exists: resuming from its last checkpoint`);
        return await resumeRun(runDir, { device: settings.device, data: settings.data, download: settings.download }, hooks);
      }
      return await startRun(settings, hooks);
    } catch (err) {
      const holder = err instanceof RunLockedError ? err.holder : null;
      if (holder === null || holder.host !== os.hostname() || holder.pid === process.pid || !processAlive(holder.pid) || waited >= 60_000) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

process.once('message', (req: TrialRequest) => {
  runTrial(req)
    .then(async (summary) => {
      if (summary.stopped_on_nan && summary.nan) {
        await send({ type: 'failed', message: `the loss was not finite at epoch ${summary.nan.epoch}, step ${summary.nan.step} (stopOnNan)`, code: 'ERR_NAN' });
      } else {
        await send({ type: 'done', summary });
      }
    })
    .catch(async (err: Error & { code?: unknown }) => {
      await send({ type: 'failed', message: err.message ?? String(err), code: typeof err.code === 'string' ? err.code : null });
    })
    .finally(() => process.disconnect());
});
