// convolution forward and both backwards on the cpu backend: against the
// float64 reference on varied shapes (odd sizes, strides, padding, batch 1,
// 1x1 and non-square kernels), against finite differences of the reference
// forward, with and without bias, and bit-identical across thread counts.
import { describe, expect, it } from 'vitest';
import type { ConvShape } from '../../src/native';
import { TOL, expectClose, expectSameBits } from '../helpers/compare';
import { numericGradient } from '../helpers/gradcheck';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dRef, convShape } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

const SHAPES: ConvShape[] = [
  convShape(1, 1, 1, 1, 1, 1, 1),
  convShape(1, 3, 7, 7, 5, 3, 3, 1, 1),
  convShape(2, 3, 32, 32, 8, 3, 3, 1, 1), // the seed CNN's first layer, fewer filters
  convShape(3, 5, 9, 11, 7, 3, 5, [2, 1], [1, 2]),
  convShape(2, 4, 8, 8, 6, 1, 1), // 1x1
  convShape(1, 2, 13, 10, 3, 5, 5, 2, 2),
  convShape(2, 6, 6, 6, 4, 4, 2, [3, 2], 0),
  convShape(1, 33, 5, 5, 65, 3, 3, 1, 1), // channel counts off any tile
];

const label = (s: ConvShape) =>
  `n${s.n} c${s.c} ${s.h}x${s.w} k${s.k} ${s.r}x${s.s} stride ${s.strideH},${s.strideW} pad ${s.padH},${s.padW}`;

function sizes(s: ConvShape) {
  return { x: s.n * s.c * s.h * s.w, w: s.k * s.c * s.r * s.s, y: s.n * s.k * s.p * s.q };
}

describe('conv2d (cpu)', () => {
  it('forward matches the reference, with and without bias', () => {
    const rng = new Rng(10);
    const cpu = scopes.cpu;
    for (const s of SHAPES) {
      const z = sizes(s);
      const x = rng.floats(z.x), w = rng.floats(z.w), bias = rng.floats(s.k);
      for (const withBias of [true, false]) {
        const y = cpu.out(z.y);
        addon.conv2dForward(s, cpu.floats(x), cpu.floats(w), withBias ? cpu.floats(bias) : null, y);
        expectClose(cpu.read(y), conv2dRef(s, f64(x), f64(w), withBias ? f64(bias) : null), TOL.matmul, `forward ${label(s)} bias=${withBias}`);
      }
    }
  });

  it('backward (input and weight) matches the reference', () => {
    const rng = new Rng(11);
    const cpu = scopes.cpu;
    for (const s of SHAPES) {
      const z = sizes(s);
      const x = rng.floats(z.x), w = rng.floats(z.w), dy = rng.floats(z.y);
      const dx = cpu.out(z.x);
      addon.conv2dBackwardInput(s, cpu.floats(dy), cpu.floats(w), dx);
      expectClose(cpu.read(dx), conv2dBackwardInputRef(s, f64(dy), f64(w)), TOL.matmul, `backward input ${label(s)}`);
      const ref = conv2dBackwardWeightRef(s, f64(x), f64(dy));
      const dw = cpu.out(z.w), db = cpu.out(s.k);
      addon.conv2dBackwardWeight(s, cpu.floats(x), cpu.floats(dy), dw, db);
      expectClose(cpu.read(dw), ref.dw, TOL.matmul, `backward weight ${label(s)}`);
      expectClose(cpu.read(db), ref.db, TOL.matmul, `backward bias ${label(s)}`);
      // db is optional
      const dw2 = cpu.out(z.w);
      addon.conv2dBackwardWeight(s, cpu.floats(x), cpu.floats(dy), dw2, null);
      expectClose(cpu.read(dw2), ref.dw, TOL.matmul, `backward weight without db ${label(s)}`);
    }
  });

  it('backward matches finite differences of the forward', () => {
    const rng = new Rng(12);
    const cpu = scopes.cpu;
    for (const s of [convShape(1, 2, 5, 6, 3, 3, 3, 1, 1), convShape(2, 2, 7, 5, 2, 3, 2, [2, 1], [1, 0])]) {
      const z = sizes(s);
      const x = rng.floats(z.x), w = rng.floats(z.w), bias = rng.floats(s.k), dy = rng.floats(z.y);
      const dx = cpu.out(z.x), dw = cpu.out(z.w), db = cpu.out(s.k);
      addon.conv2dBackwardInput(s, cpu.floats(dy), cpu.floats(w), dx);
      addon.conv2dBackwardWeight(s, cpu.floats(x), cpu.floats(dy), dw, db);
      const nx = numericGradient((v) => conv2dRef(s, v, f64(w), f64(bias)), x, dy);
      const nw = numericGradient((v) => conv2dRef(s, f64(x), v, f64(bias)), w, dy);
      const nb = numericGradient((v) => conv2dRef(s, f64(x), f64(w), v), bias, dy);
      expectClose(cpu.read(dx), nx, TOL.gradient, `dx vs finite differences ${label(s)}`);
      expectClose(cpu.read(dw), nw, TOL.gradient, `dw vs finite differences ${label(s)}`);
      expectClose(cpu.read(db), nb, TOL.gradient, `db vs finite differences ${label(s)}`);
    }
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(13);
    const cpu = scopes.cpu;
    const s = convShape(4, 16, 16, 16, 32, 3, 3, 1, 1);
    const z = sizes(s);
    const x = cpu.floats(rng.floats(z.x)), w = cpu.floats(rng.floats(z.w)), bias = cpu.floats(rng.floats(s.k));
    const dy = cpu.floats(rng.floats(z.y));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const y = cpu.out(z.y), dx = cpu.out(z.x), dw = cpu.out(z.w), db = cpu.out(s.k);
        addon.conv2dForward(s, x, w, bias, y);
        addon.conv2dBackwardInput(s, dy, w, dx);
        addon.conv2dBackwardWeight(s, x, dy, dw, db);
        return [y, dx, dw, db].map((t) => cpu.read(t));
      });
    const one = run(1), two = run(2);
    ['y', 'dx', 'dw', 'db'].forEach((name, i) => expectSameBits(one[i], two[i], `conv ${name} 1 vs 2 threads`));
    expect(one[0].length).toBe(z.y);
  });
});
