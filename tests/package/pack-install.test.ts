// the package as a user gets it: `npm pack` with the prebuilt addon inside,
// installed into a fresh folder by an npm whose PATH holds node and npm and
// nothing else (no compiler, no cmake, no nvcc), then used: a training step
// through require('cudalab') and through the cudalab command, `import` from an
// ES module, the types from TypeScript, check-env naming the prebuild. the
// dependencies come from this checkout's node_modules and the install runs
// --offline: no registry is needed. the prebuild is the one prebuilds/ holds
// when it is fresh, else this checkout's own build (tests/helpers/package.ts).
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO, PREBUILD_DIR, PREBUILD_NAME, cleanEnv, copyRuntimeDependencies, ensureDist, nodeOnlyBin, shippedAddon, stagePackage,
} from '../helpers/package';
import { runCli } from '../helpers/run-cli';

const FIXTURE = path.join(REPO, 'tests', 'fixtures', 'cifar10-tiny');

let tmp = '';
let bin = '';
let app = '';
let addon = '';
let install: SpawnSyncReturns<string>;

function run(cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: cleanEnv(bin, extra), encoding: 'utf8', timeout: 120_000 });
}

function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  ensureDist();
  addon = shippedAddon();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-pack-'));
  bin = nodeOnlyBin(path.join(tmp, 'bin'));
  const stage = path.join(tmp, 'stage');
  stagePackage(stage, addon);
  const npm = path.join(bin, 'npm');
  const cache = path.join(tmp, 'npm-cache');
  // dist/ is built already: the prepare script (tsc) is not run again
  const packed = ok(run(npm, ['pack', '--ignore-scripts', '--pack-destination', tmp, '--cache', cache], stage)).trim().split('\n').pop()!;
  app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  copyRuntimeDependencies(app);
  // npm runs the install script with `sh -c`: named by its path, so PATH stays node and npm
  install = run(npm, ['install', path.join(tmp, packed), '--offline', '--no-audit', '--no-fund', '--foreground-scripts', '--cache', cache,
    '--script-shell', '/bin/sh'], app);
}, 180_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm pack, then npm install on a machine with node and npm only', () => {
  it('installs the tarball and uses its prebuilt addon, building nothing', () => {
    const out = ok(install);
    const installed = path.join(app, 'node_modules', 'cudalab');
    expect(fs.existsSync(path.join(installed, PREBUILD_DIR, PREBUILD_NAME))).toBe(true);
    expect(out).toContain(`cudalab: using the prebuilt addon ${PREBUILD_DIR}/${PREBUILD_NAME}`);
    expect(out).not.toMatch(/building the addon from source|cmake-js|node-gyp rebuild/);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  });

  it('trains a step on the CPU through require("cudalab"), loading the prebuild', () => {
    // one SGD step on a fixed batch lowers that batch's loss; the weights
    // move by exactly -lr * grad (float64 reference over the host copies)
    const script = `
      const c = require('cudalab');
      const g = new c.Generator(3);
      const model = new c.nn.Sequential(new c.nn.Linear(12, 4, { generator: g }));
      const x = c.Tensor.randn([8, 12], { generator: g }), y = c.Tensor.fromArray([0,1,2,3,0,1,2,3], [8], { dtype: 'int32' });
      const opt = new c.SGD(model.parameters(), { lr: 0.1 });
      const loss = () => c.noGrad(() => c.crossEntropy(model.forward(x), y).item());
      const before = loss();
      const w0 = Array.from(model.parameters()[0].toArray());
      c.tidy(() => { opt.zeroGrad(); c.crossEntropy(model.forward(x), y).backward(); });
      const grad = Array.from(model.parameters()[0].grad.toArray());
      opt.step();
      const w1 = Array.from(model.parameters()[0].toArray());
      const maxStepError = Math.max(...w1.map((w, i) => Math.abs(w - (w0[i] - 0.1 * grad[i]))));
      console.log(JSON.stringify({ before, after: loss(), maxStepError, device: x.device, origin: c.addonOrigin(), backends: c.native().buildInfo().backends }));
    `;
    const r = JSON.parse(ok(run(path.join(bin, 'node'), ['-e', script], app)));
    expect(r.device).toBe('cpu');
    expect(r.after).toBeLessThan(r.before);
    expect(r.maxStepError).toBeLessThan(1e-6);
    expect(r.origin.kind).toBe('prebuild');
    expect(r.origin.path).toBe(path.join(fs.realpathSync(app), 'node_modules', 'cudalab', PREBUILD_DIR, PREBUILD_NAME));
  });

  it('trains an epoch on the CPU through the cudalab command, as this checkout does', async () => {
    const args = ['train', '--data', FIXTURE, '--no-download', '--limit', '40', '--epochs', '1', '--batch', '20', '--lr', '0.01', '--device', 'cpu'];
    ok(run(path.join(app, 'node_modules', '.bin', 'cudalab'), [...args, '--out', path.join(tmp, 'runs'), '--name', 'packed'], app));
    const here = await runCli(...args, '--out', path.join(tmp, 'runs'), '--name', 'here');
    expect(here.code).toBe(0);
    const summary = (name: string) => JSON.parse(fs.readFileSync(path.join(tmp, 'runs', name, 'summary.json'), 'utf8'));
    const [packed, ours] = [summary('packed'), summary('here')];
    expect(packed.train_images).toBe(40);
    expect(Number.isFinite(packed.epochs[0].train_loss)).toBe(true);
    // the same code on the same CPU: the same numbers, bit for bit
    expect(packed.epochs[0].train_loss).toBe(ours.epochs[0].train_loss);
    expect(packed.epochs[0].test_loss).toBe(ours.epochs[0].test_loss);
  });

  it('check-env names the prebuild and shows the backends it was built with', () => {
    const cudalab = path.join(app, 'node_modules', '.bin', 'cudalab');
    const report = JSON.parse(ok(run(cudalab, ['check-env', '--no-matmul', '--json'], app)));
    const prebuild = path.join(fs.realpathSync(app), 'node_modules', 'cudalab', PREBUILD_DIR, PREBUILD_NAME);
    expect(report.binary).toEqual({ kind: 'prebuild', path: prebuild });
    const shipped = JSON.parse(ok(run(path.join(bin, 'node'), ['-p', `JSON.stringify(require(${JSON.stringify(addon)}).buildInfo())`], tmp)));
    expect(report.build).toEqual(shipped);
    // this checkout's addon has the CUDA backend wherever nvcc 12.8+ built it (CI's machine has it)
    const text = ok(run(cudalab, ['check-env', '--no-matmul'], app));
    const backends = shipped.cuda ? `cpu + cuda (CUDA ${shipped.cuda.version}, sm_${shipped.cuda.architectures.join(', sm_')})` : 'cpu';
    expect(text).toContain(`addon     backends ${backends}`);
    expect(text).toContain(`binary    prebuild: ${prebuild}`);
  });

  it('works from an ES module with import, sharing one module with require', () => {
    const script = `
      import { Tensor, nn, SGD, evaluate, addonOrigin } from 'cudalab';
      import cudalab from 'cudalab';
      import { createRequire } from 'module';
      const cjs = createRequire(import.meta.url)('cudalab');
      const t = Tensor.fromArray([1, 2, 3, 4], [2, 2]);
      console.log(JSON.stringify({ sum: t.sum().item(), same: Tensor === cjs.Tensor && cudalab === cjs, kinds: [typeof nn.Conv2d, typeof SGD, typeof evaluate], origin: addonOrigin().kind }));
    `;
    const r = JSON.parse(ok(run(path.join(bin, 'node'), ['--input-type=module', '-e', script], app)));
    expect(r).toEqual({ sum: 10, same: true, kinds: ['function', 'function', 'function'], origin: 'prebuild' });
  });

  it('gives TypeScript its types for import and for require', () => {
    fs.writeFileSync(path.join(app, 'esm.mts'), `import { Tensor, SGD, type ScheduleSpec } from 'cudalab';\nconst s: ScheduleSpec = { kind: 'cosine' };\nexport const n: number = Tensor.ones([2]).numel + new SGD([Tensor.ones([1])], { lr: 1 }).lr;\nexport { s };\n`);
    fs.writeFileSync(path.join(app, 'cjs.cts'), `import cudalab = require('cudalab');\nexport const n: number = cudalab.Tensor.ones([2]).numel;\n`);
    // and a mistake is caught: the types are real, not any
    fs.writeFileSync(path.join(app, 'wrong.mts'), `import { Tensor } from 'cudalab';\nexport const s: string = Tensor.ones([2]).numel;\n`);
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = (files: string[]) => [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--skipLibCheck', '--types', 'node', '--typeRoots', path.join(fs.realpathSync(path.join(REPO, 'node_modules')), '@types'), ...files];
    ok(run(path.join(bin, 'node'), args(['esm.mts', 'cjs.cts']), app));
    const wrong = run(path.join(bin, 'node'), args(['wrong.mts']), app);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stdout).toMatch(/wrong\.mts.*TS2322/);
  });
});
