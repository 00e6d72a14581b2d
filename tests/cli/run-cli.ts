// runs the cudalab program in-process and captures what it prints, so CLI
// tests need no compiled dist/ and see real exit codes.
import { main } from '../../src/cli/index';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  const previous = process.exitCode;
  process.exitCode = 0;
  (process.stdout as any).write = (chunk: any) => { out.push(String(chunk)); return true; };
  (process.stderr as any).write = (chunk: any) => { err.push(String(chunk)); return true; };
  try {
    await main(['node', 'cudalab', ...args]);
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = previous;
  return { code, stdout: out.join(''), stderr: err.join('') };
}
