// a checkpoint per epoch, everything a run needs to go on as if it had never
// stopped:
//   checkpoint-epoch-N.safetensors            the model's weights under PyTorch's names
//                                             (torch's load_state_dict takes them as they are)
//   checkpoint-epoch-N.optimizer.safetensors  the optimizer's buffers, keyed by parameter index (Adam's "m.3", "v.3")
//   checkpoint-epoch-N.json                   optimizer step and settings, both generators'
//                                             (seed, offset), the loader position, the metrics so far
// the .json is written last: a checkpoint counts only once it is there, so a
// run killed while writing one resumes from the one before.
import fs from 'fs';
import path from 'path';
import { Tensor } from '../tensor';
import type { GeneratorState } from '../random';
import type { Module } from '../nn/module';
import type { Optimizer, OptimizerState } from '../optim';
import { writeJsonAtomic } from '../atomic-file';
import type { EpochMetrics } from './metrics';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from './safetensors';

export const CHECKPOINT_FORMAT = 'cudalab-checkpoint-1';

export interface CheckpointSidecar {
  format: typeof CHECKPOINT_FORMAT;
  /** the epochs done (1-based): training goes on with epoch + 1 */
  epoch: number;
  model: string;
  weights: string;
  optimizer: {
    file: string;
    /** the run config's optimizer: adam, sgd */
    type: string;
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

const SIDECAR = /^checkpoint-epoch-(\d+)\.json$/;

export function checkpointFiles(runDir: string, epoch: number) {
  const base = path.join(runDir, `checkpoint-epoch-${epoch}`);
  return { weights: `${base}.safetensors`, optimizer: `${base}.optimizer.safetensors`, sidecar: `${base}.json` };
}

/** host copies of tensors, as safetensors entries */
function toEntries(tensors: Record<string, Tensor>): Record<string, SafetensorsTensor> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    out[name] = { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: t.shape.slice(), data: t.toArray() };
  }
  return out;
}

export interface CheckpointState {
  epoch: number;
  modelName: string;
  model: Module;
  optimizer: Optimizer;
  optimizerName: string;
  rng: { model: GeneratorState; data: GeneratorState };
  batchesPerEpoch: number;
  metrics: EpochMetrics[];
}

export function saveCheckpoint(runDir: string, s: CheckpointState): CheckpointSidecar {
  const files = checkpointFiles(runDir, s.epoch);
  writeSafetensors(files.weights, toEntries(s.model.stateDict()), { format: 'pt', model: s.modelName, epoch: String(s.epoch) });
  const opt: OptimizerState = s.optimizer.stateDict();
  writeSafetensors(files.optimizer, toEntries(opt.buffers), { step: String(opt.step) });
  // "m.3" belongs to the 4th parameter; name it so the file explains itself
  const names = s.model.namedParameters().map(([n]) => n);
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
    optimizer: { file: path.basename(files.optimizer), type: s.optimizerName, step: opt.step, hyper: opt.hyper, buffers: bufferNames },
    rng: s.rng,
    loader: { epoch: s.epoch, next_batch: 0, batches_per_epoch: s.batchesPerEpoch },
    metrics: s.metrics,
    saved_at: new Date().toISOString(),
  };
  writeJsonAtomic(files.sidecar, sidecar);
  return sidecar;
}

function readSidecar(file: string): CheckpointSidecar {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a readable checkpoint (${(err as Error).message})`);
  }
  const v = value as Partial<CheckpointSidecar>;
  if (v?.format !== CHECKPOINT_FORMAT) throw new Error(`${file}: format must be "${CHECKPOINT_FORMAT}", got ${JSON.stringify(v?.format)}`);
  if (!Number.isInteger(v.epoch) || (v.epoch as number) < 1) throw new Error(`${file}: epoch must be an integer >= 1`);
  if (!v.optimizer || !Number.isInteger(v.optimizer.step)) throw new Error(`${file}: optimizer.step must be an integer`);
  if (!v.rng?.model?.seed || !v.rng?.data?.seed) throw new Error(`${file}: rng.model and rng.data must hold generator states`);
  if (!Array.isArray(v.metrics)) throw new Error(`${file}: metrics must be an array`);
  return v as CheckpointSidecar;
}

/** the newest complete checkpoint in runDir (sidecar and both weight files present), or null */
export function findLatestCheckpoint(runDir: string): CheckpointSidecar | null {
  if (!fs.existsSync(runDir)) return null;
  const epochs = fs
    .readdirSync(runDir)
    .map((f) => SIDECAR.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  for (const epoch of epochs) {
    const files = checkpointFiles(runDir, epoch);
    if (!fs.existsSync(files.weights) || !fs.existsSync(files.optimizer)) continue;
    return readSidecar(files.sidecar);
  }
  return null;
}

function fromEntries(file: string, device: Tensor['device']): Record<string, Tensor> {
  const { tensors } = readSafetensors(file);
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    out[name] = Tensor.fromArray(t.data, t.shape, { device, dtype: t.dtype === 'I32' ? 'int32' : 'float32' });
  }
  return out;
}

/** loads the checkpoint's weights and optimizer state into model and optimizer (on device) */
export function loadCheckpoint(runDir: string, sidecar: CheckpointSidecar, model: Module, optimizer: Optimizer, device: Tensor['device']): void {
  const weights = fromEntries(path.join(runDir, sidecar.weights), device);
  try {
    model.loadStateDict(weights);
  } finally {
    // loadStateDict copies the values in; these were only the carriers
    for (const t of Object.values(weights)) t.dispose();
  }
  const buffers = fromEntries(path.join(runDir, sidecar.optimizer.file), device);
  try {
    optimizer.loadStateDict({ step: sidecar.optimizer.step, hyper: sidecar.optimizer.hyper, buffers });
  } finally {
    // the optimizer copies the buffers into its own
    for (const t of Object.values(buffers)) t.dispose();
  }
}

/** removes what a previous run left in runDir, so a fresh run does not mix with it */
export function removeRunFiles(runDir: string): void {
  if (!fs.existsSync(runDir)) return;
  for (const f of fs.readdirSync(runDir)) {
    if (/^checkpoint-epoch-\d+\.(json|safetensors|optimizer\.safetensors)$/.test(f) || f === 'metrics.jsonl' || f === 'summary.json') {
      fs.rmSync(path.join(runDir, f), { force: true });
    }
  }
}

