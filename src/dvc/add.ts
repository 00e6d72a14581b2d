// `add`: start tracking a file or directory. its content goes into the cache,
// `<path>.dvc` records its hash (DVC 3 format), and `/name` is added to the
// .gitignore beside it so git tracks the small .dvc file instead of the data.
import fs from 'fs';
import path from 'path';
import { readDvcFile, makeOut, writeDvcFile, DvcOut } from './dvcfile';
import { DvcError } from './errors';
import { writeFileAtomic } from '../atomic-file';
import { listFiles } from './fsutil';
import { assertInsideRepo } from './inside-repo';
import { removeLeftoverTemporaries } from './leftovers';
import { DirEntry, manifestBytes, manifestHash } from './manifest';
import { Progress, ProgressSink } from './progress';
import { displayPath, Repo } from './repo';

export interface AddResult {
  dvcFile: string;
  out: DvcOut;
  gitignore: string;
}

export interface AddOptions {
  cwd?: string;
  progress?: ProgressSink | null;
}

export async function addPath(repo: Repo, target: string, options: AddOptions = {}): Promise<AddResult> {
  const abs = path.resolve(options.cwd ?? process.cwd(), target.replace(/[\\/]+$/, ''));
  checkAddable(repo, abs, target);
  removeLeftoverTemporaries(repo, [{ abs, isDir: false }]);
  const st = fs.statSync(abs);
  const name = path.basename(abs);
  let fields: { md5: string; size: number; nfiles?: number; path: string };

  if (st.isFile()) {
    const progress = new Progress(`add ${displayPath(repo, abs)}`, 1, st.size, options.progress);
    const h = await repo.cache.insertFile(abs, 'md5', (n) => progress.bytes(n));
    progress.objectDone();
    progress.finish();
    fields = { md5: h.md5, size: h.size, path: name };
  } else if (st.isDirectory()) {
    const relpaths = listFiles(abs);
    const nested = relpaths.filter((r) => r.endsWith('.dvc'));
    if (nested.length) throw new DvcError(`${target}: holds .dvc files (${nested.slice(0, 3).join(', ')}); its outputs would be tracked twice`);
    const progress = new Progress(`add ${displayPath(repo, abs)}`, relpaths.length, null, options.progress);
    const entries: DirEntry[] = [];
    let size = 0;
    for (const relpath of relpaths) {
      const h = await repo.cache.insertFile(path.join(abs, ...relpath.split('/')), 'md5', (n) => progress.bytes(n));
      entries.push({ md5: h.md5, relpath });
      size += h.size;
      progress.objectDone();
    }
    progress.finish();
    const manifest = manifestBytes(entries);
    const oid = manifestHash(manifest, 'md5');
    repo.cache.insertBytes(oid, false, manifest);
    fields = { md5: oid, size, nfiles: entries.length, path: name };
  } else {
    throw new DvcError(`${target}: not a regular file or directory`);
  }

  // re-adding keeps whatever else the .dvc file says (desc, remote, ...)
  const dvcPath = `${abs}.dvc`;
  let doc: Record<string, unknown> = {};
  let keep: Record<string, unknown> = {};
  if (fs.existsSync(dvcPath)) {
    const existing = readDvcFile(dvcPath);
    doc = { ...existing.doc };
    const same = existing.outs.find((o) => path.resolve(existing.wdir, o.path) === abs);
    if (same) keep = same;
  }
  const out = makeOut(fields, keep);
  writeDvcFile(dvcPath, { ...doc, outs: [out] });
  const gitignore = addToGitignore(path.dirname(abs), name);
  return { dvcFile: dvcPath, out, gitignore };
}

function checkAddable(repo: Repo, abs: string, target: string): void {
  // before anything else: a path outside is neither read nor given a .dvc file
  assertInsideRepo(repo.root, abs, `${target}:`);
  if (!fs.existsSync(abs)) throw new DvcError(`${target}: no such file or directory`);
  if (abs.endsWith('.dvc')) throw new DvcError(`${target}: a .dvc file cannot itself be tracked`);
  // a path inside an already tracked directory belongs to that directory's .dvc file
  for (let dir = path.dirname(abs); dir !== repo.root && dir.startsWith(repo.root); dir = path.dirname(dir)) {
    if (fs.existsSync(`${dir}.dvc`)) {
      const owner = readDvcFile(`${dir}.dvc`);
      if (owner.outs.some((o) => path.resolve(owner.wdir, o.path) === dir)) {
        throw new DvcError(`${target}: inside ${displayPath(repo, dir)}, which ${displayPath(repo, dir)}.dvc already tracks`);
      }
    }
  }
}

// gitignore patterns treat these characters specially; DVC writes paths literally
function gitignoreEscape(name: string): string {
  return name.replace(/[\\*?\[\]]/g, (c) => `\\${c}`).replace(/^([#!])/, '\\$1').replace(/ $/, '\\ ');
}

/** adds `/name` to dir/.gitignore unless it is there already; returns the file */
export function addToGitignore(dir: string, name: string): string {
  const file = path.join(dir, '.gitignore');
  const entry = `/${gitignoreEscape(name)}`;
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (text.split(/\r?\n/).some((line) => line.trim() === entry)) return file;
  writeFileAtomic(file, text + (text === '' || text.endsWith('\n') ? '' : '\n') + entry + '\n');
  return file;
}
