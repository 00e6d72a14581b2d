#!/usr/bin/env node
'use strict';
// the package's install step. a prebuilt addon that matches this machine
// (prebuilds/<platform>-<arch>/, see scripts/prebuild.js) is used as it is;
// otherwise, or with CUDALAB_BUILD_FROM_SOURCE=1, the addon is built with
// whatever this machine has:
//   cmake + nvcc >= 12.8  -> CPU and CUDA backends (cmake-js)
//   cmake only            -> CPU backend (cmake-js)
//   no cmake              -> CPU backend (node-gyp, binding.gyp)
// --rebuild (npm run build:native) always builds; --dry-run says which it
// would do and does nothing.
// usage: node scripts/install.js [--rebuild] [--asan] [--debug] [--dry-run]
// env:   CUDALAB_BUILD_FROM_SOURCE=1, CUDALAB_CUDA=OFF|ON|AUTO, CUDALAB_BUILD_DIR=build,
//        CUDALAB_CUDA_ARCHS="90;120", CUDACXX=/path/to/nvcc
const { spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const rebuild = args.has('--rebuild');
const asan = args.has('--asan');
const debug = args.has('--debug') || asan;
const dryRun = args.has('--dry-run');
const say = (msg) => process.stdout.write(`cudalab: ${msg}\n`);

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* keep looking */ }
  }
  return null;
}

// nvcc from CUDACXX, PATH or /usr/local/cuda, with its version ("12.8")
function findNvcc() {
  const candidates = [process.env.CUDACXX, which('nvcc'), '/usr/local/cuda/bin/nvcc'].filter(Boolean);
  for (const nvcc of candidates) {
    try {
      const out = execFileSync(nvcc, ['--version'], { encoding: 'utf8' });
      const m = out.match(/release (\d+)\.(\d+)/);
      if (m) return { path: nvcc, major: +m[1], minor: +m[2] };
    } catch { /* not runnable */ }
  }
  return null;
}

function run(cmd, argv) {
  say(`${path.basename(cmd)} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    process.stderr.write(`cudalab: native build failed (${path.basename(cmd)} exited ${r.status})\n`);
    process.exit(r.status || 1);
  }
}

// the prebuilt addon node-gyp-build would load here (never a build/ one), if
// it loads: a binary for a newer glibc, say, fails here rather than at first use
function usablePrebuild() {
  process.env.PREBUILDS_ONLY = '1'; // read when node-gyp-build is loaded: skip build/
  const nodeGypBuild = require('node-gyp-build');
  delete process.env.PREBUILDS_ONLY; // and not passed on to the build's processes
  let file;
  try {
    file = nodeGypBuild.path(root);
  } catch {
    return { file: null, why: `no prebuilt addon for ${process.platform}-${process.arch}` };
  }
  try {
    return { file, info: require(file).buildInfo() };
  } catch (e) {
    return { file: null, why: `the prebuilt addon ${path.relative(root, file)} does not load here (${String(e.message).split('\n')[0]})` };
  }
}

function describe(info) {
  return `backends ${info.backends.join(' + ')}${info.cuda ? ` (CUDA ${info.cuda.version}, sm_${info.cuda.architectures.join(', sm_')})` : ''}`;
}

if (!rebuild) {
  if (process.env.CUDALAB_BUILD_FROM_SOURCE === '1') {
    say('CUDALAB_BUILD_FROM_SOURCE=1: building the addon from source');
  } else if (['Release', 'Debug'].some((d) => fs.existsSync(path.join(root, 'build', d, 'cudalab.node')))) {
    // a checkout that built before: its build/ is what loads (ahead of any prebuild), so keep it current
    say('this folder has a build of its own under build/ (it loads before a prebuild): building the addon from source');
  } else {
    const found = usablePrebuild();
    if (found.file) {
      say(`using the prebuilt addon ${path.relative(root, found.file)}: ${describe(found.info)} (CUDALAB_BUILD_FROM_SOURCE=1 builds it here instead)`);
      process.exit(0);
    }
    say(`${found.why}: building the addon from source`);
  }
}
if (dryRun) process.exit(0);

const mode = (process.env.CUDALAB_CUDA || 'AUTO').toUpperCase();
// CUDALAB_BUILD_DIR builds elsewhere (load it with CUDALAB_ADDON=DIR/Release/cudalab.node)
const outDir = process.env.CUDALAB_BUILD_DIR || (asan ? 'build-asan' : 'build');
const cmake = which('cmake');

if (!cmake) {
  if (mode === 'ON') {
    process.stderr.write('cudalab: CUDALAB_CUDA=ON needs cmake; none was found on PATH\n');
    process.exit(1);
  }
  say('cmake not found: building the CPU backend with node-gyp (binding.gyp)');
  const nodeGyp = process.env.npm_config_node_gyp || require.resolve('node-gyp/bin/node-gyp.js', { paths: [path.dirname(process.execPath) + '/../lib/node_modules/npm'] });
  run(process.execPath, [nodeGyp, 'rebuild']);
} else {
  let cuda = 'OFF';
  const nvcc = mode === 'OFF' ? null : findNvcc();
  if (nvcc && (nvcc.major > 12 || (nvcc.major === 12 && nvcc.minor >= 8))) {
    cuda = 'ON';
    say(`nvcc ${nvcc.major}.${nvcc.minor} at ${nvcc.path}: building the CPU and CUDA backends for sm_${(process.env.CUDALAB_CUDA_ARCHS || '90;120').split(';').join(', sm_')}`);
  } else if (nvcc) {
    say(`nvcc ${nvcc.major}.${nvcc.minor} is older than 12.8: building the CPU backend only`);
  } else if (mode === 'OFF') {
    say('CUDALAB_CUDA=OFF: building the CPU backend only');
  } else {
    say('no nvcc found (PATH, CUDACXX, /usr/local/cuda): building the CPU backend only');
  }
  if (mode === 'ON' && cuda !== 'ON') {
    process.stderr.write('cudalab: CUDALAB_CUDA=ON but no nvcc 12.8 or newer was found\n');
    process.exit(1);
  }
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const argv = [cmakeJs, rebuild ? 'rebuild' : 'compile', '--out', outDir, '--parallel', String(Math.max(2, require('os').availableParallelism?.() ?? 2)),
    `--CDCUDALAB_CUDA=${cuda}`, `--CDCUDALAB_ASAN=${asan ? 'ON' : 'OFF'}`];
  if (debug) argv.push('--debug');
  if (cuda === 'ON') argv.push(`--CDCMAKE_CUDA_COMPILER=${nvcc.path}`);
  run(process.execPath, argv);
}

const built = [`${outDir}/Release/cudalab.node`, `${outDir}/Debug/cudalab.node`].find((f) => fs.existsSync(path.join(root, f)));
if (!built) {
  process.stderr.write(`cudalab: the build finished but no cudalab.node is under ${outDir}/\n`);
  process.exit(1);
}
try {
  say(`built ${built}: ${describe(require(path.join(root, built)).buildInfo())}`);
} catch (e) {
  say(`built ${built}`);
}
