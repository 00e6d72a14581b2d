// a training run's settings, defined once: the table below lists every field
// with its name (as in config.json and experiments files; the command-line
// flag is the same name in kebab case), what it accepts, its default, its help
// text, and where it may be set. `cudalab train`'s options, the experiments
// file's fields, what --resume may change and the checks of a resumed
// config.json all come from it. every check names the argument and what it
// expected, so the CLI reports it as a usage error (exit code 2) as it is.
import path from 'path';
import type { DeviceName } from '../native';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optim/create';
import { isModelPath, modelLabel, resolveModelFile } from '../models/model-file';
import type { ParamGroupRule } from '../optim/groups';
import { scheduleProblem, SCHEDULE_KINDS, type ScheduleSpec } from './schedule';
import type { EmaSpec } from './ema';
import { FLIP_MODES, type FlipMode } from '../spec/augment';
import { CIFAR10_NORMALIZATION, DEFAULT_NORMALIZATION } from '../data/loader';

/** a parameter (by name, a regular expression searched in it) trained for the first afterEpoch epochs, then frozen */
export interface FreezeRule {
  match: string;
  afterEpoch: number;
}

export type DeviceChoice = 'auto' | DeviceName;
export const deviceChoices: DeviceChoice[] = ['auto', 'cpu', 'cuda'];

/** a bad argument or config field; `argument` is what the user wrote ("--lr", "x.json: experiments[1].batch") */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly argument: string, message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** everything a run is asked to do, checked, defaults filled in; device may still be 'auto' */
export interface RunSettings {
  lr: number;
  batch: number;
  epochs: number;
  model: string;
  device: DeviceChoice;
  seed: number;
  data: string;
  limit: number | null;
  out: string;
  name: string;
  augment: boolean;
  stopOnNan: boolean;
  download: boolean;
  optimizer: OptimizerName;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  momentum: number;
  nesterov: boolean;
  keepCheckpoints: number | 'all';
  labelSmoothing: number;
  dropLast: boolean;
  paramGroups: ParamGroupRule[];
  schedule: ScheduleSpec;
  ema: EmaSpec | null;
  freeze: FreezeRule[];
  translate: number;
  flip: FlipMode;
  cutout: number;
  normalize: NormalizeChoice;
  tta: number;
}

/** the pixel normalisations: half, (x - 0.5) / 0.5 (the seed lab's); cifar, CIFAR-10's channel statistics */
export type NormalizeChoice = 'half' | 'cifar';
export const NORMALIZE_CHOICES: readonly NormalizeChoice[] = ['half', 'cifar'];

// ---- what a field accepts ------------------------------------------------

interface ParseContext {
  models: readonly string[];
  /** JSON values must have their JSON type; the command line gives strings (code may give values) */
  strict: boolean;
}

