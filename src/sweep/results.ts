// a sweep's results: OUT/SWEEP/results.json and results.md, one row per
// trial (keyed by the trial's id, so a trial run twice, after a worker died
// say, is still one row), rewritten atomically whenever a trial changes state.
// only the command that runs or waits for the sweep writes them.
import fs from 'fs';
import path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '../atomic-file';
import { ConfigError } from '../train/config';
import type { RunSummary } from '../train/metrics';
import type { SweepFile } from './sweep-file';
import type { Trial } from './trials';

export type TrialStatus = 'queued' | 'running' | 'done' | 'failed';

export interface TrialResult {
  /** the trial's id (a hash of its config) */
  trial: string;
  /** its run directory's name */
  name: string;
  /** the swept fields' values and the seed */
  params: Record<string, unknown>;
  seed: number;
  status: TrialStatus;
  /** the test accuracy after the last epoch */
  test_accuracy: number | null;
  /** the best test accuracy of any epoch */
  best_accuracy: number | null;
  /** training seconds, all epochs */
  seconds: number | null;
  /** who ran it: host:pid device */
  worker: string | null;
  attempts: number;
  /** why it failed */
  error: string | null;
  /** the run directory, as the runner wrote it */
  run: string | null;
  /** with `worker --upload`: the .dvc file of the run directory pushed to the DVC remote */
  upload: string | null;
}

export interface SweepResults {
  sweep: string;
  description: string;
  file: string;
  /** the swept fields, in the file's order (seed last) */
  parameters: string[];
  updated_at: string;
  trials: TrialResult[];
}

export const RESULTS_JSON = 'results.json';
export const RESULTS_MD = 'results.md';

export function sweepDir(out: string, sweep: string): string {
  return path.join(out, sweep);
}

/** the swept fields of a sweep file: the grid's, the random search's, and seed when there are several */
export function sweptParameters(sweep: SweepFile): string[] {
  const names = [...sweep.grid.map(([f]) => f as string), ...(sweep.random?.space.map(([f]) => f as string) ?? [])];
  if (sweep.seeds.length > 1) names.push('seed');
  return names;
}

export function queuedRow(trial: Trial): TrialResult {
  return {
    trial: trial.id, name: trial.name, params: trial.params, seed: trial.params.seed as number, status: 'queued',
    test_accuracy: null, best_accuracy: null, seconds: null, worker: null, attempts: 0, error: null, run: null, upload: null,
  };
}

export function doneRow(trial: Trial, summary: RunSummary, worker: string, attempts: number, run: string): TrialResult {
  const accs = summary.epochs.map((e) => e.test_accuracy).filter((a) => Number.isFinite(a));
  return {
    ...queuedRow(trial),
    status: 'done',
    test_accuracy: summary.test_accuracy,
    best_accuracy: accs.length ? Math.max(...accs) : null,
    seconds: summary.epochs.reduce((s, e) => s + e.seconds, 0),
    worker,
    attempts,
    run,
  };
}

export function failedRow(trial: Trial, error: string, worker: string | null, attempts: number, run: string | null): TrialResult {
  return { ...queuedRow(trial), status: 'failed', worker, attempts, error, run };
}

/** the finished trial with the highest final test accuracy (the first of equals), or null */
export function bestTrial(rows: readonly TrialResult[]): TrialResult | null {
  let best: TrialResult | null = null;
  for (const r of rows) if (r.status === 'done' && r.test_accuracy !== null && (best === null || r.test_accuracy > best.test_accuracy!)) best = r;
  return best;
}

export function countByStatus(rows: readonly TrialResult[]): Record<TrialStatus, number> {
  const counts = { queued: 0, running: 0, done: 0, failed: 0 };
  for (const r of rows) counts[r.status]++;
  return counts;
}

/** one progress line: "3 done, 1 running, 2 queued, 0 failed; best 45.20% (NAME)" */
export function progressLine(rows: readonly TrialResult[]): string {
  const c = countByStatus(rows);
  const best = bestTrial(rows);
  return `${c.done} done, ${c.running} running, ${c.queued} queued, ${c.failed} failed` +
    (best ? `; best ${(100 * best.test_accuracy!).toFixed(2)}% (${best.name})` : '');
}

const pct = (v: number | null) => (v === null ? '' : `${(100 * v).toFixed(2)}%`);
const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function resultsMarkdown(r: SweepResults): string {
  const best = bestTrial(r.trials);
  const lines = [`# Sweep: ${r.sweep}`, ''];
  if (r.description) lines.push(r.description, '');
  const c = countByStatus(r.trials);
  lines.push(`From \`${r.file}\`, ${r.updated_at.slice(0, 19).replace('T', ' ')} UTC: ${r.trials.length} trials, ${c.done} done, ${c.failed} failed.`, '');
  if (best) lines.push(`Best: **${best.name}** at ${pct(best.test_accuracy)}.`, '');
  const params = r.parameters.filter((p) => p !== 'seed');
  lines.push(`| trial | ${params.map(cell).join(' | ')}${params.length ? ' | ' : ''}seed | status | test accuracy | best accuracy | seconds | worker | note |`);
  lines.push(`|---|${params.map(() => '---|').join('')}---|---|---|---|---|---|---|`);
  for (const t of r.trials) {
    const name = t === best ? `**${t.name}**` : t.name;
    const values = params.map((p) => cell(typeof t.params[p] === 'object' ? JSON.stringify(t.params[p]) : t.params[p]));
    lines.push(
      `| ${name} | ${values.join(' | ')}${values.length ? ' | ' : ''}${t.seed} | ${t.status} | ${pct(t.test_accuracy)} | ${pct(t.best_accuracy)} | ` +
        `${t.seconds === null ? '' : t.seconds.toFixed(1)} | ${cell(t.worker)} | ${cell(t.error)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

/** writes results.json and results.md under dir, each atomically */
export function writeSweepResults(dir: string, results: SweepResults): void {
  writeJsonAtomic(path.join(dir, RESULTS_JSON), results);
  writeFileAtomic(path.join(dir, RESULTS_MD), resultsMarkdown(results));
}

/** the rows an earlier run of the sweep recorded, by trial id (none when there is no results.json) */
export function readSweepResults(dir: string): Map<string, TrialResult> {
  const file = path.join(dir, RESULTS_JSON);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  let v: Partial<SweepResults>;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, `${file}: not valid JSON (${(err as Error).message}); remove it to start the sweep's table over`);
  }
  if (v === null || typeof v !== 'object' || !Array.isArray(v.trials)) {
    throw new ConfigError(file, `${file}: expected a sweep's results {sweep, trials: [...]}; another command's results.json is there (choose another --out or sweep name)`);
  }
  return new Map(v.trials.filter((t) => t && typeof t.trial === 'string').map((t) => [t.trial, t]));
}

/** the rows an earlier run left for these trials: finished ones stay, the rest start over as queued */
export function startingRows(trials: readonly Trial[], earlier: Map<string, TrialResult>, queued: (t: Trial) => TrialResult): TrialResult[] {
  return trials.map((t) => {
    const row = earlier.get(t.id);
    return row && (row.status === 'done' || row.status === 'failed') ? row : queued(t);
  });
}

export function makeResults(sweep: SweepFile, rows: TrialResult[]): SweepResults {
  return { sweep: sweep.name, description: sweep.description, file: sweep.file, parameters: sweptParameters(sweep), updated_at: new Date().toISOString(), trials: rows };
}
