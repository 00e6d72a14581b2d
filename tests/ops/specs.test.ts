// every op spec on every backend present: the cpu always, cuda when there is
// a usable GPU. each case runs with its buffers between guard zones and its
// outputs poisoned, and must match the float64 reference within the spec's
// tolerance; the backward kernels must match central differences of the
// forward reference on the cases the spec marks for it.
import { describe, expect, it } from 'vitest';
import { native, type DeviceName } from '../../src/native';
import { allSpecs } from '../../src/spec';
import { guardsAvailable } from '../../src/spec/buffers';
import { checkAgainstReference, checkGradient, hasGradientCheck, formatResult, type CheckResult } from '../../src/spec/checker';

const cuda = native().cudaInfo();
const devices: Array<{ device: DeviceName; skip: string }> = [
  { device: 'cpu', skip: '' },
  { device: 'cuda', skip: cuda.available ? '' : `no usable CUDA device: ${cuda.reason}` },
];
const guards = guardsAvailable();

function expectOk(r: CheckResult): void {
  if (!r.ok) expect.fail(formatResult(r));
  // an addon build without views cannot guard (the guard test skips, saying so)
  expect(r.guarded).toBe(guards);
}

for (const { device, skip } of devices) {
  if (skip) {
    it.skip(`ops on ${device} (${skip})`, () => {});
    continue;
  }
  describe(`ops on ${device}`, () => {
    it.skipIf(!guards)('puts guard zones around every buffer (this addon build has addon.view)', () => {
      expect(guards).toBe(true);
    });
    for (const spec of allSpecs) {
      describe(spec.name, () => {
        spec.cases.forEach((_, index) => {
          it(`#${index} ${spec.label(spec.cases[index])} against the float64 reference`, () => {
            expectOk(checkAgainstReference(spec, index, device));
          });
          if (hasGradientCheck(spec, index)) {
            it(`#${index} ${spec.label(spec.cases[index])} gradient against central differences`, () => {
              expectOk(checkGradient(spec, index, device));
            });
          }
        });
      });
    }
  });
}
