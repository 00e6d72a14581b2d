// gemm on the cpu backend beyond its spec (src/spec/gemm.ts, run on every
// backend by tests/ops/specs.test.ts): a hand-computed answer with NaN in C
// and beta 0, A and B not read when alpha is 0, and the same bits on any
// thread count.
import { describe, expect, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';
import { gemmRef } from '../../src/spec/gemm';

const scopes = useScopes();

describe('gemm (cpu)', () => {
  it('does not read C when beta is 0 (a NaN there does not leak through)', () => {
    const cpu = scopes.cpu;
    const c = cpu.out(4);
    addon.gemm(false, false, 2, 2, 2, 1, cpu.floats([1, 2, 3, 4]), cpu.floats([5, 6, 7, 8]), 0, c);
    expect(Array.from(cpu.read(c))).toEqual([19, 22, 43, 50]);
  });

  it('does not read A and B when alpha is 0 (an Inf or NaN there gives beta*C, as in BLAS)', () => {
    const rng = new Rng(13);
    const cpu = scopes.cpu;
    const [m, n, k] = [7, 33, 65];
    // every kind of poison, spread over both operands
    const poisoned = (count: number) => {
      const v = rng.floats(count);
      for (let i = 0; i < count; i += 5) v[i] = [Infinity, -Infinity, NaN][i % 3];
      return v;
    };
    const a = poisoned(m * k), b = poisoned(k * n), c0 = rng.floats(m * n);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const beta of [0, 0.5]) {
        const c = beta === 0 ? cpu.out(m * n) : cpu.floats(c0);
        addon.gemm(ta, tb, m, n, k, 0, cpu.floats(a), cpu.floats(b), beta, c);
        const expected = gemmRef(ta, tb, m, n, k, 0, a, b, beta, beta === 0 ? null : c0);
        const got = cpu.read(c);
        // the reference has no NaN (it skips A and B too), so equality is exact: 0.5*c in float32 is exact
        expect(expected.every(Number.isFinite)).toBe(true);
        expect(Array.from(got), `ta=${ta} tb=${tb} beta=${beta}`).toEqual(Array.from(expected, Math.fround));
      }
    }
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(4);
    const cpu = scopes.cpu;
    const [m, n, k] = [130, 65, 257];
    const a = cpu.floats(rng.floats(m * k)), b = cpu.floats(rng.floats(k * n));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const c = cpu.out(m * n);
        addon.gemm(false, true, m, n, k, 1, a, b, 0, c);
        return cpu.read(c);
      });
    expectSameBits(run(1), run(2), 'gemm 1 vs 2 threads');
  });
});
