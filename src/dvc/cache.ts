// the local object cache, laid out as DVC lays it out:
//   DVC 3 objects:        .dvc/cache/files/md5/<first 2 hex>/<other 30 hex>
//   DVC 2 (legacy) ones:  .dvc/cache/<first 2 hex>/<other 30 hex>
// a directory's manifest is an object too, named with its '.dir' suffix.
// objects are read-only once written, and only ever written complete and
// verified (temporary file, hash check, rename).
import fs from 'fs';
import path from 'path';
import { DvcError } from './errors';
import { tempPathBeside } from '../atomic-file';
import { commitTemp, copyToTemp, discardTemp, WrittenTemp } from './fsutil';
import { HashName } from './hash';
import { DirEntry, manifestHash, parseManifest } from './manifest';
import { makeDirectory } from '../make-directory';

/** `<2>/<30>` (plus '.dir'): the part of an object's path both layouts share */
export function objectRelPath(oid: string): string {
  return `${oid.slice(0, 2)}/${oid.slice(2)}`;
}

export class Cache {
  constructor(readonly dir: string) {}

  objectPath(oid: string, legacy: boolean): string {
    return legacy ? path.join(this.dir, oid.slice(0, 2), oid.slice(2)) : path.join(this.dir, 'files', 'md5', oid.slice(0, 2), oid.slice(2));
  }

  has(oid: string, legacy: boolean): boolean {
    return fs.existsSync(this.objectPath(oid, legacy));
  }

  /**
   * what a write of not yet hashed content is named after: its temporary
   * (.incoming.<hex>.tmp) lies in the cache, so the finished object renames
   * into place on the same file system
   */
  incomingTarget(): string {
    return path.join(this.dir, 'incoming');
  }

  /** moves a finished, verified temporary file in as object `oid` */
  commit(written: WrittenTemp, oid: string, legacy: boolean): void {
    const target = this.objectPath(oid, legacy);
    makeDirectory(path.dirname(target));
    commitTemp(written.tmp, target, 0o444);
  }

  /** copies a workspace file in; returns its hash and size under `name` */
  async insertFile(src: string, name: HashName, onBytes?: (n: number) => void): Promise<{ md5: string; size: number }> {
    const written = await copyToTemp(src, this.incomingTarget(), name, onBytes);
    try {
      this.commit(written, written.md5, name === 'md5-dos2unix');
    } catch (err) {
      discardTemp(written.tmp);
      throw err;
    }
    return { md5: written.md5, size: written.size };
  }

  insertBytes(oid: string, legacy: boolean, bytes: Buffer): void {
    const target = this.objectPath(oid, legacy);
    makeDirectory(path.dirname(target));
    const tmp = tempPathBeside(target);
    try {
      fs.writeFileSync(tmp, bytes, { flag: 'wx' });
    } catch (err) {
      discardTemp(tmp);
      throw err;
    }
    commitTemp(tmp, target, 0o444);
  }

  /**
   * the manifest of directory object `oid`, or null when the cache lacks it.
   * a manifest whose bytes do not hash to its name is removed (it is only a
   * cache) and reported as absent, so it gets fetched again.
   */
  readManifest(oid: string, name: HashName): DirEntry[] | null {
    const legacy = name === 'md5-dos2unix';
    const file = this.objectPath(oid, legacy);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DvcError(`${file}: cannot read (${(err as Error).message})`);
    }
    if (manifestHash(bytes, name) !== oid) {
      fs.rmSync(file, { force: true });
      return null;
    }
    return parseManifest(bytes, file);
  }
}
