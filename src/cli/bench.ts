import { Command, InvalidArgumentError } from 'commander';
import os from 'os';
import { native, DeviceName } from '../native';
import { benchCases, benchOpNames, BenchCase } from '../bench/cases';
import { timeIt } from '../bench/timing';
import { timeWithTorch, torchCounterparts } from '../bench/torch';
import { useDeviceIndex } from '../device-spec';
import { squareSize, timeOpenBlas, OpenBlasTimes } from '../bench/openblas';

interface BenchRow {
  op: string;
  device: DeviceName;
  shape: string;
  ms: number;
  gflops: number;
  gbps: number;
  torch_ms?: number | null;
  speedup_vs_torch?: number | null;
  /** square cpu gemms: OpenBLAS's (numpy's) rate in the same run, and ours over it */
  openblas_gflops?: number;
  ratio_vs_openblas?: number;
}

function parseDevices(v: string): DeviceName[] | 'all' {
  if (v === 'all') return 'all';
  if (v === 'cpu' || v === 'cuda') return [v];
  // cuda:N: that GPU, through CUDA_VISIBLE_DEVICES, before anything starts CUDA
  if (/^cuda:\d{1,4}$/.test(v)) {
    try {
      useDeviceIndex(v, '--device');
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    return ['cuda'];
  }
  throw new InvalidArgumentError(`expected cpu, cuda, cuda:N or all, got '${v}'`);
}

function parseOps(v: string): string[] {
  const known = benchOpNames();
  const ops = v.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ops.filter((o) => !known.includes(o));
  if (unknown.length) throw new InvalidArgumentError(`unknown op ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return ops;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('time every native op at the seed CNN\'s layer shapes (batch 64, 128) and GEMM at 1000, 2048, 4096: median ms, GFLOP/s, GB/s')
    .option('--device <cpu|cuda|cuda:N|all>', 'backends to time (all = every backend this machine can use; cuda:N the N-th GPU)', parseDevices, 'all' as const)
    .option('--ops <list>', `comma-separated ops (${benchOpNames().join(', ')})`, parseOps)
    .option('--json', 'print one JSON array of {op, device, shape, ms, gflops, gbps} instead of a table')
    .option('--compare-torch', 'also time the same shapes through PyTorch on the GPU (needs python3 with torch) and print the ratio')
    .option('--no-openblas', 'skip timing OpenBLAS (numpy) beside the square CPU GEMMs')
    .option('--min-seconds <s>', 'time spent per case (after warm-up)', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number of seconds, got '${v}'`);
      return n;
    }, 0.5)
    .action((opts: { device: DeviceName[] | 'all'; ops?: string[]; json?: boolean; compareTorch?: boolean; openblas: boolean; minSeconds: number }) => {
      const addon = native();
      const cuda = addon.cudaInfo();
      let devices: DeviceName[];
      if (opts.device === 'all') devices = cuda.available ? ['cpu', 'cuda'] : ['cpu'];
      else devices = opts.device;
      if (devices.includes('cuda') && !cuda.available) throw new Error(`--device cuda: CUDA is not available: ${cuda.reason}`);
      if (opts.compareTorch && !devices.includes('cuda')) throw new Error('--compare-torch needs --device cuda or all on a machine with a GPU');

      const cases: BenchCase[] = benchCases().filter((c) => !opts.ops || opts.ops.includes(c.op));
      const log = (s: string) => { if (!opts.json) process.stdout.write(s + '\n'); };
      const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}${cuda.available ? `, ${cuda.devices.map((d) => d.name).join(', ')}` : ''}`;
      log(`cudalab bench on ${machine}; CPU threads ${addon.getNumThreads()}, CPU kernels ${addon.cpuPath()}; median of repeated runs after warm-up`);

      // the square CPU GEMMs beside OpenBLAS (numpy) timed just before them
      let openblas: OpenBlasTimes | null = null;
      const squares = devices.includes('cpu') ? cases.filter((c) => c.op === 'gemm').map((c) => squareSize(c.shape)).filter((n): n is number => n !== null) : [];
      if (opts.openblas && squares.length) {
        const t = timeOpenBlas(squares, opts.minSeconds);
        if ('reason' in t) {
          log(`OpenBLAS not timed: ${t.reason}`);
        } else {
          openblas = t;
          log(`OpenBLAS (numpy) timed first: kernel ${t.kernel}, threads ${t.threads ?? '?'}`);
        }
      }

      let torchMs: Array<number | null> | null = null;
      if (opts.compareTorch) {
        log('timing the same cases through PyTorch ...');
        const t = timeWithTorch(cases);
        log(`PyTorch ${t.torch} on ${t.device} (fp32, tf32 off); what it ran for each op:`);
        for (const line of torchCounterparts(cases, t)) log(`  ${line}`);
        torchMs = t.ms;
      }

      const rows: BenchRow[] = [];
      log(`${'op'.padEnd(18)} ${'device'.padEnd(6)} ${'shape'.padEnd(34)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(9)} ${'GB/s'.padStart(8)}${torchMs ? `${'torch ms'.padStart(10)} ${'x torch'.padStart(8)}` : ''}`);
      for (const device of devices) {
        cases.forEach((c, i) => {
          const { run, free } = c.make(device);
          try {
            // the big CPU GEMMs take seconds each: fewer samples there
            const heavy = device === 'cpu' && c.flops > 5e10;
            const t = timeIt(device, run, { minSeconds: heavy ? 0 : opts.minSeconds, minSamples: heavy ? 3 : 5, warmup: heavy ? 1 : 2 });
            const row: BenchRow = {
              op: c.op, device, shape: c.shape, ms: t.medianMs,
              gflops: c.flops / (t.medianMs * 1e6), gbps: c.bytes / (t.medianMs * 1e6),
            };
            const n = device === 'cpu' && c.op === 'gemm' ? squareSize(c.shape) : null;
            const blas = n !== null ? openblas?.gflops.get(n) : undefined;
            if (blas !== undefined) {
              row.openblas_gflops = blas;
              row.ratio_vs_openblas = row.gflops / blas;
            }
            if (torchMs && device === 'cuda') {
              row.torch_ms = torchMs[i];
              row.speedup_vs_torch = torchMs[i] == null ? null : torchMs[i]! / t.medianMs;
            }
            rows.push(row);
            log(`${c.op.padEnd(18)} ${device.padEnd(6)} ${c.shape.padEnd(34)} ${fmt(row.ms, 3).padStart(9)} ${fmt(row.gflops).padStart(9)} ${fmt(row.gbps).padStart(8)}` +
              (row.torch_ms !== undefined ? `${fmt(row.torch_ms ?? NaN, 3).padStart(10)} ${fmt(row.speedup_vs_torch ?? NaN, 2).padStart(8)}` : '') +
              (row.openblas_gflops !== undefined ? `   OpenBLAS ${fmt(row.openblas_gflops)} GFLOP/s, x${fmt(row.ratio_vs_openblas!, 2)}` : ''));
          } finally {
            free();
          }
        });
      }
      if (opts.json) process.stdout.write(JSON.stringify(rows) + '\n');
      else if (torchMs) log('x torch > 1 means cudalab is faster');
    });
}
