import { Command, InvalidArgumentError } from 'commander';
import { native, DeviceName } from '../native';
import { checkBackends, checkOpNames } from '../check/backends';
import { formatResult, type CheckResult } from '../spec/checker';

export function register(program: Command): void {
  program
    .command('check-ops')
    .description('run every op spec\'s cases on a backend and on the CPU backend with the same random inputs (outputs poisoned with NaN first, every buffer between guard zones) and compare within the spec\'s tolerance: relative error at most 1e-5 in FP32, exact where the op is exact; exits 1 on any mismatch or overwritten guard')
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
      const print = (r: CheckResult) => {
        if (!opts.json) process.stdout.write(formatResult(r) + '\n');
      };
      const results = checkBackends(opts.device, 'cpu', opts.ops, print);
      const failed = results.filter((r) => !r.ok);
      if (opts.json) process.stdout.write(JSON.stringify(results) + '\n');
      else process.stdout.write(`${results.length - failed.length} passed, ${failed.length} failed (${opts.device} against cpu)\n`);
      if (failed.length) process.exitCode = 1;
    });
}
