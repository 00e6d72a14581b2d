// the package as npm would ship it, for the tests that install it: an up to
// date dist/, the addon to ship as the prebuild, and a staged copy of the
// package's files with that prebuild in place.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { addonOrigin } from '../../src/native';

export const REPO = path.resolve(__dirname, '..', '..');
export const PREBUILD_NAME = 'cudalab.napi.glibc.node';
export const PREBUILD_DIR = path.join('prebuilds', `${process.platform}-${process.arch}`);

/** the newest modification time of the files under dir (recursively) that keep(name) accepts */
function newest(dir: string, keep: (name: string) => boolean): number {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p, keep));
    else if (keep(entry.name)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

function mtime(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
}

/** builds dist/ (tsc, then the ESM entry) unless it is newer than every source it comes from */
export function ensureDist(): void {
  const sources = Math.max(newest(path.join(REPO, 'src'), (n) => n.endsWith('.ts')), mtime(path.join(REPO, 'tsconfig.json')),
    mtime(path.join(REPO, 'scripts', 'esm-entry.js')));
  // index.mjs is written last
  if (mtime(path.join(REPO, 'dist', 'index.mjs')) > sources) return;
  for (const argv of [[path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], [path.join(REPO, 'scripts', 'esm-entry.js')]]) {
    const r = spawnSync(process.execPath, argv, { cwd: REPO, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building dist/ failed: ${r.stdout}${r.stderr}`);
  }
}

/**
 * the addon to ship: prebuilds/ holds one newer than every native source
 * (npm run build:prebuilds made it), or else the one this checkout loads (its
 * own build), so a test never waits for a build of its own
 */
export function shippedAddon(): string {
  const prebuild = path.join(REPO, PREBUILD_DIR, PREBUILD_NAME);
  const sources = Math.max(newest(path.join(REPO, 'native'), () => true), mtime(path.join(REPO, 'CMakeLists.txt')));
  if (mtime(prebuild) > sources) return prebuild;
  return addonOrigin().path;
}

/**
 * a copy of what package.json's "files" ships (and package.json, README),
 * without prebuilds/, into dir; with `addon` as the prebuild when given
 */
export function stagePackage(dir: string, addon: string | null): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { files: string[] };
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of ['package.json', 'README.md', 'LICENSE', ...pkg.files]) {
    if (entry === 'prebuilds' || !fs.existsSync(path.join(REPO, entry))) continue;
    fs.cpSync(path.join(REPO, entry), path.join(dir, entry), { recursive: true });
  }
  if (addon) {
    fs.mkdirSync(path.join(dir, PREBUILD_DIR), { recursive: true });
    fs.copyFileSync(addon, path.join(dir, PREBUILD_DIR, PREBUILD_NAME));
  }
}

/**
 * the package's runtime dependencies as npm installed them here (from the
 * lockfile: every top-level package not marked dev), copied into
 * dir/node_modules, so an install of the package finds them in place and
 * needs no registry
 */
export function copyRuntimeDependencies(dir: string): void {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const modules = fs.realpathSync(path.join(REPO, 'node_modules'));
  for (const [key, info] of Object.entries(lock.packages)) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
    if (!m || info.dev || info.devOptional) continue;
    const from = path.join(modules, m[1]);
    // optional dependencies for other platforms were never installed
    if (!fs.existsSync(from)) continue;
    fs.cpSync(from, path.join(dir, 'node_modules', m[1]), { recursive: true, verbatimSymlinks: true });
  }
  // and their commands: npm reinstalls (fetches) a package whose bin links are missing
  const bins = path.join(modules, '.bin');
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  for (const name of fs.existsSync(bins) ? fs.readdirSync(bins) : []) {
    const target = fs.readlinkSync(path.join(bins, name)); // "../yaml/bin.mjs"
    const owner = /^\.\.\/((?:@[^/]+\/)?[^/]+)\//.exec(target)?.[1];
    if (owner && fs.existsSync(path.join(dir, 'node_modules', owner))) fs.symlinkSync(target, path.join(dir, 'node_modules', '.bin', name));
  }
}

/** a folder holding only node and npm, to be the whole PATH: no compiler, no cmake, no nvcc */
export function nodeOnlyBin(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(dir, 'node'));
  const npm = path.join(path.dirname(process.execPath), 'npm');
  const npmCli = fs.existsSync(npm) ? fs.realpathSync(npm) : require.resolve('npm/bin/npm-cli.js', { paths: [path.join(path.dirname(process.execPath), '..', 'lib')] });
  fs.symlinkSync(npmCli, path.join(dir, 'npm'));
  return dir;
}

/** an environment with PATH = bin only and nothing of this process's npm, CUDALAB_ or test settings */
export function cleanEnv(bin: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|NPM_|CUDALAB_|VITEST|NODE_OPTIONS$|NODE_PATH$|PATH$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, PATH: bin, ...extra };
}
