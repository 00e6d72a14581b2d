// Tensor: a shape, a dtype and a device over a block of native memory.
//
// lifetimes are explicit: the GC does not see device memory, so a tensor is
// freed by dispose() or by the tidy() scope it was created in. views (reshape,
// flatten, detach) share their storage, which is reference counted and freed
// when the last tensor on it goes. a FinalizationRegistry frees storage of
// tensors that were dropped without dispose(), but only as a safety net: it
// runs when the GC feels like it.
//
// nothing here waits for the device except item() and toArray().
import { native, type DeviceName, type NativeStorage } from './native';
import { CudalabError, fromNative } from './errors';
import { Generator } from './random';
import { runBackward, type GradNode } from './autograd';
import * as elementwise from './ops/elementwise';
import * as reduce from './ops/reduce';
import * as matmulOps from './ops/matmul';
import * as shapeOps from './ops/shape';

export type { DeviceName } from './native';
export type DType = 'float32' | 'int32';

export interface TensorOptions {
  device?: DeviceName;
  dtype?: DType;
  requiresGrad?: boolean;
}

export type RandomOptions = TensorOptions & { generator?: Generator };

// one storage, shared by a tensor and its views; freed when the last one lets go
class StorageRef {
  refs = 1;
  constructor(readonly storage: NativeStorage) {}
  release(): void {
    if (--this.refs === 0) this.storage.free();
  }
}

// the safety net: a tensor collected without dispose() lets go of its storage
const finalizer = new FinalizationRegistry<StorageRef>((ref) => ref.release());

// ---------------------------------------------------------------------------
// scopes: tidy() collects every tensor created while it runs

const scopes: Tensor[][] = [];
let untrackedDepth = 0;

function track(t: Tensor): void {
  if (untrackedDepth === 0 && scopes.length > 0) scopes[scopes.length - 1].push(t);
}

/** runs fn with no scope tracking: tensors made inside belong to whoever made them (gradients) */
export function untracked<T>(fn: () => T): T {
  untrackedDepth++;
  try {
    return fn();
  } finally {
    untrackedDepth--;
  }
}

// the tensors in a tidy's result: a tensor, or arrays / plain objects / maps of them
function collectTensors(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, seen);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      for (const v of Object.values(value as Record<string, unknown>)) collectTensors(v, out, seen);
    }
  }
}

/**
 * runs fn and frees every tensor created inside it, except the ones it
 * returns (a tensor, or arrays / plain objects / maps of them), kept ones
 * (keep(), module parameters, optimizer state) and their gradients. returned
 * tensors move to the enclosing tidy, if any. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Tensor[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    for (const t of scope) if (!t.kept) t.dispose();
    throw err;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    for (const t of scope) if (!t.kept) t.dispose();
    throw new CudalabError('ERR_ARG', 'tidy: fn returned a Promise; tidy scopes are synchronous (await outside, tidy each step inside)');
  }
  const keepSet = new Set<Tensor>();
  collectTensors(result, keepSet, new Set());
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : null;
  for (const t of scope) {
    if (t.disposed || t.kept) continue;
    if (keepSet.has(t)) {
      if (parent) parent.push(t);
      continue;
    }
    // a gradient asked for in the result outlives its tensor
    const g = t.grad;
    if (g && (keepSet.has(g) || g.kept)) {
      t.grad = null;
      if (parent && !g.kept) parent.push(g);
    }
    t.dispose();
  }
  return result;
}

/** marks t to survive every enclosing tidy; free it with dispose() */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

// ---------------------------------------------------------------------------
// helpers shared by the ops

const DTYPE_BYTES = 4;

