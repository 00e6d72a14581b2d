// fuzzing the CIFAR-10 readers: the unpickler on its own, and loadCifar10 on
// a data set with one damaged file, in both layouts
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from '../../src/data/cifar10';
import { DataError } from '../../src/data/errors';
import { CLASSES, FIXTURE, binBatch, copyFixture, pickleBatch, pickleMeta, tempDir } from '../data/writers';
import { expectParsedAsync, mutated, runs } from './fuzz';
import { parsePickle } from './parsers';

const PY3 = path.join(__dirname, '..', 'fixtures', 'pickle-py3');
const small = (n: number) => new Uint8Array(n * 3072).map((_, i) => (i * 7) % 256);

// valid pickles to mutate: small batches in the python 2 layout, the python 3
// protocol 2 and 5 ones, and the meta files
const PICKLES: Buffer[] = [
  pickleBatch({ labels: [1, 2], data: small(2) }),
  pickleMeta(CLASSES, 2),
  fs.readFileSync(path.join(PY3, 'data_batch_protocol5')),
  fs.readFileSync(path.join(PY3, 'data_batch_protocol2')),
  fs.readFileSync(path.join(PY3, 'batches_meta_protocol2')),
  fs.readFileSync(path.join(PY3, 'batches_meta_protocol5')),
];

describe('fuzz: unpickle', () => {
  it('mutated CIFAR-10 pickles (python 2 and 3, protocols 2 and 5) end in a value or a DataError', () => {
    fc.assert(fc.property(mutated(PICKLES), (b) => void parsePickle(b)), runs(3000));
  });

  it('random opcode streams end in a value or a DataError', () => {
    // bytes drawn mostly from the opcodes it knows, so streams get past the first byte
    const ops = [0x80, 0x95, 0x2e, 0x28, 0x30, 0x31, 0x32, 0x7d, 0x64, 0x5d, 0x6c, 0x29, 0x74, 0x85, 0x86, 0x87, 0x61, 0x65, 0x73, 0x75, 0x4a, 0x4b, 0x4d, 0x8a, 0x8b, 0x47, 0x4e, 0x88, 0x89, 0x55, 0x54, 0x58, 0x8c, 0x43, 0x42, 0x8e, 0x96, 0x8d, 0x71, 0x72, 0x94, 0x68, 0x6a, 0x63, 0x93, 0x52, 0x62];
    const byte = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ops) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
    const stream = fc.array(byte, { maxLength: 200 }).map((b) => Buffer.from([0x80, 0x02, ...b, 0x2e]));
    fc.assert(fc.property(stream, (b) => void parsePickle(b)), runs(3000));
  });

  it('the python 3 globals with generated arguments: nothing but DataErrors and bounded results', () => {
    // BINUNICODE: a 4-byte length and utf-8
    const str = (s: string) => {
      const text = Buffer.from(s, 'utf8');
      const head = Buffer.alloc(5);
      head[0] = 0x58;
      head.writeUInt32LE(text.length, 1);
      return Buffer.concat([head, text]);
    };
    const globals = ['c_codecs\nencode\n', 'c__builtin__\nbytes\n', 'cnumpy._core.numeric\n_frombuffer\n', 'cnumpy\ndtype\n', 'cnumpy.core.multiarray\n_reconstruct\n'];
    const arg = fc.oneof(
      fc.string({ maxLength: 12 }).map(str),
      fc.constantFrom('latin1', 'latin-1', 'C', 'F', 'u1', 'f4').map(str),
      fc.integer({ min: 0, max: 255 }).map((n) => Buffer.from([0x4b, n])),
      fc.constant(Buffer.from('N')),
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.concat([Buffer.from([0x43, b.length]), b])),
    );
    const call = fc.record({ g: fc.constantFrom(...globals), args: fc.array(arg, { maxLength: 4 }) })
      .map(({ g, args }) => Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from(g, 'latin1'), Buffer.from('('), ...args, Buffer.from('tR.')]));
    fc.assert(fc.property(call, (b) => void parsePickle(b)), runs(1500));
  });
});

