// Adam/AdamW and SGD steps on the cpu backend, beyond their values
// (src/spec/optim.ts checks those against PyTorch's updates in float64 on
// every backend): the test can tell coupled from decoupled weight decay, and
// the bits do not depend on the thread count.
import { describe, expect, it } from 'vitest';
import { expectSameBits } from '../helpers/compare';
import { addon, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();

describe('optimizers (cpu)', () => {
  it('Adam and AdamW weight decay give different results (the references can tell them apart)', () => {
    const cpu = scopes.cpu;
    const n = 200;
    const rng = new Rng(61);
    const p0 = rng.floats(n, -0.1, 0.1);
    const grads = Array.from({ length: 6 }, () => rng.floats(n, -0.2, 0.2));
    const run = (decoupled: boolean) => {
      const p = cpu.floats(p0), m = cpu.floats(new Float32Array(n)), v = cpu.floats(new Float32Array(n));
      grads.forEach((g, t) => addon.adamStep(n, p, cpu.floats(g), m, v, 1e-2, 0.9, 0.999, 1e-8, 0.5, decoupled, t + 1));
      return cpu.read(p);
    };
    const coupled = run(false), decoupled = run(true);
    let diff = 0;
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(coupled[i] - decoupled[i]));
    expect(diff).toBeGreaterThan(1e-4);
  });

  it('gives the same bits on 1 and 2 threads', () => {
    const rng = new Rng(63);
    const cpu = scopes.cpu;
    const n = 100003;
    const p0 = rng.floats(n), g = cpu.floats(rng.floats(n));
    const run = (threads: number) =>
      withThreads(threads, () => {
        const p = cpu.floats(p0), m = cpu.floats(new Float32Array(n)), v = cpu.floats(new Float32Array(n));
        const q = cpu.floats(p0), buf = cpu.out(n);
        for (let step = 1; step <= 3; step++) {
          addon.adamStep(n, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, true, step);
          addon.sgdStep(n, q, g, buf, 0.1, 0.9, 0, 1e-4, true, step === 1);
        }
        return [cpu.read(p), cpu.read(m), cpu.read(v), cpu.read(q), cpu.read(buf)];
      });
    const one = run(1), two = run(2);
    ['adam param', 'm', 'v', 'sgd param', 'buf'].forEach((name, i) => expectSameBits(one[i], two[i], `${name} 1 vs 2 threads`));
  });
});
