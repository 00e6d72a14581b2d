// `status`: for each tracked output, how the workspace compares with its
// .dvc file, which objects the cache lacks, and which the remote lacks.
import fs from 'fs';
import { remoteSection, resolveRemote } from './config';
import { DvcError } from './errors';
import { removeLeftoverTemporaries } from './leftovers';
import { DirEntry } from './manifest';
import { runPool } from './pool';
import { S3Remote } from './remote-s3';
import { collectOuts, Repo, TrackedOut } from './repo';
import { CorruptObjectError, entryRefs, loadManifest, ObjectRef, outRef, RemotePool, remoteNameFor } from './transfer';
import { fileState, hashDir } from './workspace';

export interface Change {
  path: string;
  change: 'modified' | 'deleted' | 'new';
}

export interface OutStatus {
  path: string; // the output, relative to the repository root
  dvcFile: string;
  workspace: 'ok' | 'missing' | 'modified';
  changes: Change[]; // per file, for directories whose manifest is known
  notInCache: string[]; // labels of objects the cache lacks
  // damaged: on the remote with a size that differs from the cached copy's
  remote: { name: string; missing: string[]; damaged: string[] } | { name: string; error: string } | null;
}

export interface StatusOptions {
  remote?: string;
  local?: boolean; // skip the remote
  jobs?: number;
  cwd?: string;
}

export async function status(repo: Repo, targets: string[], options: StatusOptions = {}): Promise<OutStatus[]> {
  const outs = collectOuts(repo, targets, options.cwd);
  removeLeftoverTemporaries(repo, outs);
  const checkRemote = !options.local && (options.remote !== undefined || repo.config.core?.remote !== undefined || outs.some((o) => typeof o.out.remote === 'string'));
  // a remote that is not configured is the user's mistake, not the remote's
  // state: an error, unlike a remote that cannot be reached (reported per output)
  const used = checkRemote ? outs.map((o) => remoteNameFor(o, options.remote) ?? repo.config.core?.remote) : [];
  for (const name of new Set([options.remote, ...used])) if (name !== undefined) remoteSection(repo.config, name);
  const remotes = new RemotePool((name) => new S3Remote(resolveRemote(repo.config, name)));
  try {
    const results: OutStatus[] = [];
    for (const out of outs) results.push(await outStatus(repo, out, checkRemote ? remotes : null, options));
    return results;
  } finally {
    remotes.close();
  }
}

