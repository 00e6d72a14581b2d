// the shapes `cudalab bench` times: each op spec's bench cases (GEMM at 1000,
// 2048 and 4096, the seed CNN's layers at batch 64 and 128), with the work
// each does (flops) and the fewest bytes it must move. inputs come from the
// spec's own generator (never zeros: they hide bugs and can run faster).
import { native, DeviceName, NativeStorage } from '../native';
import { allSpecs } from '../spec';
import { caseRng } from '../spec/rng';
import type { AnyOpSpec } from '../spec/types';

export interface BenchCase {
  op: string;
  shape: string;
  flops: number;
  bytes: number;
  /** the op and its dimensions, for timing the same thing elsewhere (bench/torch_ops.py) */
  spec: Record<string, number | string | boolean>;
  /** allocates inputs on the device; run() enqueues one execution */
  make(device: DeviceName): { run: () => void; free: () => void };
}

// a spec's bench case: its inputs from the spec's generator, its outputs plain
// storages (bench times the op, not the checker's guard zones)
function specCase(spec: AnyOpSpec, p: unknown, index: number): BenchCase {
  const b = spec.bench!;
  return {
    op: spec.name,
    shape: b.label ? b.label(p) : spec.label(p),
    flops: b.flops?.(p) ?? 0,
    bytes: b.bytes?.(p) ?? 0,
    spec: b.torch?.(p) ?? { op: spec.name },
    make(device) {
      const addon = native();
      const inputs = spec.inputs(p, caseRng(`${spec.name} bench`, index));
      const outputs = spec.outputs(p);
      const s: Record<string, NativeStorage> = {};
      const store = (name: string, bytes: number, data?: ArrayBufferView) => {
        s[name] = new addon.Storage(device, bytes);
        if (data && bytes) addon.write(s[name], data);
      };
      for (const [name, data] of Object.entries(inputs)) if (!(name in outputs)) store(name, data.byteLength, data);
      for (const [name, o] of Object.entries(outputs)) {
        const from = o.from !== undefined ? inputs[o.from] : undefined;
        store(name, o.length * (o.dtype === 'u8' ? 1 : 4), from);
      }
      return { run: () => spec.call(addon, p, s), free: () => Object.values(s).forEach((x) => x.free()) };
    },
  };
}

/** every case, in the order they print */
export function benchCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const spec of allSpecs) spec.bench?.cases.forEach((p, i) => cases.push(specCase(spec, p, i)));
  return cases;
}

/** the op names, for --ops */
export function benchOpNames(): string[] {
  return [...new Set(benchCases().map((c) => c.op))];
}
