// a run's parameter groups, from its settings: each rule picks parameters by
// name (a regular expression searched in the name, as PyTorch's
// named_parameters() gives it) and scales the run's lr and weight decay for
// them. a parameter takes the first rule that matches it; the rest form the
// default group, at the run's own lr and weight decay. airbench94 steps its
// batch-norm biases at 64x the lr with the same decay per step:
// [{ match: "norm", lrScale: 64, weightDecayScale: 1/64 }] (PyTorch's SGD
// decays by lr * weight_decay, so the product is what stays the same).
import type { Tensor } from '../tensor';
import type { ParamGroupInput } from './optimizer';

export interface ParamGroupRule {
  /** a regular expression searched in the parameter's name */
  match: string;
  /** the group's lr is the run's times this (default 1) */
  lrScale?: number;
  /** the group's weight decay is the run's times this (default 1) */
  weightDecayScale?: number;
}

/**
 * the optimizer's groups: the default group first (so the optimizer's lr,
 * its first group's, is the run's), then one per rule that matched
 * something, in the rules' order; each group's parameters in the model's
 * order. a rule that matches nothing makes no group.
 */
export function groupParameters(
  named: Array<[string, Tensor]>,
  rules: readonly ParamGroupRule[],
  base: { lr: number; weightDecay: number },
): ParamGroupInput[] {
  const patterns = rules.map((r) => new RegExp(r.match));
  const members: Tensor[][] = rules.map(() => []);
  const rest: Tensor[] = [];
  for (const [name, p] of named) {
    const i = patterns.findIndex((re) => re.test(name));
    (i < 0 ? rest : members[i]).push(p);
  }
  const groups: ParamGroupInput[] = [];
  if (rest.length > 0) groups.push({ params: rest, lr: base.lr, weightDecay: base.weightDecay });
  rules.forEach((r, i) => {
    if (members[i].length === 0) return;
    groups.push({ params: members[i], lr: base.lr * (r.lrScale ?? 1), weightDecay: base.weightDecay * (r.weightDecayScale ?? 1) });
  });
  return groups;
}
