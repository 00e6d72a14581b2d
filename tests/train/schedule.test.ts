// the lr schedules against closed forms: airbench94's get_lr, PyTorch's
// CosineAnnealingLR, OneCycleLR (cosine annealing, two phases) and
// MultiStepLR, each written out here the way those define it.
import { describe, expect, it } from 'vitest';
import { scheduleFactor, scheduleProblem, type ScheduleSpec } from '../../src/train/schedule';

// legacy/airbench94.py's get_lr, transcribed
function airbenchLr(step: number, total: number): number {
  const warmup = Math.trunc(total * 0.23);
  const warmdown = total - warmup;
  if (step < warmup) {
    const frac = step / warmup;
    return 0.2 * (1 - frac) + 1.0 * frac;
  }
  const frac = (step - warmup) / warmdown;
  return 1.0 * (1 - frac) + 0.07 * frac;
}

// torch.optim.lr_scheduler.OneCycleLR's factor (max lr 1), anneal_strategy 'cos', three_phase False
function oneCycle(step: number, total: number, pct = 0.3, div = 25, finalDiv = 1e4): number {
  const initial = 1 / div;
  const min = initial / finalDiv;
  const phases = [
    { end: pct * total - 1, from: initial, to: 1 },
    { end: total - 1, from: 1, to: min },
  ];
  let start = 0;
  for (let i = 0; i < phases.length; i++) {
    const p = phases[i];
    if (step <= p.end || i === phases.length - 1) {
      const frac = (step - start) / (p.end - start);
      return p.to + ((p.from - p.to) / 2) * (Math.cos(Math.PI * frac) + 1);
    }
    start = p.end;
  }
  throw new Error('unreachable');
}

describe('lr schedules', () => {
  it("piecewise-linear with airbench94's points is airbench94's get_lr at every step (476 steps: 48 a epoch x 9.9)", () => {
    const spec: ScheduleSpec = { kind: 'piecewise', points: [[0, 0.2], [0.23, 1], [1, 0.07]] };
    for (const total of [476, 100, 7, 13]) {
      for (let step = 0; step < total; step++) expect(scheduleFactor(spec, step, total)).toBeCloseTo(airbenchLr(step, total), 14);
    }
    // its ends: 0.2 at the first step, 1 at int(0.23 x total), 0.07 reached only after the last step
    expect(scheduleFactor(spec, 0, 476)).toBe(0.2);
    expect(scheduleFactor(spec, 109, 476)).toBe(1);
    expect(scheduleFactor(spec, 476, 476)).toBeCloseTo(0.07, 14);
  });

  it("cosine is PyTorch's CosineAnnealingLR: min + (1 - min)(1 + cos(pi t / T)) / 2", () => {
    for (const minFactor of [0, 0.1]) {
      const total = 50;
      for (let t = 0; t <= total; t++) {
        const want = minFactor + ((1 - minFactor) * (1 + Math.cos((Math.PI * t) / total))) / 2;
        expect(scheduleFactor({ kind: 'cosine', minFactor }, t, total)).toBeCloseTo(want, 14);
      }
    }
    expect(scheduleFactor({ kind: 'cosine' }, 25, 50)).toBeCloseTo(0.5, 14);
  });

  it("one-cycle is PyTorch's OneCycleLR (lr only)", () => {
    for (const total of [100, 37]) {
      for (let t = 0; t < total; t++) expect(scheduleFactor({ kind: 'onecycle' }, t, total)).toBeCloseTo(oneCycle(t, total), 14);
    }
    const spec: ScheduleSpec = { kind: 'onecycle', pctStart: 0.25, divFactor: 10, finalDivFactor: 100 };
    for (let t = 0; t < 80; t++) expect(scheduleFactor(spec, t, 80)).toBeCloseTo(oneCycle(t, 80, 0.25, 10, 100), 14);
    // its ends: max / div first, the max at pct x total - 1, max / (div x final div) last
    expect(scheduleFactor({ kind: 'onecycle' }, 0, 100)).toBeCloseTo(1 / 25, 14);
    expect(scheduleFactor({ kind: 'onecycle' }, 29, 100)).toBeCloseTo(1, 14);
    expect(scheduleFactor({ kind: 'onecycle' }, 99, 100)).toBeCloseTo(1 / 25 / 1e4, 14);
  });

  it("step is PyTorch's MultiStepLR with milestones at fractions of the run", () => {
    const spec: ScheduleSpec = { kind: 'step', milestones: [0.5, 0.75], gamma: 0.1 };
    for (let t = 0; t < 200; t++) {
      const want = t < 100 ? 1 : t < 150 ? 0.1 : 0.1 * 0.1;
      expect(scheduleFactor(spec, t, 200)).toBe(want);
    }
  });

  it('constant is 1', () => {
    expect(scheduleFactor({ kind: 'constant' }, 17, 20)).toBe(1);
  });

  it('says what is wrong with a schedule', () => {
    expect(scheduleProblem({ kind: 'linear' })).toMatch(/kind must be one of constant, piecewise, cosine, onecycle, step/);
    expect(scheduleProblem({ kind: 'piecewise', points: [[0.1, 1], [1, 0]] })).toMatch(/start at fraction 0 and end at 1/);
    expect(scheduleProblem({ kind: 'piecewise', points: [[0, 1], [0.5, 1], [0.5, 2], [1, 0]] })).toMatch(/increasing fractions/);
    expect(scheduleProblem({ kind: 'cosine', minFactor: -1 })).toMatch(/minFactor/);
    expect(scheduleProblem({ kind: 'cosine', gamma: 1 })).toMatch(/"gamma" is not a field of a cosine schedule/);
    expect(scheduleProblem({ kind: 'onecycle', pctStart: 1 })).toMatch(/pctStart must be in \(0, 1\)/);
    expect(scheduleProblem({ kind: 'step', milestones: [2], gamma: 0.1 })).toMatch(/milestones/);
    expect(scheduleProblem({ kind: 'piecewise', points: [[0, 0.2], [0.23, 1], [1, 0.07]] })).toBe(null);
  });
});
