// the one checker every op spec goes through, on any device: a case's inputs
// come from a stream seeded by the op's name and the case's index, every
// buffer sits between guard zones (buffers.ts), outputs start poisoned, and
// the results are judged against the float64 reference, against another
// backend, or (for the backward kernels) against central differences of the
// forward reference. the test suite, `cudalab check-ops` and `cudalab bench`
// all use it, so an op is checked the same way everywhere.
import { native, type DeviceName } from '../native';
import { GuardedBuffers } from './buffers';
import { relativeError, describeError } from './compare';
import { numericGradient } from './gradient';
import { caseRng } from './rng';
import type { AnyOpSpec, HostData } from './types';

/** one case's verdict, printable as one line */
export interface CheckResult {
  op: string;
  /** the case's label ("b64 3->16 32x32 k3 p1") */
  case: string;
  index: number;
  /** what the outputs were judged against: 'reference', another device's name, or 'central differences' */
  against: string;
  /** the worst relative error over the outputs compared; Infinity when anything failed to run or is NaN */
  relError: number;
  tolerance: number;
  ok: boolean;
  /** the op's time on each device that ran it */
  ms: Record<string, number>;
  /** guard zones overwritten, inputs modified, NaNs, errors: anything that fails the case besides the error */
  problems: string[];
  /** the worst output's account (which output, which element) */
  detail: string;
  /** whether the buffers had guard zones (an addon build without views runs unguarded) */
  guarded: boolean;
}

/** what one device made of a case */
export interface DeviceRun {
  outputs: Record<string, HostData>;
  ms: number;
  problems: string[];
  guarded: boolean;
}

/** the inputs of case `index` of a spec (the same on every device and every run) */
export function caseInputs(spec: AnyOpSpec, index: number): Record<string, HostData> {
  return spec.inputs(spec.cases[index], caseRng(spec.name, index));
}

// allocates the inputs and outputs of a case (an output with `from` starts
// as a copy of that input; one named like an input is that input, in place)
function allocate(spec: AnyOpSpec, p: unknown, inputs: Record<string, HostData>, bufs: GuardedBuffers): string[] {
  const outputs = spec.outputs(p);
  for (const [name, data] of Object.entries(inputs)) if (!(name in outputs)) bufs.put(name, data);
  for (const [name, decl] of Object.entries(outputs)) {
    if (decl.from !== undefined) {
      const start = inputs[decl.from];
      if (!start) throw new Error(`${spec.name}: output '${name}' starts from input '${decl.from}', which the case does not have`);
      if (start.length !== decl.length) throw new Error(`${spec.name}: output '${name}' has ${decl.length} elements, its input '${decl.from}' ${start.length}`);
      bufs.put(name, start);
    } else {
      bufs.output(name, decl.dtype, decl.length);
    }
  }
  // the inputs the op must leave alone: all but those that are outputs too
  return Object.keys(inputs).filter((name) => !(name in outputs));
}

function timed(device: DeviceName, fn: () => void): number {
  const addon = native();
  addon.synchronize(device);
  const t0 = process.hrtime.bigint();
  fn();
  addon.synchronize(device);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** runs case `index` of a spec on a device with the given inputs; returns its outputs and what went wrong around them */
export function runOnDevice(spec: AnyOpSpec, index: number, device: DeviceName, inputs: Record<string, HostData>): DeviceRun {
  const p = spec.cases[index];
  const bufs = new GuardedBuffers(device);
  try {
    const readOnly = allocate(spec, p, inputs, bufs);
    const ms = timed(device, () => spec.call(native(), p, bufs.storages()));
    const problems = bufs.problems(readOnly);
    const outputs: Record<string, HostData> = {};
    for (const name of Object.keys(spec.outputs(p))) outputs[name] = bufs.read(name);
    return { outputs, ms, problems, guarded: bufs.guarded };
  } finally {
    bufs.free();
  }
}

// the worst relative error over the named outputs, with the account of the worst
function compareOutputs(
  names: string[],
  actual: Record<string, ArrayLike<number>>,
  expected: Record<string, ArrayLike<number>>,
): { rel: number; detail: string } {
  let rel = 0, detail = '';
  for (const name of names) {
    const a = actual[name], e = expected[name];
    if (!a || !e) return { rel: Infinity, detail: `output '${name}' is missing` };
    if (a.length !== e.length) return { rel: Infinity, detail: `output '${name}' has ${a.length} elements, expected ${e.length}` };
    const r = relativeError(a, e);
    if (detail === '' || !(r.rel <= rel)) {
      rel = r.rel;
      detail = `'${name}': ${describeError(r, a, e)}`;
    }
  }
  return { rel, detail };
}

function verdict(
  spec: AnyOpSpec, index: number, against: string, tolerance: number,
  run: () => { rel: number; detail: string; ms: Record<string, number>; problems: string[]; guarded: boolean },
): CheckResult {
  const base = { op: spec.name, case: spec.label(spec.cases[index]), index, against, tolerance };
  try {
    const r = run();
    return { ...base, relError: r.rel, ok: r.rel <= tolerance && r.problems.length === 0, ms: r.ms, problems: r.problems, detail: r.detail, guarded: r.guarded };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ...base, relError: Infinity, ok: false, ms: {}, problems: [`threw ${e.code ? e.code + ': ' : ''}${e.message}`], detail: '', guarded: false };
  }
}

