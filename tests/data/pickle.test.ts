import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/errors';
import { NumpyArray, PickleBytes, PickleTuple, PickleValue, pickleText, unpickle } from '../../src/data/pickle';
import { CLASSES, FIXTURE, pickleBatch, pickleMeta } from './writers';
import { thrown } from './expect-data-error';

const PY = path.join(FIXTURE, 'cifar-10-batches-py');

function bytes(...parts: Array<string | number[]>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}

function dict(v: PickleValue): Map<unknown, PickleValue> {
  expect(v).toBeInstanceOf(Map);
  return v as Map<unknown, PickleValue>;
}


describe('unpickle on the CIFAR-10 files', () => {
  it('reads batches.meta: the class names and counts', () => {
    const meta = dict(unpickle(fs.readFileSync(path.join(PY, 'batches.meta')), 'batches.meta'));
    expect(meta.get('num_cases_per_batch')).toBe(20);
    expect(meta.get('num_vis')).toBe(3072);
    const names = meta.get('label_names') as PickleValue[];
    expect(names.map((n) => pickleText(n))).toEqual(CLASSES);
  });

  it('reads a data batch: a uint8 20x3072 array that matches the binary file', () => {
    const batch = dict(unpickle(fs.readFileSync(path.join(PY, 'data_batch_2')), 'data_batch_2'));
    const data = batch.get('data') as NumpyArray;
    expect(data).toBeInstanceOf(NumpyArray);
    expect(data.shape).toEqual([20, 3072]);
    expect(data.dtype).toBe('u1');
    const labels = batch.get('labels') as number[];
    expect(labels).toHaveLength(20);
    expect(pickleText(batch.get('batch_label'))).toBe('training batch 2 of 5');
    expect((batch.get('filenames') as PickleValue[]).length).toBe(20);
    const bin = fs.readFileSync(path.join(FIXTURE, 'cifar-10-batches-bin', 'data_batch_2.bin'));
    for (let i = 0; i < 20; i++) {
      expect(bin[i * 3073]).toBe(labels[i]);
      expect(Buffer.compare(bin.subarray(i * 3073 + 1, (i + 1) * 3073), Buffer.from(data.data.subarray(i * 3072, (i + 1) * 3072)))).toBe(0);
    }
  });

  it('what it reads, written back the way cPickle writes it, is the same file byte for byte', () => {
    const raw = fs.readFileSync(path.join(PY, 'test_batch'));
    const batch = dict(unpickle(raw, 'test_batch'));
    const data = batch.get('data') as NumpyArray;
    const again = pickleBatch({
      label: pickleText(batch.get('batch_label')) as string,
      labels: batch.get('labels') as number[],
      data: data.data,
      names: (batch.get('filenames') as PickleValue[]).map((n) => pickleText(n) as string),
    });
    expect(Buffer.compare(again, raw)).toBe(0);
    expect(Buffer.compare(pickleMeta(CLASSES, 20), fs.readFileSync(path.join(PY, 'batches.meta')))).toBe(0);
  });
});

