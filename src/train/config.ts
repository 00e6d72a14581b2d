// the training run's settings: parsing each argument, checking it, and the
// resolved config a run directory keeps (runs/NAME/config.json). every check
// names the argument and what it expected, so the CLI can report it as a usage
// error (exit code 2) without more context.
import path from 'path';
import type { DeviceName } from '../native';

export type DeviceChoice = 'auto' | DeviceName;
export const deviceChoices: DeviceChoice[] = ['auto', 'cpu', 'cuda'];

/** a bad argument or config field; `argument` is what the user wrote ("--lr", "experiments[1].batch") */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly argument: string, message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  // String() of a parsed {"toString": null} throws a TypeError
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

function numberFrom(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return NaN;
}

/** a learning rate: a finite number > 0 */
export function checkLr(value: unknown, argument = '--lr'): number {
  const n = numberFrom(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(argument, `${argument} must be a number > 0, got ${show(value)}`);
  return n;
}

/** a positive integer, at most `max` */
export function checkPositiveInt(value: unknown, argument: string, max = 2 ** 31 - 1): number {
  const n = numberFrom(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ConfigError(argument, `${argument} must be an integer from 1 to ${max}, got ${show(value)}`);
  }
  return n;
}

/** a seed: an integer in [0, 2^53) (the generator takes 64 bits; JSON keeps 53 exactly) */
export function checkSeed(value: unknown, argument = '--seed'): number {
  const n = numberFrom(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(argument, `${argument} must be a non-negative integer, got ${show(value)}`);
  return n;
}

export function checkModel(value: unknown, known: readonly string[], argument = '--model'): string {
  if (typeof value !== 'string' || !known.includes(value)) {
    throw new ConfigError(argument, `${argument} must be one of ${known.join(', ')}, got ${show(value)}`);
  }
  return value;
}

export function checkDevice(value: unknown, argument = '--device'): DeviceChoice {
  if (typeof value !== 'string' || !(deviceChoices as string[]).includes(value)) {
    throw new ConfigError(argument, `${argument} must be one of ${deviceChoices.join(', ')}, got ${show(value)}`);
  }
  return value as DeviceChoice;
}

// a run name becomes a directory under --out: keep it one plain path segment
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export function checkName(value: unknown, argument = '--name'): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value) || value.length > 200) {
    throw new ConfigError(
      argument,
      `${argument} must be a file name of letters, digits and . _ + - (not starting with . _ + -), got ${show(value)}`,
    );
  }
  return value;
}

export function checkBoolean(value: unknown, argument: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(argument, `${argument} must be true or false, got ${show(value)}`);
  return value;
}

export function checkString(value: unknown, argument: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(argument, `${argument} must be a non-empty string, got ${show(value)}`);
  return value;
}

/** the default run name: every setting that tells two seed experiments apart */
export function defaultRunName(c: { model: string; lr: number; batch: number; seed: number; augment?: boolean }): string {
  return `${c.model}-lr${c.lr}-b${c.batch}-s${c.seed}${c.augment ? '-aug' : ''}`;
}

/** what the user asked for, as the CLI or an experiments file gives it (strings or values) */
export interface TrainArgs {
  lr?: unknown;
  batch?: unknown;
  epochs?: unknown;
  model?: unknown;
  device?: unknown;
  seed?: unknown;
  data?: unknown;
  limit?: unknown;
  out?: unknown;
  name?: unknown;
  augment?: unknown;
  stopOnNan?: unknown;
  download?: unknown;
}

/** a checked request; device may still be 'auto' */
export interface TrainRequest {
  name: string;
  model: string;
  lr: number;
  batch: number;
  epochs: number;
  seed: number;
  device: DeviceChoice;
  data: string;
  limit: number | null;
  out: string;
  augment: boolean;
  stopOnNan: boolean;
  download: boolean;
}

export const TRAIN_DEFAULTS = { epochs: 3, model: 'seedcnn', device: 'auto' as DeviceChoice, seed: 0, data: 'data', out: 'runs' };

