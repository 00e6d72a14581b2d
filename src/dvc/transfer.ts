// what push, pull and status share: the objects an output consists of, and
// bringing one object from the remote into the cache. nothing reaches the
// cache unverified: a download lands in a temporary file, is hashed as it
// streams, and is renamed into the cache only if the hash is its name.
import { Cache } from './cache';
import { DvcError } from './errors';
import { discardTemp, streamToTemp } from './fsutil';
import { HashName } from './hash';
import { DirEntry } from './manifest';
import { S3Remote } from './remote-s3';
import { TrackedOut } from './repo';

export interface ObjectRef {
  oid: string; // md5, or md5 + '.dir' for a manifest
  name: HashName;
  legacy: boolean;
  label: string; // what it is in the workspace, for messages: data/d/a.txt
  workspace: string; // where a checked-out copy lives (the manifest: the directory)
}

export function refKey(ref: ObjectRef): string {
  return `${ref.legacy ? 'legacy' : 'md5'}:${ref.oid}`;
}

export function outRef(out: TrackedOut): ObjectRef {
  if (!out.oid) throw new DvcError(`${out.dvcFile.file}: ${out.out.path} has no md5 yet (add it first)`);
  return { oid: out.oid, name: out.hashName, legacy: out.legacy, label: out.display, workspace: out.abs };
}

/** the refs of a directory's files, given its manifest */
export function entryRefs(out: TrackedOut, entries: DirEntry[]): ObjectRef[] {
  return entries.map((e) => ({
    oid: e.md5,
    name: out.hashName,
    legacy: out.legacy,
    label: `${out.display}/${e.relpath}`,
    workspace: `${out.abs}/${e.relpath}`,
  }));
}

export class CorruptObjectError extends DvcError {}

/**
 * downloads one object into the cache, verified. returns false when the
 * remote does not have it; throws CorruptObjectError (naming the object) when
 * its bytes are truncated or do not hash to its name.
 */
export async function fetchObject(cache: Cache, remote: S3Remote, ref: ObjectRef, onBytes?: (n: number) => void): Promise<boolean> {
  const res = await remote.get(ref.oid, ref.legacy);
  if (!res) return false;
  const key = remote.key(ref.oid, ref.legacy);
  let written;
  try {
    written = await streamToTemp(res.body, cache.objectPath(ref.oid, ref.legacy), ref.name, onBytes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DvcError(remote.scrub(`${remote.describe()}: the download of ${key} (${ref.label}) broke off (${e.code ?? e.message}); nothing was stored`));
  }
  const got = ref.oid.endsWith('.dir') ? `${written.md5}.dir` : written.md5;
  if (res.length !== undefined && written.size !== res.length) {
    discardTemp(written.tmp);
    throw new CorruptObjectError(`${remote.describe()}: object ${key} (${ref.label}) is truncated: ${written.size} of ${res.length} bytes arrived; not stored`);
  }
  if (got !== ref.oid) {
    discardTemp(written.tmp);
    throw new CorruptObjectError(
      `${remote.describe()}: object ${key} (${ref.label}) is corrupted: its ${written.size} bytes hash to ${got}, not ${ref.oid}; not stored or checked out`,
    );
  }
  cache.commit(written, ref.oid, ref.legacy);
  return true;
}

/**
 * a directory's manifest: from the cache, else fetched (verified) from the
 * remote; null when neither has it.
 */
export async function loadManifest(cache: Cache, out: TrackedOut, remote: S3Remote | null): Promise<DirEntry[] | null> {
  const ref = outRef(out);
  const cached = cache.readManifest(ref.oid, ref.name);
  if (cached || !remote) return cached;
  if (!(await fetchObject(cache, remote, ref))) return null;
  return cache.readManifest(ref.oid, ref.name);
}

/** one S3Remote per remote name, each checked once before first use */
export class RemotePool {
  private readonly remotes = new Map<string, Promise<S3Remote>>();
  private readonly opened: S3Remote[] = [];

  constructor(private readonly make: (name: string | undefined) => S3Remote) {}

  get(name: string | undefined): Promise<S3Remote> {
    const key = name ?? '';
    let remote = this.remotes.get(key);
    if (!remote) {
      remote = (async () => {
        const fresh = this.make(name);
        this.opened.push(fresh);
        await fresh.checkAccess();
        return fresh;
      })();
      this.remotes.set(key, remote);
    }
    return remote;
  }

  close(): void {
    for (const remote of this.opened) remote.destroy();
  }
}

/** the remote an output goes to: --remote, else its own `remote:` key, else the default */
export function remoteNameFor(out: TrackedOut, override: string | undefined): string | undefined {
  if (override) return override;
  return typeof out.out.remote === 'string' ? out.out.remote : undefined;
}
