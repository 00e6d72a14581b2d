// the addon the package ships and how it is found: it needs no CUDA library
// at load time (cudart is linked in, the driver's libcuda is opened at run
// time), carries machine code for every architecture it was built for and
// PTX from which any newer GPU's code is JIT-compiled; npm install takes a prebuild that loads and builds
// otherwise; the loader prefers a developer's own build to the prebuild.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonOrigin, type BuildInfo } from '../../src/native';
import { cudaImages, neededLibraries } from '../helpers/elf';
import { REPO, PREBUILD_DIR, PREBUILD_NAME, ensureDist, shippedAddon, stagePackage } from '../helpers/package';

let tmp = '';
let stage = '';

beforeAll(() => {
  ensureDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-prebuild-'));
  stage = path.join(tmp, 'cudalab');
  stagePackage(stage, shippedAddon());
  fs.symlinkSync(fs.realpathSync(path.join(REPO, 'node_modules')), path.join(stage, 'node_modules'));
}, 120_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function node(args: string[], env: Record<string, string> = {}): string {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CUDALAB_')));
  const r = spawnSync(process.execPath, args, { cwd: stage, env: { ...clean, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe('the built addon', () => {
  const files = [...new Set([addonOrigin().path, shippedAddon()])];

  it.each(files)('%s needs no CUDA library to load (cudart is static, libcuda is opened when CUDA is first used)', (file) => {
    const needed = neededLibraries(file);
    expect(needed).toContain('libc.so.6');
    expect(needed.filter((lib) => /cuda|nvrtc|cublas/i.test(lib))).toEqual([]);
  });

  it.each(files)('%s has SASS for every architecture it was built for, and PTX for the newest and the oldest', (file) => {
    // the architectures the binary says it was built for (its own buildInfo)
    const built = spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(file)}).buildInfo())`], { encoding: 'utf8' });
    const cuda = JSON.parse(built.stdout).cuda as BuildInfo['cuda'];
    const images = cudaImages(file);
    if (!cuda) {
      // a CPU-only build carries no GPU code at all
      expect(images).toEqual({ sass: [], ptx: [] });
      return;
    }
    const archs = cuda.architectures.map((a) => Number.parseInt(a, 10)).sort((a, b) => a - b);
    expect(images.sass).toEqual(archs);
    // the newest's PTX: GPUs after all of them JIT-compile it. the oldest's:
    // GPUs between them that no SASS here runs on (sm_100, sm_110 between 90
    // and 120) JIT-compile that, so every GPU from the oldest on has code
    expect(images.ptx).toContain(archs[archs.length - 1]);
    expect(images.ptx).toContain(archs[0]);
  });

  it('loads and runs on the CPU here, whether or not this machine has an NVIDIA driver', () => {
    const out = JSON.parse(node(['-e', `
      const a = require(${JSON.stringify(shippedAddon())});
      const s = new a.Storage('cpu', 16), t = new Float32Array(4);
      a.write(s, Float32Array.of(-1, 2, -3, 4));
      a.reluForward(4, s, s);
      a.read(s, t);
      console.log(JSON.stringify({ relu: Array.from(t), cuda: a.cudaInfo() }));
    `]));
    expect(out.relu).toEqual([0, 2, 0, 4]);
    // available or not, the answer is a report and never a crash
    expect(typeof out.cuda.available).toBe('boolean');
    if (!out.cuda.available) expect(out.cuda.reason).not.toBe('');
  });
});

describe('npm install (scripts/install.js) takes a matching prebuild, or builds', () => {
  const line = (env: Record<string, string> = {}) => node([path.join('scripts', 'install.js'), '--dry-run'], env).trim();

  it('uses the prebuild that matches and loads, and says so in one line', () => {
    expect(line()).toMatch(new RegExp(`^cudalab: using the prebuilt addon ${PREBUILD_DIR}/${PREBUILD_NAME}: backends cpu[^\\n]*$`));
  });

  it('builds from source when asked with CUDALAB_BUILD_FROM_SOURCE=1', () => {
    expect(line({ CUDALAB_BUILD_FROM_SOURCE: '1' })).toBe('cudalab: CUDALAB_BUILD_FROM_SOURCE=1: building the addon from source');
  });

  it('builds from source when no prebuild matches this platform', () => {
    const moved = path.join(tmp, 'moved');
    fs.renameSync(path.join(stage, 'prebuilds'), moved);
    try {
      expect(line()).toBe(`cudalab: no prebuilt addon for ${process.platform}-${process.arch}: building the addon from source`);
    } finally {
      fs.renameSync(moved, path.join(stage, 'prebuilds'));
    }
  });

  it('builds from source when the folder has a build of its own, which loads before the prebuild', () => {
    const release = path.join(stage, 'build', 'Release');
    fs.mkdirSync(release, { recursive: true });
    fs.writeFileSync(path.join(release, 'cudalab.node'), '');
    try {
      expect(line()).toBe('cudalab: this folder has a build of its own under build/ (it loads before a prebuild): building the addon from source');
    } finally {
      fs.rmSync(path.join(stage, 'build'), { recursive: true, force: true });
    }
  });

  it('builds from source when the prebuild does not load here', () => {
    const file = path.join(stage, PREBUILD_DIR, PREBUILD_NAME);
    const kept = fs.readFileSync(file);
    fs.writeFileSync(file, 'not a shared library');
    try {
      expect(line()).toMatch(new RegExp(`^cudalab: the prebuilt addon ${PREBUILD_DIR}/${PREBUILD_NAME} does not load here \\(.+\\): building the addon from source$`));
    } finally {
      fs.writeFileSync(file, kept);
    }
  });
});

describe('the loader (src/native.ts)', () => {
  const origin = () => JSON.parse(node(['-p', "JSON.stringify(require('./dist/native.js').addonOrigin())"]));

  it('loads the prebuild when the package has no build of its own', () => {
    expect(origin()).toEqual({ kind: 'prebuild', path: path.join(fs.realpathSync(stage), PREBUILD_DIR, PREBUILD_NAME) });
  });

  it("prefers a developer's build/Release to the prebuild", () => {
    const release = path.join(stage, 'build', 'Release');
    fs.mkdirSync(release, { recursive: true });
    fs.copyFileSync(path.join(stage, PREBUILD_DIR, PREBUILD_NAME), path.join(release, 'cudalab.node'));
    try {
      expect(origin()).toEqual({ kind: 'source build', path: path.join(fs.realpathSync(stage), 'build', 'Release', 'cudalab.node') });
    } finally {
      fs.rmSync(path.join(stage, 'build'), { recursive: true, force: true });
    }
  });
});