interface Kind<T> {
  /** what a good value looks like, for messages and help: "a number > 0" */
  expected(ctx: ParseContext): string;
  /** the flag's value placeholder; null for a flag that takes none (a boolean) */
  placeholder: string | null;
  /** whether the help says what it takes (not for a path or a run name: the help text says it) */
  inHelp: boolean;
  parse(value: unknown, argument: string, ctx: ParseContext): T;
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

function fail(argument: string, expected: string, value: unknown, why = ''): never {
  throw new ConfigError(argument, `${argument} must be ${expected}, got ${show(value)}${why}`);
}

/** a number from a JSON number, or from the command line's text */
function numberFrom(value: unknown, argument: string, ctx: ParseContext): number {
  if (typeof value === 'number') return value;
  if (ctx.strict) throw new ConfigError(argument, `${argument} must be a number, got ${show(value)}`);
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return NaN;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * a real number the kernels take as a float32: finite there too (1e308 is
 * not), and inside [min, max] (or above min, with `above`) both as written and
 * as rounded to float32 (1e-50 is 0 there, so it is not > 0)
 */
function real(opts: { min: number; above?: boolean; max?: number; belowMax?: boolean }): Kind<number> {
  const { min, above = false, max = Infinity, belowMax = false } = opts;
  const inside = (x: number) => (above ? x > min : x >= min) && (belowMax ? x < max : x <= max);
  const expected = () =>
    max === Infinity ? `a number ${above ? '>' : '>='} ${min}` : `a number in ${above ? '(' : '['}${min}, ${max}${belowMax ? ')' : ']'}`;
  return {
    expected,
    placeholder: '<number>',
    inHelp: true,
    parse(value, argument, ctx) {
      const n = numberFrom(value, argument, ctx);
      if (!Number.isFinite(n) || !inside(n)) fail(argument, expected(), value);
      const f = Math.fround(n);
      if (!Number.isFinite(f)) fail(argument, expected(), value, ` (beyond float32's range, ${FLOAT32_MAX.toPrecision(2)})`);
      if (!inside(f)) fail(argument, expected(), value, ` (${f} in float32)`);
      return n;
    },
  };
}

function integer(min: number, max: number, expectedText = `an integer from ${min} to ${max}`): Kind<number> {
  return {
    expected: () => expectedText,
    placeholder: '<n>',
    inHelp: true,
    parse(value, argument, ctx) {
      const n = numberFrom(value, argument, ctx);
      if (!Number.isInteger(n) || n < min || n > max) fail(argument, expectedText, value);
      return n;
    },
  };
}

function orNull<T>(kind: Kind<T>): Kind<T | null> {
  return { ...kind, parse: (value, argument, ctx) => (value === null ? null : kind.parse(value, argument, ctx)) };
}

function choice<T extends string>(values: (ctx: ParseContext) => readonly T[], placeholder: string): Kind<T> {
  const expected = (ctx: ParseContext) => `one of ${values(ctx).join(', ')}`;
  return {
    expected,
    placeholder,
    inHelp: true,
    parse(value, argument, ctx) {
      if (typeof value !== 'string' || !values(ctx).includes(value as T)) fail(argument, expected(ctx), value);
      return value as T;
    },
  };
}

const flag: Kind<boolean> = {
  expected: () => 'true or false',
  placeholder: null,
  inHelp: false,
  parse(value, argument) {
    if (typeof value !== 'boolean') fail(argument, 'true or false', value);
    return value;
  },
};

const text: Kind<string> = {
  expected: () => 'a non-empty string',
  placeholder: '<dir>',
  inHelp: false,
  parse(value, argument) {
    if (typeof value !== 'string' || value === '') fail(argument, 'a non-empty string', value);
    return value;
  },
};

// a run name becomes a directory under --out: keep it one plain path segment
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const NAME_EXPECTED = 'a file name of letters, digits and . _ + - (not starting with . _ + -)';

const runName: Kind<string> = {
  expected: () => NAME_EXPECTED,
  placeholder: '<name>',
  inHelp: false,
  parse(value, argument) {
    if (typeof value !== 'string' || !NAME_PATTERN.test(value) || value.length > 200) fail(argument, NAME_EXPECTED, value);
    return value;
  },
};

/** Adam's betas: two numbers in [0, 1), "0.9,0.999" on the command line */
const betaPair: Kind<[number, number]> = {
  expected: () => 'two numbers in [0, 1)',
  placeholder: '<b1,b2>',
  inHelp: true,
  parse(value, argument, ctx) {
    const parts = !ctx.strict && typeof value === 'string' ? value.split(',') : value;
    const beta = real({ min: 0, max: 1, belowMax: true });
    if (!Array.isArray(parts) || parts.length !== 2) fail(argument, 'two numbers in [0, 1)', value);
    try {
      return [beta.parse(parts[0], argument, ctx), beta.parse(parts[1], argument, ctx)];
    } catch {
      return fail(argument, 'two numbers in [0, 1) (also in float32)', value);
    }
  },
};

const keepCount: Kind<number | 'all'> = {
  expected: () => 'an integer from 1 to 100000, or "all"',
  placeholder: '<n|all>',
  inHelp: true,
  parse(value, argument, ctx) {
    if (value === 'all') return 'all';
    if (ctx.strict && typeof value !== 'number') fail(argument, 'an integer from 1 to 100000, or "all"', value);
    return integer(1, 100_000, 'an integer from 1 to 100000, or "all"').parse(value, argument, ctx);
  },
};

/**
 * a JSON value checked by `problem` (null: fine); the command line gives it
 * as JSON text, or as one of `names` standing for {kind: name}
 */
function jsonValue<T>(expectedText: string, placeholder: string, problem: (v: unknown) => string | null, names: readonly string[] = []): Kind<T> {
  return {
    expected: () => expectedText,
    placeholder,
    inHelp: true,
    parse(value, argument, ctx) {
      let v = value;
      if (!ctx.strict && typeof value === 'string') {
        if (names.includes(value)) v = { kind: value };
        else {
          try {
            v = JSON.parse(value);
          } catch {
            fail(argument, `${expectedText}, as JSON`, value);
          }
        }
      }
      const why = problem(v);
      if (why !== null) fail(argument, expectedText, value, ` (${why})`);
      return v as T;
    },
  };
}

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function regexProblem(match: unknown): string | null {
  if (typeof match !== 'string' || match === '') return 'match must be a non-empty regular expression';
  try {
    new RegExp(match);
    return null;
  } catch (err) {
    return `match: ${(err as Error).message}`;
  }
}

/** what is wrong with a list of objects of exactly these fields (null: nothing) */
function rulesProblem(value: unknown, fields: Record<string, (v: unknown) => string | null>, required: string[]): string | null {
  if (!Array.isArray(value)) return 'not an array';
  for (let i = 0; i < value.length; i++) {
    const r = value[i];
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return `[${i}] is not an object`;
    for (const key of Object.keys(r)) if (!Object.hasOwn(fields, key)) return `[${i}].${key} is not a field (expected ${Object.keys(fields).join(', ')})`;
    for (const key of required) if (!Object.hasOwn(r, key)) return `[${i}].${key} is missing`;
    for (const [key, check] of Object.entries(fields)) {
      if (!Object.hasOwn(r, key)) continue;
      const why = check((r as Record<string, unknown>)[key]);
      if (why !== null) return `[${i}].${why}`;
    }
  }
  return null;
}

const paramGroupRules = jsonValue<ParamGroupRule[]>('a list of {match, lrScale, weightDecayScale}', '<json>', (v) =>
  rulesProblem(
    v,
    {
      match: regexProblem,
      lrScale: (x) => (isNumber(x) && x > 0 ? null : 'lrScale must be a number > 0'),
      weightDecayScale: (x) => (isNumber(x) && x >= 0 ? null : 'weightDecayScale must be a number >= 0'),
    },
    ['match'],
  ),
);

const freezeRules = jsonValue<FreezeRule[]>('a list of {match, afterEpoch}', '<json>', (v) =>
  rulesProblem(
    v,
    { match: regexProblem, afterEpoch: (x) => (Number.isInteger(x) && (x as number) >= 0 ? null : 'afterEpoch must be an integer >= 0') },
    ['match', 'afterEpoch'],
  ),
);

const schedule = jsonValue<ScheduleSpec>(`a schedule {kind: ${SCHEDULE_KINDS.join('|')}, ...}`, '<name|json>', scheduleProblem, ['constant', 'cosine', 'onecycle']);

function emaProblem(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return 'not an object';
  const r = v as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!['every', 'decay', 'power'].includes(key)) return `"${key}" is not a field (expected every, decay, power)`;
  if (!Number.isInteger(r.every) || (r.every as number) < 1) return 'every must be an integer >= 1';
  if (!isNumber(r.decay) || r.decay < 0 || r.decay > 1) return 'decay must be in [0, 1]';
  if (!isNumber(r.power) || r.power < 0) return 'power must be a number >= 0';
  return null;
}

const ema = jsonValue<EmaSpec | null>('null or {every, decay, power}', '<json>', emaProblem);

/** a built-in model's name, or a model file (./my-net.js), which becomes its absolute path */
const modelExpected = (ctx: ParseContext) => `one of ${ctx.models.join(', ')}, or a model file (./my-net.js)`;
const modelChoice: Kind<string> = {
  expected: modelExpected,
  placeholder: '<name|file>',
  inHelp: true,
  parse(value, argument, ctx) {
    if (typeof value === 'string' && isModelPath(value)) {
      const resolved = resolveModelFile(value);
      if ('problem' in resolved) throw new ConfigError(argument, `${argument} must be a model file, got ${show(value)}: ${resolved.problem}`);
      return resolved.file;
    }
    if (typeof value !== 'string' || !ctx.models.includes(value)) fail(argument, `one of ${ctx.models.join(', ')}`, value, ' (or a model file, such as ./my-net.js)');
    return value;
  },
};

// ---- the table -----------------------------------------------------------

export interface FieldSpec<T = unknown> {
  name: keyof RunSettings;
  kind: Kind<T>;
  /** undefined: required (lr, batch) or worked out from the others (name) */
  default?: T;
  help: string;
  /** for a required field: an example in "is required" messages */
  example?: string;
  /** --resume may change it; the others come from the run's config.json */
  resume: boolean;
  /** kept in config.json */
  saved: boolean;
  /** where an experiments run gets it: its entry in the file, the command line for all runs, or both */
  experiments: 'entry' | 'command' | 'both';
  /** a hyperparameter only these optimizers have */
  optimizers?: readonly OptimizerName[];
  /** added after runs were saved without it: an older config.json takes the default */
  addedLater?: boolean;
}

const ADAMS: readonly OptimizerName[] = ['adam', 'adamw'];

type FieldTable = { [K in keyof RunSettings]: Omit<FieldSpec<RunSettings[K]>, 'name'> };

const TABLE: FieldTable = {
  lr: { kind: real({ min: 0, above: true }), help: 'learning rate', example: '0.001', resume: false, saved: true, experiments: 'entry' },
  batch: { kind: integer(1, 1 << 20), help: 'batch size', example: '64', resume: false, saved: true, experiments: 'entry' },
  epochs: {
    kind: real({ min: 0, above: true, max: 100_000 }),
    default: 3,
    help: 'epochs; a fraction cuts the last one at ceil(steps per epoch x epochs) steps in all',
    resume: true,
    saved: true,
    experiments: 'both',
  },
  model: { kind: modelChoice, default: 'seedcnn', help: 'model', resume: false, saved: true, experiments: 'entry' },
  device: {
    kind: choice(() => deviceChoices, '<device>'),
    default: 'auto',
    help: 'where to run (auto: cuda when a usable GPU is there, else cpu; on the command line, cuda:N runs on the N-th GPU)',
    resume: true,
    saved: true,
    experiments: 'command',
  },
  seed: {
    kind: integer(0, Number.MAX_SAFE_INTEGER, 'a non-negative integer below 2^53'),
    default: 0,
    help: 'seed of every random draw (init, shuffling, dropout)',
    resume: false,
    saved: true,
    experiments: 'entry',
  },
  data: { kind: text, default: 'data', help: 'the data folder (CIFAR-10 is downloaded there when missing)', resume: true, saved: true, experiments: 'command' },
  limit: {
    kind: orNull(integer(1, 2 ** 31 - 1)),
    default: null,
    help: 'train on the first N training images and test on the first N test images',
    resume: false,
    saved: true,
    experiments: 'command',
  },
  out: { kind: text, default: 'runs', help: 'where run directories go', resume: false, saved: false, experiments: 'command' },
  name: { kind: runName, help: 'the run directory name (default MODEL-lrLR-bBATCH-sSEED)', resume: false, saved: true, experiments: 'entry' },
  augment: { kind: flag, default: false, help: 'random crops (4 pixels of padding) and horizontal flips', resume: false, saved: true, experiments: 'entry' },
  stopOnNan: {
    kind: flag,
    default: false,
    help: 'stop when the loss is not finite (by default the run goes on and reports it)',
    resume: false,
    saved: true,
    experiments: 'entry',
  },
  download: { kind: flag, default: true, help: 'fail instead of downloading CIFAR-10 when it is missing', resume: true, saved: false, experiments: 'command' },
  optimizer: { kind: choice(() => OPTIMIZER_NAMES, '<name>'), default: 'adam', help: 'optimizer', resume: false, saved: true, experiments: 'entry' },
  weightDecay: {
    kind: real({ min: 0 }),
    default: 0,
    help: 'weight decay: an L2 penalty added to the gradient (adamw: decoupled, param *= 1 - lr x weightDecay)',
    resume: false,
    saved: true,
    experiments: 'entry',
  },
  betas: { kind: betaPair, default: [0.9, 0.999], help: "Adam's moment decay rates", resume: false, saved: true, experiments: 'entry', optimizers: ADAMS },
  eps: { kind: real({ min: 0, above: true }), default: 1e-8, help: "Adam's term added to the denominator", resume: false, saved: true, experiments: 'entry', optimizers: ADAMS },
  momentum: { kind: real({ min: 0, max: 1 }), default: 0, help: "SGD's momentum", resume: false, saved: true, experiments: 'entry', optimizers: ['sgd'] },
  nesterov: { kind: flag, default: false, help: "SGD's Nesterov momentum (needs --momentum > 0)", resume: false, saved: true, experiments: 'entry', optimizers: ['sgd'] },
  keepCheckpoints: {
    kind: keepCount,
    default: 1,
    help: 'checkpoints kept besides the best: the last N epochs, or all',
    resume: true,
    saved: true,
    experiments: 'both',
  },
  labelSmoothing: {
    kind: real({ min: 0, max: 1, belowMax: true }),
    default: 0,
    help: "the cross-entropy's label smoothing (PyTorch's label_smoothing)",
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  dropLast: {
    kind: flag,
    default: false,
    help: 'leave out the last training batch of an epoch when it is short',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  paramGroups: {
    kind: paramGroupRules,
    default: [],
    help:
      'parameter groups: a parameter whose name the first rule\'s regular expression matches steps at lr x lrScale and ' +
      'weight decay x weightDecayScale (e.g. [{"match":"norm","lrScale":64,"weightDecayScale":0.015625}])',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  schedule: {
    kind: schedule,
    default: { kind: 'constant' },
    help:
      'the lr schedule, per step: constant; piecewise {points: [[fraction, factor], ...]}; cosine {minFactor}; ' +
      'onecycle {pctStart, divFactor, finalDivFactor}; step {milestones: [fractions], gamma}',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  ema: {
    kind: ema,
    default: null,
    help: 'lookahead averaging of the state every N steps at decay x (step/total)^power, the net set to the average at the end (e.g. {"every":5,"decay":0.7737809375,"power":3})',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  freeze: {
    kind: freezeRules,
    default: [],
    help: 'parameters trained for the first afterEpoch epochs, then frozen (e.g. [{"match":"^0\\.bias$","afterEpoch":3}])',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  translate: {
    kind: integer(0, 16),
    default: 0,
    help: 'random translation on the training device, up to N pixels each way, reflect padding (airbench: 2)',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  flip: {
    kind: choice(() => FLIP_MODES, '<mode>'),
    default: 'none',
    help: "horizontal flips on the training device: random per image and epoch, or alternating (airbench's: a random half once, then every image every other epoch)",
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  cutout: {
    kind: integer(0, 32),
    default: 0,
    help: 'cutout on the training device: a random NxN square set to the mean (0: none)',
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  normalize: {
    kind: choice(() => NORMALIZE_CHOICES, '<name>'),
    default: 'half',
    help: "pixel normalisation: half, (x - 0.5) / 0.5; cifar, CIFAR-10's channel means and deviations",
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
  tta: {
    kind: integer(0, 2),
    default: 0,
    help: "test-time augmentation of the final evaluation: 0 none, 1 mirror, 2 mirror and one-pixel translations (airbench's 6 views)",
    resume: false,
    saved: true,
    experiments: 'entry',
    addedLater: true,
  },
};

/** every field, in the table's order (the help's order) */
export const FIELDS: readonly FieldSpec[] = Object.entries(TABLE).map(([name, spec]) => ({ ...spec, name }) as FieldSpec);

// looked up with a Map: a key like "__proto__" or "toString" is no field
const BY_NAME = new Map<string, FieldSpec>(FIELDS.map((f) => [f.name, f]));

export function fieldSpec(name: string): FieldSpec | undefined {
  return BY_NAME.get(name);
}

/** the command-line flag of a field: stopOnNan -> --stop-on-nan, a boolean that defaults to true -> --no-download */
export function flagOf(spec: FieldSpec): string {
  const kebab = spec.name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  return spec.kind.placeholder === null && spec.default === true ? `--no-${kebab}` : `--${kebab}`;
}

/**
 * the help line of a field's flag, with what it takes and its default; for
 * `cudalab experiments` a field an experiment sets too defaults to the experiment's own
 */
export function helpOf(spec: FieldSpec, models: readonly string[], forExperiments = false): string {
  const ctx = { models, strict: false };
  let help = spec.help;
  if (spec.kind.inHelp) help += `: ${spec.kind.expected(ctx)}`;
  if (forExperiments && spec.experiments === 'both') help += " (default: each experiment's own)";
  else if (spec.kind.placeholder !== null && spec.default !== undefined && spec.default !== null) {
    const d = spec.default;
    if (!(Array.isArray(d) && d.length === 0)) help += ` (default ${Array.isArray(d) && d.every((x) => typeof x === 'number') ? d.join(',') : typeof d === 'object' ? JSON.stringify(d) : d})`;
  }
  if (spec.example) help += ' (required unless --resume)';
  if (spec.optimizers) help += ` [${spec.optimizers.join(', ')}]`;
  return help;
}

/** checks one field's value; `argument` names it in the error ("--epochs", "x.json: experiments[0].epochs") */
export function checkField<K extends keyof RunSettings>(
  name: K,
  value: unknown,
  argument: string,
  opts: { models?: readonly string[]; strict?: boolean } = {},
): RunSettings[K] {
  const spec = BY_NAME.get(name)!;
  return spec.kind.parse(value, argument, { models: opts.models ?? [], strict: opts.strict ?? false }) as RunSettings[K];
}

/** the default run name: every setting that tells two seed experiments apart */
export function defaultRunName(c: {
  model: string; lr: number; batch: number; seed: number; augment?: boolean; optimizer?: OptimizerName;
  translate?: number; flip?: FlipMode; cutout?: number;
}): string {
  const device = `${c.translate ? `-t${c.translate}` : ''}${c.flip && c.flip !== 'none' ? `-${c.flip}` : ''}${c.cutout ? `-cut${c.cutout}` : ''}`;
  return `${modelLabel(c.model)}-lr${c.lr}-b${c.batch}-s${c.seed}${c.augment ? '-aug' : ''}${device}${c.optimizer && c.optimizer !== 'adam' ? `-${c.optimizer}` : ''}`;
}

/**
 * fills in the defaults of what was not given and checks the fields against
 * each other; `argumentOf` names a field the way its source does
 */
export function completeSettings(given: Partial<RunSettings>, argumentOf: (name: keyof RunSettings) => string): RunSettings {
  const out: Record<string, unknown> = Object.create(null);
  for (const spec of FIELDS) {
    const value = given[spec.name];
    if (value !== undefined) out[spec.name] = value;
    else if (spec.example !== undefined) {
      const arg = argumentOf(spec.name);
      throw new ConfigError(arg, `${arg} is required (${spec.kind.expected({ models: [], strict: false })}, e.g. ${spec.example})`);
    } else if (spec.default !== undefined) out[spec.name] = Array.isArray(spec.default) ? spec.default.slice() : spec.default;
  }
  const s = out as unknown as RunSettings;
  for (const spec of FIELDS) {
    if (spec.optimizers && !spec.optimizers.includes(s.optimizer) && given[spec.name] !== undefined) {
      const arg = argumentOf(spec.name);
      throw new ConfigError(arg, `${arg} applies to the ${spec.optimizers.join(' and ')} optimizer${spec.optimizers.length > 1 ? 's' : ''} only; this run uses ${s.optimizer} (${argumentOf('optimizer')})`);
    }
  }
  if (s.augment && (s.translate > 0 || s.flip !== 'none' || s.cutout > 0)) {
    const arg = argumentOf(s.translate > 0 ? 'translate' : s.flip !== 'none' ? 'flip' : 'cutout');
    throw new ConfigError(arg, `${arg} augments on the device; ${argumentOf('augment')} (the host's 4-pixel crops and flips) is the other way: use one`);
  }
  if (s.nesterov && s.momentum === 0) {
    throw new ConfigError(argumentOf('nesterov'), `${argumentOf('nesterov')} needs ${argumentOf('momentum')} > 0 (as in PyTorch)`);
  }
  if (s.name === undefined) s.name = defaultRunName(s);
  return { ...s };
}

/**
 * the settings of `cudalab train` (or code): flag texts or values by field
 * name, checked, names like "--lr"; over the values of a run config file
 * (--config, checked already by parseRunFile) where one is given
 */
export function resolveTrainRequest(
  args: Partial<Record<keyof RunSettings, unknown>>,
  models: readonly string[],
  file?: { path: string; settings: Partial<RunSettings> },
): RunSettings {
  const given: Partial<Record<keyof RunSettings, unknown>> = { ...(file?.settings ?? {}) };
  const fromCommandLine = new Set<string>();
  for (const spec of FIELDS) {
    const value = Object.hasOwn(args, spec.name) ? args[spec.name] : undefined;
    if (value !== undefined) {
      given[spec.name] = spec.kind.parse(value, flagOf(spec), { models, strict: false });
      fromCommandLine.add(spec.name);
    }
  }
  return completeSettings(given as Partial<RunSettings>, (name) =>
    file && !fromCommandLine.has(name) && Object.hasOwn(file.settings, name) ? `${file.path}: ${name}` : flagOf(BY_NAME.get(name)!),
  );
}

/**
 * a run config file (`cudalab train --config FILE`): a JSON object whose keys
 * are the settings' names (as in config.json), each checked as its JSON type;
 * any other key is an error naming the file
 */
export function parseRunFile(text: string, file: string, models: readonly string[]): Partial<RunSettings> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, `${file}: not valid JSON (${(err as Error).message})`);
  }
  const out: Partial<Record<keyof RunSettings, unknown>> = {};
  for (const [key, v] of jsonFields(json, file)) {
    const spec = BY_NAME.get(key);
    const argument = `${file}: ${key}`;
    if (!spec) throw new ConfigError(argument, `${argument} is not a known field (expected ${FIELDS.map((f) => f.name).join(', ')})`);
    out[spec.name] = spec.kind.parse(v, argument, { models, strict: true });
  }
  return out as Partial<RunSettings>;
}

/**
 * the own keys of a JSON object as a Map, so "__proto__", "constructor" and
 * the like are plain keys, looked up nowhere else
 */
export function jsonFields(value: unknown, where: string): Map<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(where, `${where} must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return new Map(Object.entries(value));
}

/**
 * a settings file's text as its top-level fields, refusing text that is not
 * JSON and any field not in `known`: every error names the file and the field
 */
export function jsonFileFields(text: string, file: string, known: readonly string[]): Map<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, `${file}: not valid JSON (${(err as Error).message})`);
  }
  const top = jsonFields(json, file);
  for (const key of top.keys()) {
    if (!known.includes(key)) throw new ConfigError(`${file}: ${key}`, `${file}: ${key} is not a known field (expected ${known.join(', ')})`);
  }
  return top;
}

// ---- what a run directory keeps -----------------------------------------

/** inputs scaled to [-1, 1], as the seed did: (x/255 - 0.5)/0.5 */
export const NORMALIZATION = { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] };

/** the normalisation a run's `normalize` names */
export function normalizationOf(choice: NormalizeChoice): { mean: [number, number, number]; std: [number, number, number] } {
  const n = choice === 'cifar' ? CIFAR10_NORMALIZATION : DEFAULT_NORMALIZATION;
  return { mean: [...n.mean], std: [...n.std] };
}

/** the augmentation --augment turns on: random 32x32 crops of the 4-padded image, horizontal flips */
export const AUGMENTATION = { crop: 4, flip: true };

/**
 * test-set batch size; it does not change the accuracy. 250 divides 10,000 and
 * keeps the largest activation (250x16x32x32 floats, 16 MB) under glibc's
 * mmap threshold, so the CPU reuses heap memory instead of faulting in fresh
 * pages every batch (at 1000 the system time was 3-10x higher here).
 */
export const EVAL_BATCH = 250;

// the hyperparameters only one optimizer has: a run's config.json holds its own optimizer's
type OptimizerOnly = 'betas' | 'eps' | 'momentum' | 'nesterov';
type SavedSettings = Omit<RunSettings, 'device' | 'out' | 'download' | OptimizerOnly> & Partial<Pick<RunSettings, OptimizerOnly>>;

/** runs/NAME/config.json: the saved settings and what the run recorded besides, everything a resume needs */
export interface RunConfig extends SavedSettings {
  /** the device it ran on ('auto' resolved) */
  device: DeviceName;
  deviceRequested: DeviceChoice;
  evalBatch: number;
  normalization: { mean: [number, number, number]; std: [number, number, number] };
  version: string;
  createdAt: string;
}

// config.json fields that are records of the run, not settings
const RECORDED = ['deviceRequested', 'evalBatch', 'normalization', 'version', 'createdAt'];

/** does the field belong in this run's config.json (another optimizer's hyperparameters do not) */
function kept(spec: FieldSpec, optimizer: OptimizerName): boolean {
  return spec.saved && (spec.optimizers === undefined || spec.optimizers.includes(optimizer));
}

function savedPart(s: RunSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of FIELDS) if (kept(spec, s.optimizer)) out[spec.name] = s[spec.name];
  return out;
}

export function makeRunConfig(s: RunSettings, device: DeviceName, version: string): RunConfig {
  return {
    ...savedPart(s),
    device,
    deviceRequested: s.device,
    data: path.resolve(s.data),
    evalBatch: EVAL_BATCH,
    normalization: normalizationOf(s.normalize),
    version,
    createdAt: new Date().toISOString(),
  } as RunConfig;
}

// config.json from before the one naming used snake_case: stop_on_nan -> stopOnNan
const camelCase = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * checks a config.json read back from a run directory (for --resume); errors
 * name the file and field. every field the run was started with must be
 * there; fields added since take their defaults.
 */
export function parseRunConfig(value: unknown, file: string, models: readonly string[]): RunConfig {
  const raw = jsonFields(value, file);
  const at = (field: string) => `${file}: ${field}`;
  const fields = new Map<string, unknown>();
  for (const [key, v] of raw) {
    // only a known field's old name is read as that field; any other key is reported as written
    const camel = camelCase(key);
    const name = key.includes('_') && (BY_NAME.has(camel) || RECORDED.includes(camel)) ? camel : key;
    if (fields.has(name)) throw new ConfigError(at(key), `${at(key)} is given twice (as ${name} too)`);
    fields.set(name, v);
  }
  const ctx = { models, strict: true };
  const given: Partial<Record<keyof RunSettings, unknown>> = {};
  for (const [name, v] of fields) {
    const spec = BY_NAME.get(name);
    if (RECORDED.includes(name) || name === 'device') continue;
    if (!spec || !spec.saved) {
      const known = [...FIELDS.filter((f) => f.saved).map((f) => f.name), ...RECORDED].join(', ');
      throw new ConfigError(at(name), `${at(name)} is not a known field (expected ${known})`);
    }
    given[spec.name] = spec.kind.parse(v, at(name), ctx);
  }
  const optimizer = (given.optimizer as OptimizerName | undefined) ?? 'adam';
  for (const spec of FIELDS) {
    if (kept(spec, optimizer) && !spec.resume && !spec.addedLater && given[spec.name] === undefined) {
      throw new ConfigError(at(spec.name), `${at(spec.name)} is missing (${spec.kind.expected(ctx)})`);
    }
  }
  const settings = completeSettings(given as Partial<RunSettings>, at);

  const device = choice(() => ['cpu', 'cuda'] as DeviceName[], '').parse(fields.get('device'), at('device'), ctx);
  const requested = fields.get('deviceRequested');
  const norm = jsonFields(fields.get('normalization'), at('normalization'));
  const triple = (x: unknown, field: string): [number, number, number] => {
    if (!Array.isArray(x) || x.length !== 3 || !x.every((e) => typeof e === 'number' && Number.isFinite(e))) {
      throw new ConfigError(at(field), `${at(field)} must be three numbers, got ${JSON.stringify(x)}`);
    }
    return [x[0], x[1], x[2]];
  };
  const version = fields.get('version');
  const createdAt = fields.get('createdAt');
  return {
    ...(savedPart(settings) as SavedSettings),
    device,
    deviceRequested: requested === undefined ? device : choice(() => deviceChoices, '').parse(requested, at('deviceRequested'), ctx),
    evalBatch: integer(1, 1 << 20).parse(fields.get('evalBatch'), at('evalBatch'), ctx),
    normalization: { mean: triple(norm.get('mean'), 'normalization.mean'), std: triple(norm.get('std'), 'normalization.std') },
    version: typeof version === 'string' ? version : 'unknown',
    createdAt: typeof createdAt === 'string' ? createdAt : '',
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
