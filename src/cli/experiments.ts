import path from 'path';
import { Command } from 'commander';
import { modelNames } from '../models';
import { ConfigError, checkDevice, checkPositiveInt } from '../train/config';
import { DEFAULT_EXPERIMENTS, readExperiments, resultOf, writeResults, type ExperimentResult } from '../train/experiments';
import { Progress } from '../train/progress';
import { deviceFor, inRunDir, loadData, runDirOf, startRun } from '../train/run';
import { usageError } from './train';

// `cudalab experiments`: the runs of an experiments file, and their table
export function register(program: Command): void {
  program
    .command('experiments')
    .description("run an experiments file's training runs and write their results table")
    .option('--config <file>', 'the experiments file', DEFAULT_EXPERIMENTS)
    .option('--data <dir>', 'the data folder (CIFAR-10 is downloaded there when missing)', 'data')
    .option('--device <device>', 'auto, cpu or cuda', 'auto')
    .option('--epochs <n>', "epochs for every experiment (default: each experiment's own)")
    .option('--limit <n>', 'train and test on the first N images of each split')
    .option('--out <dir>', 'where run directories go: OUT/<config name>/<experiment>/', 'runs')
    .option('--no-download', 'fail instead of downloading CIFAR-10 when it is missing')
    .option('--json', 'print the results as JSON on stdout and nothing else there')
    .addHelpText(
      'after',
      `
An experiments file is JSON:
  { "name": "seed", "description": "...",
    "experiments": [ { "name": "exp1", "model": "seedcnn", "lr": 0.001, "batch": 64, "epochs": 3, "seed": 0 }, ... ] }
("defaults": {...} may hold fields shared by every experiment.)
Writes OUT/<name>/results.md and results.json, and a run directory per experiment.

Examples:
  $ cudalab experiments
  $ cudalab experiments --limit 2000 --epochs 1 --device cpu`,
    )
    .exitOverride()
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const progress = new Progress(process.stderr);
      let file: string;
      let config;
      let device;
      try {
        file = String(opts.config);
        const dev = checkDevice(opts.device);
        config = readExperiments(file, modelNames, {
          data: String(opts.data),
          device: dev,
          epochs: opts.epochs === undefined ? undefined : checkPositiveInt(opts.epochs, '--epochs', 100_000),
          limit: opts.limit === undefined ? undefined : checkPositiveInt(opts.limit, '--limit'),
          out: String(opts.out),
          download: opts.download as boolean,
        });
        device = deviceFor(dev);
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      }
      const outDir = path.join(String(opts.out), config.name);
      // the results table's folder is owned like a run's: one experiments session at a time
      const results: ExperimentResult[] = [];
      await inRunDir(outDir, progress, async () => {
        const data = await loadData(String(opts.data), opts.download as boolean, progress);
        for (const [i, req] of config.experiments.entries()) {
          progress.message(`experiment ${i + 1}/${config.experiments.length}: ${req.name}`);
          const summary = await startRun({ ...req, device }, { progress, data });
          results.push(resultOf(summary, runDirOf(req.out, req.name)));
          // the table grows as runs finish, so a cut-short session keeps what it got
          writeResults(outDir, config, file, results);
        }
      });
      if (opts.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      else progress.message(`results: ${path.join(outDir, 'results.md')}`);
    });
}
