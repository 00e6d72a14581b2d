// every op spec, one family per file. the test suite, check-ops and bench
// read this list; adding an op's spec to its family's file is all it takes.
import type { AnyOpSpec } from './types';
import { gemmSpecs } from './gemm';
import { convSpecs } from './conv';
import { poolSpecs } from './pool';
import { eltwiseSpecs } from './eltwise';
import { reduceSpecs } from './reduce';
import { lossSpecs } from './loss';
import { optimSpecs } from './optim';
import { randomSpecs } from './random';
import { dataSpecs } from './data';
import { augmentSpecs } from './augment';
import { normSpecs } from './norm';

export const allSpecs: AnyOpSpec[] = [
  ...gemmSpecs,
  ...convSpecs,
  ...poolSpecs,
  ...eltwiseSpecs,
  ...reduceSpecs,
  ...lossSpecs,
  ...optimSpecs,
  ...randomSpecs,
  ...dataSpecs,
  ...augmentSpecs,
  ...normSpecs,
];

/** the spec of an op by name */
export function specByName(name: string): AnyOpSpec | undefined {
  return allSpecs.find((s) => s.name === name);
}
