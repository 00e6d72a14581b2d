// lookahead averaging as airbench94 applies it: an average of the model's
// state (every float32 tensor of its state dict, batch-norm running
// statistics included where the model keeps them there) that, every `every`
// steps, moves toward the net, after which the net is set to the average:
//   ema = decay_k * ema + (1 - decay_k) * net;  net = ema
// with decay_k = decay * (k / total)^power at step k. the run's last step sets
// the net to the average whatever the step (airbench94's update with decay 1).
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor, keep } from '../tensor';
import type { Module } from '../nn/module';

export interface EmaSpec {
  /** steps between updates */
  every: number;
  /** the decay at the last step; airbench94: 0.95^5 */
  decay: number;
  /** how the decay grows over the run: decay * (step / total)^power; airbench94: 3 */
  power: number;
}

/** the decay of the update after `step` steps of `total`, or null when this step has no update */
export function emaDecay(spec: EmaSpec, step: number, total: number): number | null {
  if (step % spec.every !== 0) return null;
  return spec.decay * (step / total) ** spec.power;
}

/**
 * the float tensors of the model's state, by name (live). a batch norm's
 * num_batches_tracked is a count (an integer in PyTorch, left alone there)
 * whatever dtype it is kept in here
 */
function floatState(model: Module): Array<[string, Tensor]> {
  return Object.entries(model.stateDict()).filter(([name, t]) => t.dtype === 'float32' && !name.endsWith('num_batches_tracked'));
}

function copyInto(dst: Tensor, src: Tensor): void {
  native().copy(dst.storage('Lookahead'), src.storage('Lookahead'), src.numel * 4);
}

export class Lookahead {
  private readonly averages = new Map<string, Tensor>();

  /** starts the average at the model's current state (airbench94 makes it right after init) */
  constructor(private readonly model: Module) {
    for (const [name, t] of floatState(model)) {
      const copy = keep(Tensor.empty(t.shape, { device: t.device }));
      copyInto(copy, t);
      this.averages.set(name, copy);
    }
  }

  /** the names averaged, in the state dict's order */
  names(): string[] {
    return [...this.averages.keys()];
  }

  /** ema = decay * ema + (1 - decay) * net, then net = ema; decay 1 only sets the net to the average */
  update(decay: number): void {
    for (const [name, t] of floatState(this.model)) {
      const avg = this.averages.get(name)!;
      if (avg.device !== t.device) avg.moveTo(t.device);
      if (decay !== 1) native().axpby(t.numel, decay, avg.storage('Lookahead'), 1 - decay, t.storage('Lookahead'), avg.storage('Lookahead'));
      copyInto(t, avg);
    }
  }

  /** the averages, live (not copies), by state-dict name */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.averages);
  }

  /** copies saved averages in; every name must be there with its shape, nothing else */
  loadStateDict(saved: Record<string, Tensor>): void {
    const problems: string[] = [];
    for (const [name, avg] of this.averages) {
      const t = saved[name];
      if (t === undefined) problems.push(`missing "${name}"`);
      else if (t.dtype !== 'float32' || t.numel !== avg.numel) problems.push(`"${name}" is ${t.dtype} [${t.shape.join(', ')}], expected float32 [${avg.shape.join(', ')}]`);
    }
    for (const name of Object.keys(saved)) if (!this.averages.has(name)) problems.push(`unexpected "${name}"`);
    if (problems.length > 0) throw new CudalabError('ERR_STATE', `Lookahead.loadStateDict: ${problems.join('; ')}`);
    for (const [name, avg] of this.averages) {
      const t = saved[name];
      if (t.device !== avg.device) avg.moveTo(t.device);
      copyInto(avg, t);
    }
  }

  dispose(): void {
    for (const t of this.averages.values()) t.dispose();
    this.averages.clear();
  }
}
