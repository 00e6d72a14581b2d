import { Command } from 'commander';
import { collect, formatReport } from '../env/check';

export function register(program: Command): void {
  program
    .command('check-env')
    .description('report the build (backends, CUDA version, architectures), every GPU, a checked 1000x1000 matrix product on each backend, and the versions of the toolchain and packages; exits 1 when something is broken')
    .option('--json', 'print the report as JSON')
    .option('--no-matmul', 'skip the matrix-product check')
    .action((opts: { json?: boolean; matmul: boolean }) => {
      const report = collect({ matmul: opts.matmul });
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
      if (report.problems.length) process.exitCode = 1;
    });
}
