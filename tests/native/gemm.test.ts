// gemm on the cpu backend against the float64 reference: every transpose
// combination, sizes that are not multiples of any tile, alpha/beta, and the
// rule that C is not read when beta is 0.
import { describe, expect, it } from 'vitest';
import { TOL, expectClose, expectSameBits } from '../helpers/compare';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { gemmRef } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const SIZES = [1, 7, 33, 65, 130];
const scopes = useScopes();

function check(rng: Rng, ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, beta: number): void {
  const cpu = scopes.cpu;
  const a = rng.floats(m * k), b = rng.floats(k * n);
  const c0 = beta === 0 ? new Float32Array(m * n).fill(NaN) : rng.floats(m * n);
  const c = cpu.floats(c0);
  addon.gemm(ta, tb, m, n, k, alpha, cpu.floats(a), cpu.floats(b), beta, c);
  const ref = gemmRef(ta, tb, m, n, k, alpha, f64(a), f64(b), beta, beta === 0 ? null : f64(c0));
  expectClose(cpu.read(c), ref, TOL.matmul, `gemm ta=${ta} tb=${tb} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta}`);
}

describe('gemm (cpu)', () => {
  it('matches the reference for every m, n, k in {1, 7, 33, 65, 130} (no transposes)', () => {
    const rng = new Rng(1);
    for (const m of SIZES) for (const n of SIZES) for (const k of SIZES) check(rng, false, false, m, n, k, 1, 0);
  });

  it('matches the reference with transposed operands, alpha and beta', () => {
    const rng = new Rng(2);
    for (const [ta, tb] of [[true, false], [false, true], [true, true], [false, false]] as const) {
      for (let i = 0; i < 12; i++) {
        const alpha = rng.pick([1, -0.5, 2.25]);
        const beta = rng.pick([0, 1, 0.5]);
        check(rng, ta, tb, rng.pick(SIZES), rng.pick(SIZES), rng.pick(SIZES), alpha, beta);
      }
    }
  });

  it('handles the shapes of the seed CNN (batch 1 and 64)', () => {
    const rng = new Rng(3);
    // linear layers: x (batch*in) times W^T (out*in), and their backward products
    for (const batch of [1, 64]) {
      check(rng, false, true, batch, 10, 4096, 1, 0);
      check(rng, true, false, 10, 256, batch, 1, 0);
      check(rng, false, false, batch, 256, 10, 1, 0);
    }
  });

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
