// Module: parameters and sub-modules in registration order, named the way
// PyTorch names them ("0.weight", "features.3.bias"), so a state dict saved
// here loads into the same nn.Sequential in PyTorch and back.
//
// buffers are tensors a module keeps but does not train (batch norm's running
// statistics): saved in the state dict after the module's own parameters, as
// PyTorch orders them, moved with the module, never handed to an optimizer.
//
// parameters and buffers are kept tensors: tidy() never frees them or their
// gradients. a parameter with requiresGrad false is frozen: it is saved and
// loaded like any other, gets no gradient, and so no optimizer step moves it.
import { native, type DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape, keep } from '../tensor';

export abstract class Module {
  training = true;
  protected readonly _parameters = new Map<string, Tensor | null>();
  protected readonly _buffers = new Map<string, Tensor | null>();
  protected readonly _modules = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** adds a parameter (or an absent one, null, as bias=false): it needs a gradient and survives tidy */
  protected registerParameter(name: string, t: Tensor | null): void {
    if (t !== null) {
      if (t.dtype !== 'float32') throw new CudalabError('ERR_DTYPE', `registerParameter: ${name} must be float32, got ${t.dtype}`);
      t.requiresGrad = true;
      keep(t);
    }
    this._parameters.set(name, t);
  }

  /** adds a buffer (or an absent one, null): saved and loaded, moved with the module, never trained; survives tidy */
  protected registerBuffer(name: string, t: Tensor | null): void {
    if (t !== null) {
      if (!(t instanceof Tensor)) throw new CudalabError('ERR_ARG', `registerBuffer: ${name} is not a Tensor`);
      if (this._parameters.has(name)) throw new CudalabError('ERR_ARG', `registerBuffer: ${name} is already a parameter`);
      t.requiresGrad = false;
      keep(t);
    }
    this._buffers.set(name, t);
  }

  /** adds a sub-module; its parameters are named "<name>.<its names>" */
  protected registerModule(name: string, m: Module): void {
    if (!(m instanceof Module)) throw new CudalabError('ERR_ARG', `registerModule: ${name} is not a Module`);
    this._modules.set(name, m);
  }

  /** the direct sub-modules, by name */
  namedChildren(): Array<[string, Module]> {
    return [...this._modules.entries()];
  }

