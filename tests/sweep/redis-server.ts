// a real redis-server for the tests (Debian's package; .ci/run installs it):
// on 127.0.0.1, a free port, its data in a temporary folder with the
// append-only file on (as the README tells sweeps to run it), so a restart
// keeps the queues. started and stopped by the tests themselves.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';

/** the redis-server binary, or null when there is none (the tests that need it skip, saying so) */
export function redisServerBinary(): string | null {
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (fs.existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private process: ChildProcess | null = null;

  private constructor(readonly binary: string, readonly port: number, readonly dir: string) {}

  static async start(binary: string): Promise<RedisServer> {
    const server = new RedisServer(binary, await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-redis-')));
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  // resolves once the server says it accepts connections (its own log line, on stdout)
  private launch(): Promise<void> {
    const child = spawn(this.binary, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--protected-mode', 'yes', '--daemonize', 'no',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    return new Promise((resolve, reject) => {
      let log = '';
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (/Ready to accept connections/.test(log)) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.resume();
      child.once('exit', (code) => reject(new Error(`redis-server exited (code ${code}) before it was ready: ${log.slice(-500)}`)));
    });
  }

  /** stops it (SIGTERM: it writes its append-only file out first) and waits for it to be gone */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** a restart on the same port and folder: what it had persisted comes back */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
