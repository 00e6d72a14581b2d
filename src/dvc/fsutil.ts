// file-system helpers the data commands share. the rule: nothing
// half-written at a final path. every write goes to a temporary file beside
// its target and is renamed over it only once it is complete (and, for
// objects, verified).
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { DvcError } from './errors';
import { HashName, LEGACY_CHUNK_SIZE, ObjectHasher } from './hash';
import { tempPathBeside } from '../atomic-file';
import { testHook } from '../test-hooks';
import { makeDirectory } from '../make-directory';

export interface WrittenTemp {
  tmp: string; // the complete temporary file, not yet at its final name
  md5: string; // under the requested naming
  rawMd5Base64: string; // plain md5 of the bytes
  size: number;
}

/**
 * streams `source` into a temporary file beside `target`, hashing the bytes
 * as they pass. the caller checks the hash and then commits (rename) or
 * discards; on a stream error the temporary file is removed here.
 */
export async function streamToTemp(
  source: Readable,
  target: string,
  name: HashName,
  onBytes?: (n: number) => void,
): Promise<WrittenTemp> {
  makeDirectory(path.dirname(target));
  const tmp = tempPathBeside(target);
  const hasher = new ObjectHasher(name, true);
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hasher.update(chunk);
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  const sink = fs.createWriteStream(tmp, { flags: 'wx' });
  try {
    await pipeline(source, tap, sink);
  } catch (err) {
    // the file may still be opening when the pipeline fails: remove it only
    // once the stream has closed, or it could appear after the removal
    if (!sink.closed) await new Promise<void>((resolve) => sink.once('close', () => resolve()));
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const md5 = hasher.digest();
  return { tmp, md5, rawMd5Base64: hasher.rawMd5Base64(md5), size: hasher.bytes };
}

/** copies a file into a temporary beside `target`, hashing what was copied */
export function copyToTemp(src: string, target: string, name: HashName, onBytes?: (n: number) => void): Promise<WrittenTemp> {
  return streamToTemp(fs.createReadStream(src, { highWaterMark: LEGACY_CHUNK_SIZE }), target, name, onBytes);
}

/** renames a finished temporary over its target, making the target's folder */
export function commitTemp(tmp: string, target: string, mode?: number): void {
  try {
    if (mode !== undefined) fs.chmodSync(tmp, mode);
    testHook('before-rename');
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export function discardTemp(tmp: string): void {
  fs.rmSync(tmp, { force: true });
}

// names DVC never descends into inside a tracked directory
const SKIPPED_NAMES = new Set(['.git', '.hg', '.dvc']);

/**
 * every regular file under `dir`, as posix relpaths. symbolic links to files
 * count as their target's content; links to directories are refused (they
 * can loop) and so is anything that is neither file nor directory.
 */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      if (SKIPPED_NAMES.has(entry.name)) continue;
      const childAbs = path.join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const st = entry.isSymbolicLink() ? fs.statSync(childAbs) : entry;
      if (st.isFile()) out.push(childRel);
      else if (st.isDirectory() && !entry.isSymbolicLink()) walk(childAbs, childRel);
      else if (st.isDirectory()) throw new DvcError(`${childAbs}: a symbolic link to a directory cannot be tracked`);
      else throw new DvcError(`${childAbs}: not a regular file or directory`);
    }
  };
  walk(dir, '');
  return out;
}
