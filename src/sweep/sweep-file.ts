// a sweep file: a base run config, the fields to sweep (a grid, a seeded
// random search, or both) and the seeds every point runs with. it is JSON:
//   { "name": "lr-batch", "description": "...",
//     "base": { "model": "seedcnn", "epochs": 3 },
//     "grid": { "lr": [0.001, 0.01], "batch": [64, 128] },
//     "random": { "trials": 20, "seed": 0, "space": { "lr": { "log": [1e-4, 1e-1] }, "batch": { "int": [32, 512] } } },
//     "seeds": [0, 1] }
// every value goes through the run settings table (src/train/config.ts), so an
// unknown field or a bad value is an error naming the file and the field,
// before anything runs.
import fs from 'fs';
import { modelNames } from '../models';
import { ConfigError, checkField, fieldSpec, FIELDS, jsonFields, jsonFileFields, type RunSettings } from '../train/config';

/** how a random-search field is drawn */
export type SpaceSpec =
  | { log: [number, number] } // log-uniform between the two (both > 0), 4 significant digits
  | { uniform: [number, number] } // uniform between the two, 4 significant digits
  | { int: [number, number] } // a uniform integer from the first to the second, both included
  | { choice: unknown[] }; // one of the values, each as likely

export interface SweepFile {
  name: string;
  description: string;
  /** the settings every trial shares, checked (only the fields the file gives) */
  base: Partial<RunSettings>;
  /** field -> its values, checked, in the file's order */
  grid: Array<[keyof RunSettings, unknown[]]>;
  random: { trials: number; seed: number; space: Array<[keyof RunSettings, SpaceSpec]> } | null;
  seeds: number[];
  /** the file, for messages */
  file: string;
}

const TOP_FIELDS = ['name', 'description', 'base', 'grid', 'random', 'seeds'];
const RANDOM_FIELDS = ['trials', 'seed', 'space'];
const SPACE_KINDS = ['log', 'uniform', 'int', 'choice'];

// where a trial runs is the command's (or the worker's) business, not the
// trial's: these are no part of a trial's config, so they cannot be set or swept
export const PLACEMENT_FIELDS: ReadonlyArray<keyof RunSettings> = ['device', 'data', 'out', 'download', 'name'];

export const SWEEP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** a field a sweep may set or sweep; anything else is an error naming where it was written */
function sweepField(key: string, argument: string): keyof RunSettings {
  const spec = fieldSpec(key);
  if (spec && PLACEMENT_FIELDS.includes(spec.name)) {
    const why = spec.name === 'name'
      ? "each trial's run directory is named after its config"
      : 'it is where trials run, given to `cudalab sweep` or `cudalab worker` on the command line';
    throw new ConfigError(argument, `${argument} cannot be set in a sweep file: ${why}`);
  }
  if (!spec) {
    const known = FIELDS.map((f) => f.name).filter((n) => !PLACEMENT_FIELDS.includes(n));
    throw new ConfigError(argument, `${argument} is not a known field (expected ${known.join(', ')})`);
  }
  return spec.name;
}

function finitePair(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) && v[0] <= v[1];
}

function parseSpace(value: unknown, argument: string): SpaceSpec {
  const fields = jsonFields(value, argument);
  const expected = '{"log": [lo, hi]}, {"uniform": [lo, hi]}, {"int": [lo, hi]} or {"choice": [...]}';
  if (fields.size !== 1 || !SPACE_KINDS.includes([...fields.keys()][0])) {
    throw new ConfigError(argument, `${argument} must be one of ${expected}, got ${JSON.stringify(value)}`);
  }
  const [kind, v] = [...fields][0];
  const at = `${argument}.${kind}`;
  if (kind === 'choice') {
    if (!Array.isArray(v) || v.length === 0) throw new ConfigError(at, `${at} must be a non-empty array of values`);
    return { choice: v };
  }
  if (!finitePair(v)) throw new ConfigError(at, `${at} must be two finite numbers [lo, hi] with lo <= hi, got ${JSON.stringify(v)}`);
  if (kind === 'log' && v[0] <= 0) throw new ConfigError(at, `${at} must be two numbers > 0 (a log scale), got ${JSON.stringify(v)}`);
  if (kind === 'int' && !v.every(Number.isSafeInteger)) throw new ConfigError(at, `${at} must be two integers, got ${JSON.stringify(v)}`);
  return kind === 'log' ? { log: v } : kind === 'int' ? { int: v } : { uniform: v };
}

const nonNegativeInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** parses and checks a sweep file's text; every error names the file and the field */
export function parseSweepFile(text: string, file: string): SweepFile {
  const top = jsonFileFields(text, file, TOP_FIELDS);
  const name = top.get('name');
  if (typeof name !== 'string' || !SWEEP_NAME_PATTERN.test(name) || name.length > 100) {
    throw new ConfigError(`${file}: name`, `${file}: name must be a sweep name of letters, digits and . _ - (it names the queue and the results folder), got ${JSON.stringify(name)}`);
  }
  const description = top.get('description') ?? '';
  if (typeof description !== 'string') throw new ConfigError(`${file}: description`, `${file}: description must be a string, got ${JSON.stringify(description)}`);

  const base: Partial<Record<keyof RunSettings, unknown>> = {};
  if (top.has('base')) {
    for (const [key, v] of jsonFields(top.get('base'), `${file}: base`)) {
      const argument = `${file}: base.${key}`;
      const field = sweepField(key, argument);
      base[field] = checkField(field, v, argument, { strict: true, models: modelNames });
    }
  }

  const grid: Array<[keyof RunSettings, unknown[]]> = [];
  if (top.has('grid')) {
    for (const [key, values] of jsonFields(top.get('grid'), `${file}: grid`)) {
      const argument = `${file}: grid.${key}`;
      const field = sweepField(key, argument);
      if (field === 'seed') throw new ConfigError(argument, `${argument}: seeds are swept by "seeds": [0, 1, ...]`);
      if (!Array.isArray(values) || values.length === 0) throw new ConfigError(argument, `${argument} must be a non-empty array of values`);
      grid.push([field, values.map((v, i) => checkField(field, v, `${argument}[${i}]`, { strict: true, models: modelNames }))]);
    }
  }

  let random: SweepFile['random'] = null;
  if (top.has('random')) {
    const where = `${file}: random`;
    const r = jsonFields(top.get('random'), where);
    for (const key of r.keys()) if (!RANDOM_FIELDS.includes(key)) throw new ConfigError(`${where}.${key}`, `${where}.${key} is not a known field (expected ${RANDOM_FIELDS.join(', ')})`);
    const trials = r.get('trials');
    if (!nonNegativeInteger(trials) || trials < 1 || trials > 100_000) throw new ConfigError(`${where}.trials`, `${where}.trials must be an integer from 1 to 100000, got ${JSON.stringify(trials)}`);
    const seed = r.get('seed') ?? 0;
    if (!nonNegativeInteger(seed)) throw new ConfigError(`${where}.seed`, `${where}.seed must be a non-negative integer (the random search's own seed), got ${JSON.stringify(seed)}`);
    const space: Array<[keyof RunSettings, SpaceSpec]> = [];
    for (const [key, v] of jsonFields(r.get('space'), `${where}.space`)) {
      const argument = `${where}.space.${key}`;
      const field = sweepField(key, argument);
      if (field === 'seed') throw new ConfigError(argument, `${argument}: seeds are swept by "seeds": [0, 1, ...]`);
      if (grid.some(([g]) => g === field)) throw new ConfigError(argument, `${argument} is in the grid too: sweep a field one way`);
      space.push([field, parseSpace(v, argument)]);
    }
    if (space.length === 0) throw new ConfigError(`${where}.space`, `${where}.space must name at least one field`);
    random = { trials, seed, space };
  }

  let seeds: number[] = [base.seed === undefined ? 0 : (base.seed as number)];
  if (top.has('seeds')) {
    const s = top.get('seeds');
    if (base.seed !== undefined) throw new ConfigError(`${file}: seeds`, `${file}: seeds and base.seed both set the seed: give one of them`);
    if (!Array.isArray(s) || s.length === 0) throw new ConfigError(`${file}: seeds`, `${file}: seeds must be a non-empty array of integers`);
    seeds = s.map((v, i) => checkField('seed', v, `${file}: seeds[${i}]`, { strict: true }));
    if (new Set(seeds).size !== seeds.length) throw new ConfigError(`${file}: seeds`, `${file}: seeds has a seed twice`);
  }
  return { name, description, base: base as Partial<RunSettings>, grid, random, seeds, file };
}

export function readSweepFile(file: string): SweepFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('FILE', `sweep file ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code})`);
  }
  return parseSweepFile(text, file);
}
