// elementwise ops on the cpu backend, beyond their values (src/spec/eltwise.ts
// checks those on every backend): NaN through relu, outputs aliasing inputs,
// n = 0, and bits that do not depend on the thread count.
import { describe, expect, it } from 'vitest';
import { expectClose, expectExact, expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';
import { add, biasAdd, reluForward } from '../../src/spec/eltwise';
import { UNIT_ROUNDOFF } from '../../src/spec/float32';

const scopes = useScopes();

describe('elementwise (cpu)', () => {
  it('relu lets NaN through and has zero gradient there, as PyTorch does', () => {
    const cpu = scopes.cpu;
    const x = Float32Array.of(NaN, -1, 2, -Infinity, Infinity);
    const y = cpu.out(5), dx = cpu.out(5);
    addon.reluForward(5, cpu.floats(x), y);
    const yv = cpu.read(y);
    expect(Number.isNaN(yv[0])).toBe(true);
    expect(Array.from(yv.slice(1))).toEqual([0, 2, 0, Infinity]);
    addon.reluBackward(5, cpu.floats(Float32Array.of(1, 1, 1, 1, 1)), y, dx);
    expect(Array.from(cpu.read(dx))).toEqual([0, 0, 1, 0, 1]);
  });

  it('works in place (out aliasing an input)', () => {
    const rng = new Rng(33);
    const cpu = scopes.cpu;
    const n = 40000;
    const a = rng.floats(n), b = rng.floats(n);
    const sa = cpu.floats(a), sb = cpu.floats(b);
    addon.add(n, sa, sb, sa); // a += b
    expectClose(cpu.read(sa), add.reference({ n }, { a, b }).out, UNIT_ROUNDOFF, 'add in place');
    addon.reluForward(n, sb, sb);
    expectExact(cpu.read(sb), reluForward.reference({ n }, { x: b }).y, 'relu in place');
    const x = rng.floats(6 * 5 * 7), bias = rng.floats(5);
    const sx = cpu.floats(x);
    addon.biasAdd(6, 5, 7, sx, cpu.floats(bias), sx);
    expectClose(cpu.read(sx), biasAdd.reference({ outer: 6, channels: 5, inner: 7 }, { x, bias }).y, UNIT_ROUNDOFF, 'bias add in place');
  });

  it('fill writes NaN into every element', () => {
    const cpu = scopes.cpu;
    for (const n of [1, 7, 32769]) {
      const x = cpu.floats(new Float32Array(n).fill(7));
      addon.fill(n, x, NaN);
      expect(cpu.read(x).every((v) => Number.isNaN(v))).toBe(true);
    }
  });

  it('n = 0 is a no-op', () => {
    const cpu = scopes.cpu;
    const x = cpu.floats([1, 2]);
    addon.fill(0, x, 9);
    addon.add(0, x, x, x);
    expectExact(cpu.read(x), [1, 2], 'untouched');
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(35);
    const cpu = scopes.cpu;
    const n = 200003;
    const a = cpu.floats(rng.floats(n)), b = cpu.floats(rng.floats(n));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const o1 = cpu.out(n), o2 = cpu.out(n), o3 = cpu.out(n);
        addon.axpby(n, 0.3, a, 0.7, b, o1);
        addon.reluBackward(n, a, b, o2);
        addon.biasAdd(1, 1, n, a, b, o3);
        return [o1, o2, o3].map((s) => cpu.read(s));
      });
    const one = run(1), two = run(2);
    one.forEach((v, i) => expectSameBits(v, two[i], `op ${i} 1 vs 2 threads`));
  });
});
