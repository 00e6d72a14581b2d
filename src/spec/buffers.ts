// the storages of one checked op call, each with guard zones: a buffer lives
// in the middle of a larger storage, [guard | buffer | guard], the guards
// filled with a poison pattern, and the op is given a view of the middle
// (addon.view). after the op, every guard must still hold the pattern, so a
// kernel that writes past either end of a buffer fails the check on every
// backend, including CUDA, where the address sanitizer cannot look.
import { native, type DeviceName, type NativeStorage } from '../native';
import type { DType, HostData } from './types';

/** bytes of guard on each side of a buffer; a multiple of 256 keeps every buffer as aligned as a fresh allocation */
export const GUARD_BYTES = 256;
/** the guard pattern, as a float32 a NaN with a payload no kernel makes (0x7fc0dead), little-endian */
const GUARD_WORD = 0x7fc0dead;
const GUARD_PATTERN = new Uint8Array(new Uint32Array([GUARD_WORD]).buffer);
/** what an output holds before the op: NaN for floats, a value far from any index or label for ints */
export const INT_POISON = -0x7ffffff0;
const U8_POISON = 0xa5;

const ITEM_BYTES: Record<DType, number> = { f32: 4, i32: 4, u8: 1 };

export function dtypeOf(data: HostData): DType {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  return 'u8';
}

function hostArray(dtype: DType, buffer: ArrayBuffer): HostData {
  if (dtype === 'f32') return new Float32Array(buffer);
  if (dtype === 'i32') return new Int32Array(buffer);
  return new Uint8Array(buffer);
}

/** n elements of dtype, each the poison a never-written output element shows */
export function poisoned(dtype: DType, n: number): HostData {
  if (dtype === 'f32') return new Float32Array(n).fill(NaN);
  if (dtype === 'i32') return new Int32Array(n).fill(INT_POISON);
  return new Uint8Array(n).fill(U8_POISON);
}

// the guarded storage around each live view, so a test can play an op that writes past its buffer
const wholeOf = new WeakMap<NativeStorage, NativeStorage>();

/** the whole storage, guards included, around a buffer's view (undefined without guards) */
export function guardedStorageOf(view: NativeStorage): NativeStorage | undefined {
  return wholeOf.get(view);
}

/** whether this addon build can make views (a build from before views cannot: then nothing is guarded) */
export function guardsAvailable(): boolean {
  return typeof (native() as { view?: unknown }).view === 'function';
}

interface Buffer {
  dtype: DType;
  length: number;
  /** the whole guarded storage (null when there are no guards) */
  whole: NativeStorage | null;
  /** what the op is given */
  view: NativeStorage;
  /** the bytes written at allocation, to tell whether an input was changed */
  initial: Uint8Array;
}

function bytesOf(data: HostData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** the storages of one op call on one device; free() releases them all */
export class GuardedBuffers {
  readonly guarded = guardsAvailable();
  private readonly buffers = new Map<string, Buffer>();

  constructor(readonly device: DeviceName) {}

  /** a buffer holding `data` (an input, or an output that starts from given values) */
  put(name: string, data: HostData): NativeStorage {
    if (this.buffers.has(name)) throw new Error(`GuardedBuffers: '${name}' allocated twice`);
    const addon = native();
    const dtype = dtypeOf(data);
    const bytes = data.byteLength;
    const initial = bytesOf(data).slice();
    let whole: NativeStorage | null = null;
    let view: NativeStorage;
    if (this.guarded) {
      whole = new addon.Storage(this.device, GUARD_BYTES + bytes + GUARD_BYTES);
      const host = new Uint8Array(GUARD_BYTES + bytes + GUARD_BYTES);
      for (let i = 0; i < host.length; i++) host[i] = GUARD_PATTERN[i & 3];
      host.set(initial, GUARD_BYTES);
      addon.write(whole, host);
      view = addon.view(whole, GUARD_BYTES, bytes);
      wholeOf.set(view, whole);
    } else {
      view = new addon.Storage(this.device, bytes);
      if (bytes) addon.write(view, initial);
    }
    this.buffers.set(name, { dtype, length: data.length, whole, view, initial });
    return view;
  }

  /** an output of n elements, poisoned */
  output(name: string, dtype: DType, n: number): NativeStorage {
    return this.put(name, poisoned(dtype, n));
  }

  storage(name: string): NativeStorage {
    return this.get(name).view;
  }


  /** every buffer's storage by name, as op calls take them */
  storages(): Record<string, NativeStorage> {
    const out: Record<string, NativeStorage> = {};
    for (const [name, b] of this.buffers) out[name] = b.view;
    return out;
  }

  /** the buffer's current contents */
  read(name: string): HostData {
    const b = this.get(name);
    const host = hostArray(b.dtype, new ArrayBuffer(b.length * ITEM_BYTES[b.dtype]));
    if (host.byteLength) native().read(b.view, host);
    return host;
  }

  /**
   * the guard zones that no longer hold the pattern, and the buffers named in
   * `unchanged` whose contents differ from what they were given: one line each
   */
  problems(unchanged: string[] = []): string[] {
    const out: string[] = [];
    const addon = native();
    for (const [name, b] of this.buffers) {
      if (b.whole) {
        const host = new Uint8Array(b.whole.bytes);
        addon.read(b.whole, host);
        const item = ITEM_BYTES[b.dtype];
        const bytes = b.length * item;
        // the guard before: report the clobbered byte nearest the buffer (the first an underrun hits)
        for (let i = GUARD_BYTES - 1; i >= 0; i--) {
          if (host[i] !== GUARD_PATTERN[i & 3]) {
            out.push(`the guard before '${name}' was overwritten at element ${Math.floor((i - GUARD_BYTES) / item)} (byte ${i - GUARD_BYTES})`);
            break;
          }
        }
        for (let i = GUARD_BYTES + bytes; i < host.length; i++) {
          if (host[i] !== GUARD_PATTERN[i & 3]) {
            const at = i - GUARD_BYTES;
            out.push(`the guard after '${name}' (${b.length} elements) was overwritten at element ${Math.floor(at / item)} (byte ${at})`);
            break;
          }
        }
      }
      if (unchanged.includes(name)) {
        const now = new Uint8Array(b.initial.length);
        if (now.length) addon.read(b.view, now);
        const at = now.findIndex((v, i) => v !== b.initial[i]);
        if (at >= 0) out.push(`input '${name}' was modified (element ${Math.floor(at / ITEM_BYTES[b.dtype])})`);
      }
    }
    return out;
  }

  free(): void {
    for (const b of this.buffers.values()) {
      b.view.free();
      b.whole?.free();
    }
    this.buffers.clear();
  }

  private get(name: string): Buffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`GuardedBuffers: no buffer '${name}'`);
    return b;
  }
}
