// the repository is the boundary of what the data commands touch in the
// workspace. a .dvc file or a manifest may come from anyone (through git or
// the remote), so neither may make pull write, or add and push read, anywhere
// else. a path counts as inside when it lies under the root both as written
// and once symbolic links are followed: the deepest part of it that exists is
// resolved with realpath, so a link in the repository that points out of it
// leads outside. .git and .dvc are off limits too (a file written into
// .git/hooks runs as a program), and so is the root itself.
import fs from 'fs';
import path from 'path';
import { DvcError } from './errors';

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    return true; // there, but unreadable: realpath below decides
  }
}

/**
 * where writing to `abs` would land once symbolic links are followed: the
 * realpath of its deepest existing part, plus the parts that do not exist
 * yet. null when that cannot be known (a link above it that leads nowhere,
 * a loop, a folder that cannot be read).
 */
export function realLocation(abs: string): string | null {
  let existing = abs;
  while (!lexists(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  try {
    return path.join(fs.realpathSync(existing), path.relative(existing, abs));
  } catch {
    // a link that leads nowhere is harmless as the last part of the path (it
    // is replaced by a rename, never written through), unresolvable above it
    if (existing !== abs) return null;
    const parent = realLocation(path.dirname(abs));
    return parent === null ? null : path.join(parent, path.basename(abs));
  }
}

function escapes(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

/** why `abs` is not a place the data commands may use, or null when it is */
export function whyNotInside(root: string, abs: string): string | null {
  const lexical = path.relative(root, abs);
  if (escapes(lexical)) return `resolves to ${abs}, outside the repository at ${root}`;
  const realRoot = fs.realpathSync(root);
  const real = realLocation(abs);
  if (real === null) return `cannot be resolved (a symbolic link on the way leads nowhere or cannot be read), so it may lie outside the repository at ${root}`;
  const rel = path.relative(realRoot, real);
  if (escapes(rel)) return `resolves to ${real} (following symbolic links), outside the repository at ${root}`;
  if (lexical === '' || rel === '') return `is the root of the repository at ${root}, not a path inside it`;
  const parts = [...lexical.split(path.sep), ...rel.split(path.sep)];
  if (parts.includes('.git') || parts.includes('.dvc')) return `lies under .git/ or .dvc/ of the repository at ${root}, which cannot be tracked`;
  return null;
}

/**
 * throws (code ERR_DVC_OUTSIDE_REPO) unless `abs` is inside the repository;
 * `what` names where the path came from: "data/x.dvc: outs[0] path '../x'"
 */
export function assertInsideRepo(root: string, abs: string, what: string): void {
  const why = whyNotInside(root, abs);
  if (why !== null) throw new DvcError(`${what} ${why}; refusing to read or write there`, 'ERR_DVC_OUTSIDE_REPO');
}
