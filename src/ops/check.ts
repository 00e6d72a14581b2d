// argument checks every op runs before it calls native code, so a mistake
// reads as "conv2d: input has 4 channels, weight expects 3" and not as a
// native error or, worse, a silent read past a buffer.
import { CudalabError, fromNative } from '../errors';
import { Tensor, formatShape } from '../tensor';
import type { DeviceName } from '../native';

/** t must be a live tensor of dtype */
export function checkTensor(op: string, arg: string, t: unknown, dtype: 'float32' | 'int32' = 'float32'): Tensor {
  if (!(t instanceof Tensor)) {
    throw new CudalabError('ERR_ARG', `${op}: ${arg} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  }
  t.storage(op, arg);
  if (t.dtype !== dtype) {
    throw new CudalabError('ERR_DTYPE', `${op}: ${arg} must be ${dtype}, got ${t.dtype} (shape ${formatShape(t.shape)})`);
  }
  return t;
}

/** t must have rank dims */
export function checkRank(op: string, arg: string, t: Tensor, rank: number, layout: string): void {
  if (t.shape.length !== rank) {
    throw new CudalabError('ERR_SHAPE', `${op}: ${arg} must be ${rank}-d ${layout}, got shape ${formatShape(t.shape)}`);
  }
}

/** all operands on one device; names both sides when they are not */
export function checkDevices(op: string, operands: Array<[string, Tensor | null]>): DeviceName {
  let first: [string, Tensor] | null = null;
  for (const [name, t] of operands) {
    if (t === null) continue;
    if (first === null) {
      first = [name, t];
    } else if (t.device !== first[1].device) {
      throw new CudalabError(
        'ERR_DEVICE',
        `${op}: ${first[0]} is on ${first[1].device} but ${name} is on ${t.device}; move them to one device with .to()`,
      );
    }
  }
  return first ? first[1].device : 'cpu';
}

/** a positive integer argument (kernel sizes, strides) */
export function checkPositiveInt(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new CudalabError('ERR_ARG', `${op}: ${arg} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/** a non-negative integer argument (padding) */
export function checkNonNegativeInt(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new CudalabError('ERR_ARG', `${op}: ${arg} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

/** a number or a [h, w] pair, as PyTorch's stride= and padding= */
export function pair(op: string, arg: string, v: number | [number, number] | undefined, dflt: number, positive: boolean): [number, number] {
  const check = positive ? checkPositiveInt : checkNonNegativeInt;
  if (v === undefined) return [dflt, dflt];
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new CudalabError('ERR_ARG', `${op}: ${arg} must be a number or a [h, w] pair, got [${v.join(',')}]`);
    return [check(op, `${arg}[0]`, v[0]), check(op, `${arg}[1]`, v[1])];
  }
  const x = check(op, arg, v);
  return [x, x];
}

/** runs a native call, turning its errors into CudalabErrors that name the op */
export function call(op: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    throw fromNative(op, err);
  }
}