/** checks every argument; `prefix` turns "--lr" into e.g. "experiments[0].lr" for config files */
export function resolveTrainRequest(args: TrainArgs, models: readonly string[], prefix?: string): TrainRequest {
  const arg = (flag: string, field: string) => (prefix === undefined ? flag : `${prefix}.${field}`);
  if (args.lr === undefined) throw new ConfigError(arg('--lr', 'lr'), `${arg('--lr', 'lr')} is required (a number > 0, e.g. 0.001)`);
  if (args.batch === undefined) {
    throw new ConfigError(arg('--batch', 'batch'), `${arg('--batch', 'batch')} is required (an integer >= 1, e.g. 64)`);
  }
  const lr = checkLr(args.lr, arg('--lr', 'lr'));
  const batch = checkPositiveInt(args.batch, arg('--batch', 'batch'), 1 << 20);
  const epochs = checkPositiveInt(args.epochs ?? TRAIN_DEFAULTS.epochs, arg('--epochs', 'epochs'), 100_000);
  const model = checkModel(args.model ?? TRAIN_DEFAULTS.model, models, arg('--model', 'model'));
  const device = checkDevice(args.device ?? TRAIN_DEFAULTS.device, arg('--device', 'device'));
  const seed = checkSeed(args.seed ?? TRAIN_DEFAULTS.seed, arg('--seed', 'seed'));
  const limit = args.limit === undefined || args.limit === null ? null : checkPositiveInt(args.limit, arg('--limit', 'limit'));
  const augment = args.augment === undefined ? false : checkBoolean(args.augment, arg('--augment', 'augment'));
  const stopOnNan = args.stopOnNan === undefined ? false : checkBoolean(args.stopOnNan, arg('--stop-on-nan', 'stop_on_nan'));
  const download = args.download === undefined ? true : checkBoolean(args.download, arg('--no-download', 'download'));
  const data = checkString(args.data ?? TRAIN_DEFAULTS.data, arg('--data', 'data'));
  const out = checkString(args.out ?? TRAIN_DEFAULTS.out, arg('--out', 'out'));
  const name = args.name === undefined ? defaultRunName({ model, lr, batch, seed, augment }) : checkName(args.name, arg('--name', 'name'));
  return { name, model, lr, batch, epochs, seed, device, data, limit, out, augment, stopOnNan, download };
}

/** Adam's settings besides lr: PyTorch's defaults */
export const ADAM_DEFAULTS = { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weight_decay: 0 };

/** inputs scaled to [-1, 1], as the seed did: (x/255 - 0.5)/0.5 */
export const NORMALIZATION = { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] };

/** the augmentation --augment turns on: random 32x32 crops of the 4-padded image, horizontal flips */
export const AUGMENTATION = { crop: 4, flip: true };

/**
 * test-set batch size; it does not change the accuracy. 250 divides 10,000 and
 * keeps the largest activation (250x16x32x32 floats, 16 MB) under glibc's
 * mmap threshold, so the CPU reuses heap memory instead of faulting in fresh
 * pages every batch (at 1000 the system time was 3-10x higher here).
 */
export const EVAL_BATCH = 250;

/** runs/NAME/config.json: the resolved config, everything a resume needs */
export interface RunConfig {
  name: string;
  model: string;
  lr: number;
  batch: number;
  epochs: number;
  seed: number;
  device: DeviceName;
  device_requested: DeviceChoice;
  data: string;
  limit: number | null;
  optimizer: 'adam';
  betas: [number, number];
  eps: number;
  weight_decay: number;
  augment: boolean;
  stop_on_nan: boolean;
  eval_batch: number;
  normalization: { mean: [number, number, number]; std: [number, number, number] };
  version: string;
  created_at: string;
}

export function makeRunConfig(req: TrainRequest, device: DeviceName, version: string): RunConfig {
  return {
    name: req.name,
    model: req.model,
    lr: req.lr,
    batch: req.batch,
    epochs: req.epochs,
    seed: req.seed,
    device,
    device_requested: req.device,
    data: path.resolve(req.data),
    limit: req.limit,
    optimizer: 'adam',
    betas: ADAM_DEFAULTS.betas,
    eps: ADAM_DEFAULTS.eps,
    weight_decay: ADAM_DEFAULTS.weight_decay,
    augment: req.augment,
    stop_on_nan: req.stopOnNan,
    eval_batch: EVAL_BATCH,
    normalization: NORMALIZATION,
    version,
    created_at: new Date().toISOString(),
  };
}

