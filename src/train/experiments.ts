// an experiments file: a named list of training runs, run one after another
// with the same data, their results gathered into one table
// (runs/<config name>/results.md and results.json). each run lives in
// runs/<config name>/<experiment name>/ like any `cudalab train` run.
import fs from 'fs';
import path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '../atomic-file';
import { ConfigError, checkName, resolveTrainRequest, type TrainArgs, type TrainRequest } from './config';
import type { NanAt, RunSummary } from './metrics';

export const DEFAULT_EXPERIMENTS = path.join('experiments', 'seed.json');

export interface ExperimentsFile {
  name: string;
  description: string;
  experiments: TrainRequest[];
}

// the fields an experiment may set (everything else is a typo worth reporting)
const EXPERIMENT_FIELDS: Record<string, keyof TrainArgs> = {
  name: 'name',
  model: 'model',
  lr: 'lr',
  batch: 'batch',
  epochs: 'epochs',
  seed: 'seed',
  augment: 'augment',
};
const TOP_FIELDS = ['name', 'description', 'defaults', 'experiments'];

/** what the command line sets for every experiment */
export interface ExperimentOverrides {
  data?: string;
  device?: string;
  epochs?: number;
  limit?: number;
  out?: string;
  download?: boolean;
}

function fieldsOf(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(where, `${where} must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

function experimentArgs(value: unknown, where: string): TrainArgs {
  const fields = fieldsOf(value, where);
  const args: TrainArgs = {};
  for (const [key, v] of Object.entries(fields)) {
    const arg = EXPERIMENT_FIELDS[key];
    if (!arg) {
      throw new ConfigError(`${where}.${key}`, `${where}.${key} is not a known field (expected ${Object.keys(EXPERIMENT_FIELDS).join(', ')})`);
    }
    // numbers must be JSON numbers here, not strings that look like them
    if (['lr', 'batch', 'epochs', 'seed'].includes(key) && typeof v !== 'number') {
      throw new ConfigError(`${where}.${key}`, `${where}.${key} must be a number, got ${JSON.stringify(v)}`);
    }
    (args as Record<string, unknown>)[arg] = v;
  }
  return args;
}

/** parses and checks an experiments file; every error names the file and the field */
export function parseExperiments(text: string, file: string, models: readonly string[], overrides: ExperimentOverrides = {}): ExperimentsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, `${file}: not valid JSON (${(err as Error).message})`);
  }
  const top = fieldsOf(json, file);
  for (const key of Object.keys(top)) {
    if (!TOP_FIELDS.includes(key)) throw new ConfigError(`${file}: ${key}`, `${file}: ${key} is not a known field (expected ${TOP_FIELDS.join(', ')})`);
  }
  const name = checkName(top.name, `${file}: name`);
  if (top.description !== undefined && typeof top.description !== 'string') {
    throw new ConfigError(`${file}: description`, `${file}: description must be a string, got ${JSON.stringify(top.description)}`);
  }
  const description = top.description ?? '';
  const defaults = top.defaults === undefined ? {} : experimentArgs(top.defaults, `${file}: defaults`);
  if ('name' in defaults) throw new ConfigError(`${file}: defaults.name`, `${file}: defaults.name makes no sense: each experiment names itself`);
  if (!Array.isArray(top.experiments) || top.experiments.length === 0) {
    throw new ConfigError(`${file}: experiments`, `${file}: experiments must be a non-empty array of {name, lr, batch, ...}`);
  }
  const seen = new Set<string>();
  const experiments = top.experiments.map((e, i) => {
    const where = `${file}: experiments[${i}]`;
    const args = { ...defaults, ...experimentArgs(e, where) };
    if (args.name === undefined) throw new ConfigError(`${where}.name`, `${where}.name is required (the run's directory name)`);
    const req = resolveTrainRequest(
      {
        ...args,
        epochs: overrides.epochs ?? args.epochs,
        device: overrides.device,
        data: overrides.data,
        limit: overrides.limit,
        download: overrides.download,
        out: path.join(overrides.out ?? 'runs', name),
      },
      models,
      where,
    );
    if (seen.has(req.name)) throw new ConfigError(`${where}.name`, `${where}.name "${req.name}" is used twice`);
    seen.add(req.name);
    return req;
  });
  return { name, description, experiments };
}

export function readExperiments(file: string, models: readonly string[], overrides: ExperimentOverrides = {}): ExperimentsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('--config', `--config ${file}: cannot read the experiments file (${code === 'ENOENT' ? 'no such file' : code})`);
  }
  return parseExperiments(text, file, models, overrides);
}

/** one row of results.json */
export interface ExperimentResult {
  name: string;
  lr: number;
  batch: number;
  epochs: number;
  model: string;
  seed: number;
  device: string;
  test_accuracy: number;
  seconds_per_epoch: number;
  nan: NanAt | null;
  run: string;
}

export function resultOf(summary: RunSummary, runDir: string): ExperimentResult {
  return {
    name: summary.name,
    lr: summary.lr,
    batch: summary.batch,
    epochs: summary.epochs.length,
    model: summary.model,
    seed: summary.seed,
    device: summary.device,
    test_accuracy: summary.test_accuracy,
    seconds_per_epoch: summary.seconds_per_epoch,
    nan: summary.nan,
    run: runDir,
  };
}

export function resultsMarkdown(config: ExperimentsFile, file: string, results: ExperimentResult[]): string {
  const lines = [`# Experiments: ${config.name}`, ''];
  if (config.description) lines.push(config.description, '');
  lines.push(`From \`${file}\`, ${new Date().toISOString().slice(0, 10)}.`, '');
  lines.push('| experiment | model | lr | batch | epochs | test accuracy | seconds per epoch | device | note |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const note = r.nan ? `loss not finite from epoch ${r.nan.epoch}, step ${r.nan.step}` : '';
    lines.push(
      `| ${r.name} | ${r.model} | ${r.lr} | ${r.batch} | ${r.epochs} | ${(100 * r.test_accuracy).toFixed(2)}% | ` +
        `${r.seconds_per_epoch.toFixed(2)} | ${r.device} | ${note} |`,
    );
  }
  return lines.join('\n') + '\n';
}

/** writes results.json and results.md under outDir (atomically, so a reader never sees half a table) */
export function writeResults(outDir: string, config: ExperimentsFile, file: string, results: ExperimentResult[]): void {
  writeJsonAtomic(path.join(outDir, 'results.json'), results);
  writeFileAtomic(path.join(outDir, 'results.md'), resultsMarkdown(config, file, results));
}
