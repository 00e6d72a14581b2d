// max and average pooling on the cpu backend: against the float64 reference
// (max pooling and its argmax bit-exact), against finite differences, with
// padding, overlapping and odd windows, batch 1, and across thread counts.
import { describe, it } from 'vitest';
import type { PoolShape } from '../../src/native';
import { TOL, expectClose, expectExact, expectSameBits } from '../helpers/compare';
import { numericGradient } from '../helpers/gradcheck';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { avgpool2dBackwardRef, avgpool2dRef, maxpool2dBackwardRef, maxpool2dRef, poolShape } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

const SHAPES: PoolShape[] = [
  poolShape(1, 1, 1, 1, 1, 1),
  poolShape(2, 3, 32, 32, 2, 2), // the seed CNN's pools
  poolShape(1, 4, 7, 9, 3, 3, 2, 1), // overlapping, padded
  poolShape(3, 2, 11, 6, 3, 2, [2, 1], [1, 1]),
  poolShape(1, 5, 5, 5, 5, 5, 1, 2), // window as large as the input, half padding
  poolShape(2, 3, 9, 13, 2, 4, [3, 3], [0, 2]),
  poolShape(1, 1, 33, 65, 4, 4, 4, 0), // sizes that leave a remainder
];

const label = (s: PoolShape) =>
  `n${s.n} c${s.c} ${s.h}x${s.w} window ${s.kh}x${s.kw} stride ${s.strideH},${s.strideW} pad ${s.padH},${s.padW}`;

describe('pooling (cpu)', () => {
  it('max pooling forward is exact, argmax included; backward routes to the argmax', () => {
    const rng = new Rng(20);
    const cpu = scopes.cpu;
    for (const s of SHAPES) {
      const nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.p * s.q;
      // negative inputs make sure padding is -inf, not 0
      const x = rng.floats(nx, -3, -1);
      if (nx > 4) for (let i = 0; i < nx; i += 3) x[i] = rng.uniform(-1, 1);
      const y = cpu.out(ny), am = cpu.outInts(ny);
      addon.maxpool2dForward(s, cpu.floats(x), y, am);
      const ref = maxpool2dRef(s, f64(x));
      expectExact(cpu.read(y), Float32Array.from(ref.y), `maxpool y ${label(s)}`);
      expectExact(cpu.readInts(am), ref.argmax, `maxpool argmax ${label(s)}`);
      const dy = rng.floats(ny), dx = cpu.out(nx);
      addon.maxpool2dBackward(s, cpu.floats(dy), am, dx);
      expectClose(cpu.read(dx), maxpool2dBackwardRef(s, f64(dy), ref.argmax), TOL.eltwise, `maxpool dx ${label(s)}`);
    }
  });

  it('max pooling takes the first of equal maxima', () => {
    const cpu = scopes.cpu;
    const s = poolShape(1, 1, 2, 4, 2, 2);
    const y = cpu.out(2), am = cpu.outInts(2);
    addon.maxpool2dForward(s, cpu.floats([1, 5, 5, 2, 5, 0, 2, 2]), y, am);
    expectExact(cpu.read(y), [5, 5], 'max');
    expectExact(cpu.readInts(am), [1, 2], 'first index of the max');
  });

  it('average pooling matches the reference (padding counts as zeros)', () => {
    const rng = new Rng(21);
    const cpu = scopes.cpu;
    for (const s of SHAPES) {
      const nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.p * s.q;
      const x = rng.floats(nx), dy = rng.floats(ny);
      const y = cpu.out(ny), dx = cpu.out(nx);
      addon.avgpool2dForward(s, cpu.floats(x), y);
      expectClose(cpu.read(y), avgpool2dRef(s, f64(x)), TOL.reduce, `avgpool y ${label(s)}`);
      addon.avgpool2dBackward(s, cpu.floats(dy), dx);
      expectClose(cpu.read(dx), avgpool2dBackwardRef(s, f64(dy)), TOL.reduce, `avgpool dx ${label(s)}`);
    }
  });

  it('backwards match finite differences of the forwards', () => {
    const rng = new Rng(22);
    const cpu = scopes.cpu;
    for (const s of [poolShape(1, 2, 6, 5, 3, 3, 2, 1), poolShape(2, 1, 4, 6, 2, 2)]) {
      const nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.p * s.q;
      const x = rng.floats(nx), dy = rng.floats(ny);
      const y = cpu.out(ny), am = cpu.outInts(ny), dxMax = cpu.out(nx), dxAvg = cpu.out(nx);
      addon.maxpool2dForward(s, cpu.floats(x), y, am);
      addon.maxpool2dBackward(s, cpu.floats(dy), am, dxMax);
      addon.avgpool2dBackward(s, cpu.floats(dy), dxAvg);
      // eps far below the gap between distinct random floats keeps the max's choice fixed
      expectClose(cpu.read(dxMax), numericGradient((v) => maxpool2dRef(s, v).y, x, dy, 1e-7), TOL.gradient, `maxpool dx ${label(s)}`);
      expectClose(cpu.read(dxAvg), numericGradient((v) => avgpool2dRef(s, v), x, dy), TOL.gradient, `avgpool dx ${label(s)}`);
    }
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
