// from a checked request to a finished run: the device, the data, the run
// directory, the trainer. `cudalab train` and `cudalab experiments` both come
// through here; resuming reads the run's own config.json back.
import fs from 'fs';
import path from 'path';
import { native } from '../native';
import { modelNames } from '../models';
import { ensureCifar10 } from '../data/download';
import { loadCifar10, type Cifar10 } from '../data/cifar10';
import { ConfigError, checkField, makeRunConfig, parseRunConfig, resolveDevice, type DeviceChoice, type RunConfig, type RunSettings } from './config';
import { CheckpointError } from './checkpoint';
import { CONFIG_FILE, SUMMARY_FILE, type RunSummary } from './metrics';
import { Progress } from './progress';
import { withRunLock } from './run-lock';
import { trainRun, type StepInfo, type TrainData } from './trainer';
import { removeTemporaries } from '../atomic-file';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION: string = require('../../package.json').version;

export interface RunHooks {
  progress?: Progress;
  onStep?: (info: StepInfo) => void;
  /** data already in memory (experiments load it once) */
  data?: TrainData;
}

/** the device a choice means here; cuda without a usable GPU is an error that says why */
export function deviceFor(choice: DeviceChoice): 'cpu' | 'cuda' {
  return resolveDevice(choice, () => (choice === 'cpu' ? { available: false, reason: '' } : native().cudaInfo()));
}

/** CIFAR-10 from dir, downloaded there first when missing and allowed */
export async function loadData(dir: string, download: boolean, progress?: Progress): Promise<Cifar10> {
  let phase = '';
  const folder = await ensureCifar10(dir, {
    download,
    // a line per phase: the download's own progress is the `data download` command's business
    onProgress: (p) => {
      if (p.phase === phase) return;
      phase = p.phase;
      progress?.message(`CIFAR-10 is not in ${dir}: ${p.phase === 'download' ? 'downloading' : p.phase === 'verify' ? 'verifying' : 'extracting'}`);
    },
  });
  return loadCifar10(folder);
}

export function runDirOf(out: string, name: string): string {
  return path.join(out, name);
}

/**
 * runs fn owning dir: its lock is taken before anything is written there (a
 * run already going into dir makes this throw RunLockedError), and what a
 * killed writer left there is removed first
 */
export function inRunDir<T>(dir: string, progress: Progress | undefined, fn: () => Promise<T>): Promise<T> {
  return withRunLock(dir, { onMessage: (text) => progress?.message(text) }, async () => {
    removeTemporaries(dir);
    return fn();
  });
}

/** a fresh run: writes out/name/ from scratch */
export async function startRun(req: RunSettings, hooks: RunHooks = {}): Promise<RunSummary> {
  const device = deviceFor(req.device);
  const config = makeRunConfig(req, device, VERSION);
  const runDir = runDirOf(req.out, req.name);
  return inRunDir(runDir, hooks.progress, async () => {
    if (fs.existsSync(path.join(runDir, CONFIG_FILE))) hooks.progress?.message(`${runDir} exists; starting it over (--resume ${runDir} would go on from its last checkpoint)`);
    const data = hooks.data ?? (await loadData(req.data, req.download, hooks.progress));
    hooks.progress?.message(`training ${config.model} on ${device}: lr ${config.lr}, batch ${config.batch}, ${config.epochs} epochs, seed ${config.seed} -> ${runDir}`);
    return trainRun({ config, runDir, data, progress: hooks.progress, onStep: hooks.onStep });
  });
}

function readSummary(file: string): RunSummary {
  let v: Partial<RunSummary> | null = null;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || !Array.isArray(v.epochs) || typeof v.stopped_on_nan !== 'boolean') {
    throw new CheckpointError(file, 'expected a run summary {epochs: [...], stopped_on_nan, ...}; remove it to go on from the last checkpoint');
  }
  return v as RunSummary;
}

export interface ResumeOverrides {
  /** a device other than the saved one (a run from a GPU machine goes on on the CPU) */
  device?: DeviceChoice;
  /** more epochs than the saved config had */
  epochs?: number;
  /** the data set moved */
  data?: string;
  download?: boolean;
  /** a different checkpoint retention */
  keepCheckpoints?: number | 'all';
}

/** reads runDir/config.json, checked; errors name the flag that gave the directory, the file and the field */
export function readRunConfig(runDir: string, flag = '--resume'): RunConfig {
  const file = path.join(runDir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(flag, `${flag} ${runDir}: no ${CONFIG_FILE} there (expected a run directory such as runs/NAME, written by cudalab train)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(flag, `${flag} ${runDir}: ${file} is not valid JSON (${(err as Error).message})`);
  }
  return parseRunConfig(json, file, modelNames);
}

/** goes on from the run's last checkpoint with its saved config; a finished run just returns its summary */
export async function resumeRun(runDir: string, overrides: ResumeOverrides = {}, hooks: RunHooks = {}): Promise<RunSummary> {
  // a folder that is no run at all is refused before a lock is put there
  if (!fs.existsSync(path.join(runDir, CONFIG_FILE))) readRunConfig(runDir);
  return inRunDir(runDir, hooks.progress, () => resumeLocked(runDir, overrides, hooks));
}

async function resumeLocked(runDir: string, overrides: ResumeOverrides, hooks: RunHooks): Promise<RunSummary> {
  const saved = readRunConfig(runDir);
  const config: RunConfig = { ...saved };
  if (overrides.device !== undefined) {
    config.device = deviceFor(overrides.device);
    config.deviceRequested = overrides.device;
  } else {
    config.device = deviceFor(saved.device);
  }
  if (overrides.epochs !== undefined) config.epochs = checkField('epochs', overrides.epochs, '--epochs');
  if (overrides.keepCheckpoints !== undefined) config.keepCheckpoints = checkField('keepCheckpoints', overrides.keepCheckpoints, '--keep-checkpoints');
  if (overrides.data !== undefined) config.data = path.resolve(overrides.data);
  const summaryFile = path.join(runDir, SUMMARY_FILE);
  if (fs.existsSync(summaryFile)) {
    const done = readSummary(summaryFile);
    if (done.epochs.length >= config.epochs && !done.stopped_on_nan) {
      hooks.progress?.message(`${runDir} is already done (${done.epochs.length} epochs)`);
      return done;
    }
  }
  const data = hooks.data ?? (await loadData(config.data, overrides.download ?? true, hooks.progress));
  return trainRun({ config, runDir, data, resume: true, progress: hooks.progress, onStep: hooks.onStep });
}
