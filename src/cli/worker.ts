import { Command } from 'commander';
import { ConfigError } from '../train/config';
import { Progress } from '../train/progress';
import { environmentFor, parseDeviceSpec } from '../device-spec';
import { connectionOf, openRegistry } from '../sweep/queue';
import { SweepWorker } from '../sweep/worker';
import { checkUploadTarget } from '../sweep/upload';
import { usageError } from './train';

// `cudalab worker`: runs sweep trials from a Redis until stopped
export function register(program: Command): void {
  program
    .command('worker')
    .description('take trials from every sweep queued on a Redis and run them, one at a time per device, with the trainer of `cudalab train`')
    .requiredOption('--redis <url>', 'the Redis the sweeps are queued on (redis://host:port)')
    .option('--device <device>', 'cpu, cuda (the first GPU this process sees), cuda:N (the N-th), or auto', 'auto')
    .option('--data <dir>', 'the data folder (CIFAR-10 is downloaded there when missing)', 'data')
    .option('--out <dir>', 'where run directories go: OUT/SWEEP/<trial>/ (shared storage lets another worker resume a dead one\'s trial)', 'runs')
    .option('--no-download', 'fail instead of downloading CIFAR-10 when it is missing')
    .option('--concurrency <n>', 'trials at a time on this device', '1')
    .option('--upload [remote]', "push each finished run directory to the DVC S3 remote (this one, or the default) of the repository that holds --out, for workers without shared storage; `sweep` writes its .dvc file, so `cudalab data pull` fetches it")
    .addHelpText(
      'after',
      `
Start one worker per GPU (--device cuda:0, --device cuda:1, ...) on each
machine; they take trials from every sweep \`cudalab sweep FILE --redis URL\`
queued there. Each trial trains in a process of its own; a worker that dies
(kill -9, a lost machine) stops renewing its trials' locks and, once a lock
expires (30 s), another worker runs that trial again, from its last
checkpoint when --out is shared storage. Ctrl-C stops the worker the same way.

Example:
  $ cudalab worker --redis redis://10.0.0.5:6379 --device cuda:1 --data /shared/data --out /shared/runs`,
    )
    .exitOverride()
    .action(async (opts: Record<string, unknown>, c: Command) => {
      const progress = new Progress(process.stderr, { tty: false });
      let connection, device, concurrency;
      let upload: { remote: string | undefined } | null = null;
      try {
        connection = connectionOf(String(opts.redis));
        device = parseDeviceSpec(opts.device, '--device');
        environmentFor(device, process.env);
        concurrency = Number(opts.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
          throw new ConfigError('--concurrency', `--concurrency must be an integer from 1 to 64, got ${JSON.stringify(opts.concurrency)}`);
        }
        if (opts.upload !== undefined) {
          upload = { remote: opts.upload === true ? undefined : String(opts.upload) };
          try {
            checkUploadTarget(String(opts.out), upload.remote);
          } catch (err) {
            throw new ConfigError('--upload', `--upload: ${(err as Error).message}`);
          }
        }
      } catch (err) {
        if (err instanceof ConfigError) usageError(c, err.message);
        throw err;
      }
      let lastError = '';
      const registry = openRegistry(connection, (err) => {
        if (err.message !== lastError) progress.message(`worker: Redis: ${err.message} (reconnecting)`);
        lastError = err.message;
      });
      registry.on('ready', () => {
        if (lastError !== '') progress.message('worker: Redis is back');
        lastError = '';
      });
      const worker = new SweepWorker({
        connection, registry, device, concurrency, progress, upload,
        data: String(opts.data), out: String(opts.out), download: opts.download !== false,
      });
      // stopping leaves the running trials' jobs to expire back into the queue,
      // as a crash would: nothing is half-recorded
      const stop = (signal: NodeJS.Signals) => {
        progress.message(`worker: ${signal}: stopping; the trials running here go back to the queue when their locks expire`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      progress.message(`worker ${worker.id}: waiting for trials on ${String(opts.redis)}`);
      await worker.run();
    });
}
