// a safe unpickler for the CIFAR-10 python files. they are protocol-2 pickles
// written by Python 2's cPickle: a dict of byte strings, a list of ints and one
// numpy uint8 array pickled through numpy.core.multiarray._reconstruct. people
// also re-pickle them with Python 3: protocol 2 there writes every bytes object
// as a call of _codecs.encode(text, 'latin1') (and b'' as bytes()), and
// protocol 5 frames the stream and writes the array through numpy's
// _frombuffer(buffer, dtype, shape, order). python's own unpickler calls
// whatever a GLOBAL names, which makes loading a pickle running code. this one
// is a plain stack machine over the opcode subset those files use; the only
// globals it accepts are the few above, and it does what they would do itself,
// never calling anything: the array comes back as a typed array with a shape.
// anything else is a DataError naming the file, the byte offset and the opcode.

import { DataError } from './errors';

/** a python 2 `str` / python 3 `bytes`: raw bytes, a view into the file's buffer */
export class PickleBytes {
  private decoded: string | undefined;
  constructor(readonly bytes: Uint8Array) {}
  /** the bytes as text, latin-1 (what python 3 gives with encoding='latin1') */
  text(): string {
    // kept: the memo can hand the same bytes back many times over (as dict
    // keys, say), and decoding each time would cost their length each time
    this.decoded ??= Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('latin1');
    return this.decoded;
  }
}

export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** what an allowed global stands for; reduce() below does what calling it would */
export type AllowedGlobal = 'ndarray' | 'dtype' | '_reconstruct' | '_frombuffer' | 'encode' | 'bytes';

/** one of the allowed callables, as named by a GLOBAL opcode */
export class NumpyGlobal {
  constructor(readonly module: string, readonly name: AllowedGlobal) {}
}

/** what numpy.dtype(descr, ...) would make; BUILD sets the byte order */
export class NumpyDType {
  byteorder = '|';
  constructor(readonly descr: string) {}
}

/** an ndarray: empty after _reconstruct, filled by BUILD; only uint8 data is accepted */
export class NumpyArray {
  shape: number[] = [0];
  data: Uint8Array = new Uint8Array(0);
  dtype = 'u1';
}

export type PickleKey = string | number | bigint | boolean | null;
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleBytes
  | PickleTuple
  | PickleValue[]
  | Map<PickleKey, PickleValue>
  | NumpyGlobal
  | NumpyDType
  | NumpyArray;

// the globals a CIFAR-10 pickle may name (numpy >= 2 moved numpy.core to
// numpy._core; python 3 names its bytes type __builtin__.bytes in protocol 2)
const ALLOWED_GLOBALS: Record<string, AllowedGlobal> = {
  'numpy.core.multiarray._reconstruct': '_reconstruct',
  'numpy._core.multiarray._reconstruct': '_reconstruct',
  'numpy.core.numeric._frombuffer': '_frombuffer',
  'numpy._core.numeric._frombuffer': '_frombuffer',
  'numpy.ndarray': 'ndarray',
  'numpy.dtype': 'dtype',
  '_codecs.encode': 'encode',
  '__builtin__.bytes': 'bytes',
  'builtins.bytes': 'bytes',
};
const ALLOWED_LIST = 'numpy.core.multiarray._reconstruct, numpy.core.numeric._frombuffer, numpy.ndarray, numpy.dtype, _codecs.encode or bytes';

// opcodes, named as in python's pickletools
const OP_NAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x2e: 'STOP', 0x28: 'MARK', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP',
  0x7d: 'EMPTY_DICT', 0x64: 'DICT', 0x5d: 'EMPTY_LIST', 0x6c: 'LIST', 0x29: 'EMPTY_TUPLE', 0x74: 'TUPLE',
  0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x61: 'APPEND', 0x65: 'APPENDS', 0x73: 'SETITEM',
  0x75: 'SETITEMS', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1', 0x8b: 'LONG4',
  0x47: 'BINFLOAT', 0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x55: 'SHORT_BINSTRING',
  0x54: 'BINSTRING', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE', 0x43: 'SHORT_BINBYTES',
  0x42: 'BINBYTES', 0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8', 0x8d: 'BINUNICODE8', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT', 0x94: 'MEMOIZE', 0x68: 'BINGET',
  0x6a: 'LONG_BINGET', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD',
};

