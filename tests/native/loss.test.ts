// the fused softmax cross-entropy, argmax and correct_count on the cpu
// backend, beyond their values (src/spec/loss.ts checks those, huge logits
// and ties included, on every backend): the same bits on 1 and 2 threads (the
// mean loss is a fixed-order sum); the smoothing is held to [0, 1]. (on the
// cpu the plain op is the smoothed one at 0 with the mean, by construction.)
import { describe, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, expectNativeError, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('softmax cross-entropy (cpu)', () => {
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

describe('softmax cross-entropy with label smoothing (cpu)', () => {
  const [n, classes] = [300, 10];
  const setup = (seed: number) => {
    const rng = new Rng(seed);
    return { logits: scopes.cpu.floats(rng.floats(n * classes, -5, 5)), labels: scopes.cpu.ints(rng.labels(n, classes)) };
  };

  it('gives the same bits on 1 and 2 threads', () => {
    const cpu = scopes.cpu;
    const { logits, labels } = setup(55);
    const run = (threads: number) =>
      withThreads(threads, () => {
        const probs = cpu.out(n * classes), loss = cpu.out(1), d = cpu.out(n * classes);
        addon.softmaxXentSmoothForward(n, classes, logits, labels, 0.2, true, probs, loss);
        addon.softmaxXentSmoothBackward(n, classes, probs, labels, 0.2, true, loss, d);
        return [cpu.read(probs), cpu.read(loss), cpu.read(d)];
      });
    const one = run(1), two = run(2);
    ['probs', 'loss', 'dlogits'].forEach((name, i) => expectSameBits(one[i], two[i], `${name} 1 vs 2 threads`));
  });

  it('rejects a smoothing outside [0, 1] and labels outside the classes', () => {
    const cpu = scopes.cpu;
    const { logits, labels } = setup(56);
    for (const smoothing of [-0.1, 1.5, NaN]) {
      expectNativeError(
        () => addon.softmaxXentSmoothForward(n, classes, logits, labels, smoothing, false, cpu.out(n * classes), cpu.out(1)),
        'ERR_ARG', 'smoothing',
      );
    }
    const bad = cpu.ints(Int32Array.from({ length: n }, (_, i) => (i === 7 ? classes : 0)));
    expectNativeError(
      () => addon.softmaxXentSmoothForward(n, classes, logits, bad, 0.2, false, cpu.out(n * classes), cpu.out(1)),
      'ERR_ARG', 'labels[7] = 10',
    );
  });
});
