import path from 'path';
import { Command } from 'commander';
import { modelNames } from '../models';
import { ConfigError, FIELDS, checkField, flagOf } from '../train/config';
import { DEFAULT_EXPERIMENTS, readExperiments, resultOf, writeResults, type ExperimentOverrides, type ExperimentResult } from '../train/experiments';
import { Progress } from '../train/progress';
import { deviceFor, inRunDir, loadData, runDirOf, startRun } from '../train/run';
import { addSettingOptions, givenSettings, usageError } from './train';
import { useDeviceIndex } from '../device-spec';

// the settings the command line gives every experiment (the table says which)
const COMMAND_FIELDS = FIELDS.filter((f) => f.experiments !== 'entry');

// `cudalab experiments`: the runs of an experiments file, and their table
export function register(program: Command): void {
  const cmd = program
    .command('experiments')
    .description("run an experiments file's training runs and write their results table")
    .option('--config <file>', 'the experiments file', DEFAULT_EXPERIMENTS);
  addSettingOptions(cmd, COMMAND_FIELDS, true)
    .option('--json', 'print the results as JSON on stdout and nothing else there')
    .addHelpText(
      'after',
      `
An experiments file is JSON:
  { "name": "seed", "description": "...",
    "experiments": [ { "name": "exp1", "model": "seedcnn", "lr": 0.001, "batch": 64, "epochs": 3, "seed": 0 }, ... ] }
("defaults": {...} may hold fields shared by every experiment.) An experiment
takes these fields of \`cudalab train\`, named as in its config.json:
  ${FIELDS.filter((f) => f.experiments !== 'command').map((f) => f.name).join(', ')}
${COMMAND_FIELDS.filter((f) => f.experiments === 'both').map(flagOf).join(' and ')}, given here, override every experiment's own.
Writes OUT/<name>/results.md and results.json, and a run directory per
experiment in OUT/<name>/<experiment>/.

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
        // cuda:N picks a GPU for this process, before anything starts CUDA
        opts.device = useDeviceIndex(opts.device, '--device');
        file = String(opts.config);
        const overrides: Record<string, unknown> = {};
        for (const [f, v] of givenSettings(cmd, opts, COMMAND_FIELDS)) overrides[f.name] = checkField(f.name, v, flagOf(f), { models: modelNames });
        config = readExperiments(file, modelNames, overrides as ExperimentOverrides);
        device = deviceFor(config.experiments[0].device);
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      }
      // what the command line sets is the same in every experiment
      const common = config.experiments[0];
      const outDir = common.out;
      // the results table's folder is owned like a run's: one experiments session at a time
      const results: ExperimentResult[] = [];
      await inRunDir(outDir, progress, async () => {
        const data = await loadData(common.data, common.download, progress);
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
