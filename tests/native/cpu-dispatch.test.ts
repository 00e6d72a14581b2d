// the cpu kernels' instruction-set builds (native/cpu/dispatch.h): every build
// this processor can run, forced with CUDALAB_CPU in a child process (the
// choice is made once, when the addon loads), runs the gemm and conv specs and
// a sample of every other op's cases against their float64 references;
// CUDALAB_CPU naming a build the processor lacks, or none, stops the load with
// ERR_CPU; check-env says which build runs; and the code outside the AVX2 and
// AVX-512 builds holds no instruction a baseline x86-64 lacks. (tests/ops runs
// every case on the default build.)
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const PATHS = ['avx512', 'avx2', 'generic'] as const;
type CpuPath = (typeof PATHS)[number];

// what the processor offers, read from /proc/cpuinfo rather than from the
// addon's own cpuid checks: x86-64-v3 and v4 as gcc defines them
function supportedPaths(): CpuPath[] {
  let flags = new Set<string>();
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    if (line) flags = new Set(line.split(':')[1].trim().split(/\s+/));
  } catch {
    // not linux: only the generic build can be assumed
  }
  const has = (...names: string[]) => names.every((n) => flags.has(n));
  const out: CpuPath[] = [];
  const v3 = process.arch === 'x64' && has('avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave');
  if (v3 && has('avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl')) out.push('avx512');
  if (v3) out.push('avx2');
  out.push('generic');
  return out;
}
const supported = supportedPaths();

// runs `code` in a fresh node with CUDALAB_CPU set (undefined: unset)
function child(cpu: string | undefined, code: string) {
  const env = { ...process.env };
  delete env.CUDALAB_CPU;
  if (cpu !== undefined) env.CUDALAB_CPU = cpu;
  return spawnSync(process.execPath, ['-e', code], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 16 << 20 });
}

// in the child: the build in use, then the gemm cases (the first 48: odd
// sizes, 1x1, every transpose, with and without C; then every 8th, among them
// the layers' long-thin shapes), the first 12 and every 3rd conv case of each
// direction, and the first cases of every other op against the float64
// references; and a gemm and a conv on 1
// and 2 threads (each build promises the same bits on any count)
const CHECK = `
const { native } = require('./dist/native');
const { allSpecs } = require('./dist/spec');
const { checkAgainstReference, formatResult } = require('./dist/spec/checker');
const addon = native();
const failures = [];
let cases = 0;
for (const spec of allSpecs) {
  for (let i = 0; i < spec.cases.length; i++) {
    const chosen = spec.name === 'gemm' ? i < 48 || i % 8 === 0 : spec.name.startsWith('conv2d') ? i < 12 || i % 3 === 0 : i < 3;
    if (!chosen) continue;
    const r = checkAgainstReference(spec, i, 'cpu');
    cases++;
    if (!r.ok) failures.push(formatResult(r));
  }
}
function bits(threads, run) {
  addon.setNumThreads(threads);
  const out = run();
  addon.setNumThreads(0);
  return Buffer.from(out.buffer).toString('hex');
}
function storage(values) {
  const s = new addon.Storage('cpu', values.length * 4);
  addon.write(s, Float32Array.from(values));
  return s;
}
function read(s, n) { const out = new Float32Array(n); addon.read(s, out); return out; }
let seed = 1;
const rand = (n) => Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
const [m, n, k] = [130, 65, 517];
const a = storage(rand(m * k)), b = storage(rand(k * n));
const gemm = () => { const c = new addon.Storage('cpu', m * n * 4); addon.gemm(false, true, m, n, k, 1, a, b, 0, c); return read(c, m * n); };
const s = { n: 3, c: 5, h: 17, w: 19, k: 7, r: 3, s: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, p: 17, q: 19 };
const x = storage(rand(3 * 5 * 17 * 19)), w = storage(rand(7 * 5 * 9));
const conv = () => { const y = new addon.Storage('cpu', 3 * 7 * 17 * 19 * 4); addon.conv2dForward(s, x, w, null, y); return read(y, 3 * 7 * 17 * 19); };
const sameBits = bits(1, gemm) === bits(2, gemm) && bits(1, conv) === bits(2, conv);
process.stdout.write(JSON.stringify({ path: addon.cpuPath(), cases, failures, sameBits }));
`;

