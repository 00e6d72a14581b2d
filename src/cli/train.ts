import fs from 'fs';
import { Command, CommanderError } from 'commander';
import { modelNames } from '../models';
import { ConfigError, FIELDS, checkField, flagOf, helpOf, parseRunFile, resolveTrainRequest, type FieldSpec } from '../train/config';
import { Progress } from '../train/progress';
import { resumeRun, startRun, type ResumeOverrides } from '../train/run';
import { useDeviceIndex } from '../device-spec';

/** a usage error: the message on stderr, exit code 2 (via main in index.ts) */
export function usageError(cmd: Command, message: string): never {
  const out = cmd.configureOutput();
  out.outputError?.(`error: ${message}\n`, out.writeErr ?? ((s: string) => process.stderr.write(s)));
  throw new CommanderError(2, 'cudalab.usage', message);
}

/**
 * an option per run setting, from the settings table. no defaults go to
 * commander (the help shows them): a value is there only when the user gave
 * it, and the table's checks fill in the rest
 */
export function addSettingOptions(cmd: Command, fields: readonly FieldSpec[], forExperiments = false): Command {
  for (const f of fields) {
    cmd.option(f.kind.placeholder === null ? flagOf(f) : `${flagOf(f)} ${f.kind.placeholder}`, helpOf(f, modelNames, forExperiments));
  }
  return cmd;
}

/** the settings the command line gave, as given (text), by field name */
export function givenSettings(cmd: Command, opts: Record<string, unknown>, fields: readonly FieldSpec[]): Map<FieldSpec, unknown> {
  const given = new Map<FieldSpec, unknown>();
  for (const f of fields) if (cmd.getOptionValueSource(f.name) === 'cli') given.set(f, opts[f.name]);
  return given;
}

const RESUMABLE = FIELDS.filter((f) => f.resume);

function readRunFile(file: string): { path: string; settings: ReturnType<typeof parseRunFile> } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError('--config', `--config ${file}: cannot read it (${e.code ?? e.message})`);
  }
  return { path: file, settings: parseRunFile(text, file, modelNames) };
}

// `cudalab train`: one run, written to runs/NAME/
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model on CIFAR-10 (Adam, AdamW or SGD), evaluating on the test set after every epoch');
  addSettingOptions(cmd, FIELDS)
    .option('--config <file>', "a run config: a JSON object of these settings by config.json's names; flags given too win")
    .option('--json', 'print the summary as JSON on stdout and nothing else there')
    .option(
      '--resume <dir>',
      `go on from the last checkpoint of a run directory (runs/NAME) with its saved config (${RESUMABLE.map(flagOf).join(', ')} may change)`,
    )
    .addHelpText(
      'after',
      `
Writes runs/NAME/: config.json (the settings, each named as its flag in
camel case: stopOnNan for --stop-on-nan), metrics.jsonl (a row per epoch),
checkpoint-epoch-N.safetensors (weights under PyTorch's names) with
.optimizer.safetensors and .json beside it, and summary.json.

Examples:
  $ cudalab train --lr 0.001 --batch 64
  $ cudalab train --lr 0.001 --batch 64 --limit 2000 --epochs 1 --device cpu
  $ cudalab train --lr 0.05 --batch 64 --optimizer sgd --momentum 0.9 --nesterov
  $ cudalab train --config experiments/airbench94.json --epochs 2 --device cpu
  $ cudalab train --resume runs/seedcnn-lr0.001-b64-s0`,
    )
    // usage errors throw (exit code 2 via main) instead of exiting the process
    .exitOverride()
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const progress = new Progress(process.stderr);
      // cuda:N picks a GPU for this process, before anything starts CUDA
      try {
        opts.device = useDeviceIndex(opts.device, '--device');
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      }
      const given = givenSettings(cmd, opts, FIELDS);
      let summary;
      try {
        if (opts.resume !== undefined && opts.config !== undefined) {
          throw new ConfigError('--config', '--config starts a run; --resume goes on with a run\'s saved config: give one of them');
        }
        if (opts.resume !== undefined) {
          const ignored = [...given.keys()].filter((f) => !f.resume);
          if (ignored.length > 0) progress.message(`note: --resume uses the run's saved config; ignoring ${ignored.map(flagOf).join(', ')}`);
          const overrides: Record<string, unknown> = { download: opts.download };
          for (const f of RESUMABLE) if (given.has(f)) overrides[f.name] = checkField(f.name, given.get(f), flagOf(f), { models: modelNames });
          summary = await resumeRun(String(opts.resume), overrides as ResumeOverrides, { progress });
        } else {
          const file = opts.config === undefined ? undefined : readRunFile(String(opts.config));
          const req = resolveTrainRequest(Object.fromEntries([...given].map(([f, v]) => [f.name, v])), modelNames, file);
          summary = await startRun(req, { progress });
        }
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      }
      if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else {
        const tta = summary.test_accuracy_tta === null ? '' : `, ${(100 * summary.test_accuracy_tta).toFixed(2)}% with test-time augmentation (level ${summary.tta})`;
        progress.message(`test accuracy ${(100 * summary.test_accuracy).toFixed(2)}%${tta} after ${summary.epochs_planned} epoch${summary.epochs_planned === 1 ? "" : "s"}; ${summary.run}`);
      }
    });
}
