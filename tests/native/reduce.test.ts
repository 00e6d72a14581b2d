// sum over the middle axis on the cpu backend, beyond its values
// (src/spec/reduce.ts checks those on every backend): the same bits on 1 and
// 2 threads, since every output is summed in a fixed order.
import { describe, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('sum_axis (cpu)', () => {
  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(41);
    const cpu = scopes.cpu;
    for (const [outer, reduce, inner] of [[1, 512, 4096], [64, 4000, 1], [5, 300, 77]]) {
      const x = cpu.floats(rng.floats(outer * reduce * inner));
      const run = (threads: number) =>
        withThreads(threads, () => {
          const y = cpu.out(outer * inner);
          addon.sumAxis(outer, reduce, inner, x, y);
          return cpu.read(y);
        });
      expectSameBits(run(1), run(2), `sum_axis ${outer}x${reduce}x${inner} 1 vs 2 threads`);
    }
  });
});
