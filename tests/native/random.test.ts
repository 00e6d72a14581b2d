// dropout and the random fills on the cpu backend, beyond their values
// (src/spec/random.ts checks those against philox4x32-10 on every backend):
// they must equal the JavaScript generator (src/random.ts) draw for draw,
// repeat for equal (seed, offset), shift with the offset, and not depend on
// the thread count; statistics check that the transforms on top (mask,
// uniform range, box-muller) give the distributions they are meant to.
import { describe, expect, it } from 'vitest';
import { Generator } from '../../src/random';
import { expectExact, expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

function moments(x: ArrayLike<number>): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) { s += x[i]; s2 += x[i] * x[i]; }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean) };
}

describe('randomness (cpu)', () => {
  it('uniform(0, 1) draws exactly the values of the JavaScript generator', () => {
    const cpu = scopes.cpu;
    for (const [seed, start] of [[0n, 0n], [42n, 1000n], [0x1234567890abcdefn, 0xfffffffbn], [7n, (1n << 63n) + 3n]] as const) {
      const n = 1000;
      const x = cpu.out(n);
      addon.uniform(n, x, 0, 1, seed, start);
      const g = new Generator(seed);
      g.setState({ seed: seed.toString(), offset: start.toString() });
      expectExact(cpu.read(x), Float32Array.from({ length: n }, () => g.uniform()), `uniform seed=${seed} offset=${start}`);
    }
  });

  it('normal has the moments and the tails of a normal distribution', () => {
    const cpu = scopes.cpu;
    const n = 200000;
    const x = cpu.out(n);
    addon.normal(n, x, 0.5, 2, 11n, 100n);
    const v = cpu.read(x);
    const m = moments(v);
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(m.std - 2)).toBeLessThan(0.03);
    // tails exist but are sane: about 0.27% beyond 3 sigma
    const beyond = v.filter((t) => Math.abs(t - 0.5) > 6).length / n;
    expect(beyond).toBeGreaterThan(0.0015);
    expect(beyond).toBeLessThan(0.004);
  });

  it('dropout keeps 1 - p of the elements, scaled by 1/(1 - p)', () => {
    const cpu = scopes.cpu;
    const n = 200000;
    for (const p of [0.1, 0.5, 0.8]) {
      const x = cpu.floats(new Float32Array(n).fill(1));
      const y = cpu.out(n), mask = cpu.out(n);
      addon.dropoutForward(n, x, y, mask, p, 5n, 0n);
      const m = cpu.read(mask);
      const kept = m.filter((v) => v !== 0).length / n;
      // 5 standard errors of a binomial proportion
      expect(Math.abs(kept - (1 - p))).toBeLessThan(5 * Math.sqrt(p * (1 - p) / n));
      expect(m.every((v) => v === 0 || v === Math.fround(1 / Math.fround(1 - Math.fround(p))))).toBe(true);
      expect(Math.abs(moments(cpu.read(y)).mean - 1)).toBeLessThan(0.02);
    }
  });

  it('equal (seed, offset) give equal masks; the stream shifts with the offset; seeds differ', () => {
    const cpu = scopes.cpu;
    const n = 5000;
    const x = cpu.floats(new Float32Array(n).fill(1));
    const mask = (seed: bigint, offset: bigint) => {
      const y = cpu.out(n), m = cpu.out(n);
      addon.dropoutForward(n, x, y, m, 0.5, seed, offset);
      return cpu.read(m);
    };
    expectSameBits(mask(77n, 10n), mask(77n, 10n), 'same seed and offset');
    expectSameBits(mask(77n, 10n).subarray(100), mask(77n, 110n).subarray(0, n - 100), 'offset shifts the stream');
    const a = mask(77n, 10n), b = mask(78n, 10n);
    expect(a.filter((v, i) => v !== b[i]).length).toBeGreaterThan(n / 4);
  });

  it('the generator reserves what a native op draws, so JavaScript continues the same stream', () => {
    const cpu = scopes.cpu;
    const g = new Generator(2024);
    const offset = g.take(64);
    const x = cpu.out(65);
    addon.uniform(65, x, 0, 1, g.seed, offset);
    expect(cpu.read(x)[64]).toBe(g.uniform());
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const cpu = scopes.cpu;
    const n = 100003;
    const x = cpu.floats(new Rng(71).floats(n));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const y = cpu.out(n), m = cpu.out(n), u = cpu.out(n), z = cpu.out(n);
        addon.dropoutForward(n, x, y, m, 0.3, 1n, 2n);
        addon.uniform(n, u, -1, 1, 3n, 4n);
        addon.normal(n, z, 0, 1, 5n, 6n);
        return [y, m, u, z].map((s) => cpu.read(s));
      });
    const one = run(1), two = run(2);
    ['dropout y', 'mask', 'uniform', 'normal'].forEach((name, i) => expectSameBits(one[i], two[i], `${name} 1 vs 2 threads`));
  });
});
