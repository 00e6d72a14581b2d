// runs one trial in a child process (trial-child.ts) and waits for it.
//
// why a child process: a worker must keep renewing its BullMQ job lock while
// the trial trains, or the job is taken for stalled and handed to another
// worker. the trainer yields to the event loop only every 20 steps, and a
// step of a big model on a slow device can take seconds, so the lock's
// renewal could starve in-process. in a child the worker's event loop stays
// free (lock renewal, Redis reconnects, progress), a trial that crashes or
// runs out of memory takes only itself down, and kill -9 of a worker means
// what it says: the child sees its parent gone at its next step and stops.
import { fork } from 'child_process';
import fs from 'fs';
import path from 'path';
import type { RunSummary } from '../train/metrics';
import { environmentFor, type DeviceSpec } from '../device-spec';
import type { TrialMessage, TrialRequest } from './trial-child';

/** a trial that ended without a summary: its own error, a NaN with stopOnNan, or its process dying */
export class TrialFailedError extends Error {
  readonly code: string;
  constructor(message: string, code: string | null) {
    super(message);
    this.name = 'TrialFailedError';
    this.code = code ?? 'ERR_TRIAL';
  }
}

// the compiled child beside this file; run from the TypeScript sources (the
// tests), the compiled one in dist/
function childScript(): string {
  const here = path.join(__dirname, 'trial-child.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '..', '..', 'dist', 'sweep', 'trial-child.js');
}

export interface TrialProcessOptions {
  device: DeviceSpec;
  /** a line the trial printed (its progress), as it comes */
  onLine?: (line: string) => void;
  /** an epoch began: the ones before it are checkpointed */
  onEpoch?: (epoch: number) => void;
}

export function runTrialProcess(req: TrialRequest, opts: TrialProcessOptions): Promise<RunSummary> {
  return new Promise((resolve, reject) => {
    const child = fork(childScript(), [], {
      env: environmentFor(opts.device, process.env),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const tail: string[] = [];
    let pending = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        opts.onLine?.(line);
      }
    });
    let outcome: TrialMessage | null = null;
    child.on('message', (m: TrialMessage) => {
      if (m.type === 'epoch') opts.onEpoch?.(m.epoch);
      else outcome = m;
    });
    child.on('error', (err) => reject(new TrialFailedError(`the trial process could not start: ${err.message}`, 'ERR_TRIAL')));
    child.on('exit', (code, signal) => {
      const m = outcome as TrialMessage | null;
      if (m?.type === 'done') resolve(m.summary);
      else if (m?.type === 'failed') reject(new TrialFailedError(m.message, m.code));
      else {
        const last = tail.filter((l) => l.trim() !== '').slice(-5).join(' | ');
        reject(new TrialFailedError(`the trial process ended without a result (${signal ? `signal ${signal}` : `exit code ${code}`})${last ? `: ${last}` : ''}`, 'ERR_TRIAL'));
      }
    });
    child.send(req);
  });
}
