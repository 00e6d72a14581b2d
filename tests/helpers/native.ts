// native storages for tests: a Scope makes storages on one device from typed
// arrays, makes output storages poisoned with NaN (so an element a kernel
// forgets to write fails the comparison), reads results back, and frees
// everything it made when the test ends.
import path from 'path';
import { afterEach, expect } from 'vitest';
import { native, type Addon, type DeviceName, type NativeError, type NativeStorage } from '../../src/native';
import { INT_POISON } from '../../src/spec/buffers';

export const addon: Addon = native();

/** the file the addon was loaded from (for child processes that need the same build) */
export const addonPath: string = process.env.CUDALAB_ADDON
  ? path.resolve(process.env.CUDALAB_ADDON)
  : // eslint-disable-next-line @typescript-eslint/no-var-requires
    require('node-gyp-build').path(path.resolve(__dirname, '..', '..'));

const cudaInfo = addon.cudaInfo();
/** whether a CUDA device can be used in this process */
export const cudaAvailable = cudaInfo.available;
/** why not, for skip messages */
export const cudaReason = cudaInfo.available ? '' : cudaInfo.reason;

// an int32 poison: far outside any index or label a kernel may write (the checker's)
export { INT_POISON };

export class Scope {
  private readonly live: NativeStorage[] = [];

  constructor(readonly device: DeviceName = 'cpu') {}

  private track(s: NativeStorage): NativeStorage {
    this.live.push(s);
    return s;
  }

  /** an uninitialised storage of `bytes` bytes */
  raw(bytes: number): NativeStorage {
    return this.track(new addon.Storage(this.device, bytes));
  }

  /** a float32 storage holding data */
  floats(data: ArrayLike<number>): NativeStorage {
    const host = data instanceof Float32Array ? data : Float32Array.from(data);
    const s = this.raw(host.byteLength);
    addon.write(s, host);
    return s;
  }

  /** an int32 storage holding data */
  ints(data: ArrayLike<number>): NativeStorage {
    const host = data instanceof Int32Array ? data : Int32Array.from(data);
    const s = this.raw(host.byteLength);
    addon.write(s, host);
    return s;
  }

  /** an output of n floats, every element NaN */
  out(n: number): NativeStorage {
    return this.floats(new Float32Array(n).fill(NaN));
  }

  /** an output of n int32s, every element INT_POISON */
  outInts(n: number): NativeStorage {
    return this.ints(new Int32Array(n).fill(INT_POISON));
  }

  /** (re)poisons an existing float storage of n elements */
  poison(s: NativeStorage, n: number): void {
    addon.write(s, new Float32Array(n).fill(NaN));
  }

  read(s: NativeStorage, n = s.bytes / 4): Float32Array {
    const host = new Float32Array(n);
    addon.read(s, host);
    return host;
  }

  readInts(s: NativeStorage, n = s.bytes / 4): Int32Array {
    const host = new Int32Array(n);
    addon.read(s, host);
    return host;
  }

  /** frees every storage made here */
  dispose(): void {
    for (const s of this.live) s.free();
    this.live.length = 0;
  }
}

/** a Scope per device that is disposed after each test of the file */
export function useScopes(): { cpu: Scope; cuda: Scope } {
  const scopes = { cpu: new Scope('cpu'), cuda: new Scope('cuda') };
  afterEach(() => {
    scopes.cpu.dispose();
    scopes.cuda.dispose();
  });
  return scopes;
}

/** runs fn with the cpu backend on `threads` threads, then restores the default */
export function withThreads<T>(threads: number, fn: () => T): T {
  addon.setNumThreads(threads);
  try {
    return fn();
  } finally {
    addon.setNumThreads(0);
  }
}

/** float32 array as float64 (what the references take) */
export function f64(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x);
}

/** fn must throw the addon's coded error, its message mentioning each of `mentions` */
export function expectNativeError(fn: () => unknown, code: NativeError['code'], ...mentions: string[]): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (caught === null) expect.fail(`expected ${code}, but nothing was thrown`);
  const err = caught as NativeError;
  expect(err).toBeInstanceOf(Error);
  expect(err.code, err.message).toBe(code);
  for (const m of mentions) expect(err.message).toContain(m);
}
