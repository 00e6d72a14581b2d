// batch norm on the cpu backend, beyond its values (src/spec/norm.ts checks
// those on every backend): the same bits on 1, 2 and 3 threads, since every
// per-channel sum is added in an order fixed by the shape; and the binding's
// own rules (two values a channel for batch statistics, the running pair).
import { describe, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, expectNativeError, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('batch_norm2d (cpu)', () => {
  it('gives the same bits on 1, 2 and 3 threads', () => {
    const rng = new Rng(43);
    const cpu = scopes.cpu;
    // channels split among the threads (16 and more), 4x4 planes among them,
    // planes split (fewer channels), and planes of fewer values than the 8 lanes
    for (const [n, c, hw] of [[64, 16, 1024], [512, 64, 16], [3, 5, 63], [5, 15, 33], [4, 17, 7]]) {
      const x = cpu.floats(rng.floats(n * c * hw));
      const dy = cpu.floats(rng.floats(n * c * hw));
      const weight = cpu.floats(rng.floats(c));
      const run = (threads: number) =>
        withThreads(threads, () => {
          const [mean, invstd, y, dx, dw, db] = [c, c, n * c * hw, n * c * hw, c, c].map((k) => cpu.out(k));
          const rm = cpu.floats(new Float32Array(c)), rv = cpu.floats(new Float32Array(c).fill(1));
          addon.batchNorm2dStats(n, c, hw, x, 1e-5, 0.1, rm, rv, mean, invstd);
          addon.batchNorm2dForward(n, c, hw, x, mean, invstd, weight, null, y);
          addon.batchNorm2dBackward(n, c, hw, x, dy, mean, invstd, weight, true, dx, dw, db);
          return [mean, invstd, rm, rv, y, dx, dw, db].map((s) => cpu.read(s));
        });
      const one = run(1);
      for (const threads of [2, 3]) {
        const other = run(threads);
        one.forEach((a, i) => expectSameBits(other[i], a, `${n}x${c}x${hw} output ${i}, 1 vs ${threads} threads`));
      }
    }
  });

  it('refuses batch statistics of one value a channel, and half a running pair', () => {
    const cpu = scopes.cpu;
    const x = cpu.floats(new Float32Array(3));
    const [mean, invstd, rm] = [3, 3, 3].map((k) => cpu.out(k));
    expectNativeError(() => addon.batchNorm2dStats(1, 3, 1, x, 1e-5, 0.1, null, null, mean, invstd), 'ERR_SHAPE', 'more than one value per channel');
    const x2 = cpu.floats(new Float32Array(6));
    expectNativeError(() => addon.batchNorm2dStats(2, 3, 1, x2, 1e-5, 0.1, rm, null, mean, invstd), 'ERR_ARG', 'both be given');
    expectNativeError(() => addon.batchNorm2dStats(2, 3, 1, x2, 1e-5, 1.5, null, null, mean, invstd), 'ERR_ARG', 'momentum');
  });
});
