// a sweep's trials: every point of the grid, with every draw of the random
// search, with every seed. a trial's identity is a hash of its full config
// (every setting that changes what it trains, defaults filled in), so the
// same config is the same trial whichever sweep file or order it came from,
// running a sweep again finds the trials it already has, and a changed base
// makes new ones.
//
// the random search draws from the project's own seeded generator (philox,
// src/random.ts) under the file's random.seed: the same file gives the same
// trials on every machine, every time.
import crypto from 'crypto';
import { Generator } from '../random';
import { ConfigError, FIELDS, checkField, completeSettings, defaultRunName, fieldSpec, flagOf, jsonFields, type RunSettings } from '../train/config';
import { modelNames } from '../models';
import { PLACEMENT_FIELDS, type SpaceSpec, type SweepFile } from './sweep-file';

/** the JSON config of one trial: every setting but where it runs (device, data, out, download, name) */
export type TrialConfig = Record<string, unknown>;

export interface Trial {
  /** 16 hex digits of the sha-256 of the canonical config */
  id: string;
  /** its run directory's name: the usual run name plus the id's first 8 digits */
  name: string;
  /** the swept fields' values and the seed, for tables */
  params: Record<string, unknown>;
  config: TrialConfig;
}

/** where a trial runs: given by the command that runs it */
export interface Placement {
  device: RunSettings['device'];
  data: string;
  out: string;
  download: boolean;
}

/** JSON with the keys of every object sorted: the same config always hashes the same */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function trialId(config: TrialConfig): string {
  return crypto.createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/** the trial config of complete settings: the placement left out, and another optimizer's hyperparameters */
export function trialConfigOf(s: RunSettings): TrialConfig {
  const out: TrialConfig = {};
  for (const f of FIELDS) {
    if (PLACEMENT_FIELDS.includes(f.name)) continue;
    if (f.optimizers && !f.optimizers.includes(s.optimizer)) continue;
    out[f.name] = s[f.name];
  }
  return out;
}

/**
 * a trial config (from a queue, say) back to run settings, every field checked
 * by the settings table again: an unknown field or a bad value is a ConfigError
 */
export function trialSettings(config: TrialConfig, name: string, placement: Placement, where: string): RunSettings {
  const given: Partial<Record<keyof RunSettings, unknown>> = {};
  for (const [key, v] of jsonFields(config, where)) {
    const spec = fieldSpec(key);
    const argument = `${where}.${key}`;
    if (!spec || PLACEMENT_FIELDS.includes(spec.name)) throw new ConfigError(argument, `${argument} is not a trial's field`);
    given[spec.name] = checkField(spec.name, v, argument, { strict: true, models: modelNames });
  }
  return completeSettings({ ...(given as Partial<RunSettings>), ...placement, name }, (field) => `${where}.${field}`);
}

const fourDigits = (x: number) => Number(x.toPrecision(4));

function draw(gen: Generator, spec: SpaceSpec): unknown {
  if ('log' in spec) {
    const [lo, hi] = spec.log;
    return fourDigits(lo * Math.exp(gen.uniform() * Math.log(hi / lo)));
  }
  if ('uniform' in spec) {
    const [lo, hi] = spec.uniform;
    return fourDigits(lo + gen.uniform() * (hi - lo));
  }
  if ('int' in spec) {
    const [lo, hi] = spec.int;
    // Generator.int takes up to 2^24 values; wider ranges scale a uniform draw
    const n = hi - lo + 1;
    return lo + (n <= 16777216 ? gen.int(n) : Math.min(n - 1, Math.floor(gen.uniform() * n)));
  }
  return spec.choice[gen.int(spec.choice.length)];
}

/** the random search's draws, in order: trials x (field -> value), each value checked */
function randomDraws(sweep: SweepFile): Array<Record<string, unknown>> {
  if (sweep.random === null) return [{}];
  const gen = new Generator(sweep.random.seed);
  const draws: Array<Record<string, unknown>> = [];
  for (let t = 0; t < sweep.random.trials; t++) {
    const point: Record<string, unknown> = {};
    for (const [field, spec] of sweep.random.space) {
      const v = draw(gen, spec);
      point[field] = checkField(field, v, `${sweep.file}: random.space.${field} (drawn ${JSON.stringify(v)})`, { strict: true, models: modelNames });
    }
    draws.push(point);
  }
  return draws;
}

/** the grid's points, the first field outermost */
function gridPoints(sweep: SweepFile): Array<Record<string, unknown>> {
  let points: Array<Record<string, unknown>> = [{}];
  for (const [field, values] of sweep.grid) points = points.flatMap((p) => values.map((v) => ({ ...p, [field]: v })));
  return points;
}

/** every trial of a sweep, in order (grid, then draws, then seeds); the same config twice is one trial */
export function expandTrials(sweep: SweepFile): Trial[] {
  const trials: Trial[] = [];
  const seen = new Set<string>();
  const placement: Placement = { device: 'auto', data: 'data', out: 'runs', download: false };
  for (const point of gridPoints(sweep)) {
    for (const drawn of randomDraws(sweep)) {
      for (const seed of sweep.seeds) {
        const params = { ...point, ...drawn, seed };
        const where = `${sweep.file}: trial ${canonicalJson(params)}`;
        const settings = completeSettings({ ...sweep.base, ...params, ...placement } as Partial<RunSettings>, (field) => {
          if (field in params) return `${where}.${field}`;
          const spec = fieldSpec(field);
          return sweep.base[field] !== undefined || (spec?.example !== undefined) ? `${sweep.file}: base.${field}` : `${where}.${field} (${flagOf(spec!)})`;
        });
        const config = trialConfigOf(settings);
        const id = trialId(config);
        if (seen.has(id)) continue;
        seen.add(id);
        trials.push({ id, name: `${defaultRunName(settings)}-${id.slice(0, 8)}`, params, config });
      }
    }
  }
  return trials;
}
