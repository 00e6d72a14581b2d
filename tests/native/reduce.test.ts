// sum over the middle axis on the cpu backend: against the float64 reference
// for the shapes the models use (bias gradients of linear layers, per-channel
// sums) and odd ones, and the same bits on 1 and 2 threads (fixed order).
import { describe, it } from 'vitest';
import { TOL, expectClose, expectSameBits } from '../helpers/compare';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { sumAxisRef } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('sum_axis (cpu)', () => {
  it('matches the reference', () => {
    const rng = new Rng(40);
    const cpu = scopes.cpu;
    const shapes = [[1, 1, 1], [1, 64, 10], [1, 130, 1], [7, 33, 65], [3, 1, 5], [2, 5, 3000], [1, 100003, 1], [64, 10, 1], [4, 9, 1025]];
    for (const [outer, reduce, inner] of shapes) {
      const x = rng.floats(outer * reduce * inner);
      const y = cpu.out(outer * inner);
      addon.sumAxis(outer, reduce, inner, cpu.floats(x), y);
      expectClose(cpu.read(y), sumAxisRef(outer, reduce, inner, f64(x)), TOL.reduce, `sum_axis ${outer}x${reduce}x${inner}`);
    }
  });

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
