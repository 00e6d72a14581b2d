// a sweep on this machine, no Redis: the trials run one at a time on each
// device it may use (every GPU, or the CPU), each in its own process as a
// worker would run it, with the same bounded attempts. the results table is
// rewritten as trials start and end; trials an earlier run of the sweep
// finished (done or failed) are not run again.
import os from 'os';
import path from 'path';
import { deviceSpecText, runDeviceOf, type DeviceSpec } from '../device-spec';
import type { Progress } from '../train/progress';
import { withRunLock } from '../train/run-lock';
import { removeTemporaries } from '../atomic-file';
import { doneRow, failedRow, makeResults, progressLine, queuedRow, readSweepResults, startingRows, sweepDir, writeSweepResults, type TrialResult } from './results';
import type { SweepFile } from './sweep-file';
import type { Trial } from './trials';
import { runTrialProcess } from './trial-process';

export interface LocalOptions {
  out: string;
  data: string;
  download: boolean;
  /** one slot each */
  devices: DeviceSpec[];
  attempts: number;
  progress: Progress;
}

export async function runSweepLocally(sweep: SweepFile, trials: readonly Trial[], opts: LocalOptions): Promise<TrialResult[]> {
  const dir = sweepDir(opts.out, sweep.name);
  // the sweep's folder is owned like a run's: one local run of a sweep at a time
  return withRunLock(dir, { onMessage: (text) => opts.progress.message(text) }, async () => {
    removeTemporaries(dir);
    const rows = startingRows(trials, readSweepResults(dir), queuedRow);
    const byId = new Map(trials.map((t) => [t.id, t]));
    const pending = rows.filter((r) => r.status === 'queued').map((r) => byId.get(r.trial)!);
    const skipped = rows.length - pending.length;
    if (skipped > 0) opts.progress.message(`sweep ${sweep.name}: ${skipped} of ${rows.length} trials finished before; running the other ${pending.length}`);
    const update = (row: TrialResult) => {
      rows[rows.findIndex((r) => r.trial === row.trial)] = row;
      writeSweepResults(dir, makeResults(sweep, rows));
      opts.progress.message(`sweep ${sweep.name}: ${progressLine(rows)}`);
    };
    writeSweepResults(dir, makeResults(sweep, rows));

    const slot = async (device: DeviceSpec) => {
      const worker = `${os.hostname()}:${process.pid} ${deviceSpecText(device)}`;
      for (let trial = pending.shift(); trial !== undefined; trial = pending.shift()) {
        const runDir = path.join(dir, trial.name);
        let row: TrialResult | null = null;
        for (let attempt = 1; row === null; attempt++) {
          update({ ...rows.find((r) => r.trial === trial!.id)!, status: 'running', worker, attempts: attempt - 1 });
          try {
            const summary = await runTrialProcess(
              { config: trial.config, name: trial.name, placement: { device: runDeviceOf(device), data: opts.data, out: dir, download: opts.download } },
              { device, onLine: (line) => opts.progress.message(`  [${trial!.name}] ${line}`) },
            );
            row = doneRow(trial, summary, worker, attempt, runDir);
          } catch (err) {
            const message = (err as Error).message;
            opts.progress.message(`sweep ${sweep.name}: trial ${trial.name} failed (attempt ${attempt} of ${opts.attempts}): ${message}`);
            if (attempt >= opts.attempts) row = failedRow(trial, message, worker, attempt, runDir);
          }
        }
        update(row);
      }
    };
    await Promise.all(opts.devices.map(slot));
    return rows;
  });
}
