// a run's trained network, rebuilt for use: its config.json names the model
// (and the normalisation its data had), a checkpoint's weights file holds
// the weights, the data folder's meta file the class names. `cudalab
// predict` and `cudalab export` both start here.
import fs from 'fs';
import type { DeviceName } from '../native';
import { Tensor } from '../tensor';
import { Generator } from '../random';
import type { Module } from '../nn/module';
import { createModel } from '../models';
import { loadCifar10Classes } from '../data/cifar10';
import { ConfigError, type RunConfig } from '../train/config';
import { readRunConfig } from '../train/run';
import { CheckpointError, checkpointFiles, findLatestCheckpoint } from '../train/checkpoint';
import { readSafetensors } from '../train/safetensors';

/** CIFAR-10's classes in label order: the names when the run's data folder is gone */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export interface TrainedModel {
  runDir: string;
  config: RunConfig;
  /** in eval mode */
  model: Module;
  /** the checkpoint's epoch, or null for a weights file given by path */
  epoch: number | null;
  weightsFile: string;
  classes: string[];
}

/**
 * the weights file to use: the run's last complete checkpoint, or the one
 * `checkpoint` names: an epoch number (checkpoint-epoch-N) or a
 * .safetensors file's path
 */
export function weightsFileOf(runDir: string, checkpoint?: string): { file: string; epoch: number | null } {
  if (checkpoint === undefined) {
    const latest = findLatestCheckpoint(runDir);
    if (latest === null) {
      throw new CheckpointError(runDir, 'the run has no complete checkpoint (checkpoint-epoch-N.safetensors with its .json): it has not finished an epoch yet, or its checkpoints were removed');
    }
    return { file: checkpointFiles(runDir, latest.epoch).weights, epoch: latest.epoch };
  }
  if (/^\d+$/.test(checkpoint)) {
    const epoch = Number(checkpoint);
    const file = checkpointFiles(runDir, epoch).weights;
    if (!fs.existsSync(file)) {
      const kept = fs.readdirSync(runDir).map((f) => /^checkpoint-epoch-(\d+)\.safetensors$/.exec(f)?.[1]).filter((e): e is string => e !== undefined);
      throw new CheckpointError(file, `--checkpoint ${checkpoint}: there is no such checkpoint (the run keeps epoch${kept.length === 1 ? '' : 's'} ${kept.sort((a, b) => Number(a) - Number(b)).join(', ') || 'none'})`);
    }
    return { file, epoch };
  }
  if (!checkpoint.endsWith('.safetensors')) {
    throw new ConfigError('--checkpoint', `--checkpoint must be an epoch number or a .safetensors weights file, got "${checkpoint}"`);
  }
  if (!fs.existsSync(checkpoint)) throw new CheckpointError(checkpoint, '--checkpoint: no such file');
  return { file: checkpoint, epoch: null };
}

/** the run's model with the checkpoint's weights, in eval mode on device (default cpu) */
export async function loadTrainedModel(runDir: string, opts: { checkpoint?: string; device?: DeviceName } = {}): Promise<TrainedModel> {
  const config = readRunConfig(runDir, '--run');
  const { file, epoch } = weightsFileOf(runDir, opts.checkpoint);
  const device = opts.device ?? 'cpu';
  let contents;
  try {
    contents = readSafetensors(file);
  } catch (err) {
    throw new CheckpointError(file, (err as Error).message);
  }
  // the weights replace every value the generator draws: any seed builds the same shape
  const model = createModel(config.model, { generator: new Generator(config.seed), device });
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, t] of Object.entries(contents.tensors)) {
      tensors[name] = Tensor.fromArray(t.data, t.shape, { device, dtype: t.dtype === 'I32' ? 'int32' : 'float32' });
    }
    model.loadStateDict(tensors);
  } catch (err) {
    model.dispose();
    throw new CheckpointError(file, `the weights do not fit the run's model ${config.model}: ${(err as Error).message}`);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  model.eval();
  const classes = (await classesOf(config.data)) ?? CIFAR10_CLASSES;
  return { runDir, config, model, epoch, weightsFile: file, classes };
}

// the data folder's own names; when it has moved or was removed, CIFAR-10's
async function classesOf(dataDir: string): Promise<string[] | null> {
  try {
    return await loadCifar10Classes(dataDir);
  } catch {
    return null;
  }
}
