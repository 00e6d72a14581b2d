// runs the cudalab command line in this process through main(), as the
// installed binary runs it, capturing stdout, stderr and the exit code
import { main } from '../../src/cli/index';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const previous = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((chunk: unknown) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    await main(['node', 'cudalab', ...args]);
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = previous;
  return { code, stdout: out.join(''), stderr: err.join('') };
}