export function shapeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape)) throw new CudalabError('ERR_SHAPE', `${op}: shape must be an array of sizes, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new CudalabError('ERR_SHAPE', `${op}: shape ${formatShape(shape)} has a size that is not a non-negative integer (${d})`);
    }
  }
}

function allocate(op: string, device: DeviceName, bytes: number): StorageRef {
  if (device !== 'cpu' && device !== 'cuda') {
    throw new CudalabError('ERR_DEVICE', `${op}: unknown device "${String(device)}" (expected "cpu" or "cuda")`);
  }
  try {
    // a zero-element tensor still gets a real (tiny) block, so every storage is valid
    return new StorageRef(new (native().Storage)(device, Math.max(bytes, DTYPE_BYTES)));
  } catch (err) {
    throw fromNative(op, err);
  }
}

let defaultGenerator: Generator | null = null;

/** the generator used when none is passed (seed 0); pass your own for reproducible runs */
export function getDefaultGenerator(): Generator {
  if (!defaultGenerator) defaultGenerator = new Generator(0);
  return defaultGenerator;
}

// ---------------------------------------------------------------------------

export class Tensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly numel: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** survives tidy() (keep(), parameters, optimizer state) */
  kept = false;
  /** the op that made this tensor, for backward; null for leaves and when no graph was recorded */
  gradNode: GradNode | null = null;

  private ref: StorageRef | null;
  private dev: DeviceName;

  /** wraps a storage reference; use the static creators or the ops instead */
  private constructor(ref: StorageRef, shape: number[], dtype: DType, device: DeviceName) {
    this.ref = ref;
    this.shape = shape;
    this.dtype = dtype;
    this.dev = device;
    this.numel = shapeNumel(shape);
    finalizer.register(this, ref, this);
    track(this);
  }

  get device(): DeviceName {
    return this.dev;
  }

  get disposed(): boolean {
    return this.ref === null;
  }

  /** the native storage, for ops; throws ERR_DISPOSED naming the op and argument */
  storage(op: string, arg = 'input'): NativeStorage {
    if (this.ref === null) {
      throw new CudalabError('ERR_DISPOSED', `${op}: ${arg} (shape ${formatShape(this.shape)}, ${this.dtype} on ${this.dev}) was disposed`);
    }
    return this.ref.storage;
  }

  /** a tensor with uninitialised contents (every op overwrites all of its output) */
  static empty(shape: number[], opts: TensorOptions = {}): Tensor {
    checkShape('Tensor.empty', shape);
    const dtype = opts.dtype ?? 'float32';
    const device = opts.device ?? 'cpu';
    const t = new Tensor(allocate('Tensor.empty', device, shapeNumel(shape) * DTYPE_BYTES), shape.slice(), dtype, device);
    if (opts.requiresGrad) t.setRequiresGrad(true);
    return t;
  }

  static zeros(shape: number[], opts: TensorOptions = {}): Tensor {
    // 0.0f and int 0 have the same bits, so one fill serves both dtypes
    const t = Tensor.empty(shape, opts);
    native().fill(t.numel, t.storage('Tensor.zeros'), 0);
    return t;
  }

  static ones(shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 1, opts);
  }

  static full(shape: number[], value: number, opts: TensorOptions = {}): Tensor {
    if (typeof value !== 'number') throw new CudalabError('ERR_ARG', `Tensor.full: value must be a number, got ${typeof value}`);
    const t = Tensor.empty(shape, opts);
    if (t.dtype === 'float32') {
      native().fill(t.numel, t.storage('Tensor.full'), value);
    } else {
      // fill writes float bits; an int32 tensor is filled from the host
      if (!Number.isInteger(value)) throw new CudalabError('ERR_DTYPE', `Tensor.full: ${value} is not an integer, the dtype is int32`);
      native().write(t.storage('Tensor.full'), new Int32Array(t.numel).fill(value));
    }
    return t;
  }

  /** copies data (row-major) into a new tensor */
  static fromArray(data: ArrayLike<number>, shape: number[], opts: TensorOptions = {}): Tensor {
    checkShape('Tensor.fromArray', shape);
    const n = shapeNumel(shape);
    if (data == null || typeof data.length !== 'number') {
      throw new CudalabError('ERR_ARG', 'Tensor.fromArray: data must be an array or typed array of numbers');
    }
    if (data.length !== n) {
      throw new CudalabError('ERR_SHAPE', `Tensor.fromArray: ${data.length} values do not fill shape ${formatShape(shape)} (${n} elements)`);
    }
    const dtype = opts.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'int32') throw new CudalabError('ERR_DTYPE', `Tensor.fromArray: unknown dtype "${String(dtype)}"`);
    const host = dtype === 'float32'
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Int32Array ? data : Int32Array.from(data));
    const t = Tensor.empty(shape, { device: opts.device, dtype });
    if (n > 0) native().write(t.storage('Tensor.fromArray'), host);
    if (opts.requiresGrad) t.setRequiresGrad(true);
    return t;
  }

  /** standard normal samples, from the generator's philox stream */
  static randn(shape: number[], opts: RandomOptions = {}): Tensor {
    const t = Tensor.empty(shape, { ...opts, dtype: 'float32', requiresGrad: false });
    const g = opts.generator ?? getDefaultGenerator();
    native().normal(t.numel, t.storage('Tensor.randn'), 0, 1, g.seed, g.take(t.numel));
    if (opts.requiresGrad) t.setRequiresGrad(true);
    return t;
  }

  /** uniform samples in [0, 1), from the generator's philox stream */
  static rand(shape: number[], opts: RandomOptions = {}): Tensor {
    return Tensor.uniform(shape, 0, 1, opts);
  }

  /** uniform samples in [lo, hi) */
  static uniform(shape: number[], lo: number, hi: number, opts: RandomOptions = {}): Tensor {
    const t = Tensor.empty(shape, { ...opts, dtype: 'float32', requiresGrad: false });
    const g = opts.generator ?? getDefaultGenerator();
    native().uniform(t.numel, t.storage('Tensor.uniform'), lo, hi, g.seed, g.take(t.numel));
    if (opts.requiresGrad) t.setRequiresGrad(true);
    return t;
  }

  private setRequiresGrad(on: boolean): void {
    if (on && this.dtype !== 'float32') {
      throw new CudalabError('ERR_DTYPE', `requiresGrad: only float32 tensors can have gradients, this one is ${this.dtype}`);
    }
    this.requiresGrad = on;
  }

  /** a new tensor on the same storage (refcounted), with another shape; no graph */
  view(shape: number[]): Tensor {
    const ref = this.ref;
    if (ref === null) this.storage('view');
    ref!.refs++;
    return new Tensor(ref!, shape, this.dtype, this.dev);
  }

  // ------------------------------------------------------------- reading

  /** the single value of a one-element tensor; waits for the device */
  item(): number {
    if (this.numel !== 1) {
      throw new CudalabError('ERR_SHAPE', `item: the tensor has ${this.numel} elements (shape ${formatShape(this.shape)}), item() needs exactly 1`);
    }
    return this.toArray()[0];
  }

  /** a copy of the values on the host; waits for the device */
  toArray(): Float32Array | Int32Array {
    const out = this.dtype === 'float32' ? new Float32Array(this.numel) : new Int32Array(this.numel);
    const s = this.storage('toArray');
    if (this.numel > 0) {
      try {
        native().read(s, out);
      } catch (err) {
        throw fromNative('toArray', err);
      }
    }
    return out;
  }

  // ------------------------------------------------------------- ops

  /** this tensor on device: itself when already there, else a copy (gradients flow back) */
  to(device: DeviceName): Tensor {
    return shapeOps.to(this, device);
  }
  /** a view with another shape (shared storage); one size may be -1 */
  reshape(shape: number[]): Tensor {
    return shapeOps.reshape(this, shape);
  }
  /** flattens dims startDim.. into one, as nn.Flatten (default 1) */
  flatten(startDim = 1): Tensor {
    return shapeOps.flatten(this, startDim);
  }
  add(o: Tensor): Tensor {
    return elementwise.add(this, o);
  }
  sub(o: Tensor): Tensor {
    return elementwise.sub(this, o);
  }
  mul(o: Tensor): Tensor {
    return elementwise.mul(this, o);
  }
  scale(a: number): Tensor {
    return elementwise.scale(this, a);
  }
  relu(): Tensor {
    return elementwise.relu(this);
  }
  sum(): Tensor {
    return reduce.sum(this);
  }
  mean(): Tensor {
    return reduce.mean(this);
  }
  matmul(o: Tensor): Tensor {
    return matmulOps.matmul(this, o);
  }

  /** accumulates d(this)/d(leaves) into the leaves' .grad; a one-element tensor needs no grad */
  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }

  /** the same storage without the graph: a view that needs no gradient */
  detach(): Tensor {
    return this.view(this.shape.slice());
  }

  /** frees the storage now (once every view on it is gone) and the gradient; idempotent */
  dispose(): void {
    const ref = this.ref;
    if (ref === null) return;
    this.ref = null;
    finalizer.unregister(this);
    ref.release();
    // the node stays (its op names this tensor in errors); what it saved goes
    const node = this.gradNode;
    if (node) {
      for (const s of node.saved) s.dispose();
      node.saved = [];
    }
    const g = this.grad;
    this.grad = null;
    if (g) g.dispose();
  }

  /**
   * moves this tensor's values to device in place (same object, new storage):
   * Module.to() uses it, so optimizers keep their references. the gradient moves too.
   */
  moveTo(device: DeviceName): void {
    if (device === this.dev) return;
    const src = this.storage('moveTo');
    const ref = allocate('moveTo', device, this.numel * DTYPE_BYTES);
    try {
      native().copy(ref.storage, src, this.numel * DTYPE_BYTES);
    } catch (err) {
      ref.release();
      throw fromNative('moveTo', err);
    }
    const old = this.ref!;
    finalizer.unregister(this);
    old.release();
    this.ref = ref;
    this.dev = device;
    finalizer.register(this, ref, this);
    if (this.grad) {
      const g = this.grad;
      if (g.disposed) this.grad = null;
      else g.moveTo(device);
    }
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}, ${this.dev}${this.disposed ? ', disposed' : ''})`;
  }
}