// LONG1 holds up to 255 bytes; LONG4 may claim 2 GB
const MAX_LONG_BYTES = 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

// a message quotes the start of a text only: it may be megabytes long
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}... (${s.length} characters)` : s;
}

function describe(v: PickleValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'a dict';
  if (v instanceof PickleTuple) return `a ${v.items.length}-tuple`;
  if (v instanceof PickleBytes) return `bytes of length ${v.bytes.length}`;
  if (v instanceof NumpyGlobal) return `${v.module}.${v.name}`;
  if (v instanceof NumpyDType) return `dtype '${v.descr}'`;
  if (v instanceof NumpyArray) return 'an ndarray';
  if (typeof v === 'string') return `text '${clip(v)}'`;
  return `${typeof v} ${String(v)}`;
}

/** python text or bytes as a JS string; null for anything else */
export function pickleText(v: PickleValue | undefined): string | null {
  if (typeof v === 'string') return v;
  if (v instanceof PickleBytes) return v.text();
  return null;
}

/**
 * parses one pickle from `buf`; `file` names it in errors. it never runs
 * anything the data names: the only globals are numpy's array constructors,
 * rebuilt here as NumpyArray (uint8 data viewing `buf`, shape).
 */
export function unpickle(buf: Uint8Array, file: string): PickleValue {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: PickleValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  // what _codecs.encode made of each text: a pickle can call it on the same
  // memoized text over and over at a few bytes a call, and a fresh copy each
  // time would let a small file allocate without bound
  const encoded = new Map<string, PickleBytes>();
  let pos = 0;
  let opPos = 0;
  let op = 0;

  const opName = () => OP_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
  const fail = (expected: string, got?: string): never => {
    throw new DataError({ file, offset: opPos, expected, got });
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > buf.length) {
      fail(`${n} more bytes for ${opName()} (the file is truncated?)`, `the end of the file after ${buf.length - pos}`);
    }
  };
  const u8 = () => { need(1); return buf[pos++]; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  // an 8-byte length; anything past the end of the file is refused by need() before use
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    return v > BigInt(buf.length) ? buf.length + 1 : Number(v);
  };
  const bytes = (n: number) => { need(n); const b = buf.subarray(pos, pos + n); pos += n; return b; };
  const line = (): string => {
    const start = pos;
    while (pos < buf.length && buf[pos] !== 0x0a) pos++;
    if (pos >= buf.length) fail(`a newline-terminated name for ${opName()} (the file is truncated?)`, 'the end of the file');
    const s = Buffer.from(buf.buffer, buf.byteOffset + start, pos - start).toString('latin1');
    pos++;
    return s;
  };
  const pop = (): PickleValue => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail(`a value on the stack for ${opName()}`, 'an empty stack');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail(`a value on the stack for ${opName()}`, 'an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    if (!marks.length) fail(`a MARK before ${opName()}`, 'none');
    const m = marks.pop() as number;
    return stack.splice(m);
  };
  const key = (k: PickleValue): PickleKey => {
    if (typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k === null) return k;
    if (k instanceof PickleBytes) return k.text();
    return fail('a dict key that is text or a number', describe(k));
  };
  const asList = (v: PickleValue): PickleValue[] =>
    Array.isArray(v) ? v : fail(`a list under ${opName()}`, describe(v));
  const asDict = (v: PickleValue): Map<PickleKey, PickleValue> =>
    v instanceof Map ? v : fail(`a dict under ${opName()}`, describe(v));
  const text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('utf-8 text', 'invalid utf-8');
    }
  };
  const long = (b: Uint8Array): number | bigint => {
    // little-endian two's complement, as LONG1/LONG4 store it
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const global = (module: string, name: string): NumpyGlobal => {
    const allowed = ALLOWED_GLOBALS[`${module}.${name}`];
    if (!allowed) fail(`only the globals ${ALLOWED_LIST}`, `global ${clip(`${module}.${name}`)}`);
    return new NumpyGlobal(module, allowed);
  };

  for (;;) {
    opPos = pos;
    if (pos >= buf.length) fail('an opcode (the pickle ends without STOP: truncated?)', 'the end of the file');
    op = buf[pos++];
    switch (op) {
      case 0x80: { // PROTO
        const proto = u8();
        if (proto > 5) fail('pickle protocol 0 to 5', `protocol ${proto}`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        bytes(8);
        break;
      case 0x2e: // STOP
        if (marks.length) fail('no open MARK at STOP', `${marks.length} open`);
        return pop();
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x74: stack.push(new PickleTuple(popMark())); break; // TUPLE
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) fail('key/value pairs for DICT', `${items.length} items`);
        const d = new Map<PickleKey, PickleValue>();
        for (let i = 0; i < items.length; i += 2) d.set(key(items[i]), items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x85: { const a = pop(); stack.push(new PickleTuple([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { // TUPLE3
        const c = pop(); const b = pop(); const a = pop();
        stack.push(new PickleTuple([a, b, c]));
        break;
      }
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { // APPENDS
        const items = popMark();
        const list = asList(top());
        for (const v of items) list.push(v);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(); const k = pop();
        asDict(top()).set(key(k), v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('key/value pairs for SETITEMS', `${items.length} items`);
        const d = asDict(top());
        for (let i = 0; i < items.length; i += 2) d.set(key(items[i]), items[i + 1]);
        break;
      }
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(long(bytes(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('a non-negative length for LONG4', String(n));
        // building an int costs time quadratic in its length, and printing one
        // more; CIFAR-10 holds none this long, so a huge one is refused
        if (n > MAX_LONG_BYTES) fail(`an int of at most ${MAX_LONG_BYTES} bytes for LONG4`, `${n} bytes`);
        stack.push(long(bytes(n)));
        break;
      }
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x55: stack.push(new PickleBytes(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x43: stack.push(new PickleBytes(bytes(u8()))); break; // SHORT_BINBYTES
      case 0x54: { // BINSTRING
        const n = i32();
        if (n < 0) fail('a non-negative length for BINSTRING', String(n));
        stack.push(new PickleBytes(bytes(n)));
        break;
      }
      case 0x42: stack.push(new PickleBytes(bytes(u32()))); break; // BINBYTES
      // BINBYTES8, BYTEARRAY8 (protocol 5 writes an array's data as the latter)
      case 0x8e: case 0x96: stack.push(new PickleBytes(bytes(u64()))); break;
      case 0x58: stack.push(text(bytes(u32()))); break; // BINUNICODE
      case 0x8d: stack.push(text(bytes(u64()))); break; // BINUNICODE8
      case 0x8c: stack.push(text(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const idx = op === 0x68 ? u8() : u32();
        if (!memo.has(idx)) fail(`a memo entry ${idx} stored earlier`, 'none');
        stack.push(memo.get(idx) as PickleValue);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pickleText(pop());
        const module = pickleText(pop());
        if (name === null || module === null) fail('module and name strings for STACK_GLOBAL');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof NumpyGlobal)) fail(`an allowed global (${ALLOWED_LIST}) to call`, describe(fn));
        if (!(args instanceof PickleTuple)) fail('a tuple of arguments for REDUCE', describe(args));
        stack.push(reduce(fn as NumpyGlobal, (args as PickleTuple).items, fail, encoded));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(top(), state, fail);
        break;
      }
      default:
        fail('a pickle opcode this reader knows (the CIFAR-10 subset)', `unknown opcode ${opName()}`);
    }
  }
}

type Fail = (expected: string, got?: string) => never;

// what calling an allowed global does, without calling anything
function reduce(fn: NumpyGlobal, args: PickleValue[], fail: Fail, encoded: Map<string, PickleBytes>): PickleValue {
  if (fn.name === 'encode') {
    // _codecs.encode(text, 'latin1'): python 3's protocol-2 spelling of bytes,
    // each character one byte
    const [s, encoding] = args;
    if (args.length !== 2 || typeof s !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
      fail("_codecs.encode(text, 'latin1')", `_codecs.encode of ${args.map(describe).join(', ')}`);
    }
    const known = encoded.get(s as string);
    if (known) return known;
    for (let i = 0; i < (s as string).length; i++) {
      if ((s as string).charCodeAt(i) > 0xff) fail('latin-1 text for _codecs.encode', `a character beyond U+00FF at ${i}`);
    }
    const bytes = new PickleBytes(Buffer.from(s as string, 'latin1'));
    encoded.set(s as string, bytes);
    return bytes;
  }
  if (fn.name === 'bytes') {
    // bytes(): python 3's protocol-2 spelling of b''
    if (args.length !== 0) fail('bytes() without arguments', `${args.length} arguments`);
    return new PickleBytes(new Uint8Array(0));
  }
  if (fn.name === '_frombuffer') {
    // _frombuffer(buffer, dtype, shape, order): protocol 5's array
    if (args.length !== 4) fail('_frombuffer(buffer, dtype, shape, order)', `${args.length} arguments`);
    const [data, dtype, shape, order] = args;
    if (order !== 'C' && order !== 'F') fail("an array order 'C' or 'F'", describe(order));
    const arr = new NumpyArray();
    fill(arr, shape, dtype, order === 'F', data, fail);
    return arr;
  }
  if (fn.name === '_reconstruct') {
    // _reconstruct(ndarray, shape, typecode): an empty array BUILD fills in
    if (!(args[0] instanceof NumpyGlobal && args[0].name === 'ndarray')) {
      fail('numpy.ndarray as the first argument of _reconstruct', describe(args[0]));
    }
    return new NumpyArray();
  }
  if (fn.name === 'dtype') {
    const descr = pickleText(args[0]);
    if (descr === null) fail('a type string as the first argument of numpy.dtype', describe(args[0]));
    return new NumpyDType(descr as string);
  }
  return fail('numpy.ndarray only as an argument of _reconstruct', `a call of ${fn.module}.${fn.name}`);
}

const UINT8_DESCRS = new Set(['u1', '|u1', 'uint8', 'B']);

function build(obj: PickleValue, state: PickleValue, fail: Fail): void {
  if (obj instanceof NumpyDType) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    if (state instanceof PickleTuple && state.items.length >= 2) {
      const order = pickleText(state.items[1]);
      if (order !== null) obj.byteorder = order;
    }
    return;
  }
  if (obj instanceof NumpyArray) {
    // ([version,] shape, dtype, is_fortran, raw data)
    if (!(state instanceof PickleTuple) || (state.items.length !== 5 && state.items.length !== 4)) {
      fail('an ndarray state (version, shape, dtype, is_fortran, data)', describe(state));
    }
    const items = (state as PickleTuple).items;
    const [shapeV, dtypeV, fortranV, dataV] = items.length === 5 ? items.slice(1) : items;
    fill(obj, shapeV, dtypeV, fortranV === true, dataV, fail);
    return;
  }
  fail('BUILD only on a numpy array or dtype', describe(obj));
}

// an array's shape, dtype and raw data, checked against each other
function fill(arr: NumpyArray, shapeV: PickleValue, dtypeV: PickleValue, fortran: boolean, dataV: PickleValue, fail: Fail): void {
  if (!(shapeV instanceof PickleTuple) || !shapeV.items.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    fail('an ndarray shape of non-negative ints', describe(shapeV));
  }
  const shape = (shapeV as PickleTuple).items as number[];
  if (!(dtypeV instanceof NumpyDType) || !UINT8_DESCRS.has(dtypeV.descr)) {
    fail("uint8 ('u1') array data", dtypeV instanceof NumpyDType ? `dtype '${dtypeV.descr}'` : describe(dtypeV));
  }
  if (!(dataV instanceof PickleBytes)) fail('the array data as a byte string', describe(dataV));
  const data = (dataV as PickleBytes).bytes;
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    fail(`${count} bytes of array data for shape (${shape.join(', ')})`, `${data.length}`);
  }
  if (fortran && shape.filter((d) => d > 1).length > 1) fail('a C-ordered array', 'Fortran order');
  arr.shape = shape;
  arr.data = data;
  arr.dtype = 'u1';
}
