// `push`: upload the objects of tracked outputs to the remote. a directory's
// files go first and its `.dir` manifest last, and only once every file it
// lists is on the remote, so a remote never holds a manifest that points at
// missing data. each object is re-hashed from the cache as it is read, so a
// damaged cache file is refused instead of being spread to the remote.
import fs from 'fs';
import { remoteSection, resolveRemote } from './config';
import { DvcError } from './errors';
import { ObjectHasher } from './hash';
import { DirEntry } from './manifest';
import { assertInsideRepo } from './inside-repo';
import { removeLeftoverTemporaries } from './leftovers';
import { runPool } from './pool';
import { Progress, ProgressSink } from './progress';
import { S3Remote } from './remote-s3';
import { collectOuts, Repo, TrackedOut } from './repo';
import { entryRefs, ObjectRef, outRef, refKey, RemotePool, remoteNameFor } from './transfer';
import { fileState, hashDir } from './workspace';

export interface PushOptions {
  remote?: string;
  jobs?: number;
  cwd?: string;
  progress?: ProgressSink | null;
}

export interface PushResult {
  uploaded: number;
  bytes: number;
  alreadyOnRemote: number;
  outputs: number;
}

// objects up to this size are read whole (one read verifies and uploads the
// same bytes, and the SDK can retry a buffer); larger ones are streamed
const BUFFERED_UPLOAD_LIMIT = 64 << 20;

interface PushItem {
  ref: ObjectRef;
  remoteName: string | undefined;
}

export async function push(repo: Repo, targets: string[], options: PushOptions = {}): Promise<PushResult> {
  const outs = collectOuts(repo, targets, options.cwd).filter((o) => o.out.push !== false);
  removeLeftoverTemporaries(repo, outs);
  // a misspelt --remote is an error even when nothing needs the remote
  if (options.remote !== undefined) remoteSection(repo.config, options.remote);
  const problems: string[] = [];
  // files first; manifests wait for their files
  const files: PushItem[] = [];
  const manifests: Array<PushItem & { needs: string[] }> = [];

  for (const out of outs) {
    const remoteName = remoteNameFor(out, options.remote);
    const ref = outRef(out);
    if (!out.isDir) {
      if (await ensureCached(repo, ref)) files.push({ ref, remoteName });
      else problems.push(`${ref.label}: not in the cache, and the workspace copy is missing or differs; nothing to push`);
      continue;
    }
    const entries = await dirEntriesForPush(repo, out);
    if (!entries) {
      problems.push(`${ref.label}: its manifest ${ref.oid} is not in the cache, and the workspace folder is missing or differs; nothing to push`);
      continue;
    }
    const needs: string[] = [];
    for (const entryRef of entryRefs(out, entries)) {
      // a symbolic link in the workspace folder must not make push read from outside the repository
      assertInsideRepo(repo.root, entryRef.workspace, `${out.dvcFile.file}: ${entryRef.label} (listed in ${ref.oid})`);
      if (await ensureCached(repo, entryRef)) {
        files.push({ ref: entryRef, remoteName });
        needs.push(refKey(entryRef) + '@' + (remoteName ?? ''));
      } else {
        problems.push(`${entryRef.label}: not in the cache, and the workspace copy is missing or differs`);
        needs.push('unavailable');
      }
    }
    manifests.push({ ref, remoteName, needs });
  }

  const remotes = new RemotePool((name) => new S3Remote(resolveRemote(repo.config, name)));
  const jobs = options.jobs ?? 4;
  try {
    const unique = dedupe(files);
    // ask the remote what it already has; an object whose size differs from
    // the cached copy is damaged there and gets replaced
    const present = new Set<string>();
    const checkFailures = await runPool([...unique, ...manifests], jobs, async (item) => {
      const remote = await remotes.get(item.remoteName);
      const size = await remote.size(item.ref.oid, item.ref.legacy);
      const cached = repo.cache.objectPath(item.ref.oid, item.ref.legacy);
      if (size !== null && (!fs.existsSync(cached) || fs.statSync(cached).size === size)) present.add(itemKey(item));
    });
    if (checkFailures.length) throw checkFailures[0].error;

    const toUpload = unique.filter((item) => !present.has(itemKey(item)));
    const sizes = toUpload.map((item) => fs.statSync(repo.cache.objectPath(item.ref.oid, item.ref.legacy)).size);
    const progress = new Progress('push', toUpload.length, sizes.reduce((a, b) => a + b, 0), options.progress);
    let bytes = 0;
    const uploaded = new Set<string>(present);
    const failures = await runPool(toUpload, jobs, async (item) => {
      const remote = await remotes.get(item.remoteName);
      // not `bytes += await ...`: that reads `bytes` before the upload and
      // writes it back after, losing what parallel uploads added meanwhile
      const size = await uploadObject(repo, remote, item.ref, (n) => progress.bytes(n));
      bytes += size;
      uploaded.add(itemKey(item));
      progress.objectDone();
    });
    progress.finish();
    for (const f of failures) problems.push((f.error as Error).message);

    // manifests last, and only complete ones
    let manifestCount = 0;
    for (const m of manifests) {
      if (present.has(itemKey(m))) continue;
      if (!m.needs.every((k) => uploaded.has(k))) {
        problems.push(`${m.ref.label}: manifest ${m.ref.oid} not pushed because some of its files are not on the remote`);
        continue;
      }
      const remote = await remotes.get(m.remoteName);
      try {
        const size = await uploadObject(repo, remote, m.ref);
        bytes += size;
        manifestCount++;
      } catch (err) {
        problems.push((err as Error).message);
      }
    }

    const result: PushResult = {
      uploaded: uploaded.size - present.size + manifestCount,
      bytes,
      alreadyOnRemote: present.size,
      outputs: outs.length,
    };
    if (problems.length) {
      throw new DvcError(`push incomplete (${result.uploaded} objects uploaded):\n  ${problems.join('\n  ')}`);
    }
    return result;
  } finally {
    remotes.close();
  }
}

