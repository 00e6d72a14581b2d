// the fused softmax cross-entropy, argmax and correct_count on the cpu
// backend, beyond their values (src/spec/loss.ts checks those, huge logits
// and ties included, on every backend): the same bits on 1 and 2 threads (the
// mean loss is a fixed-order sum).
import { describe, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
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
