// elementwise ops on the cpu backend: relu forward/backward, add, mul, scale,
// axpby, bias_add, fill. sizes straddle the kernels' chunk boundaries, outputs
// may alias inputs, and results are bit-identical across thread counts.
import { describe, expect, it } from 'vitest';
import { TOL, expectClose, expectExact, expectSameBits } from '../helpers/compare';
import { numericGradient } from '../helpers/gradcheck';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { biasAddRef, mapRef } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const scopes = useScopes();
const SIZES = [1, 7, 33, 4099, 32768, 32769, 100003];

describe('elementwise (cpu)', () => {
  it('relu forward and backward are exact', () => {
    const rng = new Rng(30);
    const cpu = scopes.cpu;
    for (const n of SIZES) {
      const x = rng.floats(n), dy = rng.floats(n);
      const y = cpu.out(n), dx = cpu.out(n);
      addon.reluForward(n, cpu.floats(x), y);
      const yv = cpu.read(y);
      expectExact(yv, Float32Array.from(x, (v) => (v > 0 ? v : 0)), `relu n=${n}`);
      addon.reluBackward(n, cpu.floats(dy), y, dx);
      expectExact(cpu.read(dx), Float32Array.from(dy, (g, i) => (yv[i] > 0 ? g : 0)), `relu backward n=${n}`);
    }
  });

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

  it('relu backward matches finite differences', () => {
    const rng = new Rng(31);
    const cpu = scopes.cpu;
    const x = rng.floats(50), dy = rng.floats(50);
    const y = cpu.out(50), dx = cpu.out(50);
    addon.reluForward(50, cpu.floats(x), y);
    addon.reluBackward(50, cpu.floats(dy), y, dx);
    expectClose(cpu.read(dx), numericGradient((v) => mapRef(v.length, (i) => Math.max(v[i], 0)), x, dy), TOL.gradient, 'relu dx');
  });

  it('add, mul, scale and axpby match the reference', () => {
    const rng = new Rng(32);
    const cpu = scopes.cpu;
    for (const n of SIZES) {
      const a = rng.floats(n), b = rng.floats(n);
      const sa = cpu.floats(a), sb = cpu.floats(b);
      const out = cpu.out(n);
      addon.add(n, sa, sb, out);
      expectClose(cpu.read(out), mapRef(n, (i) => a[i] + b[i]), TOL.eltwise, `add n=${n}`);
      cpu.poison(out, n);
      addon.mul(n, sa, sb, out);
      expectClose(cpu.read(out), mapRef(n, (i) => a[i] * b[i]), TOL.eltwise, `mul n=${n}`);
      cpu.poison(out, n);
      addon.scale(n, sa, -1.5, out);
      expectClose(cpu.read(out), mapRef(n, (i) => -1.5 * a[i]), TOL.eltwise, `scale n=${n}`);
      cpu.poison(out, n);
      addon.axpby(n, 0.25, sa, -2, sb, out);
      expectClose(cpu.read(out), mapRef(n, (i) => 0.25 * a[i] - 2 * b[i]), TOL.eltwise, `axpby n=${n}`);
    }
  });

  it('works in place (out aliasing an input)', () => {
    const rng = new Rng(33);
    const cpu = scopes.cpu;
    const n = 40000;
    const a = rng.floats(n), b = rng.floats(n);
    const sa = cpu.floats(a), sb = cpu.floats(b);
    addon.add(n, sa, sb, sa); // a += b
    expectClose(cpu.read(sa), mapRef(n, (i) => a[i] + b[i]), TOL.eltwise, 'add in place');
    addon.reluForward(n, sb, sb);
    expectExact(cpu.read(sb), Float32Array.from(b, (v) => (v > 0 ? v : 0)), 'relu in place');
    const x = rng.floats(6 * 5 * 7), bias = rng.floats(5);
    const sx = cpu.floats(x);
    addon.biasAdd(6, 5, 7, sx, cpu.floats(bias), sx);
    expectClose(cpu.read(sx), biasAddRef(6, 5, 7, f64(x), f64(bias)), TOL.eltwise, 'bias add in place');
  });

  it('bias_add matches the reference (linear rows, conv planes, batch 1)', () => {
    const rng = new Rng(34);
    const cpu = scopes.cpu;
    for (const [outer, channels, inner] of [[1, 1, 1], [1, 10, 1], [64, 256, 1], [2, 16, 1024], [3, 7, 33], [1, 3, 65536], [5, 40000, 1]]) {
      const n = outer * channels * inner;
      const x = rng.floats(n), bias = rng.floats(channels);
      const y = cpu.out(n);
      addon.biasAdd(outer, channels, inner, cpu.floats(x), cpu.floats(bias), y);
      expectClose(cpu.read(y), biasAddRef(outer, channels, inner, f64(x), f64(bias)), TOL.eltwise, `bias_add ${outer}x${channels}x${inner}`);
    }
  });

  it('fill writes every element, NaN included', () => {
    const cpu = scopes.cpu;
    for (const n of SIZES) {
      const x = cpu.floats(new Float32Array(n).fill(7));
      addon.fill(n, x, -0.5);
      expect(cpu.read(x).every((v) => v === -0.5)).toBe(true);
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