describe('unpickle opcodes', () => {
  it('reads ints of every width, text, bytes, tuples, lists, dicts, booleans, None and the memo', () => {
    const p = bytes(
      [0x80, 0x02],
      '}q\x01(', // EMPTY_DICT, BINPUT 1, MARK
      'X', [3, 0, 0, 0], 'int', // BINUNICODE
      ']q\x02(', 'K\x07', 'M\x34\x12', 'J\xfe\xff\xff\xff', [0x8a, 0x02, 0x00, 0x80], [0x8a, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x01], 'e',
      [0x8c, 3], 'txt', 'U\x03abc', // SHORT_BINUNICODE 'txt' -> SHORT_BINSTRING 'abc'
      [0x8c, 4], 'tups', '(', ')', 'K\x01\x85', 'K\x01K\x02\x86', 'K\x01K\x02K\x03\x87', '(K\x01K\x02K\x03K\x04t', 't',
      'U\x04bool', [0x88, 0x89], '\x86', // TUPLE2 of NEWTRUE, NEWFALSE
      'U\x04none', 'N',
      'U\x04same', 'h\x02', // BINGET 2: the list stored above
      'u', // SETITEMS
      'U\x05extra', ']', 'K\x09a', 's', // SETITEM with APPEND
      '.',
    );
    const d = dict(unpickle(p, 'crafted.pkl'));
    const ints = d.get('int') as PickleValue[];
    expect(ints).toEqual([7, 0x1234, -2, -32768, 1n << 64n]);
    expect(d.get('txt')).toBeInstanceOf(PickleBytes);
    expect(pickleText(d.get('txt'))).toBe('abc');
    const tups = (d.get('tups') as PickleTuple).items.map((t) => (t as PickleTuple).items);
    expect(tups).toEqual([[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]);
    expect((d.get('bool') as PickleTuple).items).toEqual([true, false]);
    expect(d.get('none')).toBeNull();
    expect(d.get('same')).toBe(ints); // the memo hands back the same object
    expect(d.get('extra')).toEqual([9]);
  });

  it('accepts numpy._core (numpy 2) names for _reconstruct', () => {
    const data = new Uint8Array(2 * 3072).map((_, i) => i % 251);
    const p = pickleBatch({ labels: [1, 2], data });
    const swapped = Buffer.from(p.toString('latin1').replace('numpy.core.multiarray', 'numpy._core.multiarray'), 'latin1');
    const arr = dict(unpickle(swapped, 'np2.pkl')).get('data') as NumpyArray;
    expect(arr.shape).toEqual([2, 3072]);
    expect(Array.from(arr.data.subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('unpickle refuses what it must not do', () => {
  it('GLOBAL os.system: a DataError naming the file, the offset and the global, nothing called', () => {
    const evil = bytes([0x80, 0x02], 'cos\nsystem\nq\x01U\x0aecho pwnedq\x02\x85R.');
    const err = thrown(() => unpickle(evil, 'evil.pkl'));
    expect(err.file).toBe('evil.pkl');
    expect(err.offset).toBe(2);
    expect(err.message).toContain('os.system');
    expect(err.message).toContain('evil.pkl at byte 2');
  });

  it('other globals: builtins, numpy functions that are not the array constructors', () => {
    for (const [g, name] of [
      ['c__builtin__\neval\n', '__builtin__.eval'],
      ['cbuiltins\nexec\n', 'builtins.exec'],
      ['cnumpy\nload\n', 'numpy.load'],
      ['cnumpy.core.multiarray\nscalar\n', 'numpy.core.multiarray.scalar'],
      ['csubprocess\nPopen\n', 'subprocess.Popen'],
    ]) {
      const err = thrown(() => unpickle(bytes([0x80, 0x02], g, ')R.'), 'g.pkl'));
      expect(err.message).toContain(name);
      expect(err.offset).toBe(2);
    }
  });

  it('STACK_GLOBAL (protocol 4) with a disallowed name', () => {
    const p = bytes([0x80, 0x04], [0x8c, 2], 'os', [0x8c, 6], 'system', [0x93], ')R.');
    expect(thrown(() => unpickle(p, 'sg.pkl')).message).toContain('os.system');
  });

  it('calling numpy.ndarray directly, or REDUCE on something that is not an allowed global', () => {
    expect(thrown(() => unpickle(bytes([0x80, 0x02], 'cnumpy\nndarray\n)R.'), 'a.pkl')).message).toContain('numpy.ndarray');
    expect(thrown(() => unpickle(bytes([0x80, 0x02], 'K\x01)R.'), 'b.pkl')).message).toMatch(/allowed global/);
  });

  it('an unknown opcode: named with its offset', () => {
    // 'I' is protocol 0's INT; 0xff is no opcode at all
    const e1 = thrown(() => unpickle(bytes([0x80, 0x02], '}I12\n.'), 'int.pkl'));
    expect(e1.offset).toBe(3);
    expect(e1.message).toContain('unknown opcode 0x49');
    const e2 = thrown(() => unpickle(bytes([0x80, 0x02, 0x4e, 0xff]), 'ff.pkl'));
    expect(e2.offset).toBe(3);
    expect(e2.message).toContain('0xff');
  });

  it('a truncated file: short strings, a missing STOP, an empty file', () => {
    const raw = fs.readFileSync(path.join(PY, 'data_batch_1'));
    const cut = raw.subarray(0, Math.floor(raw.length / 2));
    const err = thrown(() => unpickle(cut, 'data_batch_1'));
    expect(err.message).toMatch(/truncated/);
    expect(err.offset).toBeGreaterThan(0);
    expect(thrown(() => unpickle(raw.subarray(0, raw.length - 1), 'x')).message).toMatch(/without STOP/);
    expect(thrown(() => unpickle(new Uint8Array(0), 'empty')).offset).toBe(0);
  });

  it('a LONG4 int of 64 KB is refused at once (building one takes time quadratic in its length)', () => {
    const n = 1 << 16;
    const p = Buffer.alloc(2 + 5 + n + 1);
    p.set([0x80, 0x02, 0x8b]);
    p.writeInt32LE(n, 3);
    p.fill(0x41, 7, 7 + n);
    p[7 + n] = 0x2e;
    const err = thrown(() => unpickle(p, 'long.pkl'));
    expect(err.offset).toBe(2);
    expect(err.message).toContain('an int of at most 1024 bytes for LONG4, got 65536 bytes');
    // a LONG4 of 1024 bytes is still read
    const ok = Buffer.concat([Buffer.from([0x80, 0x02, 0x8b, 0x00, 0x04, 0x00, 0x00]), Buffer.alloc(1023), Buffer.from([0x01, 0x2e])]);
    expect(unpickle(ok, 'ok.pkl')).toBe(1n << 8184n);
  });

  it('array data that is not uint8 or does not fill its shape', () => {
    const data = new Uint8Array(3072);
    expect(thrown(() => unpickle(pickleBatch({ labels: [0], data, descr: 'f4' }), 'f4.pkl')).message).toContain("dtype 'f4'");
    expect(thrown(() => unpickle(pickleBatch({ labels: [0], data, shape: [2, 3072] }), 'short.pkl')).message).toContain('6144 bytes');
  });

  it('stack misuse: APPENDS without MARK, SETITEMS on a list, STOP on an empty stack', () => {
    expect(thrown(() => unpickle(bytes([0x80, 0x02], ']K\x01e.'), 's1')).message).toContain('MARK');
    expect(thrown(() => unpickle(bytes([0x80, 0x02], '](K\x01K\x02u.'), 's2')).message).toContain('a dict');
    expect(thrown(() => unpickle(bytes([0x80, 0x02], '.'), 's3')).message).toContain('empty stack');
    expect(thrown(() => unpickle(bytes([0x80, 0x02], 'h\x05.'), 's4')).message).toContain('memo');
  });
});
