import fs from 'fs';
import path from 'path';
import { ReportError } from './report-error';
import type { SweepTable, SweepTrialRow } from './sweep';

// reading a runs folder as `cudalab train` and `cudalab experiments` leave it:
//   runs/NAME/{config.json, metrics.jsonl, summary.json}          a training run
//   runs/CONFIG/results.json + runs/CONFIG/NAME/...               an experiments table and its runs
//   runs/SWEEP/results.json ({sweep, trials}) + runs/SWEEP/TRIAL/  a sweep's table and its trials' runs
// a run is any folder (up to MAX_DEPTH below the root) with metrics.jsonl,
// config.json or summary.json; a run still going has metrics and no summary.

const MAX_DEPTH = 3;

export interface MetricsRow {
  epoch: number;
  train_loss: number | null;
  train_accuracy: number | null;
  test_loss: number | null;
  test_accuracy: number | null;
  seconds: number | null;
  images_per_second: number | null;
  nan_at: { epoch: number; step: number } | null;
}

export interface RunRecord {
  name: string; // the path below the runs folder, with '/' separators
  dir: string;
  config: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  metrics: MetricsRow[];
  /** a file of the run that cannot be read (`file` is FILE or FILE:LINE): the run is shown as damaged, the others as usual */
  damaged: { file: string; message: string } | null;
}

export interface ResultRow {
  name: string;
  model?: string;
  lr?: number;
  batch?: number;
  epochs?: number;
  seed?: number;
  device?: string;
  test_accuracy?: number;
  seconds_per_epoch?: number;
  nan?: { epoch: number; step: number } | null;
  run?: string;
  [key: string]: unknown;
}

export interface ResultsTable {
  name: string; // the experiments folder below the runs folder
  file: string;
  rows: ResultRow[];
}

export interface RunsFolder {
  dir: string;
  runs: RunRecord[];
  results: ResultsTable[];
  sweeps: SweepTable[];
}

const NUMBER_FIELDS = ['train_loss', 'train_accuracy', 'test_loss', 'test_accuracy', 'seconds', 'images_per_second'] as const;

// one metrics line, checked: the epoch is required, the rest are numbers or
// null (a loss that went NaN is written as null)
function parseMetricsLine(line: string, file: string, lineNo: number): MetricsRow {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    throw new ReportError('ERR_METRICS', `${file}:${lineNo}`, `${file}: line ${lineNo} is not JSON (${(err as Error).message}): ${line.length > 80 ? line.slice(0, 77) + '...' : line}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ReportError('ERR_METRICS', `${file}:${lineNo}`, `${file}: line ${lineNo} is not a JSON object (expected {"epoch": 1, "train_loss": ..., ...})`);
  }
  const o = json as Record<string, unknown>;
  if (typeof o.epoch !== 'number' || !Number.isFinite(o.epoch)) {
    throw new ReportError('ERR_METRICS', `${file}:${lineNo}`, `${file}: line ${lineNo} has no numeric "epoch" (got ${JSON.stringify(o.epoch)})`);
  }
  const row: MetricsRow = {
    epoch: o.epoch, train_loss: null, train_accuracy: null, test_loss: null, test_accuracy: null,
    seconds: null, images_per_second: null, nan_at: null,
  };
  for (const key of NUMBER_FIELDS) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number') {
      throw new ReportError('ERR_METRICS', `${file}:${lineNo}`, `${file}: line ${lineNo}: "${key}" must be a number or null, got ${JSON.stringify(v)}`);
    }
    row[key] = v;
  }
  const nan = o.nan_at as { epoch?: unknown; step?: unknown } | null | undefined;
  if (nan && typeof nan === 'object' && typeof nan.epoch === 'number' && typeof nan.step === 'number') row.nan_at = { epoch: nan.epoch, step: nan.step };
  return row;
}

export function readMetricsFile(file: string): MetricsRow[] {
  const text = fs.readFileSync(file, 'utf8');
  const rows: MetricsRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    rows.push(parseMetricsLine(line, file, i + 1));
  });
  return rows;
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReportError('ERR_RUN_FILE', file, `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ReportError('ERR_RUN_FILE', file, `${file}: not valid JSON (${(err as Error).message})`);
  }
}

