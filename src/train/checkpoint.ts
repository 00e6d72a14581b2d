// a checkpoint per epoch, everything a run needs to go on as if it had never
// stopped:
//   checkpoint-epoch-N.safetensors            the model's weights under PyTorch's names
//                                             (torch's load_state_dict takes them as they are)
//   checkpoint-epoch-N.optimizer.safetensors  the optimizer's buffers, keyed by parameter index (Adam's "m.3", "v.3"),
//                                             and the lookahead average when the run has one ("ema.<state name>")
//   checkpoint-epoch-N.json                   optimizer step and settings, both generators'
//                                             (seed, offset), the loader position, the metrics so far
// the .json is written last: a checkpoint counts only once it is there, so a
// run killed while writing one resumes from the one before. a resume checks
// the whole saved state against the run before using any of it, and refuses
// (CheckpointError, naming the file) what the trainer could not have written.
// only some checkpoints are kept: the last ones and the best (pruneCheckpoints).
import fs from 'fs';
import path from 'path';
import { Tensor } from '../tensor';
import type { GeneratorState } from '../random';
import type { Module } from '../nn/module';
import { Adam, SGD, type Optimizer, type OptimizerState } from '../optim';
import { writeJsonAtomic } from '../atomic-file';
import { metricsRowProblem, type EpochMetrics } from './metrics';
import type { Lookahead } from './ema';

// the lookahead average's entries in the optimizer file: "ema.<state name>"
const EMA_PREFIX = 'ema.';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from './safetensors';

export const CHECKPOINT_FORMAT = 'cudalab-checkpoint-1';

export type OptimizerType = 'adam' | 'sgd';

export interface CheckpointSidecar {
  format: typeof CHECKPOINT_FORMAT;
  /** the epochs done (1-based): training goes on with epoch + 1 */
  epoch: number;
  model: string;
  weights: string;
  optimizer: {
    file: string;
    type: OptimizerType;
    step: number;
    hyper: Record<string, number | boolean>;
    /** buffer key -> the parameter's name, for people reading the file */
    buffers: Record<string, string>;
  };
  /** the generators' states after the epoch: model (init, dropout) and data (shuffling, augmentation) */
  rng: { model: GeneratorState; data: GeneratorState };
  /** where the loader stands: checkpoints are taken between epochs, so at batch 0 of the next one */
  loader: { epoch: number; next_batch: number; batches_per_epoch: number };
  metrics: EpochMetrics[];
  saved_at: string;
}

/** a saved state a resume cannot use: `file` is the one that is wrong, the message says what */
export class CheckpointError extends Error {
  readonly code = 'ERR_CHECKPOINT';
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'CheckpointError';
  }
}

/** a checkpoint file could not be written (a full disk): the previous checkpoint is untouched */
export class CheckpointWriteError extends Error {
  readonly code = 'ERR_CHECKPOINT_WRITE';
  constructor(readonly file: string, readonly bytesFree: number | null, override readonly cause: Error, message: string) {
    super(message);
    this.name = 'CheckpointWriteError';
  }
}

const CHECKPOINT_FILE = /^checkpoint-epoch-(\d+)\.(json|safetensors|optimizer\.safetensors)$/;

export function checkpointFiles(runDir: string, epoch: number) {
  const base = path.join(runDir, `checkpoint-epoch-${epoch}`);
  return { weights: `${base}.safetensors`, optimizer: `${base}.optimizer.safetensors`, sidecar: `${base}.json` };
}

/** host copies of tensors, as safetensors entries */
export function toEntries(tensors: Record<string, Tensor>): Record<string, SafetensorsTensor> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    out[name] = { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: t.shape.slice(), data: t.toArray() };
  }
  return out;
}

export function optimizerType(optimizer: Optimizer): OptimizerType {
  if (optimizer instanceof Adam) return 'adam';
  if (optimizer instanceof SGD) return 'sgd';
  throw new Error('checkpoints know Adam and SGD only');
}

