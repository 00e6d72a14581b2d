// pooling on the cpu backend beyond its specs (src/spec/pool.ts: the
// references, the central differences and every shape, run on every backend
// by tests/ops/specs.test.ts): the first of equal maxima wins, and the same
// bits on any thread count.
import { describe, it } from 'vitest';
import { poolShape } from '../../src/spec/pool';
import { expectExact, expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('pooling (cpu)', () => {
  it('max pooling takes the first of equal maxima', () => {
    const cpu = scopes.cpu;
    const s = poolShape(1, 1, 2, 4, 2, 2);
    const y = cpu.out(2), am = cpu.outInts(2);
    addon.maxpool2dForward(s, cpu.floats([1, 5, 5, 2, 5, 0, 2, 2]), y, am);
    expectExact(cpu.read(y), [5, 5], 'max');
    expectExact(cpu.readInts(am), [1, 2], 'first index of the max');
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(23);
    const cpu = scopes.cpu;
    const s = poolShape(8, 32, 16, 16, 3, 3, 2, 1);
    const nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.p * s.q;
    const x = cpu.floats(rng.floats(nx)), dy = cpu.floats(rng.floats(ny));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const y = cpu.out(ny), am = cpu.outInts(ny), dx = cpu.out(nx), ya = cpu.out(ny), dxa = cpu.out(nx);
        addon.maxpool2dForward(s, x, y, am);
        addon.maxpool2dBackward(s, dy, am, dx);
        addon.avgpool2dForward(s, x, ya);
        addon.avgpool2dBackward(s, dy, dxa);
        return [cpu.read(y), cpu.readInts(am), cpu.read(dx), cpu.read(ya), cpu.read(dxa)];
      });
    const one = run(1), two = run(2);
    ['max y', 'argmax', 'max dx', 'avg y', 'avg dx'].forEach((name, i) => expectSameBits(one[i], two[i], `${name} 1 vs 2 threads`));
  });
});
