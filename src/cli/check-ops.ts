import { Command, InvalidArgumentError } from 'commander';
import { native, DeviceName } from '../native';
import { checkBackends, checkOpNames, OpCheck } from '../check/backends';

export function register(program: Command): void {
  program
    .command('check-ops')
    .description('run every native op on a backend and on the CPU reference with the same random inputs (outputs poisoned with NaN first) and compare: relative error at most 1e-5 in FP32, exact where the op is exact; exits 1 on any mismatch')
    .option('--device <cuda|cpu>', 'the backend to check against the CPU backend', (v) => {
      if (v !== 'cuda' && v !== 'cpu') throw new InvalidArgumentError(`expected cuda or cpu, got '${v}'`);
      return v as DeviceName;
    }, 'cuda' as DeviceName)
    .option('--ops <list>', `comma-separated ops (${checkOpNames().join(', ')})`, (v) => {
      const ops = v.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = ops.filter((o) => !checkOpNames().includes(o));
      if (unknown.length) throw new InvalidArgumentError(`unknown op ${unknown.join(', ')}`);
      return ops;
    })
    .option('--json', 'print the results as one JSON array')
    .action((opts: { device: DeviceName; ops?: string[]; json?: boolean }) => {
      if (opts.device === 'cuda') {
        const info = native().cudaInfo();
        if (!info.available) throw new Error(`check-ops --device cuda: CUDA is not available: ${info.reason}`);
      }
      const print = (r: OpCheck) => {
        if (opts.json) return;
        process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.op.padEnd(18)} ${r.shape.padEnd(40)} rel. error ${r.relError.toExponential(2)} (tolerance ${r.tolerance.toExponential(0)})\n`);
      };
      const results = checkBackends(opts.device, 'cpu', opts.ops, print);
      const failed = results.filter((r) => !r.ok);
      if (opts.json) process.stdout.write(JSON.stringify(results) + '\n');
      else process.stdout.write(`${results.length - failed.length} passed, ${failed.length} failed (${opts.device} against cpu)\n`);
      if (failed.length) process.exitCode = 1;
    });
}
