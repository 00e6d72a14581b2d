// the workspace side: hashing what is on disk and comparing it with what a
// .dvc file records.
import fs from 'fs';
import path from 'path';
import { listFiles } from './fsutil';
import { HashName, hashFile } from './hash';
import { DirEntry, manifestBytes, manifestHash } from './manifest';

export type FileState = 'match' | 'modified' | 'missing';

/** whether the workspace file at `abs` holds the object `md5` */
export async function fileState(abs: string, md5: string, name: HashName): Promise<FileState> {
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return 'modified';
  return (await hashFile(abs, name)).md5 === md5 ? 'match' : 'modified';
}

export interface HashedDir {
  entries: DirEntry[];
  oid: string; // md5 of the manifest + '.dir'
  manifest: Buffer;
  size: number;
  nfiles: number;
}

/** hashes every file under `dir` the way DVC names the directory */
export async function hashDir(dir: string, name: HashName, onBytes?: (n: number) => void): Promise<HashedDir> {
  const entries: DirEntry[] = [];
  let size = 0;
  for (const relpath of listFiles(dir)) {
    const h = await hashFile(path.join(dir, ...relpath.split('/')), name);
    onBytes?.(h.size);
    entries.push({ md5: h.md5, relpath });
    size += h.size;
  }
  const manifest = manifestBytes(entries);
  return { entries, oid: manifestHash(manifest, name), manifest, size, nfiles: entries.length };
}
