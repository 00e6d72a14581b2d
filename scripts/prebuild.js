#!/usr/bin/env node
'use strict';
// builds the addon the package ships: the CPU and CUDA backends (cudart
// linked statically; machine code and PTX for every CUDALAB_CUDA_ARCHS
// architecture: the newest's PTX is JIT-compiled by GPUs newer than all of
// them, the oldest's by those in between, sm_100 between 90 and 120), in
// a clean build folder of its own (build-prebuild/, a developer's build/ is
// left alone), stripped, at the path node-gyp-build looks for it:
//   prebuilds/<platform>-<arch>/cudalab.napi.<libc>.node
// (prebuildify's naming: any node with Node-API 8, this C library). `npm
// install` uses it instead of building (scripts/install.js). the file is a
// release artefact: it is not committed.
// usage: npm run build:prebuilds
// env:   CUDALAB_CUDA_ARCHS="90;120" (the architectures), CUDALAB_CUDA=ON|OFF (default ON)
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const say = (msg) => process.stdout.write(`cudalab: ${msg}\n`);
const fail = (msg) => {
  process.stderr.write(`cudalab: ${msg}\n`);
  process.exit(1);
};

const buildDir = 'build-prebuild';
const libc = fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
const dest = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, `cudalab.napi.${libc}.node`);

const build = spawnSync(process.execPath, [path.join(__dirname, 'install.js'), '--rebuild'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CUDALAB_CUDA: process.env.CUDALAB_CUDA || 'ON', CUDALAB_BUILD_DIR: buildDir },
});
if (build.status !== 0) fail(`the build failed (exit ${build.status ?? build.signal})`);

// a temporary file beside the destination, renamed over it once stripped: a
// half-written prebuild is never left where node-gyp-build would load it
// (the `.<name>.<12 hex>.tmp` naming of src/atomic-file.ts)
fs.mkdirSync(path.dirname(dest), { recursive: true });
const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${require('crypto').randomBytes(6).toString('hex')}.tmp`);
try {
  fs.copyFileSync(path.join(root, buildDir, 'Release', 'cudalab.node'), tmp);
  // symbols only: the dynamic symbol table and the CUDA fat binary stay
  const strip = spawnSync('strip', ['--strip-unneeded', tmp], { stdio: 'inherit' });
  if (strip.error || strip.status !== 0) say('strip is not available or failed: the prebuild keeps its symbols');
  fs.renameSync(tmp, dest);
} catch (err) {
  fs.rmSync(tmp, { force: true });
  fail(`could not write ${path.relative(root, dest)}: ${err.message}`);
}

// load it in a fresh process, as an installed package would
const check = spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(dest)}).buildInfo())`], { encoding: 'utf8' });
if (check.status !== 0) fail(`${path.relative(root, dest)} does not load: ${check.stderr.trim()}`);
const info = JSON.parse(check.stdout);
const mib = (fs.statSync(dest).size / 2 ** 20).toFixed(1);
say(`wrote ${path.relative(root, dest)} (${mib} MiB): backends ${info.backends.join(' + ')}` +
  (info.cuda ? ` (CUDA ${info.cuda.version}, sm_${info.cuda.architectures.join(', sm_')}, SASS and PTX each)` : ''));