  /** every parameter, recursively, in registration order (each once) */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const walk = (m: Module, pre: string): void => {
      for (const [name, t] of m._parameters) {
        if (t === null || seen.has(t)) continue;
        seen.add(t);
        out.push([pre + name, t]);
      }
      for (const [name, child] of m._modules) walk(child, `${pre}${name}.`);
    };
    walk(this, prefix === '' ? '' : `${prefix}.`);
    return out;
  }

  /** every parameter, frozen ones included (as PyTorch's model.parameters()) */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** the parameters an optimizer moves: those with requiresGrad (frozen ones left out) */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((t) => t.requiresGrad);
  }

  /** every buffer, recursively, in registration order (each once) */
  namedBuffers(prefix = ''): Array<[string, Tensor]> {
    return this.namedState(prefix).filter(([, , kind]) => kind === 'buffer').map(([n, t]) => [n, t]);
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  // parameters and buffers in PyTorch's state-dict order: a module's own
  // parameters, then its own buffers, then each child's, depth first
  private namedState(prefix = ''): Array<[string, Tensor, 'parameter' | 'buffer']> {
    const out: Array<[string, Tensor, 'parameter' | 'buffer']> = [];
    const seen = new Set<Tensor>();
    const walk = (m: Module, pre: string): void => {
      for (const [kind, map] of [['parameter', m._parameters], ['buffer', m._buffers]] as const) {
        for (const [name, t] of map) {
          if (t === null || seen.has(t)) continue;
          seen.add(t);
          out.push([pre + name, t, kind]);
        }
      }
      for (const [name, child] of m._modules) walk(child, `${pre}${name}.`);
    };
    walk(this, prefix === '' ? '' : `${prefix}.`);
    return out;
  }

  // every module of the tree, this one first
  private modules(): Module[] {
    const out: Module[] = [this];
    for (const child of this._modules.values()) out.push(...child.modules());
    return out;
  }

  /** called on every module after loadStateDict copied new values in (a module caching a buffer's value re-reads it) */
  protected stateLoaded(): void {}

  /** the number of trainable values */
  parameterCount(): number {
    let n = 0;
    for (const t of this.parameters()) n += t.numel;
    return n;
  }

  /** the parameters and buffers by name, in PyTorch's order: the live tensors, not copies (do not dispose them) */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = {};
    for (const [name, t] of this.namedState()) sd[name] = t;
    return sd;
  }

  /**
   * copies every value of sd into the parameter or buffer of the same name (across
   * devices too). checks everything first: missing or unexpected keys and
   * shape mismatches are one error that lists them all, and nothing is copied.
   */
  loadStateDict(sd: Record<string, Tensor>): void {
    if (sd === null || typeof sd !== 'object') throw new CudalabError('ERR_STATE', 'loadStateDict: expected an object of tensors by name');
    const named = this.namedState();
    const expected = new Set(named.map(([n]) => n));
    const problems: string[] = [];
    const missing = named.map(([n]) => n).filter((n) => !(n in sd));
    const unexpected = Object.keys(sd).filter((n) => !expected.has(n));
    if (missing.length > 0) problems.push(`missing keys: ${missing.map((k) => JSON.stringify(k)).join(', ')}`);
    if (unexpected.length > 0) problems.push(`unexpected keys: ${unexpected.map((k) => JSON.stringify(k)).join(', ')}`);
    for (const [name, p] of named) {
      const src = sd[name];
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) {
        problems.push(`${name} is not a Tensor`);
      } else if (src.disposed) {
        problems.push(`${name} was disposed`);
      } else if (src.dtype !== p.dtype) {
        problems.push(`${name} is ${src.dtype}, expected ${p.dtype}`);
      } else if (!sameShape(src.shape, p.shape)) {
        problems.push(`size mismatch for ${name}: the state dict has ${formatShape(src.shape)}, the model has ${formatShape(p.shape)}`);
      }
    }
    if (problems.length > 0) throw new CudalabError('ERR_STATE', `loadStateDict: ${problems.join('; ')}`);
    for (const [name, p] of named) {
      // a module's own tensor (load_state_dict(model.state_dict()) in PyTorch) already holds its value
      if (sd[name] === p) continue;
      native().copy(p.storage('loadStateDict', name), sd[name].storage('loadStateDict', name), p.numel * 4);
    }
    for (const m of this.modules()) m.stateLoaded();
  }

  /** training mode (dropout active, batch norm on batch statistics) for this module and every sub-module */
  train(mode = true): this {
    this.training = mode;
    for (const m of this._modules.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** moves every parameter (and its gradient) and buffer to device, in place: the tensors stay the same objects */
  to(device: DeviceName): this {
    if (device !== 'cpu' && device !== 'cuda') {
      throw new CudalabError('ERR_DEVICE', `Module.to: unknown device "${String(device)}" (expected "cpu" or "cuda")`);
    }
    for (const [, t] of this.namedState()) t.moveTo(device);
    return this;
  }

  /** frees every parameter's gradient (the next backward allocates fresh ones) */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      const g = p.grad;
      p.grad = null;
      if (g) g.dispose();
    }
  }

  /** frees every parameter and buffer; the module is unusable afterwards */
  dispose(): void {
    for (const [, t] of this.namedState()) t.dispose();
  }

  /** one line per module, PyTorch-style */
  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()})`;
    if (this._modules.size === 0) return head;
    const lines = [...this._modules].map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`);
    return `${this.constructor.name}(\n${lines.join('\n')}\n)`;
  }

  /** the arguments shown by toString() */
  extraRepr(): string {
    return '';
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
