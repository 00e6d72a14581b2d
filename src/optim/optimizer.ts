// what every optimizer offers, and the checks they share. state buffers are
// kept tensors (tidy never frees them), allocated lazily at the first step on
// the parameter's device, as PyTorch does.
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape, keep } from '../tensor';

export interface OptimizerState {
  /** how many step() calls were made */
  step: number;
  hyper: Record<string, number | boolean>;
  /** per-parameter buffers keyed "<kind>.<parameter index>": "m.3", "v.3", "momentum.3" */
  buffers: Record<string, Tensor>;
}

/**
 * a parameter group, PyTorch's param_groups: its parameters and the lr and
 * weight decay they step with. lr and weightDecay may change between steps
 * (a schedule sets each group's lr).
 */
export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
}

/** what a constructor takes for a group: lr and weightDecay default to the optimizer's */
export interface ParamGroupInput {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
}

export interface Optimizer {
  /** the first group's lr; setting it sets every group's */
  lr: number;
  readonly params: Tensor[];
  readonly paramGroups: ParamGroup[];
  step(): void;
  zeroGrad(): void;
  stateDict(): OptimizerState;
  loadStateDict(s: OptimizerState): void;
  /** frees the optimizer's state buffers */
  dispose(): void;
}

export function checkParams(op: string, params: Tensor[]): Tensor[] {
  if (!Array.isArray(params) || params.length === 0) {
    throw new CudalabError('ERR_ARG', `${op}: expected a non-empty array of parameters (model.parameters())`);
  }
  const seen = new Set<Tensor>();
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new CudalabError('ERR_ARG', `${op}: parameter ${i} is not a Tensor`);
    if (p.dtype !== 'float32') throw new CudalabError('ERR_DTYPE', `${op}: parameter ${i} is ${p.dtype}, expected float32`);
    if (seen.has(p)) throw new CudalabError('ERR_ARG', `${op}: parameter ${i} appears twice`);
    seen.add(p);
  });
  return params.slice();
}

/**
 * the groups of a constructor's argument (a plain array of tensors is one
 * group with the defaults) and all their parameters in group order, each once
 */
export function resolveGroups(
  op: string,
  input: Tensor[] | ParamGroupInput[],
  defaults: { lr: number; weightDecay: number },
): { groups: ParamGroup[]; params: Tensor[]; groupOf: number[] } {
  if (!Array.isArray(input) || input.length === 0) checkParams(op, input as Tensor[]);
  const inputs: ParamGroupInput[] = input[0] instanceof Tensor ? [{ params: input as Tensor[] }] : (input as ParamGroupInput[]);
  const groups = inputs.map((g, i) => {
    if (g === null || typeof g !== 'object' || !Array.isArray(g.params) || g.params.length === 0) {
      throw new CudalabError('ERR_ARG', `${op}: parameter group ${i} must be {params: a non-empty array of tensors, lr?, weightDecay?}`);
    }
    return {
      params: g.params.slice(),
      lr: checkHyper(op, `group ${i} lr`, g.lr ?? defaults.lr, 0, Infinity),
      weightDecay: checkHyper(op, `group ${i} weightDecay`, g.weightDecay ?? defaults.weightDecay, 0, Infinity),
    };
  });
  const params = checkParams(op, groups.flatMap((g) => g.params));
  const groupOf = groups.flatMap((g, i) => g.params.map(() => i));
  return { groups, params, groupOf };
}

/**
 * what Adam and SGD share: the parameter groups, and lr and weightDecay read
 * from the first group and, when set, set on every group (PyTorch's
 * optimizer.param_groups; a schedule sets each group's lr itself)
 */
export abstract class GroupedOptimizer {
  readonly params: Tensor[];
  readonly paramGroups: ParamGroup[];
  /** each parameter's group index */
  protected readonly groupOf: number[];

  constructor(op: string, params: Tensor[] | ParamGroupInput[], defaults: { lr: number; weightDecay: number }) {
    ({ groups: this.paramGroups, params: this.params, groupOf: this.groupOf } = resolveGroups(op, params, defaults));
  }

  get lr(): number {
    return this.paramGroups[0].lr;
  }

  set lr(v: number) {
    for (const g of this.paramGroups) g.lr = v;
  }

  get weightDecay(): number {
    return this.paramGroups[0].weightDecay;
  }

  set weightDecay(v: number) {
    for (const g of this.paramGroups) g.weightDecay = v;
  }
}

/** the groups' lr and weight decay as state-dict hyperparameters: lr, weightDecay (group 0), lr.1, weightDecay.1, ... */
export function groupHyper(groups: ParamGroup[]): Record<string, number> {
  const out: Record<string, number> = {};
  groups.forEach((g, i) => {
    out[i === 0 ? 'lr' : `lr.${i}`] = g.lr;
    out[i === 0 ? 'weightDecay' : `weightDecay.${i}`] = g.weightDecay;
  });
  return out;
}

