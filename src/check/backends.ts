// every op spec's cases run on two backends with the same inputs and compared
// (ggml's test-backend-ops idea): the CPU backend is the reference the CUDA
// kernels are checked against, within each spec's tolerance.backends. every
// buffer sits between guard zones and outputs start poisoned, so an element a
// kernel forgot to write, or one it wrote out of bounds, fails the case.
// used by `cudalab check-ops` (the GPU check) and by the test suite.
import type { DeviceName } from '../native';
import { allSpecs } from '../spec';
import { compareBackends, type CheckResult } from '../spec/checker';

export function checkOpNames(): string[] {
  return allSpecs.map((s) => s.name);
}

/** runs every case (or those of `ops`) on `device` and on `reference`, and compares */
export function checkBackends(device: DeviceName, reference: DeviceName = 'cpu', ops?: string[], onResult?: (r: CheckResult) => void): CheckResult[] {
  const results: CheckResult[] = [];
  for (const spec of allSpecs) {
    if (ops && !ops.includes(spec.name)) continue;
    spec.cases.forEach((_, index) => {
      const r = compareBackends(spec, index, device, reference);
      results.push(r);
      onResult?.(r);
    });
  }
  return results;
}
