// the compiled command line (dist/, as CI builds it) in a child process,
// with its stderr kept as lines a test can wait for
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import path from 'path';

export const repo = path.join(__dirname, '..', '..');
const bin = path.join(repo, 'bin', 'cudalab.js');
export const built = fs.existsSync(path.join(repo, 'dist', 'cli', 'index.js'));

export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resolves with the first stderr line matching re (one already printed counts); rejects if the process ends first */
  line(re: RegExp): Promise<RegExpMatchArray>;
}

export function startCli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): CliProcess {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['CUDALAB_TEST_KILL_AT', 'CUDALAB_TEST_KILL_SIGNAL', 'CUDALAB_TEST_FAIL_AT']) delete fullEnv[key];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete fullEnv[k];
    else fullEnv[k] = v;
  }
  const child = spawn(process.execPath, [bin, ...args], { env: fullEnv, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of waiters.slice()) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of waiters.slice()) w();
    });
  });
  const line = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = err.split('\n').map((l) => l.match(re)).find((x) => x !== null);
        if (m) {
          waiters.splice(waiters.indexOf(check), 1);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`the process ended before printing ${re}: ${err.slice(-2000)}`));
        }
      };
      waiters.push(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, exited, line };
}

/** runs the command line to its end */
export async function runCliProcess(args: string[], env: Record<string, string | undefined> = {}, cwd?: string) {
  const p = startCli(args, env, cwd);
  const { code, signal } = await p.exited;
  return { code, signal, stdout: p.stdout(), stderr: p.stderr() };
}

/** polls cond (a file's state, say) until it holds; throws after timeoutMs with what it was waiting for */
export async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
