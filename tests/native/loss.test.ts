// the fused softmax cross-entropy, argmax and correct_count on the cpu
// backend: against the float64 reference, the backward against finite
// differences of the loss, numerical stability with huge logits, and the same
// bits on 1 and 2 threads (the mean loss is a fixed-order sum).
import { describe, expect, it } from 'vitest';
import { TOL, expectClose, expectExact, expectSameBits } from '../helpers/compare';
import { numericGradientScalar } from '../helpers/gradcheck';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { argmaxRef, softmaxXentBackwardRef, softmaxXentRef } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const scopes = useScopes();
const SHAPES = [[1, 1], [1, 10], [64, 10], [7, 33], [130, 3], [3, 1000], [257, 10]];

describe('softmax cross-entropy (cpu)', () => {
  it('forward writes the probabilities and the mean loss', () => {
    const rng = new Rng(50);
    const cpu = scopes.cpu;
    for (const [n, classes] of SHAPES) {
      const logits = rng.floats(n * classes, -4, 4), labels = rng.labels(n, classes);
      const probs = cpu.out(n * classes), loss = cpu.out(1);
      addon.softmaxXentForward(n, classes, cpu.floats(logits), cpu.ints(labels), probs, loss);
      const ref = softmaxXentRef(n, classes, f64(logits), labels);
      expectClose(cpu.read(probs), ref.probs, TOL.reduce, `probs ${n}x${classes}`);
      expectClose(cpu.read(loss), [ref.loss], TOL.reduce, `loss ${n}x${classes}`);
    }
  });

  it('stays finite for huge logits', () => {
    const cpu = scopes.cpu;
    const logits = [1000, -1000, 0, 88, 89, 90];
    const probs = cpu.out(6), loss = cpu.out(1);
    addon.softmaxXentForward(2, 3, cpu.floats(logits), cpu.ints([1, 0]), probs, loss);
    const ref = softmaxXentRef(2, 3, logits, [1, 0]);
    expectClose(cpu.read(probs), ref.probs, TOL.reduce, 'probs');
    // row 0's label has probability e^-2000: -log p must come out as 2000, not inf
    expectClose(cpu.read(loss), [ref.loss], TOL.reduce, 'loss');
    expect(Number.isFinite(cpu.read(loss)[0])).toBe(true);
  });

  it('backward matches the reference and finite differences of the loss', () => {
    const rng = new Rng(51);
    const cpu = scopes.cpu;
    for (const [n, classes] of SHAPES) {
      const logits = rng.floats(n * classes, -3, 3), labels = rng.labels(n, classes);
      const probs = cpu.out(n * classes), loss = cpu.out(1), dlogits = cpu.out(n * classes);
      const sl = cpu.ints(labels);
      addon.softmaxXentForward(n, classes, cpu.floats(logits), sl, probs, loss);
      const dloss = 0.75;
      addon.softmaxXentBackward(n, classes, probs, sl, cpu.floats([dloss]), dlogits);
      const got = cpu.read(dlogits);
      expectClose(got, softmaxXentBackwardRef(n, classes, f64(cpu.read(probs)), labels, dloss), TOL.reduce, `dlogits ${n}x${classes}`);
      if (n * classes <= 400) {
        const fd = numericGradientScalar((v) => dloss * softmaxXentRef(n, classes, v, labels).loss, logits);
        expectClose(got, fd, TOL.gradient, `dlogits vs finite differences ${n}x${classes}`);
      }
    }
  });

  it('argmax and correct_count are exact (first index of ties)', () => {
    const rng = new Rng(52);
    const cpu = scopes.cpu;
    for (const [n, classes] of SHAPES) {
      const x = rng.floats(n * classes);
      // plant ties: the first of two equal maxima must win
      for (let i = 0; i < n; i += 3) if (classes > 2) { x[i * classes + 1] = 5; x[i * classes + 2] = 5; }
      const labels = rng.labels(n, classes);
      for (let i = 0; i < n; i += 2) labels[i] = argmaxRef(1, classes, x.subarray(i * classes, (i + 1) * classes))[0];
      const out = cpu.outInts(n), count = cpu.outInts(1);
      addon.argmax(n, classes, cpu.floats(x), out);
      const ref = argmaxRef(n, classes, f64(x));
      expectExact(cpu.readInts(out), ref, `argmax ${n}x${classes}`);
      addon.correctCount(n, classes, cpu.floats(x), cpu.ints(labels), count);
      expect(cpu.readInts(count)[0]).toBe(ref.filter((a, i) => a === labels[i]).length);
    }
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(53);
    const cpu = scopes.cpu;
    const [n, classes] = [5000, 10];
    const logits = cpu.floats(rng.floats(n * classes, -5, 5)), labels = cpu.ints(rng.labels(n, classes));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const probs = cpu.out(n * classes), loss = cpu.out(1), d = cpu.out(n * classes), am = cpu.outInts(n), c = cpu.outInts(1);
        addon.softmaxXentForward(n, classes, logits, labels, probs, loss);
        addon.softmaxXentBackward(n, classes, probs, labels, loss, d);
        addon.argmax(n, classes, logits, am);
        addon.correctCount(n, classes, logits, labels, c);
        return [cpu.read(probs), cpu.read(loss), cpu.read(d), cpu.readInts(am), cpu.readInts(c)];
      });
    const one = run(1), two = run(2);
    ['probs', 'loss', 'dlogits', 'argmax', 'count'].forEach((name, i) => expectSameBits(one[i], two[i], `${name} 1 vs 2 threads`));
  });
});
