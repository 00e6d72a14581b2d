// one check per parser, shared by the fuzz tests and the corpus replay: the
// parser runs on the bytes and must end in a value or a project error, within
// the memory bound (see fuzz.ts), plus what each parser promises on its own
import { expect } from 'vitest';
import { NumpyArray, PickleBytes, PickleTuple, PickleValue, unpickle } from '../../src/data/pickle';
import { expectParsed } from './fuzz';

// every byte the unpickler hands back is a view of its input or a copy no
// bigger than it (it decodes, it never expands)
function bytesHeld(v: PickleValue, seen = new Set<unknown>()): number {
  if (v === null || typeof v !== 'object' || seen.has(v)) return 0;
  seen.add(v);
  if (v instanceof PickleBytes) return v.bytes.length;
  if (v instanceof NumpyArray) return v.data.length;
  if (v instanceof PickleTuple) return v.items.reduce((n: number, x) => Math.max(n, bytesHeld(x, seen)), 0);
  if (Array.isArray(v)) return v.reduce((n: number, x) => Math.max(n, bytesHeld(x, seen)), 0);
  if (v instanceof Map) return [...v.values()].reduce((n: number, x) => Math.max(n, bytesHeld(x, seen)), 0);
  return 0;
}

/** the DataError, or undefined when it parsed */
export function parsePickle(buf: Buffer): unknown {
  const err = expectParsed(buf.length, () => {
    const v = unpickle(buf, 'fuzz.pkl');
    expect(bytesHeld(v)).toBeLessThanOrEqual(buf.length);
    return v;
  });
  // a message quotes a little of the file, never all of it
  if (err) expect((err as Error).message.length).toBeLessThan(600);
  return err;
}


/** the check for each corpus folder, by its name */
export const CHECKS: Record<string, (bytes: Buffer) => unknown> = {
  pickle: parsePickle,
};
