// `pull`: bring tracked outputs into the workspace from the cache, fetching
// what the cache lacks from the remote. every object is verified twice: as it
// is downloaded (it reaches the cache only if its bytes hash to its name) and
// as it is copied out of the cache (a damaged cache file is never checked
// out). workspace files are replaced atomically, and files that differ from
// what the .dvc file records are only overwritten with --force.
import fs from 'fs';
import path from 'path';
import { remoteSection, resolveRemote } from './config';
import { DvcError } from './errors';
import { commitTemp, copyToTemp, discardTemp } from './fsutil';
import { assertInsideRepo } from './inside-repo';
import { removeLeftoverTemporaries } from './leftovers';
import { runPool } from './pool';
import { Progress, ProgressSink } from './progress';
import { S3Remote } from './remote-s3';
import { collectOuts, Repo } from './repo';
import { CorruptObjectError, entryRefs, fetchObject, loadManifest, ObjectRef, outRef, refKey, RemotePool, remoteNameFor } from './transfer';
import { fileState, FileState } from './workspace';
import { makeDirectory } from '../make-directory';

export interface PullOptions {
  remote?: string;
  jobs?: number;
  force?: boolean;
  cwd?: string;
  progress?: ProgressSink | null;
}

export interface PullResult {
  fetched: number;
  bytes: number;
  checkedOut: number;
  upToDate: number;
}

interface Wanted {
  ref: ObjectRef;
  remoteName: string | undefined;
  state: FileState;
}