/** checks a config.json read back from a run directory (for --resume); errors name the file and field */
export function parseRunConfig(value: unknown, file: string, models: readonly string[]): RunConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(file, `${file}: expected a JSON object`);
  }
  const v = value as Record<string, unknown>;
  const f = (field: string) => `${file}: ${field}`;
  const pair = (x: unknown, field: string): [number, number] => {
    if (!Array.isArray(x) || x.length !== 2 || !x.every((e) => typeof e === 'number' && e >= 0 && e < 1)) {
      throw new ConfigError(f(field), `${f(field)} must be two numbers in [0, 1), got ${JSON.stringify(x)}`);
    }
    return [x[0], x[1]];
  };
  const triple = (x: unknown, field: string): [number, number, number] => {
    if (!Array.isArray(x) || x.length !== 3 || !x.every((e) => typeof e === 'number' && Number.isFinite(e))) {
      throw new ConfigError(f(field), `${f(field)} must be three numbers, got ${JSON.stringify(x)}`);
    }
    return [x[0], x[1], x[2]];
  };
  const device = checkDevice(v.device, f('device'));
  if (device === 'auto') throw new ConfigError(f('device'), `${f('device')} must be cpu or cuda, got "auto"`);
  if (v.optimizer !== 'adam') throw new ConfigError(f('optimizer'), `${f('optimizer')} must be "adam", got ${show(v.optimizer)}`);
  const norm = v.normalization as { mean?: unknown; std?: unknown } | undefined;
  if (!norm || typeof norm !== 'object') throw new ConfigError(f('normalization'), `${f('normalization')} must be {mean, std}`);
  const eps = numberFrom(v.eps);
  if (!(eps > 0)) throw new ConfigError(f('eps'), `${f('eps')} must be a number > 0, got ${show(v.eps)}`);
  const wd = numberFrom(v.weight_decay);
  if (!(wd >= 0)) throw new ConfigError(f('weight_decay'), `${f('weight_decay')} must be a number >= 0, got ${show(v.weight_decay)}`);
  return {
    name: checkName(v.name, f('name')),
    model: checkModel(v.model, models, f('model')),
    lr: checkLr(v.lr, f('lr')),
    batch: checkPositiveInt(v.batch, f('batch'), 1 << 20),
    epochs: checkPositiveInt(v.epochs, f('epochs'), 100_000),
    seed: checkSeed(v.seed, f('seed')),
    device,
    device_requested: v.device_requested === undefined ? device : checkDevice(v.device_requested, f('device_requested')),
    data: checkString(v.data, f('data')),
    limit: v.limit === null || v.limit === undefined ? null : checkPositiveInt(v.limit, f('limit')),
    optimizer: 'adam',
    betas: pair(v.betas, 'betas'),
    eps,
    weight_decay: wd,
    augment: checkBoolean(v.augment, f('augment')),
    stop_on_nan: checkBoolean(v.stop_on_nan, f('stop_on_nan')),
    eval_batch: checkPositiveInt(v.eval_batch, f('eval_batch'), 1 << 20),
    normalization: { mean: triple(norm.mean, 'normalization.mean'), std: triple(norm.std, 'normalization.std') },
    version: typeof v.version === 'string' ? v.version : 'unknown',
    created_at: typeof v.created_at === 'string' ? v.created_at : '',
  };
}

/** 'auto' is cuda when a usable GPU is there, else cpu; asking for cuda without one says why */
export function resolveDevice(choice: DeviceChoice, info: () => { available: boolean; reason: string }): DeviceName {
  if (choice === 'cpu') return 'cpu';
  const cuda = info();
  if (choice === 'auto') return cuda.available ? 'cuda' : 'cpu';
  if (!cuda.available) throw new Error(`--device cuda: no usable CUDA device (${cuda.reason || 'unknown reason'}); use --device cpu`);
  return 'cuda';
}
