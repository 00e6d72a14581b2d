// an experiments file: a named list of training runs, run one after another
// with the same data, their results gathered into one table
// (runs/<config name>/results.md and results.json). each run lives in
// runs/<config name>/<experiment name>/ like any `cudalab train` run.
import fs from 'fs';
import path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '../atomic-file';
import { ConfigError, FIELDS, checkField, completeSettings, fieldSpec, flagOf, jsonFields, jsonFileFields, type RunSettings } from './config';
import type { NanAt, RunSummary } from './metrics';

export const DEFAULT_EXPERIMENTS = path.join('experiments', 'seed.json');

export interface ExperimentsFile {
  name: string;
  description: string;
  experiments: RunSettings[];
}

const TOP_FIELDS = ['name', 'description', 'defaults', 'experiments'];

/** what the command line sets for every experiment (checked already) */
export type ExperimentOverrides = Partial<RunSettings>;

// the fields an experiment may set (everything else is a typo worth reporting)
const ENTRY_FIELDS = FIELDS.filter((f) => f.experiments !== 'command').map((f) => f.name);

function experimentFields(value: unknown, where: string, models: readonly string[]): Partial<RunSettings> {
  const out: Partial<Record<keyof RunSettings, unknown>> = {};
  for (const [key, v] of jsonFields(value, where)) {
    const spec = fieldSpec(key);
    const argument = `${where}.${key}`;
    if (spec?.experiments === 'command') {
      throw new ConfigError(argument, `${argument} is set on the command line for every experiment (${flagOf(spec)}), not in the file`);
    }
    if (!spec) throw new ConfigError(argument, `${argument} is not a known field (expected ${ENTRY_FIELDS.join(', ')})`);
    out[spec.name] = checkField(spec.name, v, argument, { models, strict: true });
  }
  return out as Partial<RunSettings>;
}

/** parses and checks an experiments file; every error names the file and the field */
export function parseExperiments(text: string, file: string, models: readonly string[], overrides: ExperimentOverrides = {}): ExperimentsFile {
  const top = jsonFileFields(text, file, TOP_FIELDS);
  const name = checkField('name', top.get('name'), `${file}: name`, { strict: true });
  const description = top.get('description') ?? '';
  if (typeof description !== 'string') {
    throw new ConfigError(`${file}: description`, `${file}: description must be a string, got ${JSON.stringify(description)}`);
  }
  const defaults = top.has('defaults') ? experimentFields(top.get('defaults'), `${file}: defaults`, models) : {};
  if (defaults.name !== undefined) throw new ConfigError(`${file}: defaults.name`, `${file}: defaults.name makes no sense: each experiment names itself`);
  const entries = top.get('experiments');
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new ConfigError(`${file}: experiments`, `${file}: experiments must be a non-empty array of {name, lr, batch, ...}`);
  }
  // what the command line sets: for every run, over the file's own values
  const command: Partial<RunSettings> = {};
  for (const f of FIELDS) {
    const v = overrides[f.name];
    if (f.experiments !== 'entry' && v !== undefined) (command as Record<string, unknown>)[f.name] = v;
  }
  const seen = new Set<string>();
  const experiments = entries.map((e, i) => {
    const where = `${file}: experiments[${i}]`;
    const given = { ...defaults, ...experimentFields(e, where, models), ...command, out: path.join(overrides.out ?? 'runs', name) };
    if (given.name === undefined) throw new ConfigError(`${where}.name`, `${where}.name is required (the run's directory name)`);
    const settings = completeSettings(given, (field) => (fieldSpec(field)!.experiments === 'command' ? flagOf(fieldSpec(field)!) : `${where}.${field}`));
    if (seen.has(settings.name)) throw new ConfigError(`${where}.name`, `${where}.name "${settings.name}" is used twice`);
    seen.add(settings.name);
    return settings;
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
  /** with test-time augmentation, when the experiment asked for it */
  test_accuracy_tta: number | null;
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
    test_accuracy_tta: summary.test_accuracy_tta ?? null,
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
    const tta = r.test_accuracy_tta === null || r.test_accuracy_tta === undefined ? '' : ` (${(100 * r.test_accuracy_tta).toFixed(2)}% with TTA)`;
    const note = r.nan ? `loss not finite from epoch ${r.nan.epoch}, step ${r.nan.step}` : '';
    lines.push(
      `| ${r.name} | ${r.model} | ${r.lr} | ${r.batch} | ${r.epochs} | ${(100 * r.test_accuracy).toFixed(2)}%${tta} | ` +
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
