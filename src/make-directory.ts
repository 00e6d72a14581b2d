// a directory and its missing parents. node's mkdir({ recursive: true }) never
// returns where mkdir fails with ENOENT although the parent is there (any path
// under /proc: `--out /proc/x` spun at 100% CPU): it takes ENOENT for a missing
// parent, makes the parent (EEXIST, fine) and tries again, forever. so the
// path is walked here: each missing part is made once, and the first failure
// is an error that names the directory asked for and the part that failed.
import fs from 'fs';
import path from 'path';

/** a directory that could not be made; `code` is the system's (ENOENT, EACCES, ENOTDIR, ...) */
export class DirectoryError extends Error {
  constructor(readonly code: string, readonly path: string, message: string) {
    super(message);
    this.name = 'DirectoryError';
  }
}

function isDirectory(p: string): boolean | null {
  try {
    return fs.statSync(p).isDirectory();
  } catch (err) {
    // ENOTDIR: a file further up, which the walk finds and names
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** makes dir and the parents it lacks; an existing directory is fine */
export function makeDirectory(dir: string): void {
  const target = path.resolve(dir);
  // the parts that are missing, nearest the root last
  const missing: string[] = [];
  let at = target;
  for (;;) {
    let found: boolean | null;
    try {
      found = isDirectory(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new DirectoryError(code, target, `cannot create the directory ${dir}: ${at} cannot be looked at (${code})`);
    }
    if (found === false) throw new DirectoryError('ENOTDIR', target, `cannot create the directory ${dir}: ${at} is a file, not a directory`);
    if (found === true) break;
    missing.push(at);
    const parent = path.dirname(at);
    // the root is always there; a path that climbs no further is not missing a parent
    if (parent === at) break;
    at = parent;
  }
  for (const part of missing.reverse()) {
    try {
      fs.mkdirSync(part);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      // made meanwhile by someone else: as good
      if (code === 'EEXIST' && isDirectory(part) === true) continue;
      const why = code === 'ENOENT' ? ': its parent exists but takes no new entries' : '';
      throw new DirectoryError(code, target, `cannot create the directory ${dir}: mkdir ${part} failed (${code}${why})`);
    }
  }
}
