// nothing half-written is left behind: write a temporary file beside the
// target, flush it, then rename over the target (atomic on one file system).
import fs from 'fs';
import path from 'path';

let counter = 0;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${counter++}.tmp`);
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
