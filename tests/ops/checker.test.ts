// the checker itself: it must catch what it exists to catch. a clobbered guard
// on either side, an output element never written, an input the op changed,
// a result off the reference, and a throwing call each fail a case, with a
// message that says where.
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { GuardedBuffers, GUARD_BYTES, guardedStorageOf, guardsAvailable } from '../../src/spec/buffers';
import { caseInputs, checkAgainstReference, checkGradient, compareBackends, runOnDevice } from '../../src/spec/checker';
import type { OpSpec } from '../../src/spec/types';

const addon = native();

// y = 2x through the scale op, with a float64 reference; variants break one thing each
type Case = { n: number };
function doubling(over: Partial<OpSpec<Case>> = {}): OpSpec<Case> {
  return {
    name: 'test_double',
    family: 'test',
    cases: [{ n: 5 }, { n: 1 }],
    label: (p) => `n${p.n}`,
    inputs: (p, rng) => ({ x: rng.floats(p.n) }),
    outputs: (p) => ({ y: { length: p.n, dtype: 'f32' } }),
    call: (a, p, s) => a.scale(p.n, s.x, 2, s.y),
    reference: (p, x) => ({ y: Float64Array.from({ length: p.n }, (_, i) => 2 * x.x[i]) }),
    tolerance: { reference: 0, backends: 0 },
    gradient: {
      of: 'y',
      wrt: { x: 'dx' },
      call: (a, p, s) => a.scale(p.n, s.dy, 2, s.dx),
      tolerance: 1e-6,
    },
    ...over,
  };
}

describe('the checker', () => {
  it('passes a correct op against its reference, itself on another run, and central differences', () => {
    for (const index of [0, 1]) {
      for (const r of [checkAgainstReference(doubling(), index, 'cpu'), compareBackends(doubling(), index, 'cpu', 'cpu'), checkGradient(doubling(), index, 'cpu')]) {
        expect(r.ok, r.problems.join('; ') + r.detail).toBe(true);
        expect(r.guarded).toBe(guardsAvailable());
      }
    }
  });

  it("draws a case's inputs from its own seeded stream: the same every time, different per case", () => {
    const spec = doubling({ cases: [{ n: 64 }, { n: 64 }] });
    expect(Array.from(caseInputs(spec, 0).x)).toEqual(Array.from(caseInputs(spec, 0).x));
    expect(Array.from(caseInputs(spec, 0).x)).not.toEqual(Array.from(caseInputs(spec, 1).x));
    expect(Array.from(runOnDevice(spec, 1, 'cpu', caseInputs(spec, 1)).outputs.y)).toEqual(Array.from(caseInputs(spec, 1).x, (v) => 2 * v));
  });

  it('fails an op that leaves an output element unwritten (NaN poison)', () => {
    const r = checkAgainstReference(doubling({ call: (a, p, s) => a.scale(p.n - 1, s.x, 2, s.y) }), 0, 'cpu');
    expect(r.ok).toBe(false);
    expect(r.relError).toBe(Infinity);
    expect(r.detail).toMatch(/'y': NaN at element 4/);
  });

  it('fails an op off its reference, naming the worst element', () => {
    const r = checkAgainstReference(doubling({ call: (a, p, s) => a.scale(p.n, s.x, 2.001, s.y) }), 0, 'cpu');
    expect(r.ok).toBe(false);
    expect(r.relError).toBeGreaterThan(1e-4);
    expect(r.detail).toMatch(/'y': worst element \d/);
  });

  it('fails an op that writes one of its inputs', () => {
    const r = checkAgainstReference(doubling({ call: (a, p, s) => { a.scale(p.n, s.x, 2, s.y); a.fill(1, s.x, 0); } }), 0, 'cpu');
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(["input 'x' was modified (element 0)"]);
  });

  it('fails a backward kernel off central differences', () => {
    const spec = doubling();
    const r = checkGradient({ ...spec, gradient: { ...spec.gradient!, call: (a, p, s) => a.scale(p.n, s.dy, 2.01, s.dx) } }, 0, 'cpu');
    expect(r.ok).toBe(false);
    expect(r.against).toBe('central differences');
    expect(r.detail).toMatch(/'dx': worst element/);
  });

  it('reports a call that throws as a failed case', () => {
    const r = checkAgainstReference(doubling({ call: (a, p, s) => a.scale(p.n + 1, s.x, 2, s.y) }), 0, 'cpu');
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/^threw ERR_SHAPE: scale:/);
  });
});

describe.skipIf(!guardsAvailable())('guard zones' + (guardsAvailable() ? '' : ' (this addon build has no addon.view: npm run build:native)'), () => {
  const bufs = new GuardedBuffers('cpu');
  afterEach(() => bufs.free());

  it('surround every buffer and are intact after a well-behaved op', () => {
    bufs.put('x', Float32Array.of(1, 2, 3));
    bufs.output('y', 'f32', 3);
    addon.scale(3, bufs.storage('x'), 2, bufs.storage('y'));
    expect(bufs.problems(['x'])).toEqual([]);
    expect(Array.from(bufs.read('y'))).toEqual([2, 4, 6]);
    expect(guardedStorageOf(bufs.storage('y'))!.bytes).toBe(GUARD_BYTES + 12 + GUARD_BYTES);
  });

  it('report a write just past the end, with the element it hit', () => {
    bufs.output('y', 'f32', 3);
    addon.write(guardedStorageOf(bufs.storage('y'))!, Float32Array.of(0), GUARD_BYTES + 12);
    expect(bufs.problems()).toEqual(["the guard after 'y' (3 elements) was overwritten at element 3 (byte 12)"]);
  });

  it('report a write just before the start, and far out, on int and byte buffers too', () => {
    bufs.output('i', 'i32', 2);
    bufs.put('u', Uint8Array.of(1, 2, 3));
    addon.write(guardedStorageOf(bufs.storage('i'))!, Int32Array.of(0), GUARD_BYTES - 4);
    addon.write(guardedStorageOf(bufs.storage('u'))!, Uint8Array.of(0), GUARD_BYTES + 3 + 200);
    expect(bufs.problems()).toEqual([
      "the guard before 'i' was overwritten at element -1 (byte -1)",
      "the guard after 'u' (3 elements) was overwritten at element 203 (byte 203)",
    ]);
  });

  it('make the checker fail a case whose op wrote past an output', () => {
    // an op that writes one element too many, played by writing into the guard after y
    const spec = doubling({
      call: (a, p, s) => {
        a.scale(p.n, s.x, 2, s.y);
        a.write(guardedStorageOf(s.y)!, Float32Array.of(9), GUARD_BYTES + 4 * p.n);
      },
    });
    const r = checkAgainstReference(spec, 0, 'cpu');
    expect(r.ok).toBe(false);
    expect(r.relError).toBe(0);
    expect(r.problems).toEqual(["the guard after 'y' (5 elements) was overwritten at element 5 (byte 20)"]);
  });
});
