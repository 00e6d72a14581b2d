// what a run records: one metrics row per epoch (runs/NAME/metrics.jsonl) and
// the summary at the end (runs/NAME/summary.json). a loss that is not finite
// is written as null (JSON has no NaN); `nan_at` says where it first happened.
import fs from 'fs';
import path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '../atomic-file';
import { ConfigError, type RunConfig } from './config';

/** epoch is 1-based; step is the 1-based batch within that epoch */
export interface NanAt {
  epoch: number;
  step: number;
}

export interface EpochMetrics {
  epoch: number;
  train_loss: number | null;
  train_accuracy: number;
  test_loss: number | null;
  test_accuracy: number;
  /** training time of the epoch (evaluation not included) */
  seconds: number;
  images_per_second: number;
  eval_seconds: number;
  nan_at: NanAt | null;
}

export interface RunSummary {
  name: string;
  model: string;
  device: string;
  lr: number;
  batch: number;
  seed: number;
  limit: number | null;
  augment: boolean;
  epochs_planned: number;
  /** the test accuracy after the last epoch */
  test_accuracy: number;
  /** the test-time augmentation level of test_accuracy_tta (0: none) */
  tta: number;
  /** the test accuracy after the last epoch with test-time augmentation; null when tta is 0 */
  test_accuracy_tta: number | null;
  /** mean training seconds per epoch */
  seconds_per_epoch: number;
  images_per_second: number;
  train_images: number;
  test_images: number;
  parameters: number;
  epochs: EpochMetrics[];
  nan: NanAt | null;
  stopped_on_nan: boolean;
  run: string;
  finished_at: string;
}

export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';
export const CONFIG_FILE = 'config.json';

/** a finite number as is, anything else as null */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * what is wrong with a metrics row read back (from a checkpoint) as the row of
 * `epoch`, or null when it is one the trainer could have written: losses
 * finite or null (null: not finite), accuracies in [0, 1], times >= 0
 */
export function metricsRowProblem(row: unknown, epoch: number): string | null {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return `expected an object {epoch, train_loss, ...}, got ${JSON.stringify(row)}`;
  const r = row as Record<string, unknown>;
  if (r.epoch !== epoch) return `epoch must be ${epoch}, got ${JSON.stringify(r.epoch)}`;
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  for (const k of ['train_loss', 'test_loss']) {
    if (r[k] !== null && !finite(r[k])) return `${k} must be a finite number or null, got ${JSON.stringify(r[k])}`;
  }
  for (const k of ['train_accuracy', 'test_accuracy']) {
    if (!finite(r[k]) || (r[k] as number) < 0 || (r[k] as number) > 1) return `${k} must be a number in [0, 1], got ${JSON.stringify(r[k])}`;
  }
  for (const k of ['seconds', 'images_per_second', 'eval_seconds']) {
    if (!finite(r[k]) || (r[k] as number) < 0) return `${k} must be a finite number >= 0, got ${JSON.stringify(r[k])}`;
  }
  const nan = r.nan_at as Record<string, unknown> | null;
  if (nan !== null) {
    const ok = typeof nan === 'object' && Number.isInteger(nan.epoch) && Number.isInteger(nan.step) &&
      (nan.epoch as number) >= 1 && (nan.epoch as number) <= epoch && (nan.step as number) >= 1;
    if (!ok) return `nan_at must be null or {epoch, step} (integers, epoch <= ${epoch}, step >= 1), got ${JSON.stringify(r.nan_at)}`;
  }
  return null;
}

/** rewrites the whole log (a handful of rows) atomically: a reader never sees half a line */
export function writeMetrics(runDir: string, rows: EpochMetrics[]): void {
  writeFileAtomic(path.join(runDir, METRICS_FILE), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

export function readMetrics(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, METRICS_FILE);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as EpochMetrics;
      } catch (err) {
        throw new ConfigError(`${file}:${i + 1}`, `${file}: line ${i + 1} is not JSON (${(err as Error).message})`);
      }
    });
}

export function buildSummary(
  config: RunConfig,
  rows: EpochMetrics[],
  info: { trainImages: number; testImages: number; parameters: number; runDir: string; stoppedOnNan: boolean; ttaAccuracy?: number | null },
): RunSummary {
  const last = rows[rows.length - 1];
  const seconds = rows.reduce((s, r) => s + r.seconds, 0);
  // the images each epoch trained on (a cut last epoch, a dropped short batch), from its own rate
  const images = rows.reduce((s, r) => s + r.images_per_second * r.seconds, 0);
  return {
    name: config.name,
    model: config.model,
    device: config.device,
    lr: config.lr,
    batch: config.batch,
    seed: config.seed,
    limit: config.limit,
    augment: config.augment,
    epochs_planned: config.epochs,
    test_accuracy: last ? last.test_accuracy : 0,
    tta: config.tta ?? 0,
    test_accuracy_tta: info.ttaAccuracy ?? null,
    seconds_per_epoch: rows.length ? seconds / rows.length : 0,
    images_per_second: seconds > 0 ? images / seconds : 0,
    train_images: info.trainImages,
    test_images: info.testImages,
    parameters: info.parameters,
    epochs: rows,
    nan: rows.find((r) => r.nan_at !== null)?.nan_at ?? null,
    stopped_on_nan: info.stoppedOnNan,
    run: info.runDir,
    finished_at: new Date().toISOString(),
  };
}

export function writeSummary(runDir: string, summary: RunSummary): void {
  writeJsonAtomic(path.join(runDir, SUMMARY_FILE), summary);
}