async function outStatus(repo: Repo, out: TrackedOut, remotes: RemotePool | null, options: StatusOptions): Promise<OutStatus> {
  const ref = outRef(out);
  const remoteName = remoteNameFor(out, options.remote);
  const result: OutStatus = {
    path: out.display,
    dvcFile: out.dvcFile.file,
    workspace: 'ok',
    changes: [],
    notInCache: [],
    remote: null,
  };
  let remote: S3Remote | null = null;
  let remoteError: string | null = null;
  if (remotes) {
    try {
      remote = await remotes.get(remoteName);
    } catch (err) {
      if (!(err instanceof DvcError)) throw err;
      remoteError = err.message;
    }
  }

  // the objects: the file itself, or the manifest plus its files
  let entries: DirEntry[] | null = null;
  const refs: ObjectRef[] = [ref];
  if (out.isDir) {
    const inCache = repo.cache.has(ref.oid, ref.legacy);
    try {
      entries = await loadManifest(repo.cache, out, remote);
    } catch (err) {
      if (!(err instanceof CorruptObjectError)) throw err;
      remoteError = err.message;
    }
    if (!inCache) result.notInCache.push(`${ref.label} (manifest)`);
    if (entries) refs.push(...entryRefs(out, entries));
  }
  for (const r of refs.slice(out.isDir ? 1 : 0)) if (!repo.cache.has(r.oid, r.legacy)) result.notInCache.push(r.label);

  // the workspace
  if (!fs.existsSync(out.abs)) {
    result.workspace = 'missing';
  } else if (!out.isDir) {
    result.workspace = (await fileState(out.abs, ref.oid, ref.name)) === 'match' ? 'ok' : 'modified';
  } else if (!fs.statSync(out.abs).isDirectory()) {
    result.workspace = 'modified';
  } else {
    const hashed = await hashDir(out.abs, out.hashName);
    if (hashed.oid !== ref.oid) {
      result.workspace = 'modified';
      if (entries) result.changes = diffEntries(entries, hashed.entries, out.display);
    }
  }

  // the remote
  if (remoteError !== null) {
    result.remote = { name: remoteName ?? repo.config.core?.remote ?? '?', error: remoteError };
  } else if (remote) {
    const missing: string[] = [];
    const damaged: string[] = [];
    const failures = await runPool(refs, options.jobs ?? 8, async (r) => {
      const label = r === ref && out.isDir ? `${r.label} (manifest)` : r.label;
      const size = await remote!.size(r.oid, r.legacy);
      if (size === null) missing.push(label);
      else if (repo.cache.has(r.oid, r.legacy) && fs.statSync(repo.cache.objectPath(r.oid, r.legacy)).size !== size) damaged.push(label);
    });
    if (failures.length) result.remote = { name: remote.config.name, error: (failures[0].error as Error).message };
    else if (out.isDir && !entries) result.remote = { name: remote.config.name, missing: [`${ref.label} (manifest; its files are unknown)`], damaged: [] };
    else result.remote = { name: remote.config.name, missing: missing.sort(), damaged: damaged.sort() };
  }
  return result;
}

function diffEntries(recorded: DirEntry[], actual: DirEntry[], prefix: string): Change[] {
  const now = new Map(actual.map((e) => [e.relpath, e.md5]));
  const changes: Change[] = [];
  for (const e of recorded) {
    const md5 = now.get(e.relpath);
    if (md5 === undefined) changes.push({ path: `${prefix}/${e.relpath}`, change: 'deleted' });
    else if (md5 !== e.md5) changes.push({ path: `${prefix}/${e.relpath}`, change: 'modified' });
    now.delete(e.relpath);
  }
  for (const relpath of now.keys()) changes.push({ path: `${prefix}/${relpath}`, change: 'new' });
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** human-readable report; "up to date" lines for outputs with nothing to say */
export function formatStatus(results: OutStatus[]): string {
  if (results.length === 0) return 'no tracked outputs (no .dvc files found)\n';
  let text = '';
  for (const r of results) {
    const lines: string[] = [];
    if (r.workspace === 'missing') lines.push('workspace: missing');
    else if (r.workspace === 'modified') {
      lines.push('workspace: modified');
      for (const c of r.changes) lines.push(`  ${c.change}: ${c.path}`);
    }
    if (r.notInCache.length) lines.push(`cache: ${r.notInCache.length} object(s) not in the cache${listSome(r.notInCache)}`);
    if (r.remote && 'error' in r.remote) lines.push(`remote not checked: ${r.remote.error}`);
    else if (r.remote) {
      if (r.remote.missing.length) lines.push(`remote '${r.remote.name}': ${r.remote.missing.length} object(s) missing${listSome(r.remote.missing)}`);
      if (r.remote.damaged.length) {
        lines.push(`remote '${r.remote.name}': ${r.remote.damaged.length} object(s) differ in size from the cached copy (damaged; push replaces them)${listSome(r.remote.damaged)}`);
      }
    }
    const checked = r.remote ? `workspace, cache, remote '${r.remote.name}'` : 'workspace, cache';
    if (lines.length === 0) text += `${r.path}: up to date (${checked})\n`;
    else text += `${r.path}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
  }
  return text;
}

function listSome(labels: string[], max = 10): string {
  const shown = labels.slice(0, max).map((l) => `\n    ${l}`).join('');
  return shown + (labels.length > max ? `\n    ... and ${labels.length - max} more` : '');
}