/** case `index` on a device against the spec's float64 reference, within tolerance.reference */
export function checkAgainstReference(spec: AnyOpSpec, index: number, device: DeviceName): CheckResult {
  return verdict(spec, index, 'reference', spec.tolerance.reference, () => {
    const p = spec.cases[index];
    const inputs = caseInputs(spec, index);
    const run = runOnDevice(spec, index, device, inputs);
    const expected = spec.reference(p, inputs);
    const { rel, detail } = compareOutputs(Object.keys(expected), run.outputs, expected);
    return { rel, detail, ms: { [device]: run.ms }, problems: run.problems, guarded: run.guarded };
  });
}

/** case `index` on two devices with the same inputs, within tolerance.backends (b is the reference side) */
export function compareBackends(spec: AnyOpSpec, index: number, a: DeviceName, b: DeviceName): CheckResult {
  return verdict(spec, index, b, spec.tolerance.backends, () => {
    const inputs = caseInputs(spec, index);
    const ra = runOnDevice(spec, index, a, inputs);
    const rb = runOnDevice(spec, index, b, inputs);
    const { rel, detail } = compareOutputs(Object.keys(spec.outputs(spec.cases[index])), ra.outputs, rb.outputs);
    const problems = [...ra.problems.map((m) => `${a}: ${m}`), ...rb.problems.map((m) => `${b}: ${m}`)];
    return { rel, detail, ms: { [a]: ra.ms, [b]: rb.ms }, problems, guarded: ra.guarded && rb.guarded };
  });
}

/** whether case `index` of a spec has a gradient check */
export function hasGradientCheck(spec: AnyOpSpec, index: number): boolean {
  const g = spec.gradient;
  return !!g && (!g.cases || g.cases(spec.cases[index]));
}

/**
 * the backward kernels of case `index` on a device against central
 * differences of the forward reference: a random upstream gradient d<of> is
 * pulled back through the backward call, and each gradient it writes must
 * match sum(reference(x)[of] * d<of>) differentiated numerically in float64
 */
export function checkGradient(spec: AnyOpSpec, index: number, device: DeviceName): CheckResult {
  const g = spec.gradient;
  if (!g) throw new Error(`${spec.name} has no gradient check`);
  return verdict(spec, index, 'central differences', g.tolerance, () => {
    const p = spec.cases[index];
    const rng = caseRng(spec.name, index);
    const inputs = spec.inputs(p, rng);
    const outDecl = spec.outputs(p)[g.of];
    if (!outDecl) throw new Error(`${spec.name}: the gradient flows into output '${g.of}', which the op does not have`);
    const upstream = `d${g.of}`;
    const dOf = rng.floats(outDecl.length, -1, 1);
    const bufs = new GuardedBuffers(device);
    try {
      const readOnly = allocate(spec, p, inputs, bufs);
      spec.call(native(), p, bufs.storages());
      bufs.put(upstream, dOf);
      // an optional input a case leaves out (a bias) has no gradient to check
      const wrt = Object.entries(g.wrt).filter(([input]) => input in inputs);
      for (const [input, grad] of wrt) bufs.output(grad, 'f32', inputs[input].length);
      for (const [name, decl] of Object.entries(g.outputs?.(p) ?? {})) bufs.output(name, decl.dtype, decl.length);
      const ms = timed(device, () => g.call(native(), p, bufs.storages()));
      const problems = bufs.problems([...readOnly, upstream]);
      const actual: Record<string, HostData> = {};
      const expected: Record<string, Float64Array> = {};
      for (const [input, grad] of wrt) {
        actual[grad] = bufs.read(grad);
        const forward = (x: Float64Array) => spec.reference(p, { ...inputs, [input]: x })[g.of];
        expected[grad] = numericGradient(forward, inputs[input], dOf, g.step ?? 1e-6);
      }
      const { rel, detail } = compareOutputs(wrt.map(([, grad]) => grad), actual, expected);
      return { rel, detail, ms: { [device]: ms }, problems, guarded: bufs.guarded };
    } finally {
      bufs.free();
    }
  });
}

/** a result as check-ops prints it */
export function formatResult(r: CheckResult): string {
  const line = `${r.ok ? 'ok  ' : 'FAIL'} ${r.op.padEnd(18)} ${r.case.padEnd(40)} rel. error ${r.relError.toExponential(2)} (tolerance ${r.tolerance.toExponential(0)})`;
  if (r.ok) return line;
  return [line, ...(r.detail && !(r.relError <= r.tolerance) ? [`     ${r.detail}`] : []), ...r.problems.map((m) => `     ${m}`)].join('\n');
}
