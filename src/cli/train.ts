import { Command, CommanderError } from 'commander';
import { modelNames } from '../models';
import { ConfigError, checkDevice, checkPositiveInt, resolveTrainRequest, TRAIN_DEFAULTS } from '../train/config';
import { Progress } from '../train/progress';
import { resumeRun, startRun } from '../train/run';

/** a usage error: the message on stderr, exit code 2 (via main in index.ts) */
export function usageError(cmd: Command, message: string): never {
  const out = cmd.configureOutput();
  out.outputError?.(`error: ${message}\n`, out.writeErr ?? ((s: string) => process.stderr.write(s)));
  throw new CommanderError(2, 'cudalab.usage', message);
}

// the options only a fresh run takes; --resume uses the run's saved config instead
const FRESH_ONLY = ['lr', 'batch', 'model', 'seed', 'limit', 'name', 'augment', 'stopOnNan', 'out'];

// `cudalab train`: one run, written to runs/NAME/
export function register(program: Command): void {
  program
    .command('train')
    .description('train a model on CIFAR-10 with Adam, evaluating on the test set after every epoch')
    .option('--lr <number>', 'learning rate, > 0 (required unless --resume)')
    .option('--batch <n>', 'batch size, an integer >= 1 (required unless --resume)')
    .option('--epochs <n>', 'epochs', String(TRAIN_DEFAULTS.epochs))
    .option('--model <name>', `model: ${modelNames.join(', ')}`, TRAIN_DEFAULTS.model)
    .option('--device <device>', 'auto (cuda when a usable GPU is there, else cpu), cpu or cuda', TRAIN_DEFAULTS.device)
    .option('--seed <n>', 'seed of every random draw (init, shuffling, dropout)', String(TRAIN_DEFAULTS.seed))
    .option('--data <dir>', 'the data folder (CIFAR-10 is downloaded there when missing)', TRAIN_DEFAULTS.data)
    .option('--limit <n>', 'train on the first N training images and test on the first N test images')
    .option('--out <dir>', 'where run directories go', TRAIN_DEFAULTS.out)
    .option('--name <name>', 'the run directory name (default MODEL-lrLR-bBATCH-sSEED)')
    .option('--json', 'print the summary as JSON on stdout and nothing else there')
    .option('--resume <dir>', 'go on from the last checkpoint of a run directory (runs/NAME) with its saved config (--epochs, --device, --data may change)')
    .option('--stop-on-nan', 'stop when the loss is not finite (by default the run goes on and reports it)')
    .option('--no-download', 'fail instead of downloading CIFAR-10 when it is missing')
    .option('--augment', 'random crops (4 pixels of padding) and horizontal flips')
    .addHelpText(
      'after',
      `
Writes runs/NAME/: config.json, metrics.jsonl (a row per epoch),
checkpoint-epoch-N.safetensors (weights under PyTorch's names) with
.optimizer.safetensors and .json beside it, and summary.json.

Examples:
  $ cudalab train --lr 0.001 --batch 64
  $ cudalab train --lr 0.001 --batch 64 --limit 2000 --epochs 1 --device cpu
  $ cudalab train --resume runs/seedcnn-lr0.001-b64-s0`,
    )
    // usage errors throw (exit code 2 via main) instead of exiting the process
    .exitOverride()
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const progress = new Progress(process.stderr);
      let summary;
      try {
        if (opts.resume !== undefined) {
          const given = FRESH_ONLY.filter((k) => cmd.getOptionValueSource(k) === 'cli');
          if (given.length > 0) {
            progress.message(`note: --resume uses the run's saved config; ignoring ${given.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')}`);
          }
          const fromCli = (k: string) => cmd.getOptionValueSource(k) === 'cli';
          summary = await resumeRun(
            String(opts.resume),
            {
              device: fromCli('device') ? checkDevice(opts.device) : undefined,
              epochs: fromCli('epochs') ? checkPositiveInt(opts.epochs, '--epochs', 100_000) : undefined,
              data: fromCli('data') ? String(opts.data) : undefined,
              download: opts.download as boolean,
            },
            { progress },
          );
        } else {
          const req = resolveTrainRequest(
            {
              lr: opts.lr,
              batch: opts.batch,
              epochs: opts.epochs,
              model: opts.model,
              device: opts.device,
              seed: opts.seed,
              data: opts.data,
              limit: opts.limit,
              out: opts.out,
              name: opts.name,
              augment: Boolean(opts.augment),
              stopOnNan: Boolean(opts.stopOnNan),
              download: opts.download as boolean,
            },
            modelNames,
          );
          summary = await startRun(req, { progress });
        }
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      }
      if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else progress.message(`test accuracy ${(100 * summary.test_accuracy).toFixed(2)}% after ${summary.epochs.length} epochs; ${summary.run}`);
    });
}
