// the data tests' way to assert a failure: the call throws, or the promise
// rejects with, a DataError, which is returned so the test can check its file, offset and words
import { expect } from 'vitest';
import { DataError } from '../../src/data/errors';

export async function rejects(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error('expected a DataError, it succeeded');
}

export function thrown(fn: () => unknown): DataError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error('expected a DataError, nothing was thrown');
}