export async function pull(repo: Repo, targets: string[], options: PullOptions = {}): Promise<PullResult> {
  const outs = collectOuts(repo, targets, options.cwd);
  removeLeftoverTemporaries(repo, outs);
  // a misspelt --remote is an error even when nothing needs the remote
  if (options.remote !== undefined) remoteSection(repo.config, options.remote);
  const remotes = new RemotePool((name) => new S3Remote(resolveRemote(repo.config, name)));
  const jobs = options.jobs ?? 4;
  const missing: string[] = [];
  // a failing remote fails every object the same way: report it once
  const problems = new Set<string>();
  try {
    // 1. what each output consists of (a directory's manifest may need fetching)
    const wanted: Wanted[] = [];
    let fetched = 0;
    let bytes = 0;
    for (const out of outs) {
      const remoteName = remoteNameFor(out, options.remote);
      const ref = outRef(out);
      if (!out.isDir) {
        wanted.push({ ref, remoteName, state: await fileState(ref.workspace, ref.oid, ref.name) });
        continue;
      }
      const remote = repo.cache.readManifest(ref.oid, ref.name) ? null : await remotes.get(remoteName);
      let entries;
      try {
        entries = await loadManifest(repo.cache, out, remote);
      } catch (err) {
        if (!(err instanceof CorruptObjectError)) throw err;
        problems.add(err.message);
        continue;
      }
      if (!entries) {
        missing.push(`${ref.label} (manifest ${remote!.key(ref.oid, ref.legacy)})`);
        continue;
      }
      if (remote) {
        fetched++;
        bytes += fs.statSync(repo.cache.objectPath(ref.oid, ref.legacy)).size;
      }
      if (fs.existsSync(out.abs) && !fs.statSync(out.abs).isDirectory()) {
        problems.add(`${ref.label}: is a file in the workspace, but tracked as a directory; move it away first`);
        continue;
      }
      for (const entryRef of entryRefs(out, entries)) {
        // the relpaths are safe as written (see manifest.ts); a symbolic link
        // in the workspace folder could still lead out of the repository
        assertInsideRepo(repo.root, entryRef.workspace, `${out.dvcFile.file}: ${entryRef.label} (listed in ${ref.oid})`);
        wanted.push({ ref: entryRef, remoteName, state: await fileState(entryRef.workspace, entryRef.oid, entryRef.name) });
      }
    }

    // 2. refuse before writing anything if local changes would be lost
    const conflicts = wanted.filter((w) => w.state === 'modified');
    if (conflicts.length && !options.force) {
      throw new DvcError(
        `these workspace files differ from what their .dvc files record; pull with --force to overwrite them:\n  ${conflicts.map((c) => c.ref.label).join('\n  ')}`,
      );
    }

    // 3. fill the cache: from a matching workspace copy, else from the remote
    const toFetch = new Map<string, Wanted>();
    for (const w of wanted) {
      if (repo.cache.has(w.ref.oid, w.ref.legacy)) continue;
      if (w.state === 'match') {
        await repo.cache.insertFile(w.ref.workspace, w.ref.name);
        continue;
      }
      toFetch.set(refKey(w.ref) + '@' + (w.remoteName ?? ''), w);
    }
    const progress = new Progress('pull', toFetch.size, null, options.progress);
    const failures = await runPool([...toFetch.values()], jobs, async (w) => {
      const remote = await remotes.get(w.remoteName);
      const ok = await fetchObject(repo.cache, remote, w.ref, (n) => {
        bytes += n;
        progress.bytes(n);
      });
      if (ok) fetched++;
      else missing.push(`${w.ref.label} (${remote.key(w.ref.oid, w.ref.legacy)})`);
      progress.objectDone();
    });
    progress.finish();
    for (const f of failures) {
      if (f.error instanceof DvcError) problems.add(f.error.message);
      else throw f.error;
    }

    // 4. check out, verifying each copy; a damaged cache object is dropped and
    //    fetched again once
    let checkedOut = 0;
    let upToDate = 0;
    for (const w of wanted) {
      if (w.state === 'match') {
        upToDate++;
        continue;
      }
      if (!repo.cache.has(w.ref.oid, w.ref.legacy)) continue; // reported above
      try {
        if (!(await checkoutFile(repo, w.ref))) {
          fs.rmSync(repo.cache.objectPath(w.ref.oid, w.ref.legacy), { force: true });
          const remote = await remotes.get(w.remoteName);
          if (!(await fetchObject(repo.cache, remote, w.ref))) {
            missing.push(`${w.ref.label} (${remote.key(w.ref.oid, w.ref.legacy)}; the cached copy was damaged)`);
            continue;
          }
          if (!(await checkoutFile(repo, w.ref))) throw new DvcError(`${w.ref.label}: the cached object changed while it was being checked out`);
        }
        checkedOut++;
      } catch (err) {
        if (err instanceof DvcError) problems.add(err.message);
        else problems.add(`${w.ref.label}: ${(err as Error).message}`);
      }
    }

    const result: PullResult = { fetched, bytes, checkedOut, upToDate };
    if (missing.length || problems.size) {
      const lines: string[] = [];
      if (missing.length) lines.push(`${missing.length} object(s) missing from the remote:\n  ${missing.join('\n  ')}`);
      if (problems.size) lines.push([...problems].join('\n'));
      throw new DvcError(`pull incomplete (${checkedOut} files checked out, the rest left as they were):\n${lines.join('\n')}`);
    }
    return result;
  } finally {
    remotes.close();
  }
}

/**
 * copies a cache object to its workspace path through a temporary file,
 * renaming it into place only when the copy hashes to the object's name.
 * returns false (and writes nothing) when the cache object is damaged.
 */
async function checkoutFile(repo: Repo, ref: ObjectRef): Promise<boolean> {
  const dest = ref.workspace;
  makeDirectory(path.dirname(dest));
  const written = await copyToTemp(repo.cache.objectPath(ref.oid, ref.legacy), dest, ref.name);
  if (written.md5 !== ref.oid) {
    discardTemp(written.tmp);
    return false;
  }
  if (fs.existsSync(dest) && fs.lstatSync(dest).isDirectory()) {
    discardTemp(written.tmp);
    throw new DvcError(`${ref.label}: a directory is in the way of the file; move it away first`);
  }
  commitTemp(written.tmp, dest);
  return true;
}
