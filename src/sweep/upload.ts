// `cudalab worker --upload`: a finished trial's run directory goes to the DVC
// S3 remote of the repository that holds the worker's --out (the same add and
// push as `cudalab data add` and `data push`), for workers without shared
// storage. the trial's row carries the .dvc file's text; the waiting `sweep`
// writes it beside its own results, where `cudalab data pull` fetches the run.
import fs from 'fs';
import path from 'path';
import { addPath } from '../dvc/add';
import { resolveRemote } from '../dvc/config';
import { openRepo } from '../dvc/repo';

/** checks up front that dir is in a DVC repository with that remote (the default one when undefined) */
export function checkUploadTarget(dir: string, remote: string | undefined): void {
  fs.mkdirSync(dir, { recursive: true });
  resolveRemote(openRepo(dir).config, remote);
}

/** adds runDir to its repository's cache, pushes it, and returns its .dvc file's text */
export async function uploadRun(runDir: string, remote: string | undefined): Promise<string> {
  const repo = openRepo(path.dirname(runDir));
  const added = await addPath(repo, runDir, { progress: null });
  // the SDK is large and slow to load: only when a worker uploads
  const { push } = await import('../dvc/push');
  await push(repo, [added.dvcFile], { remote, progress: null });
  return fs.readFileSync(added.dvcFile, 'utf8');
}
