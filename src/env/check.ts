// the environment check: what the addon was built with, every GPU, a
// 1000x1000 matrix product on each backend checked against a float64
// reference, and a version audit. collect() never throws: what is broken
// lands in `problems`, which the command turns into a non-zero exit.
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { native, addonOrigin, AddonOrigin, BuildInfo, CpuPath, CudaInfo, DeviceName } from '../native';
import { median } from '../bench/timing';

export interface MatmulCheck {
  device: DeviceName;
  size: number;
  ms: number;
  gflops: number;
  /** max |c - ref| / max |ref| over the checked rows */
  relError: number;
  ok: boolean;
}

export interface EnvReport {
  machine: { os: string; cpu: string; cores: number; memoryGiB: number };
  build: BuildInfo | null;
  /** the binary loaded: a prebuilt one or one built here, and where it is */
  binary: AddonOrigin | null;
  /** the instruction set the CPU kernels run with (CUDALAB_CPU forces one) */
  cpuPath: CpuPath | null;
  cuda: CudaInfo | null;
  matmul: MatmulCheck[];
  versions: Record<string, string | null>;
  problems: string[];
}

const ROOT = path.resolve(__dirname, '../..');

function packageVersion(name: string): string | null {
  try {
    const file = require.resolve(`${name}/package.json`, { paths: [ROOT] });
    return JSON.parse(fs.readFileSync(file, 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

function commandVersion(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim().split('\n')[0];
  } catch {
    return null;
  }
}

// nvcc prints its release on the fourth line ("Cuda compilation tools, release 13.0, V13.0.48")
function nvccRelease(): string | null {
  try {
    const out = execFileSync('nvcc', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return out.match(/release ([\d.]+)/)?.[1] ?? null;
  } catch {
    return null;
  }
}

// a deterministic pseudo-random matrix in [-1, 1) (no zeros: they hide bugs)
function randomMatrix(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = (x / 4294967296) * 2 - 1;
  }
  return a;
}

/** times C = A*B at size n on device and checks sampled rows against float64 */
export function checkMatmul(device: DeviceName, n = 1000, rowsChecked = 24): MatmulCheck {
  const addon = native();
  const a = randomMatrix(n * n, 1), b = randomMatrix(n * n, 2);
  const sa = new addon.Storage(device, n * n * 4), sb = new addon.Storage(device, n * n * 4), sc = new addon.Storage(device, n * n * 4);
  try {
    addon.write(sa, a);
    addon.write(sb, b);
    const run = () => addon.gemm(false, false, n, n, n, 1, sa, sb, 0, sc);
    run();
    addon.synchronize(device);
    const samples: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = process.hrtime.bigint();
      run();
      addon.synchronize(device);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const c = new Float32Array(n * n);
    addon.read(sc, c);
    let maxErr = 0, maxRef = 0;
    for (let t = 0; t < rowsChecked; t++) {
      const i = Math.floor((t * (n - 1)) / Math.max(1, rowsChecked - 1));
      for (let j = 0; j < n; j++) {
        let ref = 0;
        for (let k = 0; k < n; k++) ref += a[i * n + k] * b[k * n + j];
        maxErr = Math.max(maxErr, Math.abs(c[i * n + j] - ref));
        maxRef = Math.max(maxRef, Math.abs(ref));
      }
    }
    const ms = median(samples);
    const relError = maxErr / Math.max(maxRef, 1e-30);
    return { device, size: n, ms, gflops: (2 * n * n * n) / (ms * 1e6), relError, ok: Number.isFinite(relError) && relError <= 1e-5 };
  } finally {
    sa.free(); sb.free(); sc.free();
  }
}

export function collect(opts: { matmul?: boolean } = {}): EnvReport {
  const problems: string[] = [];
  const report: EnvReport = {
    machine: { os: `${os.type()} ${os.release()} ${os.arch()}`, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
    build: null,
    binary: null,
    cpuPath: null,
    cuda: null,
    matmul: [],
    versions: {
      node: process.versions.node,
      napi: process.versions.napi ?? null,
      npm: commandVersion('npm', ['--version']),
      cudalab: packageVersion('cudalab') ?? JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
      typescript: packageVersion('typescript'),
      'node-addon-api': packageVersion('node-addon-api'),
      'cmake-js': packageVersion('cmake-js'),
      'node-gyp-build': packageVersion('node-gyp-build'),
      commander: packageVersion('commander'),
      '@aws-sdk/client-s3': packageVersion('@aws-sdk/client-s3'),
      vitest: packageVersion('vitest'),
      cmake: commandVersion('cmake', ['--version']),
      nvcc: nvccRelease(),
      'nvidia-smi': commandVersion('nvidia-smi', ['--query-gpu=driver_version', '--format=csv,noheader']),
    },
    problems,
  };
  let addon;
  try {
    addon = native();
  } catch (err) {
    problems.push((err as Error).message);
    return report;
  }
  report.build = addon.buildInfo();
  report.binary = addonOrigin();
  report.cpuPath = addon.cpuPath();
  report.cuda = addon.cudaInfo();
  if (report.build.backends.includes('cuda')) {
    for (const d of report.cuda.devices) {
      if (!d.supported) problems.push(`GPU ${d.index} (${d.name}, sm_${d.computeCapability.replace('.', '')}) has no code in this build (built for sm_${report.build.cuda!.architectures.join(', sm_')}); rebuild with CUDALAB_CUDA_ARCHS`);
    }
  }
  if (opts.matmul !== false) {
    const devices: DeviceName[] = report.cuda.available ? ['cpu', 'cuda'] : ['cpu'];
    for (const device of devices) {
      try {
        const m = checkMatmul(device);
        report.matmul.push(m);
        if (!m.ok) problems.push(`1000x1000 matrix product on ${device}: relative error ${m.relError.toExponential(2)} exceeds 1e-5`);
      } catch (err) {
        problems.push(`1000x1000 matrix product on ${device} failed: ${(err as Error).message}`);
      }
    }
  }
  return report;
}

export function formatReport(r: EnvReport): string {
  const lines: string[] = [];
  lines.push(`machine   ${r.machine.os}, ${r.machine.cpu} x${r.machine.cores}, ${r.machine.memoryGiB} GiB`);
  if (r.build) {
    lines.push(`addon     backends ${r.build.backends.join(' + ')}${r.build.cuda ? ` (CUDA ${r.build.cuda.version}, sm_${r.build.cuda.architectures.join(', sm_')})` : ''}, ${r.build.compiler}${r.build.debug ? ', debug' : ''}`);
  }
  if (r.binary) lines.push(`binary    ${r.binary.kind}: ${r.binary.path}`);
  if (r.cpuPath) lines.push(`cpu       kernels: ${r.cpuPath}${process.env.CUDALAB_CPU ? ' (forced by CUDALAB_CPU)' : ' (the widest this processor has; CUDALAB_CPU=avx512|avx2|generic forces one)'}`);
  if (r.cuda) {
    if (r.cuda.available) lines.push(`cuda      available: driver ${r.cuda.driverVersion}, runtime ${r.cuda.runtimeVersion}`);
    else lines.push(`cuda      not available: ${r.cuda.reason}`);
    for (const d of r.cuda.devices) {
      lines.push(`  gpu ${d.index}   ${d.name}, compute ${d.computeCapability}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB (${(d.freeMemory / 2 ** 30).toFixed(1)} free), ${d.multiprocessors} SMs, ${d.supported ? 'code in this build' : 'NO code in this build'}`);
    }
  }
  for (const m of r.matmul) {
    lines.push(`matmul    ${m.size}x${m.size} on ${m.device.padEnd(4)} ${m.ms.toFixed(3)} ms, ${m.gflops.toFixed(1)} GFLOP/s, rel. error vs float64 ${m.relError.toExponential(2)} ${m.ok ? 'ok' : 'FAILED'}`);
  }
  lines.push('versions');
  for (const [k, v] of Object.entries(r.versions)) lines.push(`  ${k.padEnd(20)} ${v ?? 'not found'}`);
  if (r.problems.length) {
    lines.push('problems');
    for (const p of r.problems) lines.push(`  - ${p}`);
  } else {
    lines.push('all checks passed');
  }
  return lines.join('\n');
}