describe('fuzz: the memo cannot multiply a small file into a big allocation', () => {
  // a long text memoized once, then used over and over at a few bytes a use:
  // as the argument of _codecs.encode, as a dict key, as a list item
  const uses: Record<string, string> = {
    encode: 'h\x04h\x01h\x02\x86Ra', // _codecs.encode(text, 'latin1'), appended to the list
    key: '}h\x01K\x00sa', // {text: 0}
    bytesKey: '}h\x03K\x00sa', // {bytes: 0}
    append: 'h\x03a', // the bytes, appended
  };
  const arb = fc.record({
    length: fc.integer({ min: 1000, max: 60_000 }),
    repeats: fc.integer({ min: 1, max: 3000 }),
    use: fc.constantFrom(...Object.keys(uses)),
  });
  it('memoized text and bytes used thousands of times allocate no more than the input', () => {
    fc.assert(
      fc.property(arb, ({ length, repeats, use }) => {
        const head = Buffer.alloc(5);
        head[0] = 0x58;
        head.writeUInt32LE(length, 1);
        const bytesHead = Buffer.alloc(5);
        bytesHead[0] = 0x42;
        bytesHead.writeUInt32LE(length, 1);
        const p = Buffer.concat([
          Buffer.from('\x80\x02c_codecs\nencode\nq\x040]', 'latin1'), // the global (memo 4), then the list
          head, Buffer.alloc(length, 0x61), Buffer.from('q\x010', 'latin1'), // the text, memo 1
          Buffer.from([0x8c, 6]), Buffer.from('latin1q\x020', 'latin1'), // 'latin1', memo 2
          bytesHead, Buffer.alloc(length, 0x62), Buffer.from('q\x030', 'latin1'), // bytes, memo 3
          Buffer.from(uses[use].repeat(repeats), 'latin1'),
          Buffer.from('.'),
        ]);
        // these are valid pickles: each must load, as a list of `repeats` items
        expect(parsePickle(p)).toBeUndefined();
      }),
      runs(60),
    );
  });
});

describe('fuzz: loadCifar10 with one damaged file', () => {
  let root: { dir: string; remove: () => void };
  beforeAll(() => {
    root = tempDir('cudalab-fuzz-');
  });
  afterAll(() => root.remove());

  for (const [format, folder, victims] of [
    ['py', 'cifar-10-batches-py', ['data_batch_2', 'test_batch', 'batches.meta']],
    ['bin', 'cifar-10-batches-bin', ['data_batch_4.bin', 'test_batch.bin', 'batches.meta.txt']],
  ] as const) {
    it(`${format}: mutated files end in a data set or a DataError naming that file`, async () => {
      const dir = copyFixture(folder, fs.mkdtempSync(path.join(root.dir, `${format}-`)));
      const originals = victims.map((v) => fs.readFileSync(path.join(FIXTURE, folder, v)));
      const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
      const arb = fc.integer({ min: 0, max: victims.length - 1 }).chain((i) => mutated([originals[i]]).map((bytes) => ({ i, bytes })));
      await fc.assert(
        fc.asyncProperty(arb, async ({ i, bytes }) => {
          const file = path.join(dir, victims[i]);
          fs.writeFileSync(file, bytes);
          try {
            const err = await expectParsedAsync(total + bytes.length, () => loadCifar10(dir));
            if (err !== undefined) {
              expect(err).toBeInstanceOf(DataError);
              expect((err as DataError).file).toBe(file);
            }
          } finally {
            fs.writeFileSync(file, originals[i]);
          }
        }),
        runs(200),
      );
    });
  }

  it('bin: files of generated records, cut anywhere, hold whole records or are refused', async () => {
    const dir = copyFixture('cifar-10-batches-bin', fs.mkdtempSync(path.join(root.dir, 'records-')));
    const file = path.join(dir, 'data_batch_1.bin');
    const arb = fc.record({
      labels: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 0, maxLength: 25 }),
      cut: fc.integer({ min: 0, max: 3073 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ labels, cut }) => {
        const whole = binBatch(labels, small(labels.length));
        const bytes = whole.subarray(0, Math.max(0, whole.length - cut));
        fs.writeFileSync(file, bytes);
        const err = await expectParsedAsync(bytes.length + 400_000, () => loadCifar10(dir));
        // it loads only when it is 20 whole records with labels 0..9, like the other training files
        const ok = bytes.length === 20 * 3073 && labels.slice(0, 20).every((l) => l < 10);
        expect(err === undefined).toBe(ok);
        if (err) expect((err as DataError).file).toBe(file);
      }),
      runs(150),
    );
  });
});
