// the CUDA backend beyond the op specs (which tests/ops/specs.test.ts runs on
// the GPU against the float64 references, and `cudalab check-ops` against
// the cpu backend): transfers between devices at offsets. needs a usable GPU;
// skipped otherwise, with the reason in the name.
import { describe, it } from 'vitest';
import { expectExact } from '../helpers/compare';
import { addon, cudaAvailable, cudaReason, Scope, useScopes } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();
const suffix = cudaAvailable ? '' : ` (skipped: ${cudaReason})`;

describe(`cuda vs cpu${suffix}`, () => {
  it.skipIf(!cudaAvailable)('transfers: write, read, copy across devices at offsets', () => {
    const run = (s: Scope) => {
      const data = new Rng(1).floats(1000);
      const a = s.floats(data);
      const b = s.out(1000);
      addon.copy(b, a, 2000, 400, 800);
      const host = scopes.cpu.out(300);
      addon.copy(host, b, 1200, 0, 0); // to the cpu, whichever device b is on
      const back = s.out(300);
      addon.copy(back, host, 800, 400, 0); // and back
      addon.synchronize(s.device);
      return [s.read(b).subarray(100, 600), scopes.cpu.read(host), s.read(back).subarray(100, 300)];
    };
    const want = run(scopes.cpu);
    run(scopes.cuda).forEach((got, i) => expectExact(got, want[i], `transfer ${i}`));
  });
});
