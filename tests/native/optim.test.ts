// Adam/AdamW and SGD steps on the cpu backend against a float64 transcription
// of PyTorch's updates, over several steps: weight decay coupled (Adam) and
// decoupled (AdamW), momentum with dampening, nesterov, the first step's
// momentum buffer. parameters are kept small so float32 rounding of p + update
// stays far below the update itself, and the update's deltas are checked too.
import { describe, expect, it } from 'vitest';
import { TOL, expectClose, expectSameBits } from '../helpers/compare';
import { addon, f64, useScopes, withThreads } from '../helpers/native';
import { adamStepRef, sgdStepRef, type AdamConfig, type SgdConfig } from '../helpers/reference';
import { Rng } from '../helpers/rng';

const scopes = useScopes();
const STEPS = 6;

function deltas(after: ArrayLike<number>, before: ArrayLike<number>): Float64Array {
  return Float64Array.from(after, (v, i) => v - before[i]);
}

// the op table carries hyperparameters as float32 (0.999 arrives as 0.99900001),
// so the reference gets the same rounded values; 1 - beta2 would otherwise
// differ by 1.3e-5 relative before any arithmetic happens
function asFloat32<T extends object>(c: T): T {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? Math.fround(v) : v])) as T;
}

function runAdam(rng: Rng, n: number, config: AdamConfig) {
  const cpu = scopes.cpu;
  const c = asFloat32(config);
  const p0 = rng.floats(n, -0.1, 0.1);
  const param = cpu.floats(p0), m = cpu.floats(new Float32Array(n)), v = cpu.floats(new Float32Array(n));
  const rp = f64(p0), rm = new Float64Array(n), rv = new Float64Array(n);
  for (let step = 1; step <= STEPS; step++) {
    const g = rng.floats(n, -0.2, 0.2);
    const before = cpu.read(param);
    addon.adamStep(n, param, cpu.floats(g), m, v, c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, c.decoupled, step);
    const refBefore = Float64Array.from(rp);
    adamStepRef(rp, f64(g), rm, rv, c, step);
    const got = cpu.read(param);
    const what = `adam ${JSON.stringify(c)} step ${step}`;
    expectClose(got, rp, TOL.reduce, `${what} param`);
    expectClose(deltas(got, before), deltas(rp, refBefore), 1e-4, `${what} update`);
    expectClose(cpu.read(m), rm, TOL.reduce, `${what} m`);
    expectClose(cpu.read(v), rv, TOL.reduce, `${what} v`);
  }
  return cpu.read(param);
}

function runSgd(rng: Rng, n: number, config: SgdConfig) {
  const cpu = scopes.cpu;
  const c = asFloat32(config);
  const p0 = rng.floats(n, -0.1, 0.1);
  const param = cpu.floats(p0), buf = cpu.out(n); // the first step must not read the buffer
  const rp = f64(p0), rb = new Float64Array(n);
  for (let step = 1; step <= STEPS; step++) {
    const g = rng.floats(n, -1, 1);
    const before = cpu.read(param);
    addon.sgdStep(n, param, cpu.floats(g), buf, c.lr, c.momentum, c.dampening, c.weightDecay, c.nesterov, step === 1);
    const refBefore = Float64Array.from(rp);
    sgdStepRef(rp, f64(g), rb, c, step === 1);
    const got = cpu.read(param);
    const what = `sgd ${JSON.stringify(c)} step ${step}`;
    expectClose(got, rp, TOL.reduce, `${what} param`);
    expectClose(deltas(got, before), deltas(rp, refBefore), 1e-4, `${what} update`);
    if (c.momentum !== 0) expectClose(cpu.read(buf), rb, TOL.reduce, `${what} momentum buffer`);
  }
  return cpu.read(param);
}

describe('optimizers (cpu)', () => {
  const adamConfigs: AdamConfig[] = [
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
    { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decoupled: false },
    { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decoupled: true },
    { lr: 3e-3, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0.01, decoupled: true },
    { lr: 3e-3, beta1: 0.6, beta2: 0.99, eps: 1e-6, weightDecay: 0, decoupled: false }, // lerp's other branch
  ];
  for (const c of adamConfigs) {
    it(`adam matches PyTorch's update over ${STEPS} steps: ${JSON.stringify(c)}`, () => {
      runAdam(new Rng(60), 1000, c);
    });
  }

  it('Adam and AdamW weight decay give different results (the test can tell them apart)', () => {
    const base = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    const coupled = runAdam(new Rng(61), 200, { ...base, decoupled: false });
    const decoupled = runAdam(new Rng(61), 200, { ...base, decoupled: true });
    let diff = 0;
    for (let i = 0; i < 200; i++) diff = Math.max(diff, Math.abs(coupled[i] - decoupled[i]));
    expect(diff).toBeGreaterThan(1e-4);
  });

  const sgdConfigs: SgdConfig[] = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true },
    { lr: 0.01, momentum: 0, dampening: 0, weightDecay: 0.1, nesterov: false },
  ];
  for (const c of sgdConfigs) {
    it(`sgd matches PyTorch's update over ${STEPS} steps: ${JSON.stringify(c)}`, () => {
      runSgd(new Rng(62), 1000, c);
    });
  }

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
