// runs async work over a list with at most `jobs` in flight. every item is
// attempted; failures are collected and returned rather than abandoning the
// others half-way (a transfer of many objects reports all that went wrong).
export async function runPool<T>(items: T[], jobs: number, work: (item: T) => Promise<void>): Promise<Array<{ item: T; error: unknown }>> {
  const failures: Array<{ item: T; error: unknown }> = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failures.push({ item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return failures;
}

import { DvcError } from './errors';

export function parseJobs(value: string | number | undefined, fallback = 4): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new DvcError(`--jobs: expected an integer from 1 to 256, got ${value}`);
  return n;
}
