import path from 'path';
import { Command } from 'commander';
import { ConfigError } from '../train/config';
import { Progress } from '../train/progress';
import { native } from '../native';
import { deviceSpecText, parseDeviceSpec, type DeviceSpec } from '../device-spec';
import { readSweepFile } from '../sweep/sweep-file';
import { expandTrials } from '../sweep/trials';
import { runSweepLocally } from '../sweep/local-runner';
import { runSweepOnRedis } from '../sweep/remote-runner';
import { cancelSweep, checkSweepName, connectionOf, isListed, openQueue, openRegistry, rowsOfQueue, trialsOfQueue } from '../sweep/queue';
import { bestTrial, progressLine, RESULTS_MD, sweepDir, type TrialResult } from '../sweep/results';
import { usageError } from './train';

function attemptsOf(text: unknown): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new ConfigError('--attempts', `--attempts must be an integer from 1 to 100, got ${JSON.stringify(text)}`);
  return n;
}

/** the devices a local sweep runs on: auto means every GPU, else the CPU */
function localDevices(spec: DeviceSpec): DeviceSpec[] {
  if (spec.kind !== 'auto') return [spec];
  const cuda = native().cudaInfo();
  return cuda.available && cuda.devices.length > 0 ? cuda.devices.map((_, index) => ({ kind: 'cuda', index })) : [{ kind: 'cpu' }];
}

