// CIFAR-10 re-pickled by Python 3: the fixtures in tests/fixtures/pickle-py3/
// were written by make.py there (python 3 with numpy), with protocol 2 and
// protocol 5. the values follow a formula recomputed here.
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCifar10 } from '../../src/data/cifar10';
import { DataError } from '../../src/data/errors';
import { NumpyArray, PickleBytes, PickleValue, pickleText, unpickle } from '../../src/data/pickle';
import { CLASSES, tempDir } from './writers';
import { thrown } from './expect-data-error';

const DIR = path.join(__dirname, '..', 'fixtures', 'pickle-py3');
const LABELS = [3, 0, 9, 5];

/** pixel k of image i, as make.py computes it */
function expectedData(): Uint8Array {
  const out = new Uint8Array(LABELS.length * 3072);
  for (let i = 0; i < LABELS.length; i++) for (let k = 0; k < 3072; k++) out[i * 3072 + k] = (i * 31 + k * 7) % 256;
  return out;
}


let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup) f();
  cleanup = [];
});

for (const protocol of [2, 5]) {
  describe(`a batch pickled by python 3, protocol ${protocol}`, () => {
    const raw = fs.readFileSync(path.join(DIR, `data_batch_protocol${protocol}`));

    it('unpickles to the source values: bytes keys and values, labels, the uint8 array', () => {
      const batch = unpickle(raw, 'b') as Map<unknown, PickleValue>;
      expect(batch).toBeInstanceOf(Map);
      expect([...batch.keys()].sort()).toEqual(['batch_label', 'data', 'filenames', 'labels', 'note']);
      expect(batch.get('batch_label')).toBeInstanceOf(PickleBytes);
      expect(pickleText(batch.get('batch_label'))).toBe('training batch 1 of 5');
      expect((batch.get('note') as PickleBytes).bytes.length).toBe(0);
      expect(batch.get('labels')).toEqual(LABELS);
      expect((batch.get('filenames') as PickleValue[]).map(pickleText)).toEqual(['img_0.png', 'img_1.png', 'img_2.png', 'img_3.png']);
      const data = batch.get('data') as NumpyArray;
      expect(data).toBeInstanceOf(NumpyArray);
      expect(data.shape).toEqual([4, 3072]);
      expect(Buffer.compare(Buffer.from(data.data), Buffer.from(expectedData()))).toBe(0);
    });

    it('its batches.meta gives the class names', () => {
      const meta = unpickle(fs.readFileSync(path.join(DIR, `batches_meta_protocol${protocol}`)), 'm') as Map<unknown, PickleValue>;
      expect((meta.get('label_names') as PickleValue[]).map(pickleText)).toEqual(CLASSES);
      expect(meta.get('num_cases_per_batch')).toBe(4);
    });

    it('loadCifar10 reads a data set made of such files', async () => {
      const t = tempDir();
      cleanup.push(t.remove);
      const dir = path.join(t.dir, 'cifar-10-batches-py');
      fs.mkdirSync(dir);
      fs.copyFileSync(path.join(DIR, `batches_meta_protocol${protocol}`), path.join(dir, 'batches.meta'));
      for (const f of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch']) {
        fs.copyFileSync(path.join(DIR, `data_batch_protocol${protocol}`), path.join(dir, f));
      }
      const d = await loadCifar10(t.dir);
      expect(d.classes).toEqual(CLASSES);
      expect(d.train.count).toBe(20);
      expect(d.test.count).toBe(4);
      expect(Array.from(d.test.labels)).toEqual(LABELS);
      expect(Buffer.compare(Buffer.from(d.test.images), Buffer.from(expectedData()))).toBe(0);
      expect(Buffer.compare(Buffer.from(d.train.images.subarray(4 * 3072, 8 * 3072)), Buffer.from(expectedData()))).toBe(0);
    });
  });
}

describe('the python 3 globals stay within the safe subset', () => {
  const b = (...parts: Array<string | number[]>) =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

  it("_codecs.encode only as (text, 'latin1'), and only latin-1 text", () => {
    // _codecs.encode('ab', 'latin1')
    const ok = b([0x80, 0x02], 'c_codecs\nencode\n', [0x8c, 2], 'ab', [0x8c, 6], 'latin1', [0x86], 'R.');
    expect(pickleText(unpickle(ok, 'ok'))).toBe('ab');
    const utf8 = b([0x80, 0x02], 'c_codecs\nencode\n', [0x8c, 2], 'ab', [0x8c, 5], 'utf-8', [0x86], 'R.');
    expect(thrown(() => unpickle(utf8, 'u')).message).toContain("_codecs.encode(text, 'latin1')");
    // U+0100 is two bytes in utf-8 and no latin-1 character
    const wide = b([0x80, 0x02], 'c_codecs\nencode\n', [0x8c, 2, 0xc4, 0x80], [0x8c, 6], 'latin1', [0x86], 'R.');
    expect(thrown(() => unpickle(wide, 'w')).message).toContain('beyond U+00FF');
    const three = b([0x80, 0x02], 'c_codecs\nencode\n', '(', [0x8c, 1], 'a', [0x8c, 6], 'latin1', 'K\x01', 't', 'R.');
    expect(thrown(() => unpickle(three, 't')).message).toContain('_codecs.encode');
  });

  it('other _codecs and builtins functions are refused', () => {
    for (const g of ['c_codecs\ndecode\n', 'c_codecs\nlookup\n', 'cbuiltins\nbytearray\n', 'c__builtin__\ngetattr\n']) {
      expect(thrown(() => unpickle(b([0x80, 0x02], g, ')R.'), 'g')).message).toMatch(/global/);
    }
    expect(thrown(() => unpickle(b([0x80, 0x02], 'c__builtin__\nbytes\nK\x05\x85R.'), 'x')).message).toContain('bytes() without arguments');
  });

  it('_frombuffer: the data must fill the shape, uint8 only, C order', () => {
    const raw = fs.readFileSync(path.join(DIR, 'data_batch_protocol5'));
    // the array's data is a BYTEARRAY8 of 4*3072 bytes; claim one byte more than the file holds
    const at = raw.indexOf(Buffer.from([0x96, 0x00, 0x30, 0, 0, 0, 0, 0, 0]));
    expect(at).toBeGreaterThan(0);
    const long = Buffer.from(raw);
    long.writeBigUInt64LE(BigInt(raw.length), at + 1);
    expect(thrown(() => unpickle(long, 'l')).message).toMatch(/truncated/);
    const huge = Buffer.from(raw);
    huge.writeBigUInt64LE(0xffffffffffffffffn, at + 1);
    expect(thrown(() => unpickle(huge, 'h')).offset).toBe(at);
    const fortran = Buffer.from(raw.toString('latin1').replace('\x8c\x01C\x94t', '\x8c\x01F\x94t'), 'latin1');
    expect(thrown(() => unpickle(fortran, 'f')).message).toContain('Fortran order');
    const f4 = Buffer.from(raw.toString('latin1').replace('\x8c\x02u1', '\x8c\x02f4'), 'latin1');
    expect(thrown(() => unpickle(f4, 'f4')).message).toContain("dtype 'f4'");
  });
});
