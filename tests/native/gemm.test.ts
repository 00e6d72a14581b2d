// gemm on the cpu backend beyond its spec (src/spec/gemm.ts, run on every
// backend by tests/ops/specs.test.ts): a hand-computed answer with NaN in C
// and beta 0, and the same bits on any thread count.
import { describe, expect, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('gemm (cpu)', () => {
  it('does not read C when beta is 0 (a NaN there does not leak through)', () => {
    const cpu = scopes.cpu;
    const c = cpu.out(4);
    addon.gemm(false, false, 2, 2, 2, 1, cpu.floats([1, 2, 3, 4]), cpu.floats([5, 6, 7, 8]), 0, c);
    expect(Array.from(cpu.read(c))).toEqual([19, 22, 43, 50]);
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
