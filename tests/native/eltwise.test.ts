// elementwise ops on the cpu backend, beyond their values (src/spec/eltwise.ts
// checks those on every backend): NaN through relu, outputs aliasing inputs,
// n = 0, and bits that do not depend on the thread count; gelu element by
// element over its whole range, the tails and non-finite inputs included.
import { describe, expect, it } from 'vitest';
import { expectClose, expectExact, expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';
import { add, biasAdd, geluRef, reluForward } from '../../src/spec/eltwise';
import { normalCdf, normalPdf } from '../../src/spec/erf';
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

describe('gelu (cpu), element by element', () => {
  // a dense grid over [-18, 18]: past -18 the outputs are below float's normal
  // range (|gelu(-13.2)| is about 1e-38), past +6 phi rounds to 1
  const n = 360001;
  const x = Float32Array.from({ length: n }, (_, i) => -18 + (36 * i) / (n - 1));

  it('keeps every output within 8 roundings of float64, the left tail included', () => {
    // (PyTorch's 0.5 * (1 + erf(x / sqrt(2))) keeps no correct bits below
    // x = -5.5, where erf rounds to -1; the erfc form keeps them all)
    const cpu = scopes.cpu;
    const y = cpu.out(n);
    addon.geluForward(n, cpu.floats(x), y);
    const got = cpu.read(y);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const ref = geluRef(x[i]);
      // within 8 roundings, or (where the result leaves float's normal range) within 1e-37
      if (Math.abs(got[i] - ref) > 1e-37) worst = Math.max(worst, Math.abs(got[i] - ref) / Math.abs(ref) / UNIT_ROUNDOFF);
    }
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('keeps every gradient within 8 roundings of its two terms, phi(x) and x * pdf(x)', () => {
    // phi(x) + x * pdf(x) cancels near x = -0.75, so the error is measured
    // against the size of the terms, not of their sum
    const cpu = scopes.cpu;
    const dx = cpu.out(n);
    addon.geluBackward(n, cpu.floats(new Float32Array(n).fill(1)), cpu.floats(x), dx);
    const got = cpu.read(dx);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const cdf = normalCdf(x[i]), pdfTerm = x[i] * normalPdf(x[i]);
      const err = Math.abs(got[i] - (cdf + pdfTerm));
      if (err > 1e-37) worst = Math.max(worst, err / (Math.abs(cdf) + Math.abs(pdfTerm)) / UNIT_ROUNDOFF);
    }
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('passes NaN through, and treats the infinities and huge inputs as PyTorch does', () => {
    const cpu = scopes.cpu;
    const input = Float32Array.of(NaN, Infinity, -Infinity, 1e30, -1e30, 0, -0);
    const y = cpu.out(7), dx = cpu.out(7);
    addon.geluForward(7, cpu.floats(input), y);
    addon.geluBackward(7, cpu.floats(new Float32Array(7).fill(1)), cpu.floats(input), dx);
    const yv = Array.from(cpu.read(y)), dv = Array.from(cpu.read(dx));
    // gelu(-inf) = -inf * 0: NaN, in PyTorch too
    expect(yv.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', Infinity, 'NaN', Math.fround(1e30), -0, 0, -0]);
    // the gradient at +-inf is phi + inf * 0: NaN, in PyTorch too
    expect(dv.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', 'NaN', 'NaN', 1, 0, 0.5, 0.5]);
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const cpu = scopes.cpu;
    const sx = cpu.floats(x), ones = cpu.floats(new Float32Array(n).fill(1));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const y = cpu.out(n), dx = cpu.out(n);
        addon.geluForward(n, sx, y);
        addon.geluBackward(n, ones, sx, dx);
        return [cpu.read(y), cpu.read(dx)];
      });
    const one = run(1), two = run(2);
    one.forEach((v, i) => expectSameBits(v, two[i], `gelu ${i ? 'backward' : 'forward'} 1 vs 2 threads`));
  });
});
