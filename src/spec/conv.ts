import type { AnyOpSpec } from './types';

export const convSpecs: AnyOpSpec[] = [];
