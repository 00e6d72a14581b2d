// learning-rate schedules, per optimizer step: a factor that multiplies each
// parameter group's own lr (PyTorch's LambdaLR: group lr = initial lr x
// factor(step)). step counts the steps already taken, from 0 to total - 1;
// total is the run's steps (fractional epochs included). fractions of the run
// are rounded down to whole steps, as airbench94 does (int(total * 0.23)).

export type ScheduleSpec =
  | { kind: 'constant' }
  /** linear between points [fraction of the run, factor]; the first at 0, the last at 1 */
  | { kind: 'piecewise'; points: Array<[number, number]> }
  /** PyTorch's CosineAnnealingLR over the run, down to minFactor (default 0) */
  | { kind: 'cosine'; minFactor?: number }
  /** PyTorch's OneCycleLR (cosine annealing, two phases), lr only: momentum is not cycled */
  | { kind: 'onecycle'; pctStart?: number; divFactor?: number; finalDivFactor?: number }
  /** PyTorch's MultiStepLR: times gamma at each milestone (a fraction of the run) */
  | { kind: 'step'; milestones: number[]; gamma: number };

export const SCHEDULE_KINDS = ['constant', 'piecewise', 'cosine', 'onecycle', 'step'] as const;

/** the step a fraction of the run falls on */
function stepAt(fraction: number, total: number): number {
  return Math.floor(fraction * total);
}

/** the factor of the lr for the step after `step` steps of `total` */
export function scheduleFactor(spec: ScheduleSpec, step: number, total: number): number {
  switch (spec.kind) {
    case 'constant':
      return 1;
    case 'piecewise': {
      const pts = spec.points;
      let i = 0;
      // the segment [knot i, knot i+1) that holds step; past the last knot, its factor
      while (i + 1 < pts.length && step >= stepAt(pts[i + 1][0], total)) i++;
      if (i + 1 >= pts.length) return pts[pts.length - 1][1];
      const a = stepAt(pts[i][0], total);
      const b = stepAt(pts[i + 1][0], total);
      const frac = (step - a) / (b - a);
      return pts[i][1] * (1 - frac) + pts[i + 1][1] * frac;
    }
    case 'cosine': {
      const min = spec.minFactor ?? 0;
      return min + ((1 - min) * (1 + Math.cos((Math.PI * step) / total))) / 2;
    }
    case 'onecycle': {
      const pct = spec.pctStart ?? 0.3;
      const initial = 1 / (spec.divFactor ?? 25);
      const final = initial / (spec.finalDivFactor ?? 1e4);
      // PyTorch's phases: up to step pct * total - 1, then down to step total - 1
      const upEnd = pct * total - 1;
      const downEnd = total - 1;
      const cos = (start: number, end: number, p: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1);
      if (step <= upEnd) return cos(initial, 1, upEnd > 0 ? step / upEnd : 1);
      return cos(1, final, downEnd > upEnd ? (step - upEnd) / (downEnd - upEnd) : 1);
    }
    case 'step': {
      let factor = 1;
      for (const m of spec.milestones) if (step >= stepAt(m, total)) factor *= spec.gamma;
      return factor;
    }
  }
}

/** what is wrong with a schedule (null: nothing), for the settings' checks */
export function scheduleProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const v = value as Record<string, unknown>;
  const allowed: Record<string, string[]> = {
    constant: [],
    piecewise: ['points'],
    cosine: ['minFactor'],
    onecycle: ['pctStart', 'divFactor', 'finalDivFactor'],
    step: ['milestones', 'gamma'],
  };
  if (typeof v.kind !== 'string' || !Object.hasOwn(allowed, v.kind)) return `kind must be one of ${SCHEDULE_KINDS.join(', ')}`;
  for (const key of Object.keys(v)) if (key !== 'kind' && !allowed[v.kind].includes(key)) return `"${key}" is not a field of a ${v.kind} schedule (expected ${allowed[v.kind].join(', ') || 'none'})`;
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const fraction = (x: unknown) => num(x) && (x as number) >= 0 && (x as number) <= 1;
  switch (v.kind) {
    case 'piecewise': {
      const pts = v.points;
      if (!Array.isArray(pts) || pts.length < 2 || !pts.every((p) => Array.isArray(p) && p.length === 2 && fraction(p[0]) && num(p[1]) && p[1] >= 0)) {
        return 'points must be at least two [fraction in [0, 1], factor >= 0] pairs';
      }
      if (pts[0][0] !== 0 || pts[pts.length - 1][0] !== 1) return 'points must start at fraction 0 and end at 1';
      for (let i = 1; i < pts.length; i++) if (!(pts[i][0] > pts[i - 1][0])) return 'points must have increasing fractions';
      return null;
    }
    case 'cosine':
      return v.minFactor === undefined || (num(v.minFactor) && (v.minFactor as number) >= 0) ? null : 'minFactor must be a number >= 0';
    case 'onecycle':
      if (v.pctStart !== undefined && !(num(v.pctStart) && (v.pctStart as number) > 0 && (v.pctStart as number) < 1)) return 'pctStart must be in (0, 1)';
      for (const k of ['divFactor', 'finalDivFactor']) if (v[k] !== undefined && !(num(v[k]) && (v[k] as number) > 0)) return `${k} must be a number > 0`;
      return null;
    case 'step':
      if (!Array.isArray(v.milestones) || !v.milestones.every(fraction)) return 'milestones must be an array of fractions in [0, 1]';
      return num(v.gamma) && (v.gamma as number) >= 0 ? null : 'gamma must be a number >= 0';
  }
  return null;
}