function printRows(rows: TrialResult[], json: boolean, progress: Progress, where: string): void {
  if (json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  const best = bestTrial(rows);
  progress.message(`${progressLine(rows)}${where ? `; ${where}` : ''}`);
  for (const r of rows.filter((x) => x.status === 'failed')) progress.message(`  failed: ${r.name}: ${r.error}`);
  if (best) progress.message(`best: ${best.name} ${JSON.stringify(best.params)}`);
}

// `cudalab sweep FILE`, `cudalab sweep status NAME`, `cudalab sweep cancel NAME`
export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('run a sweep file\'s trials (a grid, a seeded random search, seeds) on this machine, or through a Redis queue that `cudalab worker`s take them from')
    .argument('<file>', 'the sweep file (JSON; see below)')
    // its options before `status` or `cancel` are its own; after, theirs (both have --redis)
    .enablePositionalOptions()
    .option('--redis <url>', 'queue the trials on this Redis (redis://host:port) for workers, and wait for them; without it the trials run here')
    .option('--out <dir>', 'where OUT/SWEEP/results.md, results.json and (here) the run directories go', 'runs')
    .option('--data <dir>', 'the data folder, for trials run here (workers have their own --data)', 'data')
    .option('--device <device>', 'for trials run here: cpu, cuda, cuda:N, or auto (every GPU, one trial at a time each; else the CPU)', 'auto')
    .option('--no-download', 'fail instead of downloading CIFAR-10 when it is missing (trials run here)')
    .option('--attempts <n>', 'tries of a trial before it is recorded as failed', '2')
    .option('--json', 'print the results rows as JSON on stdout and nothing else there')
    .addHelpText(
      'after',
      `
A sweep file is JSON:
  { "name": "lr-batch", "description": "...",
    "base": { "model": "seedcnn", "epochs": 3 },
    "grid": { "lr": [0.0001, 0.001, 0.01], "batch": [32, 128, 512] },
    "random": { "trials": 20, "seed": 0,
                "space": { "lr": { "log": [1e-4, 1e-1] }, "batch": { "int": [32, 512] },
                           "optimizer": { "choice": ["adam", "adamw"] } } },
    "seeds": [0, 1] }
base, grid and random.space take the settings of \`cudalab train\`, named as in
its config.json (all but device, data, out, download and name, which belong
to whoever runs the trial). The trials are every grid point with every random
draw (drawn once, reproducibly, from random.seed; "uniform": [lo, hi] and
"uniform"/"log" values keep 4 significant digits), each with every seed. A
trial's id is a hash of its whole config: running a sweep again runs only the
trials it has not finished (done or failed); a changed base makes new trials.

Writes OUT/SWEEP/results.md and results.json: a row per trial with its
parameters, seed, status, final and best test accuracy, seconds and the
worker that ran it. Trials run here go to OUT/SWEEP/<trial>/, as \`cudalab
train\` writes a run; workers write to their own --out (use shared storage
to resume a killed worker's trial from its checkpoint).

Subcommands (with --redis):
  cudalab sweep status NAME --redis URL   the sweep's trials as the queue has them
  cudalab sweep cancel NAME --redis URL   stop handing out its trials and drop its queue

Examples:
  $ cudalab sweep experiments/sweep-lr-batch.json
  $ cudalab sweep experiments/sweep-lr-batch.json --redis redis://127.0.0.1:6379
  $ cudalab worker --redis redis://127.0.0.1:6379 --device cuda:1`,
    )
    .exitOverride()
    .action(async (file: string, opts: Record<string, unknown>, c: Command) => {
      const progress = new Progress(process.stderr);
      let sweep, trials, attempts, devices: DeviceSpec[] = [], connection;
      try {
        sweep = readSweepFile(file);
        trials = expandTrials(sweep);
        attempts = attemptsOf(opts.attempts);
        if (opts.redis !== undefined) connection = connectionOf(String(opts.redis));
        else devices = localDevices(parseDeviceSpec(opts.device, '--device'));
      } catch (err) {
        if (err instanceof ConfigError) usageError(c, err.message);
        throw err;
      }
      const out = String(opts.out);
      progress.message(`sweep ${sweep.name}: ${trials.length} trials${connection ? ` on ${String(opts.redis)}` : ` on ${devices.map(deviceSpecText).join(', ')}`}`);
      const rows = connection
        ? await runSweepOnRedis(sweep, trials, { connection, out, attempts, progress })
        : await runSweepLocally(sweep, trials, { out, data: String(opts.data), download: opts.download !== false, devices, attempts, progress });
      printRows(rows, Boolean(opts.json), progress, `results: ${path.join(sweepDir(out, sweep.name), RESULTS_MD)}`);
      if (rows.some((r) => r.status === 'failed')) process.exitCode = 1;
    });

  // status and cancel: the sweep's queue on that Redis, its trials, and the
  // sweeps registry, closed again after `use`; a sweep Redis has never heard of is an error
  const withSweepQueue = async (
    c: Command,
    opts: Record<string, unknown>,
    name: string,
    use: (queue: ReturnType<typeof openQueue>, registry: ReturnType<typeof openRegistry>, trials: Awaited<ReturnType<typeof trialsOfQueue>>) => Promise<void>,
  ): Promise<void> => {
    let connection: ReturnType<typeof connectionOf>;
    try {
      if (opts.redis === undefined) throw new ConfigError('--redis', '--redis is required (redis://host:port)');
      connection = connectionOf(String(opts.redis));
      checkSweepName(name, 'NAME');
    } catch (err) {
      if (err instanceof ConfigError) usageError(c, err.message);
      throw err;
    }
    const queue = openQueue(name, connection);
    const registry = openRegistry(connection, () => undefined);
    try {
      const trials = await trialsOfQueue(queue);
      if (trials.length === 0 && !(await isListed(registry, name))) throw new Error(`no sweep ${name} on ${String(opts.redis)}`);
      await use(queue, registry, trials);
    } finally {
      await queue.close();
      registry.disconnect();
    }
  };

  cmd
    .command('status')
    .description("a sweep's trials as its queue has them: done, running (and where), queued, failed, the best so far")
    .argument('<name>', 'the sweep name (its file\'s "name")')
    .requiredOption('--redis <url>', 'the Redis the sweep is queued on (redis://host:port)')
    .option('--json', 'print the rows as JSON')
    .exitOverride()
    .action(async (name: string, opts: Record<string, unknown>, c: Command) => {
      await withSweepQueue(c, opts, name, async (queue, _registry, trials) => {
        const rows = await rowsOfQueue(queue, trials);
        if (opts.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        else {
          process.stdout.write(`sweep ${name}: ${progressLine(rows)}\n`);
          for (const r of rows) {
            const acc = r.test_accuracy === null ? '' : ` ${(100 * r.test_accuracy).toFixed(2)}%`;
            process.stdout.write(`  ${r.status.padEnd(7)} ${r.name}${acc}${r.worker ? ` (${r.worker})` : ''}${r.error ? `: ${r.error}` : ''}\n`);
          }
        }
      });
    });

  cmd
    .command('cancel')
    .description('cancel a sweep: workers take no more of its trials and its queue is dropped (a trial running now finishes, unrecorded)')
    .argument('<name>', 'the sweep name')
    .requiredOption('--redis <url>', 'the Redis the sweep is queued on (redis://host:port)')
    .exitOverride()
    .action(async (name: string, opts: Record<string, unknown>, c: Command) => {
      await withSweepQueue(c, opts, name, async (queue, registry, trials) => {
        await cancelSweep(registry, queue);
        process.stdout.write(`cancelled sweep ${name} (${trials.length} trials dropped from its queue)\n`);
      });
    });
}
