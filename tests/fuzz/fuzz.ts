// what every parser fuzz test shares: the property (an input ends in a value
// or in one of the project's typed errors with a code, never in another
// exception, and never allocates much beyond its own size), the mutations of
// valid inputs, and the settings that keep the runs seeded and short.
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { expect } from 'vitest';

/** every fuzz property runs seeded: the same cases on every machine, every run */
export const SEED = 20240607;
export const CORPUS = path.join(__dirname, '..', 'fixtures', 'fuzz-corpus');

/** fc.assert's options: seeded, `numRuns` cases, and a failure that shows its input */
export function runs(numRuns: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns };
}

const BUILTIN_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/**
 * an error the project throws on purpose: a class of its own (not a bare
 * Error, not a JS or Node built-in such as TypeError or an fs errno) with a
 * stable code `ERR_...`. anything else escaping a parser is a bug.
 */
export function isProjectError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (Object.getPrototypeOf(err) === Error.prototype) return false;
  if (BUILTIN_ERRORS.some((E) => err instanceof E)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code);
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return `a thrown ${typeof err}: ${String(err)}`;
  return `${err.constructor.name} (code ${JSON.stringify((err as { code?: unknown }).code)}): ${err.message}\n${err.stack ?? ''}`;
}

// what a parser may allocate per byte of input (a decoded copy, a string of
// it, a typed array of it...) plus a fixed allowance; a parser that trusts a
// length field claiming gigabytes is caught by a wide margin
const BYTES_PER_INPUT_BYTE = 16;
const FIXED_ALLOWANCE = 8 << 20;

/**
 * runs `parse` on one input of `inputBytes` bytes: it must return or throw a
 * project error, and the array-buffer memory it leaves allocated may not grow
 * beyond the input's size times a small constant. returns the error, if any.
 */
export function expectParsed(inputBytes: number, parse: () => unknown): unknown {
  const before = process.memoryUsage().arrayBuffers;
  let result: unknown;
  let error: unknown;
  try {
    result = parse();
  } catch (err) {
    error = err;
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  if (error !== undefined && !isProjectError(error)) throw new Error(`not a project error: ${describeError(error)}`);
  expect(grown, 'array-buffer bytes allocated by one parse').toBeLessThanOrEqual(BYTES_PER_INPUT_BYTE * inputBytes + FIXED_ALLOWANCE);
  void result;
  return error;
}

/** the same for a parser that returns a promise */
export async function expectParsedAsync(inputBytes: number, parse: () => Promise<unknown>): Promise<unknown> {
  const before = process.memoryUsage().arrayBuffers;
  let error: unknown;
  try {
    await parse();
  } catch (err) {
    error = err;
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  if (error !== undefined && !isProjectError(error)) throw new Error(`not a project error: ${describeError(error)}`);
  expect(grown, 'array-buffer bytes allocated by one parse').toBeLessThanOrEqual(BYTES_PER_INPUT_BYTE * inputBytes + FIXED_ALLOWANCE);
  return error;
}

// length fields worth lying with: the edges of 8-, 16-, 32- and 64-bit
// fields, the sign bit, and "one more than there is"
const BIG_VALUES = [0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 53, 2n ** 63n, 2n ** 64n - 1n];

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'splice'; from: number; count: number; to: number }
  | { kind: 'length'; at: number; value: number | bigint; width: 1 | 2 | 4 | 8; slack: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), count: fc.integer({ min: 1, max: 256 }), to: fc.nat() }),
  fc.record({
    kind: fc.constant('length' as const),
    at: fc.nat(),
    value: fc.constantFrom(...BIG_VALUES),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    slack: fc.integer({ min: -1, max: 1 }),
  }),
);

/** applies one mutation; positions wrap around the input's length */
export function applyMutation(input: Buffer, m: Mutation): Buffer {
  const n = input.length;
  const pos = (at: number, extra = 0) => (n + extra === 0 ? 0 : at % (n + extra));
  switch (m.kind) {
    case 'flip': {
      if (!n) return input;
      const out = Buffer.from(input);
      out[pos(m.at)] ^= 1 << m.bit;
      return out;
    }
    case 'set': {
      if (!n) return input;
      const out = Buffer.from(input);
      out[pos(m.at)] = m.value;
      return out;
    }
    case 'truncate':
      return input.subarray(0, pos(m.at));
    case 'insert': {
      const at = pos(m.at, 1);
      return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    }
    case 'delete': {
      const at = pos(m.at);
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.count)]);
    }
    case 'splice': {
      // a copy of one stretch of the input put somewhere else in it
      const from = pos(m.from);
      const piece = input.subarray(from, from + m.count);
      const to = pos(m.to, 1);
      return Buffer.concat([input.subarray(0, to), piece, input.subarray(to)]);
    }
    case 'length': {
      if (n < m.width) return input;
      const out = Buffer.from(input);
      const at = pos(m.at, 1 - m.width);
      // the value itself, or its neighbours
      const v = BigInt(m.value) + BigInt(m.slack);
      const mask = m.width === 8 ? 2n ** 64n - 1n : (1n << BigInt(8 * m.width)) - 1n;
      const clipped = (v < 0n ? 0n : v) & mask;
      for (let i = 0; i < m.width; i++) out[at + i] = Number((clipped >> BigInt(8 * i)) & 0xffn);
      return out;
    }
  }
}

/** a valid input from `seeds`, changed by one to four mutations */
export function mutated(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .record({ seed: fc.integer({ min: 0, max: seeds.length - 1 }), ops: fc.array(mutation, { minLength: 1, maxLength: 4 }) })
    .map(({ seed, ops }) => ops.reduce((b, m) => applyMutation(b, m), seeds[seed]));
}

/** the corpus of one parser: the inputs that once found a bug, by file name */
export function corpus(parser: string): Array<{ name: string; bytes: Buffer }> {
  const dir = path.join(CORPUS, parser);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.endsWith('.md'))
    .sort()
    .map((name) => ({ name, bytes: fs.readFileSync(path.join(dir, name)) }));
}

/** keys a hostile JSON file would try: Object.prototype's names among them */
export const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '', ' ', 'name'];

/**
 * JSON text of any shape, written out here (not by JSON.stringify, which would
 * lose a "__proto__" key) so hostile keys reach the parser as own keys
 */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('null', 'true', 'false', '0', '-1', '1', '0.5', '1e308', '-1e308', '1e309', '5e-324', '9007199254740993', '2147483648', '""', '-0'),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.integer().map(String),
    fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...NASTY_KEYS), fc.string({ maxLength: 8 })), tie('value')), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

/** a JSON object with the given keys' values replaced or added by generated ones */
export function jsonObjectLike(base: Record<string, unknown>, extraKeys: string[] = []): fc.Arbitrary<string> {
  const keys = [...Object.keys(base), ...extraKeys, ...NASTY_KEYS];
  return fc
    .array(fc.tuple(fc.constantFrom(...keys), fc.oneof(jsonText, fc.constant(undefined))), { maxLength: 4 })
    .map((changes) => {
      const entries = new Map<string, string>(Object.entries(base).map(([k, v]) => [k, JSON.stringify(v)]));
      for (const [k, v] of changes) {
        if (v === undefined) entries.delete(k);
        else entries.set(k, v);
      }
      return `{${[...entries].map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    });
}