function readObject(file: string): Record<string, unknown> | null {
  if (!fs.existsSync(file)) return null;
  const v = readJsonFile(file);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ReportError('ERR_RUN_FILE', file, `${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

// a sweep's results.json is an object {sweep, parameters, trials: [...]}; an experiments table is an array
function isSweepResults(v: unknown): v is { sweep: string; trials: unknown[] } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { sweep?: unknown }).sweep === 'string';
}

function readSweep(file: string, name: string, v: { sweep: string; trials: unknown[]; parameters?: unknown; description?: unknown; file?: unknown }): SweepTable {
  if (!Array.isArray(v.trials)) throw new ReportError('ERR_RUN_FILE', file, `${file}: a sweep's results must have "trials": [...]`);
  const trials = v.trials.map((row, i) => {
    const r = row as Partial<SweepTrialRow>;
    if (r === null || typeof r !== 'object' || typeof r.name !== 'string' || typeof r.status !== 'string' || r.params === null || typeof r.params !== 'object') {
      throw new ReportError('ERR_RUN_FILE', file, `${file}: trials[${i}] must be an object with "name", "status" and "params"`);
    }
    return r as SweepTrialRow;
  });
  const parameters = Array.isArray(v.parameters) ? v.parameters.filter((p): p is string => typeof p === 'string') : [];
  return {
    name, file, sweep: v.sweep, trials, parameters,
    description: typeof v.description === 'string' ? v.description : '',
  };
}

function readResults(file: string, v: unknown = readJsonFile(file)): ResultRow[] {
  if (!Array.isArray(v)) throw new ReportError('ERR_RUN_FILE', file, `${file}: expected a JSON array of {name, lr, batch, test_accuracy, ...}`);
  return v.map((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row) || typeof (row as ResultRow).name !== 'string') {
      throw new ReportError('ERR_RUN_FILE', file, `${file}: entry ${i} must be an object with a "name" string`);
    }
    return row as ResultRow;
  });
}

// one run's files; one that cannot be read marks the run damaged instead of
// stopping the report for every other run
function readRun(dir: string, name: string, hasMetrics: boolean): RunRecord {
  const run: RunRecord = { name, dir, config: null, summary: null, metrics: [], damaged: null };
  try {
    run.config = readObject(path.join(dir, 'config.json'));
    run.summary = readObject(path.join(dir, 'summary.json'));
    run.metrics = hasMetrics ? readMetricsFile(path.join(dir, 'metrics.jsonl')) : [];
  } catch (err) {
    if (!(err instanceof ReportError)) throw err;
    run.metrics = [];
    run.damaged = { file: err.file, message: err.message };
  }
  return run;
}

// "exp10" after "exp9": numbers inside names compare as numbers
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function readRuns(dir: string): RunsFolder {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new ReportError('ERR_RUNS_DIR', dir, `runs folder ${dir} does not exist (expected the folder \`cudalab train\` writes, e.g. runs/)`);
  }
  if (!stat.isDirectory()) throw new ReportError('ERR_RUNS_DIR', dir, `${dir} is not a folder (expected a runs folder such as runs/)`);

  const runs: RunRecord[] = [];
  const results: ResultsTable[] = [];
  const sweeps: SweepTable[] = [];
  const visit = (folder: string, rel: string, depth: number) => {
    const entries = fs.readdirSync(folder, { withFileTypes: true });
    const has = (name: string) => entries.some((e) => e.isFile() && e.name === name);
    if (depth > 0 && (has('metrics.jsonl') || has('config.json') || has('summary.json'))) {
      runs.push(readRun(folder, rel, has('metrics.jsonl')));
    }
    if (has('results.json')) {
      const file = path.join(folder, 'results.json');
      const name = rel || path.basename(path.resolve(folder));
      const v = readJsonFile(file);
      if (isSweepResults(v)) sweeps.push(readSweep(file, name, v));
      else results.push({ name, file, rows: readResults(file, v) });
    }
    if (depth >= MAX_DEPTH) return;
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.')) visit(path.join(folder, e.name), rel ? `${rel}/${e.name}` : e.name, depth + 1);
    }
  };
  visit(dir, '', 0);
  if (runs.length === 0 && results.length === 0 && sweeps.length === 0) {
    throw new ReportError('ERR_NO_RUNS', dir, `no runs in ${dir}: expected ${path.join(dir, '<run>', 'metrics.jsonl')} (written by \`cudalab train\`) or a results.json (written by \`cudalab experiments\`)`);
  }
  runs.sort((a, b) => naturalCompare(a.name, b.name));
  results.sort((a, b) => naturalCompare(a.name, b.name));
  sweeps.sort((a, b) => naturalCompare(a.name, b.name));
  return { dir, runs, results, sweeps };
}