function itemKey(item: PushItem): string {
  return refKey(item.ref) + '@' + (item.remoteName ?? '');
}

function dedupe(items: PushItem[]): PushItem[] {
  const seen = new Map<string, PushItem>();
  for (const item of items) if (!seen.has(itemKey(item))) seen.set(itemKey(item), item);
  return [...seen.values()];
}

/**
 * makes sure the object is in the cache: a workspace copy that hashes to the
 * object's name is copied in (so data obtained some other way can be pushed)
 */
async function ensureCached(repo: Repo, ref: ObjectRef): Promise<boolean> {
  if (repo.cache.has(ref.oid, ref.legacy)) return true;
  if ((await fileState(ref.workspace, ref.oid, ref.name)) !== 'match') return false;
  const h = await repo.cache.insertFile(ref.workspace, ref.name);
  return h.md5 === ref.oid;
}

async function dirEntriesForPush(repo: Repo, out: TrackedOut): Promise<DirEntry[] | null> {
  const ref = outRef(out);
  const cached = repo.cache.readManifest(ref.oid, ref.name);
  if (cached) return cached;
  if (!fs.existsSync(out.abs) || !fs.statSync(out.abs).isDirectory()) return null;
  const hashed = await hashDir(out.abs, out.hashName);
  if (hashed.oid !== ref.oid) return null;
  repo.cache.insertBytes(ref.oid, ref.legacy, hashed.manifest);
  return hashed.entries;
}

/** verifies the cached object and uploads it; returns its size */
async function uploadObject(repo: Repo, remote: S3Remote, ref: ObjectRef, onBytes?: (n: number) => void): Promise<number> {
  const file = repo.cache.objectPath(ref.oid, ref.legacy);
  const size = fs.statSync(file).size;
  const hasher = new ObjectHasher(ref.name, true);
  let body: Buffer | fs.ReadStream;
  if (size <= BUFFERED_UPLOAD_LIMIT) {
    body = fs.readFileSync(file);
    hasher.update(body);
  } else {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hasher.update(chunk as Buffer);
    body = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  }
  const md5 = hasher.digest();
  const got = ref.oid.endsWith('.dir') ? `${md5}.dir` : md5;
  if (got !== ref.oid) {
    if (!Buffer.isBuffer(body)) body.destroy();
    throw new DvcError(`${file} (${ref.label}) is corrupted in the cache: it hashes to ${got}, not ${ref.oid}; not pushed (delete it and add or pull again)`);
  }
  await remote.put(ref.oid, ref.legacy, body, size, hasher.rawMd5Base64(md5));
  onBytes?.(size);
  return size;
}