/** the buffers every parameter has once the optimizer has stepped: Adam's m and v, SGD's momentum (when momentum > 0) */
export function bufferKinds(optimizer: Optimizer): string[] {
  if (optimizer instanceof Adam) return ['m', 'v'];
  if (optimizer instanceof SGD) return optimizer.momentum > 0 ? ['momentum'] : [];
  return [];
}

export interface CheckpointState {
  epoch: number;
  modelName: string;
  model: Module;
  optimizer: Optimizer;
  rng: { model: GeneratorState; data: GeneratorState };
  batchesPerEpoch: number;
  metrics: EpochMetrics[];
  lookahead?: Lookahead | null;
}

/** the model's name of each of the optimizer's parameters (its order is the groups', not the model's) */
function parameterNames(model: Module, optimizer: Optimizer): string[] {
  const byTensor = new Map(model.namedParameters().map(([n, t]) => [t, n]));
  return optimizer.params.map((p) => byTensor.get(p) ?? '');
}

function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** the bytes an unprivileged writer may still use on dir's file system, or null when it cannot be told */
function bytesFree(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

function emaEntries(lookahead: Lookahead | null | undefined): Record<string, Tensor> {
  if (!lookahead) return {};
  return Object.fromEntries(Object.entries(lookahead.stateDict()).map(([name, t]) => [EMA_PREFIX + name, t]));
}

export function saveCheckpoint(runDir: string, s: CheckpointState): CheckpointSidecar {
  const files = checkpointFiles(runDir, s.epoch);
  const opt: OptimizerState = s.optimizer.stateDict();
  // "m.3" belongs to the optimizer's 4th parameter; name it so the file explains itself
  const names = parameterNames(s.model, s.optimizer);
  const bufferNames: Record<string, string> = {};
  for (const key of Object.keys(opt.buffers)) {
    const index = Number(key.slice(key.lastIndexOf('.') + 1));
    bufferNames[key] = names[index] ?? '';
  }
  const sidecar: CheckpointSidecar = {
    format: CHECKPOINT_FORMAT,
    epoch: s.epoch,
    model: s.modelName,
    weights: path.basename(files.weights),
    optimizer: { file: path.basename(files.optimizer), type: optimizerType(s.optimizer), step: opt.step, hyper: opt.hyper, buffers: bufferNames },
    rng: s.rng,
    loader: { epoch: s.epoch, next_batch: 0, batches_per_epoch: s.batchesPerEpoch },
    metrics: s.metrics,
    saved_at: new Date().toISOString(),
  };
  const writes: Array<[string, () => void]> = [
    [files.weights, () => writeSafetensors(files.weights, toEntries(s.model.stateDict()), { format: 'pt', model: s.modelName, epoch: String(s.epoch) })],
    [files.optimizer, () => writeSafetensors(files.optimizer, toEntries({ ...opt.buffers, ...emaEntries(s.lookahead) }), { step: String(opt.step) })],
    [files.sidecar, () => writeJsonAtomic(files.sidecar, sidecar)],
  ];
  for (const [file, write] of writes) {
    try {
      write();
    } catch (err) {
      // what this checkpoint got so far is no checkpoint (its .json is missing): free its space.
      // the checkpoints before it are only pruned once a newer one is complete, so the run can go on from them
      for (const f of [files.sidecar, files.optimizer, files.weights]) fs.rmSync(f, { force: true });
      const free = bytesFree(runDir);
      const e = err as NodeJS.ErrnoException;
      const previous = latestCompleteEpoch(runDir);
      throw new CheckpointWriteError(
        file,
        free,
        e,
        `could not write ${file} (${e.code ?? e.message}${e.code ? `: ${e.message}` : ''}); ` +
          `${free === null ? 'the free space there is unknown' : `${formatBytes(free)} left on that file system`}. ` +
          (previous === null
            ? `no checkpoint is complete yet: free some space and start the run again`
            : `checkpoint-epoch-${previous} is complete: free some space and go on with cudalab train --resume ${runDir}`),
      );
    }
  }
  return sidecar;
}

/** epochs that have any checkpoint file in runDir, ascending, and those whose three files are all there */
function checkpointEpochs(runDir: string): { any: number[]; complete: number[] } {
  if (!fs.existsSync(runDir)) return { any: [], complete: [] };
  const kinds = new Map<number, Set<string>>();
  for (const f of fs.readdirSync(runDir)) {
    const m = CHECKPOINT_FILE.exec(f);
    if (!m) continue;
    const epoch = Number(m[1]);
    if (!kinds.has(epoch)) kinds.set(epoch, new Set());
    kinds.get(epoch)!.add(m[2]);
  }
  const any = [...kinds.keys()].sort((a, b) => a - b);
  return { any, complete: any.filter((e) => kinds.get(e)!.size === 3) };
}

function latestCompleteEpoch(runDir: string): number | null {
  const { complete } = checkpointEpochs(runDir);
  return complete.length ? complete[complete.length - 1] : null;
}

/**
 * the checkpoints retention keeps among the complete ones: the last `keep`
 * (every one with 'all') and the best by test accuracy (the earliest of equals)
 */
export function checkpointsToKeep(complete: number[], rows: EpochMetrics[], keep: number | 'all'): Set<number> {
  if (keep === 'all') return new Set(complete);
  const sorted = complete.slice().sort((a, b) => a - b);
  const kept = new Set(sorted.slice(Math.max(0, sorted.length - keep)));
  let best: number | null = null;
  for (const epoch of sorted) {
    const acc = rows[epoch - 1]?.test_accuracy;
    if (typeof acc !== 'number') continue;
    if (best === null || acc > rows[best - 1].test_accuracy) best = epoch;
  }
  if (best !== null) kept.add(best);
  return kept;
}

/** removes the checkpoints retention does not keep, and any incomplete one; returns the epochs removed */
export function pruneCheckpoints(runDir: string, rows: EpochMetrics[], keep: number | 'all'): number[] {
  const { any, complete } = checkpointEpochs(runDir);
  const kept = checkpointsToKeep(complete, rows, keep);
  const removed: number[] = [];
  for (const epoch of any) {
    if (kept.has(epoch)) continue;
    const files = checkpointFiles(runDir, epoch);
    // the .json first: a checkpoint removed halfway no longer counts as one
    for (const f of [files.sidecar, files.optimizer, files.weights]) fs.rmSync(f, { force: true });
    removed.push(epoch);
  }
  return removed;
}

const DECIMAL_U64 = /^(0|[1-9]\d{0,19})$/;

function generatorProblem(g: unknown): string | null {
  if (g === null || typeof g !== 'object') return `expected {seed, offset}, got ${JSON.stringify(g)}`;
  for (const k of ['seed', 'offset']) {
    const v = (g as Record<string, unknown>)[k];
    if (typeof v !== 'string' || !DECIMAL_U64.test(v) || BigInt(v) >= 1n << 64n) {
      return `${k} must be a non-negative integer below 2^64 written in decimal as a string, got ${JSON.stringify(v)}`;
    }
  }
  return null;
}

// every check that needs nothing but the file itself
function readSidecar(file: string, epochOfName: number): CheckpointSidecar {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(file, `not a readable checkpoint (${(err as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new CheckpointError(file, what);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('expected a JSON object');
  const v = value as Partial<CheckpointSidecar>;
  if (v.format !== CHECKPOINT_FORMAT) fail(`format must be "${CHECKPOINT_FORMAT}", got ${JSON.stringify(v.format)}`);
  if (v.epoch !== epochOfName) fail(`epoch must be ${epochOfName} (the file's name says so), got ${JSON.stringify(v.epoch)}`);
  const epoch = epochOfName;
  if (typeof v.model !== 'string') fail(`model must be a model name, got ${JSON.stringify(v.model)}`);
  // the file names come from the sidecar, so they must be this checkpoint's own: nothing outside the run is read
  const own = { weights: `checkpoint-epoch-${epoch}.safetensors`, optimizer: `checkpoint-epoch-${epoch}.optimizer.safetensors` };
  if (v.weights !== own.weights) fail(`weights must be "${own.weights}", got ${JSON.stringify(v.weights)}`);
  const o = v.optimizer;
  if (!o || typeof o !== 'object') fail('optimizer must be {file, type, step, hyper, buffers}');
  if (o!.file !== own.optimizer) fail(`optimizer.file must be "${own.optimizer}", got ${JSON.stringify(o!.file)}`);
  if (o!.type !== 'adam' && o!.type !== 'sgd') fail(`optimizer.type must be "adam" or "sgd", got ${JSON.stringify(o!.type)}`);
  if (!Number.isSafeInteger(o!.step) || o!.step < 0) fail(`optimizer.step must be an integer >= 0, got ${JSON.stringify(o!.step)}`);
  if (!o!.hyper || typeof o!.hyper !== 'object' || Array.isArray(o!.hyper)) fail(`optimizer.hyper must be an object, got ${JSON.stringify(o!.hyper)}`);
  for (const [k, h] of Object.entries(o!.hyper)) {
    if (typeof h !== 'boolean' && (typeof h !== 'number' || !Number.isFinite(h))) fail(`optimizer.hyper.${k} must be a finite number or a boolean, got ${JSON.stringify(h)}`);
  }
  for (const which of ['model', 'data'] as const) {
    const problem = generatorProblem((v.rng as Record<string, unknown> | undefined)?.[which]);
    if (problem !== null) fail(`rng.${which}: ${problem}`);
  }
  const l = v.loader;
  if (!l || typeof l !== 'object') fail('loader must be {epoch, next_batch, batches_per_epoch}');
  if (l!.epoch !== epoch) fail(`loader.epoch must be ${epoch}, got ${JSON.stringify(l!.epoch)}`);
  if (l!.next_batch !== 0) fail(`loader.next_batch must be 0 (checkpoints are taken between epochs), got ${JSON.stringify(l!.next_batch)}`);
  if (!Number.isSafeInteger(l!.batches_per_epoch) || l!.batches_per_epoch < 1) {
    fail(`loader.batches_per_epoch must be an integer >= 1, got ${JSON.stringify(l!.batches_per_epoch)}`);
  }
  // the last epoch of a run with fractional epochs is cut short: fewer steps, at least one
  const full = epoch * l!.batches_per_epoch;
  if (!(o!.step <= full && o!.step > full - l!.batches_per_epoch)) {
    fail(`optimizer.step must be ${full} (${epoch} epochs of ${l!.batches_per_epoch} steps; fewer, above ${full - l!.batches_per_epoch}, for a cut last epoch), got ${o!.step}`);
  }
  if (!Array.isArray(v.metrics) || v.metrics.length !== epoch) fail(`metrics must hold one row per epoch done (${epoch}), got ${Array.isArray(v.metrics) ? `${v.metrics.length} rows` : JSON.stringify(v.metrics)}`);
  v.metrics!.forEach((row, i) => {
    const problem = metricsRowProblem(row, i + 1);
    if (problem !== null) fail(`metrics[${i}]: ${problem}`);
  });
  return v as CheckpointSidecar;
}

/** the newest complete checkpoint in runDir (sidecar and both weight files present), or null; a wrong one throws CheckpointError */
export function findLatestCheckpoint(runDir: string): CheckpointSidecar | null {
  const epoch = latestCompleteEpoch(runDir);
  return epoch === null ? null : readSidecar(checkpointFiles(runDir, epoch).sidecar, epoch);
}

/** what the run resuming expects a checkpoint to match */
export interface ResumeExpectations {
  /** the run's epochs: a checkpoint past them is not this run's */
  epochs: number;
  modelName: string;
  batchesPerEpoch: number;
  /** the run's steps: a checkpoint's step must be its epochs' steps, or this where the last epoch is cut */
  totalSteps: number;
  rngSeeds: { model: bigint; data: bigint };
  /** the run's lookahead average, when it has one: the checkpoint must hold it */
  lookahead?: Lookahead | null;
}

function readTensors(file: string, device: Tensor['device']): { tensors: Record<string, Tensor>; metadata: Record<string, string> | null } {
  let contents;
  try {
    contents = readSafetensors(file);
  } catch (err) {
    throw new CheckpointError(file, (err as Error).message);
  }
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(contents.tensors)) {
    tensors[name] = Tensor.fromArray(t.data, t.shape, { device, dtype: t.dtype === 'I32' ? 'int32' : 'float32' });
  }
  return { tensors, metadata: contents.metadata };
}

function shapeText(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

// every parameter must have each of its optimizer's buffers, of its shape: a
// missing one would silently restart that parameter's moments from zero
// (a frozen parameter, requiresGrad false, may never have stepped: its buffers may be missing)
function checkBuffers(
  file: string,
  buffers: Record<string, Tensor>,
  model: Module,
  optimizer: Optimizer,
  step: number,
  lookahead: Lookahead | null,
): void {
  const names = parameterNames(model, optimizer);
  const kinds = step > 0 ? bufferKinds(optimizer) : [];
  const problems: string[] = [];
  const expected = new Set<string>();
  optimizer.params.forEach((p, i) => {
    const name = names[i];
    for (const kind of kinds) {
      const key = `${kind}.${i}`;
      expected.add(key);
      const t = buffers[key];
      if (t === undefined) {
        if (p.requiresGrad) problems.push(`missing "${key}" (${name}, ${shapeText(p.shape)})`);
      }
      else if (t.dtype !== 'float32' || shapeText(t.shape) !== shapeText(p.shape)) {
        problems.push(`"${key}" is ${t.dtype} ${shapeText(t.shape)}, ${name} needs float32 ${shapeText(p.shape)}`);
      }
    }
  });
  if (lookahead) {
    const average = lookahead.stateDict();
    for (const [name, avg] of Object.entries(average)) {
      const key = EMA_PREFIX + name;
      expected.add(key);
      const t = buffers[key];
      if (t === undefined) problems.push(`missing "${key}" (the lookahead average of ${name}, ${shapeText(avg.shape)})`);
      else if (t.dtype !== 'float32' || shapeText(t.shape) !== shapeText(avg.shape)) {
        problems.push(`"${key}" is ${t.dtype} ${shapeText(t.shape)}, the average of ${name} needs float32 ${shapeText(avg.shape)}`);
      }
    }
  }
  for (const key of Object.keys(buffers)) if (!expected.has(key)) problems.push(`unexpected "${key}"`);
  if (problems.length > 0) throw new CheckpointError(file, `the optimizer state does not fit the model: ${problems.join('; ')}`);
}

/**
 * checks the checkpoint against the run resuming (epochs, model, loader,
 * generators, optimizer settings and every buffer), then loads the weights
 * and optimizer state into model and optimizer (on device). nothing is
 * loaded unless everything fits.
 */
export function loadCheckpoint(
  runDir: string,
  sidecar: CheckpointSidecar,
  model: Module,
  optimizer: Optimizer,
  device: Tensor['device'],
  expect: ResumeExpectations,
): void {
  const files = checkpointFiles(runDir, sidecar.epoch);
  const fail = (file: string, what: string): never => {
    throw new CheckpointError(file, what);
  };
  if (sidecar.epoch > expect.epochs) fail(files.sidecar, `epoch ${sidecar.epoch} is past the run's ${expect.epochs} epochs (resume with --epochs ${sidecar.epoch} or more)`);
  if (sidecar.model !== expect.modelName) fail(files.sidecar, `model is "${sidecar.model}", the run's config says "${expect.modelName}"`);
  if (sidecar.loader.batches_per_epoch !== expect.batchesPerEpoch) {
    fail(files.sidecar, `loader.batches_per_epoch is ${sidecar.loader.batches_per_epoch}, the run's data and batch size give ${expect.batchesPerEpoch} (did the data set change?)`);
  }
  const stepsThen = Math.min(sidecar.epoch * expect.batchesPerEpoch, expect.totalSteps);
  if (sidecar.optimizer.step !== stepsThen) {
    fail(
      files.sidecar,
      `optimizer.step is ${sidecar.optimizer.step}, the run's ${expect.totalSteps} steps give ${stepsThen} after epoch ${sidecar.epoch}` +
        (sidecar.optimizer.step < sidecar.epoch * expect.batchesPerEpoch ? ' (a last epoch cut short by fractional epochs cannot be gone on from)' : ''),
    );
  }
  for (const which of ['model', 'data'] as const) {
    const seed = BigInt(sidecar.rng[which].seed);
    if (seed !== expect.rngSeeds[which]) fail(files.sidecar, `rng.${which}.seed is ${seed}, the run's seed gives ${expect.rngSeeds[which]}`);
  }
  const type = optimizerType(optimizer);
  if (sidecar.optimizer.type !== type) fail(files.sidecar, `optimizer.type is "${sidecar.optimizer.type}", the run uses "${type}"`);
  // the settings come from the run's config; the checkpoint must agree, not override them
  const settings = optimizer.stateDict().hyper;
  for (const [k, want] of Object.entries(settings)) {
    if (sidecar.optimizer.hyper[k] !== want) fail(files.sidecar, `optimizer.hyper.${k} is ${JSON.stringify(sidecar.optimizer.hyper[k])}, the run's config gives ${JSON.stringify(want)}`);
  }

  const weights = readTensors(files.weights, device).tensors;
  let buffers: Record<string, Tensor> = {};
  try {
    const saved = readTensors(files.optimizer, device);
    buffers = saved.tensors;
    const step = saved.metadata?.step;
    if (step !== String(sidecar.optimizer.step)) fail(files.optimizer, `metadata step is ${JSON.stringify(step)}, ${path.basename(files.sidecar)} says ${sidecar.optimizer.step}`);
    checkBuffers(files.optimizer, buffers, model, optimizer, sidecar.optimizer.step, expect.lookahead ?? null);
    try {
      model.loadStateDict(weights);
    } catch (err) {
      fail(files.weights, (err as Error).message);
    }
    try {
      const own: Record<string, Tensor> = {};
      const average: Record<string, Tensor> = {};
      for (const [key, t] of Object.entries(buffers)) {
        if (key.startsWith(EMA_PREFIX)) average[key.slice(EMA_PREFIX.length)] = t;
        else own[key] = t;
      }
      optimizer.loadStateDict({ step: sidecar.optimizer.step, hyper: sidecar.optimizer.hyper, buffers: own });
      expect.lookahead?.loadStateDict(average);
    } catch (err) {
      fail(files.optimizer, (err as Error).message);
    }
  } finally {
    // model and optimizer copy the values in; these were only the carriers
    for (const t of Object.values(weights)) t.dispose();
    for (const t of Object.values(buffers)) t.dispose();
  }
}

/** removes what a previous run left in runDir, so a fresh run does not mix with it */
export function removeRunFiles(runDir: string): void {
  if (!fs.existsSync(runDir)) return;
  for (const f of fs.readdirSync(runDir)) {
    if (CHECKPOINT_FILE.test(f) || f === 'metrics.jsonl' || f === 'summary.json') {
      fs.rmSync(path.join(runDir, f), { force: true });
    }
  }
}
