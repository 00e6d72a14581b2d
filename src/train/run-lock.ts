// a run owns its directory while it goes: DIR/.lock, created with O_EXCL
// (open 'wx'), holds who took it (pid, host, start time, command). a second
// run into the same directory finds it and stops before writing anything
// there. a lock whose process is gone (same host, the pid no longer alive) is
// stale and is taken over, saying so; a lock from another host cannot be
// checked from here and is never taken over: the error says how to remove it.
// the lock goes away when the run ends, fails, or is stopped by SIGINT/SIGTERM.
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { tempPathBeside } from '../atomic-file';
import { makeDirectory } from '../make-directory';

export const LOCK_FILE = '.lock';

export interface LockInfo {
  pid: number;
  host: string;
  started_at: string;
  command: string;
  /** tells this taking of the lock from any other by the same process */
  token: string;
}

/** the directory is another run's: `holder` is what its lock file says (null when it could not be read) */
export class RunLockedError extends Error {
  readonly code = 'ERR_RUN_LOCKED';
  constructor(readonly dir: string, readonly holder: LockInfo | null, message: string) {
    super(message);
    this.name = 'RunLockedError';
  }
}

export interface RunLock {
  readonly dir: string;
  readonly file: string;
  readonly info: LockInfo;
  /** removes the lock file if it is still this one; safe to call twice */
  release(): void;
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockInfo>;
    if (Number.isSafeInteger(v.pid) && (v.pid as number) > 0 && typeof v.host === 'string') return v as LockInfo;
  } catch {
    // empty (its writer is between open and write), cut short, or not ours: unknown holder
  }
  return null;
}

/** whether pid is a live process on this host (EPERM: alive, only not ours to signal) */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function describe(h: LockInfo): string {
  return `pid ${h.pid} on ${h.host}, started ${h.started_at ?? '?'}${h.command ? ` (${h.command})` : ''}`;
}

function lockedError(dir: string, file: string, holder: LockInfo | null): RunLockedError {
  if (holder === null) {
    return new RunLockedError(dir, null,
      `${dir} is in use by another run: ${file} exists but does not say by whom; if no run is using ${dir}, remove ${file}`);
  }
  if (holder.host !== os.hostname()) {
    return new RunLockedError(dir, holder,
      `${dir} is in use by another run: ${describe(holder)}. that host's processes cannot be checked from here; ` +
        `if that run is no longer going, remove ${file}`);
  }
  return new RunLockedError(dir, holder, `${dir} is in use by another run: ${describe(holder)}; wait for it to end or choose another directory`);
}

// every lock this process holds, released on SIGINT/SIGTERM and at exit
const held = new Set<RunLock>();

function releaseAllAndStop(signal: NodeJS.Signals): void {
  for (const lock of [...held]) lock.release();
  // then die of the signal as if we had not caught it (exit code 128 + n)
  process.removeListener('SIGINT', onSigint);
  process.removeListener('SIGTERM', onSigterm);
  process.kill(process.pid, signal);
}
const onSigint = () => releaseAllAndStop('SIGINT');
const onSigterm = () => releaseAllAndStop('SIGTERM');
const onExit = () => {
  for (const lock of [...held]) lock.release();
};

function track(lock: RunLock): void {
  if (held.size === 0) {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    process.on('exit', onExit);
  }
  held.add(lock);
}

function untrack(lock: RunLock): void {
  held.delete(lock);
  if (held.size === 0) {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigterm);
    process.removeListener('exit', onExit);
  }
}

// creates the lock file only if there is none: true when it is ours
function tryCreate(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeFileSync(fd, JSON.stringify(info) + '\n');
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

// moves a stale lock out of the way. the rename claims it atomically: of two
// processes taking over the same stale lock, one renames it and the other
// finds nothing there. should the file we moved turn out to be a fresh lock
// (taken between our read and our rename), it goes back.
function removeStale(file: string, stale: LockInfo): void {
  const claimed = tempPathBeside(file);
  try {
    fs.renameSync(file, claimed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readLock(claimed);
  if (moved !== null && moved.token !== stale.token) {
    try {
      fs.linkSync(claimed, file);
    } catch {
      // yet another lock is there already: that one decides
    }
  }
  fs.rmSync(claimed, { force: true });
}

/**
 * takes dir's lock or throws RunLockedError naming the holder. creates dir
 * when missing, and writes nothing else: a run takes its lock before any other
 * write. `onMessage` hears about a stale lock taken over.
 */
export function acquireRunLock(dir: string, opts: { command?: string; onMessage?: (text: string) => void } = {}): RunLock {
  makeDirectory(dir);
  const file = path.join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    started_at: new Date().toISOString(),
    command: opts.command ?? ['cudalab', ...process.argv.slice(2)].join(' '),
    token: crypto.randomBytes(8).toString('hex'),
  };
  // a few rounds: a stale lock removed here may be retaken by someone else first
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, info)) {
      let released = false;
      const lock: RunLock = {
        dir,
        file,
        info,
        release() {
          if (released) return;
          released = true;
          untrack(lock);
          const now = readLock(file);
          if (now !== null && now.token === info.token) fs.rmSync(file, { force: true });
        },
      };
      track(lock);
      return lock;
    }
    const holder = readLock(file);
    const stale = holder !== null && holder.host === info.host && holder.pid !== process.pid && !processAlive(holder.pid);
    if (!stale) throw lockedError(dir, file, holder);
    opts.onMessage?.(`${dir}: taking over the lock of a run that is gone (${describe(holder)})`);
    removeStale(file, holder);
  }
  throw lockedError(dir, file, readLock(file));
}

/** runs fn while holding dir's lock; the lock is released however fn ends */
export async function withRunLock<T>(dir: string, opts: { command?: string; onMessage?: (text: string) => void }, fn: () => Promise<T>): Promise<T> {
  const lock = acquireRunLock(dir, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
