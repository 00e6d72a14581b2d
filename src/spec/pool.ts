import type { AnyOpSpec } from './types';

export const poolSpecs: AnyOpSpec[] = [];
