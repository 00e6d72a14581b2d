// a command killed between writing a temporary file and renaming it leaves
// the temporary behind (see atomic-file.ts for the one naming scheme). every
// data command starts by removing those an earlier one could have left where
// it writes: anywhere in the cache, beside each output (its .dvc file, its
// .gitignore, a checked-out file), and anywhere inside a tracked directory.
import path from 'path';
import { removeTemporaries } from '../atomic-file';
import { Repo } from './repo';

/** `outputs`: absolute paths of the outputs the command works on; returns how many were removed */
export function removeLeftoverTemporaries(repo: Repo, outputs: Array<{ abs: string; isDir: boolean }>): number {
  let removed = removeTemporaries(repo.cache.dir, { recursive: true });
  const beside = new Set(outputs.map((o) => path.dirname(o.abs)));
  for (const dir of beside) removed += removeTemporaries(dir);
  for (const o of outputs) if (o.isDir) removed += removeTemporaries(o.abs, { recursive: true });
  return removed;
}