/** the groups' lr and weight decay from a state dict's hyperparameters (checked), the groups' own where missing */
export function loadGroupHyper(op: string, groups: ParamGroup[], h: Record<string, number | boolean>): Array<{ lr: number; weightDecay: number }> {
  return groups.map((g, i) => {
    const num = (k: string, dflt: number): number => (typeof h[k] === 'number' ? (h[k] as number) : dflt);
    const lrKey = i === 0 ? 'lr' : `lr.${i}`;
    const wdKey = i === 0 ? 'weightDecay' : `weightDecay.${i}`;
    return {
      lr: checkHyper(op, `hyper.${lrKey}`, num(lrKey, g.lr), 0, Infinity),
      weightDecay: checkHyper(op, `hyper.${wdKey}`, num(wdKey, g.weightDecay), 0, Infinity),
    };
  });
}

export function checkHyper(op: string, name: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    throw new CudalabError('ERR_ARG', `${op}: ${name} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${String(v)}`);
  }
  return v;
}

/** frees every parameter's gradient */
export function freeGrads(params: Tensor[]): void {
  for (const p of params) {
    const g = p.grad;
    p.grad = null;
    if (g) g.dispose();
  }
}

/** the live gradient of parameter i, or null when it has none (the step skips it) */
export function gradOf(op: string, p: Tensor, i: number): Tensor | null {
  const g = p.grad;
  if (g === null || g.disposed) return null;
  p.storage(op, `parameter ${i}`);
  if (g.numel !== p.numel) {
    throw new CudalabError('ERR_SHAPE', `${op}: parameter ${i} has shape ${formatShape(p.shape)} but its grad has ${formatShape(g.shape)}`);
  }
  if (g.device !== p.device) {
    throw new CudalabError('ERR_DEVICE', `${op}: parameter ${i} is on ${p.device} but its grad is on ${g.device}`);
  }
  return g;
}

/** a zero-filled state buffer beside p that tidy never frees */
export function stateBuffer(p: Tensor): Tensor {
  return keep(Tensor.zeros(p.shape, { device: p.device }));
}

/** the buffer, moved to p's device if the model moved since it was made */
export function onDeviceOf(buf: Tensor, p: Tensor): Tensor {
  if (buf.device !== p.device) buf.moveTo(p.device);
  return buf;
}

/**
 * checks a state dict's buffers against the parameters: names "<kind>.<i>"
 * with kind in kinds, i a parameter index, shapes equal. returns them by
 * kind and index. throws one error that lists every problem.
 */
export function parseBuffers(op: string, s: OptimizerState, params: Tensor[], kinds: string[]): Map<string, Map<number, Tensor>> {
  if (s === null || typeof s !== 'object') throw new CudalabError('ERR_STATE', `${op}.loadStateDict: expected { step, hyper, buffers }`);
  if (!Number.isInteger(s.step) || s.step < 0) throw new CudalabError('ERR_STATE', `${op}.loadStateDict: step must be a non-negative integer, got ${String(s.step)}`);
  const out = new Map<string, Map<number, Tensor>>(kinds.map((k) => [k, new Map()]));
  const problems: string[] = [];
  for (const [key, t] of Object.entries(s.buffers ?? {})) {
    const m = /^([a-z]+)\.(\d+)$/.exec(key);
    const byIndex = m ? out.get(m[1]) : undefined;
    const i = m ? Number(m[2]) : -1;
    if (!m || !byIndex) {
      problems.push(`unexpected buffer "${key}" (expected ${kinds.map((k) => `"${k}.<index>"`).join(' or ')})`);
    } else if (i >= params.length) {
      problems.push(`buffer "${key}" is for parameter ${i}, there are ${params.length}`);
    } else if (!(t instanceof Tensor) || t.disposed || t.dtype !== 'float32') {
      problems.push(`buffer "${key}" is not a live float32 tensor`);
    } else if (t.numel !== params[i].numel) {
      problems.push(`size mismatch for "${key}": the state has ${formatShape(t.shape)}, parameter ${i} has ${formatShape(params[i].shape)}`);
    } else {
      byIndex.set(i, t);
    }
  }
  // kinds that go together must be present for the same parameters
  const [first, ...rest] = kinds;
  for (const k of rest) {
    for (const i of out.get(first)!.keys()) if (!out.get(k)!.has(i)) problems.push(`missing buffer "${k}.${i}" (there is "${first}.${i}")`);
    for (const i of out.get(k)!.keys()) if (!out.get(first)!.has(i)) problems.push(`missing buffer "${first}.${i}" (there is "${k}.${i}")`);
  }
  if (problems.length > 0) throw new CudalabError('ERR_STATE', `${op}.loadStateDict: ${problems.join('; ')}`);
  return out;
}

/** a kept copy of src on p's device */
export function copyBuffer(src: Tensor, p: Tensor): Tensor {
  const t = keep(Tensor.empty(p.shape, { device: p.device }));
  native().copy(t.storage('loadStateDict'), src.storage('loadStateDict'), p.numel * 4);
  return t;
}
