// convolution on the cpu backend beyond its specs (src/spec/conv.ts: the
// reference, the central differences and every shape, run on every backend by
// tests/ops/specs.test.ts): the same bits on any thread count.
import { describe, expect, it } from 'vitest';
import type { ConvShape } from '../../src/native';
import { convShape } from '../../src/spec/conv';
import { expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

function sizes(s: ConvShape) {
  return { x: s.n * s.c * s.h * s.w, w: s.k * s.c * s.r * s.s, y: s.n * s.k * s.p * s.q };
}

describe('conv2d (cpu)', () => {
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
