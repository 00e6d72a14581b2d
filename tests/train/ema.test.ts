// the lookahead average against a float64 re-computation of airbench94's
// LookaheadState over a sequence of net states: every `every` steps
// ema = d ema + (1 - d) net, net = ema, with d = decay (step / total)^power;
// the last step sets the net to the average.
import { describe, expect, it } from 'vitest';
import { Tensor, tidy } from '../../src';
import { Linear, Sequential } from '../../src/nn';
import { emaDecay, Lookahead } from '../../src/train/ema';
import { expectClose, TOL } from '../helpers/compare';
import { Rng } from '../helpers/rng';

const AIRBENCH = { every: 5, decay: 0.95 ** 5, power: 3 };

describe('lookahead averaging', () => {
  it("decays as airbench94's alpha_schedule, on every 5th step only", () => {
    const total = 476;
    for (let step = 1; step <= total; step++) {
      const d = emaDecay(AIRBENCH, step, total);
      if (step % 5 !== 0) expect(d).toBe(null);
      else expect(d).toBeCloseTo(0.95 ** 5 * (step / total) ** 3, 15);
    }
  });

  it('averages every float tensor of the state and sets the net to the average, as a float64 re-computation does', () => {
    const rng = new Rng(5);
    const model = new Sequential(new Linear(4, 3), new Linear(3, 2));
    const names = Object.keys(model.stateDict());
    const sizes = names.map((n) => model.stateDict()[n].numel);
    const shapes = names.map((n) => model.stateDict()[n].shape.slice());
    const read = () => names.map((n) => Float64Array.from(model.stateDict()[n].toArray()));
    const lookahead = new Lookahead(model);
    expect(lookahead.names()).toEqual(names);

    // float64 references of the average and the net
    let ema = read();
    let net = read();
    const total = 23;
    for (let step = 1; step <= total; step++) {
      // a "training step": the net moves somewhere new
      const moved = sizes.map((n) => rng.floats(n, -1, 1));
      tidy(() => model.loadStateDict(Object.fromEntries(names.map((n, i) => [n, Tensor.fromArray(moved[i], shapes[i])]))));
      net = moved.map((m) => Float64Array.from(m));
      const d = emaDecay(AIRBENCH, step, total);
      if (d !== null) {
        lookahead.update(d);
        ema = ema.map((e, i) => e.map((x, j) => d * x + (1 - d) * net[i][j]));
        net = ema.map((e) => Float64Array.from(e));
      }
      if (step === total) {
        lookahead.update(1);
        net = ema.map((e) => Float64Array.from(e));
      }
      read().forEach((got, i) => expectClose(Float32Array.from(got), net[i], TOL.reduce, `${names[i]} after step ${step}`));
      Object.values(lookahead.stateDict()).forEach((t, i) => expectClose(t.toArray(), ema[i], TOL.reduce, `average of ${names[i]} after step ${step}`));
    }
    // the end leaves the net exactly at the average
    names.forEach((n) => expect(Array.from(model.stateDict()[n].toArray())).toEqual(Array.from(lookahead.stateDict()[n].toArray())));
    lookahead.dispose();
    model.parameters().forEach((p) => p.dispose());
  });

  it('takes a saved average back, and refuses one that does not fit', () => {
    const model = new Sequential(new Linear(2, 2));
    const a = new Lookahead(model);
    const b = new Lookahead(model);
    tidy(() => {
      const saved = { '0.weight': Tensor.fromArray([1, 2, 3, 4], [2, 2]), '0.bias': Tensor.fromArray([5, 6], [2]) };
      b.loadStateDict(saved);
      expect(Array.from(b.stateDict()['0.bias'].toArray())).toEqual([5, 6]);
      expect(() => a.loadStateDict({ '0.weight': saved['0.weight'] })).toThrow(/missing "0\.bias"/);
      expect(() => a.loadStateDict({ ...saved, extra: saved['0.bias'] })).toThrow(/unexpected "extra"/);
      expect(() => a.loadStateDict({ ...saved, '0.bias': Tensor.fromArray([1, 2, 3], [3]) })).toThrow(/"0\.bias" is float32 \[3\], expected float32 \[2\]/);
    });
    [a, b].forEach((x) => x.dispose());
    model.parameters().forEach((p) => p.dispose());
  });
});
