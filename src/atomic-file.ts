// nothing half-written at a final path: a write goes to a temporary file
// beside its target (same directory, so the rename stays on one file system),
// is flushed to disk, and is renamed over the target only once complete.
// checkpoints, metrics, reports, .dvc files and configs all go through here.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { makeDirectory } from './make-directory';
import { testHook } from './test-hooks';

// the one naming scheme of every temporary cudalab writes: .<target's name>.<12 hex>.tmp
const TEMPORARY_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** a fresh temporary name beside target, hidden and unique across processes */
export function tempPathBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
}

/** whether a file name is one of tempPathBeside's */
export function isTemporaryName(name: string): boolean {
  return TEMPORARY_NAME.test(name);
}

/**
 * removes the temporaries a killed writer left in dir (a write that never got
 * to its rename), and in its subfolders when `recursive`; returns how many.
 * only names of tempPathBeside's scheme are touched. a folder that does not
 * exist has none.
 */
export function removeTemporaries(dir: string, options: { recursive?: boolean } = {}): number {
  let removed = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw err;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isFile() && isTemporaryName(e.name)) {
      fs.rmSync(full, { force: true });
      removed++;
    } else if (options.recursive && e.isDirectory()) {
      removed += removeTemporaries(full, options);
    }
  }
  return removed;
}


export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  makeDirectory(path.dirname(path.resolve(file)));
  const tmp = tempPathBeside(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      // writeFileSync on a descriptor loops until every byte is written
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    testHook(`write:${path.basename(file)}`);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** writes a value as pretty JSON (with a final newline), atomically */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