describe('cpu kernels, one build per instruction set', () => {
  it('has dist/ built (the children load it)', () => {
    expect(fs.existsSync(path.join(ROOT, 'dist/native.js')), 'run npx tsc -p tsconfig.json first').toBe(true);
  });

  it('picks the widest build this processor has when CUDALAB_CPU is unset or empty', () => {
    for (const value of [undefined, '']) {
      const r = child(value, "process.stdout.write(require('./dist/native').native().cpuPath())");
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(supported[0]);
    }
  });

  for (const cpu of PATHS) {
    if (supported.includes(cpu)) {
      it(`CUDALAB_CPU=${cpu}: gemm, conv and a sample of every op match their float64 references`, () => {
        const r = child(cpu, CHECK);
        expect(r.status, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.path).toBe(cpu);
        expect(out.failures).toEqual([]);
        expect(out.cases).toBeGreaterThan(200);
        expect(out.sameBits).toBe(true);
      }, 240_000);
    } else {
      it(`CUDALAB_CPU=${cpu} on a processor without it stops the load with ERR_CPU`, () => {
        const r = child(cpu, "try { require('./dist/native').native() } catch (e) { process.stdout.write(JSON.stringify({ code: e.code, message: e.message })) }");
        const out = JSON.parse(r.stdout);
        expect(out.code).toBe('ERR_CPU');
        expect(out.message).toContain(`CUDALAB_CPU=${cpu}: this processor lacks`);
        expect(out.message).toContain(`accepts ${supported.join(', ')}`);
      });
    }
  }

  it('an unknown CUDALAB_CPU stops the load with ERR_CPU naming the variable and the valid values', () => {
    for (const value of ['sse9', 'AVX2', ' avx2']) {
      const r = child(value, "try { require('./dist/native').native(); process.stdout.write('loaded') } catch (e) { process.stdout.write(JSON.stringify({ code: e.code, name: e.name, message: e.message })) }");
      const out = JSON.parse(r.stdout);
      expect(out.code).toBe('ERR_CPU');
      expect(out.name).toBe('CudalabError');
      expect(out.message).toContain(`CUDALAB_CPU=${value}: unknown instruction set; expected one of avx512, avx2, generic`);
      expect(out.message).toContain(`on this processor: ${supported.join(', ')}`);
    }
  });

  it('check-env prints the build in use, and reports a bad CUDALAB_CPU as a problem', () => {
    const cli = path.join(ROOT, 'bin/cudalab.js');
    const forced = spawnSync(process.execPath, [cli, 'check-env', '--no-matmul'], { cwd: ROOT, env: { ...process.env, CUDALAB_CPU: 'generic' }, encoding: 'utf8' });
    expect(forced.stdout).toMatch(/^cpu\s+kernels: generic \(forced by CUDALAB_CPU\)$/m);
    const json = spawnSync(process.execPath, [cli, 'check-env', '--no-matmul', '--json'], { cwd: ROOT, env: { ...process.env, CUDALAB_CPU: supported[supported.length - 1] }, encoding: 'utf8' });
    expect(JSON.parse(json.stdout).cpuPath).toBe('generic');
    const bad = spawnSync(process.execPath, [cli, 'check-env', '--no-matmul'], { cwd: ROOT, env: { ...process.env, CUDALAB_CPU: 'sse9' }, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('CUDALAB_CPU=sse9: unknown instruction set');
  });

  // the addon's code outside cpu::avx2 and cpu::avx512 runs before the choice
  // (or whatever the choice): no VEX or EVEX instruction (AVX and later), none
  // of BMI, LZCNT, POPCNT, MOVBE or SSSE3/SSE4, none on ymm, zmm or mask
  // registers. a shared inline function kept from a wide build (the link
  // order in CMakeLists.txt prevents it) would show up here.
  const objdump = spawnSync('objdump', ['--version']).status === 0;
  it.skipIf(!objdump || process.arch !== 'x64')('the baseline code holds no instruction beyond x86-64 (objdump)', () => {
    const addonPath: string = require('node-gyp-build').path(ROOT);
    const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', addonPath], { encoding: 'utf8', maxBuffer: 1 << 30 });
    expect(r.status).toBe(0);
    const wide = /^\s*[0-9a-f]+:\s+(v[a-z0-9]+|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|lzcnt|tzcnt|popcnt|movbe|pshufb|palignr|ptest|roundp[sd]|rounds[sd]|blendv?p[sd]|pblendw|pmulld|pmins[bd]|pmaxs[bd]|pminu[wd]|pmaxu[wd]|pextr[bdq]|pinsr[bdq]|insertps|extractps|dpp[sd]|pmovzx|pmovsx|packusdw|pcmpeqq|pcmpgtq|crc32)\b|%[yz]mm|%k[0-7]/;
    const offenders = new Map<string, string>();
    let fn = '';
    let checked = 0;
    for (const line of r.stdout.split('\n')) {
      const head = /^[0-9a-f]+ <(.+)>:$/.exec(line);
      if (head) {
        fn = head[1];
        if (!/avx512|avx2/.test(fn)) checked++;
        continue;
      }
      // the wide builds' functions carry their namespace in the (mangled) name
      if (/avx512|avx2/.test(fn) || offenders.has(fn)) continue;
      if (wide.test(line)) offenders.set(fn, line.trim());
    }
    expect(checked).toBeGreaterThan(100);
    expect([...offenders].map(([f, l]) => `${f}: ${l}`)).toEqual([]);
  });
});
