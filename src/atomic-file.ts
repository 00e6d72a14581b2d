// nothing half-written at a final path: a write goes to a temporary file
// beside its target (same directory, so the rename stays on one file system),
// is flushed to disk, and is renamed over the target only once complete.
// checkpoints, metrics, reports, .dvc files and configs all go through here.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';

/** a fresh temporary name beside target, hidden and unique across processes */
export function tempPathBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
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
