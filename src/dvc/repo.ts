// a DVC repository is the nearest folder, from the working directory up,
// that holds a .dvc/ folder. this file finds it and turns command-line
// targets into the tracked outputs they name.
import fs from 'fs';
import path from 'path';
import { Cache } from './cache';
import { IniSections, loadRepoConfig } from './config';
import { DvcError } from './errors';
import { DvcFile, DvcOut, outHashName, readDvcFile } from './dvcfile';
import { HashName } from './hash';
import { assertInsideRepo } from './inside-repo';

export interface Repo {
  root: string;
  config: IniSections;
  cache: Cache;
}

export function findRepoRoot(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, '.dvc')) && fs.statSync(path.join(dir, '.dvc')).isDirectory()) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new DvcError(`not a DVC repository: no .dvc folder in ${path.resolve(start)} or any folder above it (create one with \`dvc init\`)`);
    dir = parent;
  }
}

export function openRepo(start: string): Repo {
  const root = findRepoRoot(start);
  const config = loadRepoConfig(root);
  // [cache] dir is relative to .dvc/, as DVC resolves it
  const cacheDir = config.cache?.dir ? path.resolve(root, '.dvc', config.cache.dir) : path.join(root, '.dvc', 'cache');
  return { root, config, cache: new Cache(cacheDir) };
}

/** one output of one .dvc file, with everything the commands need to know */
export interface TrackedOut {
  dvcFile: DvcFile;
  out: DvcOut;
  abs: string; // the output's absolute path in the workspace
  display: string; // its path relative to the repository root, for messages
  hashName: HashName;
  legacy: boolean; // written by DVC 2: legacy hashing and object layout
  oid: string | null; // the md5 (with '.dir' for directories); null if never committed
  isDir: boolean;
}

export function displayPath(repo: Repo, abs: string): string {
  const rel = path.relative(repo.root, abs);
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

/** the outputs of a .dvc file; refuses the file if any of them lies outside the repository */
export function outsOf(repo: Repo, dvcFile: DvcFile): TrackedOut[] {
  return dvcFile.outs.map((out, i) => {
    const abs = path.resolve(dvcFile.wdir, out.path);
    assertInsideRepo(repo.root, abs, `${dvcFile.file}: outs[${i}] path '${out.path}'`);
    const hashName = outHashName(out);
    const oid = typeof out.md5 === 'string' ? out.md5 : null;
    return {
      dvcFile,
      out,
      abs,
      display: displayPath(repo, abs),
      hashName,
      legacy: hashName === 'md5-dos2unix',
      oid,
      isDir: oid !== null && oid.endsWith('.dir'),
    };
  });
}

// folders never searched for .dvc files
const NOT_SEARCHED = new Set(['.git', '.dvc', 'node_modules']);

/** every .dvc file in the repository, skipping the folders that .dvc files track */
export function findDvcFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    const names = new Set(entries.map((e) => e.name));
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      if (entry.isFile() && entry.name.endsWith('.dvc')) found.push(abs);
      else if (entry.isDirectory() && !NOT_SEARCHED.has(entry.name) && !names.has(`${entry.name}.dvc`)) walk(abs);
    }
  };
  walk(root);
  return found.sort();
}

/**
 * a target is a .dvc file or the path of a tracked output (`data/x` for
 * `data/x.dvc`); no targets means every .dvc file in the repository
 */
export function collectOuts(repo: Repo, targets: string[], cwd = process.cwd()): TrackedOut[] {
  const files = targets.length === 0 ? findDvcFiles(repo.root) : targets.map((t) => dvcFileForTarget(repo, t, cwd));
  const outs: TrackedOut[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const out of outsOf(repo, readDvcFile(file))) {
      if (out.out.cache === false) continue; // not cached: nothing to version
      outs.push(out);
    }
  }
  return outs;
}

function dvcFileForTarget(repo: Repo, target: string, cwd: string): string {
  const abs = path.resolve(cwd, target.replace(/[\\/]+$/, ''));
  const candidates = abs.endsWith('.dvc') ? [abs] : [`${abs}.dvc`];
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  const rel = path.relative(repo.root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new DvcError(`${target}: outside the repository at ${repo.root}`);
  throw new DvcError(`${target}: not a .dvc file and not tracked (no ${path.basename(candidates[0])} beside it)`);
}
