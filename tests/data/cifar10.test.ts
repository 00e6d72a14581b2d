import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { findCifar10, loadCifar10 } from '../../src/data/cifar10';
import { CLASSES, FIXTURE, binBatch, copyFixture, pickleBatch, pickleMeta, tempDir } from './writers';
import { rejects } from './expect-data-error';

const PY = 'cifar-10-batches-py';
const BIN = 'cifar-10-batches-bin';

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup) f();
  cleanup = [];
});

function scratch(): string {
  const t = tempDir();
  cleanup.push(t.remove);
  return t.dir;
}

describe('findCifar10', () => {
  it('finds either layout under a data folder, or given the batches folder itself', () => {
    expect(findCifar10(FIXTURE)).toEqual({ format: 'py', path: path.join(FIXTURE, PY) });
    expect(findCifar10(path.join(FIXTURE, PY))).toEqual({ format: 'py', path: path.join(FIXTURE, PY) });
    expect(findCifar10(path.join(FIXTURE, BIN))).toEqual({ format: 'bin', path: path.join(FIXTURE, BIN) });
    const onlyBin = scratch();
    copyFixture(BIN, onlyBin);
    expect(findCifar10(onlyBin)).toEqual({ format: 'bin', path: path.join(onlyBin, BIN) });
    expect(findCifar10(scratch())).toBeNull();
    expect(findCifar10(path.join(scratch(), 'does-not-exist'))).toBeNull();
  });
});

describe('loadCifar10', () => {
  it('both formats give the same images, labels and class names', async () => {
    const py = await loadCifar10(path.join(FIXTURE, PY));
    const bin = await loadCifar10(path.join(FIXTURE, BIN));
    expect(py.format).toBe('py');
    expect(bin.format).toBe('bin');
    for (const d of [py, bin]) {
      expect(d.classes).toEqual(CLASSES);
      expect(d.train.count).toBe(100);
      expect(d.test.count).toBe(20);
      expect(d.train.images.length).toBe(100 * 3072);
      expect(d.test.images.length).toBe(20 * 3072);
      expect(d.train.labels.length).toBe(100);
      expect(Math.max(...d.train.labels)).toBeLessThan(10);
    }
    expect(Buffer.compare(Buffer.from(py.train.images), Buffer.from(bin.train.images))).toBe(0);
    expect(Buffer.compare(Buffer.from(py.test.images), Buffer.from(bin.test.images))).toBe(0);
    expect(Array.from(py.train.labels)).toEqual(Array.from(bin.train.labels));
    expect(Array.from(py.test.labels)).toEqual(Array.from(bin.test.labels));
    // real photos: not all one value, and the batches are in order (batch 2 starts at image 20)
    expect(new Set(py.train.images.subarray(0, 3072)).size).toBeGreaterThan(50);
    const b2 = fs.readFileSync(path.join(FIXTURE, BIN, 'data_batch_2.bin'));
    expect(Buffer.compare(b2.subarray(1, 3073), Buffer.from(py.train.images.subarray(20 * 3072, 21 * 3072)))).toBe(0);
    expect(py.train.labels[20]).toBe(b2[0]);
  });

  it('the splits own their bytes (not views of whole pickle files)', async () => {
    const py = await loadCifar10(FIXTURE);
    expect(py.test.images.byteOffset).toBe(0);
    expect(py.test.images.buffer.byteLength).toBe(20 * 3072);
  });

  it('no data set: ERR_DATA_MISSING naming the folder', async () => {
    const dir = scratch();
    const err = await rejects(loadCifar10(dir));
    expect(err.code).toBe('ERR_DATA_MISSING');
    expect(err.file).toBe(dir);
  });

  for (const [format, folder, victim] of [['py', PY, 'data_batch_4'], ['bin', BIN, 'data_batch_4.bin']] as const) {
    it(`${format}: a missing batch file is named`, async () => {
      const dir = copyFixture(folder, scratch());
      fs.unlinkSync(path.join(dir, victim));
      const err = await rejects(loadCifar10(dir));
      expect(err.code).toBe('ERR_DATA_MISSING');
      expect(err.file).toBe(path.join(dir, victim));
    });
  }

  it('py: a truncated batch', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'data_batch_3');
    fs.truncateSync(f, 40_000);
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.code).toBe('ERR_DATA');
    expect(err.message).toMatch(/truncated/);
    expect(err.offset).toBeGreaterThan(0);
  });

  it('bin: a length that is not a whole number of 3073-byte records', async () => {
    const dir = copyFixture(BIN, scratch());
    const f = path.join(dir, 'test_batch.bin');
    fs.truncateSync(f, 20 * 3073 - 100);
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.offset).toBe(19 * 3073);
    expect(err.message).toContain('multiple of 3073');
  });

  it('bin: an empty batch file', async () => {
    const dir = copyFixture(BIN, scratch());
    fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), '');
    expect((await rejects(loadCifar10(dir))).message).toContain('an empty file');
  });

  it('bin: a label out of range names the record', async () => {
    const dir = copyFixture(BIN, scratch());
    const f = path.join(dir, 'data_batch_5.bin');
    const buf = fs.readFileSync(f);
    buf[7 * 3073] = 10;
    fs.writeFileSync(f, buf);
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.offset).toBe(7 * 3073);
    expect(err.message).toContain('record 7 in 0..9');
  });

  const data = (n: number) => new Uint8Array(n * 3072).map((_, i) => (i * 13) % 256);

  it('py: a label out of range', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'data_batch_1');
    fs.writeFileSync(f, pickleBatch({ labels: [1, 2, 12, 3], data: data(4) }));
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.message).toContain('labels[2] in 0..9, got 12');
  });

  it('py: data that is not N x 3072', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'test_batch');
    fs.writeFileSync(f, pickleBatch({ labels: [1, 2, 3], data: new Uint8Array(3 * 3071), shape: [3, 3071] }));
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.message).toContain("'data' of shape (N, 3072), got (3, 3071)");
  });

  it('py: as many labels as data rows', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'data_batch_2');
    fs.writeFileSync(f, pickleBatch({ labels: [1, 2, 3], data: data(4), shape: [4, 3072] }));
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.message).toContain('as many labels as data rows (4), got 3 labels');
  });

  it('py: a batch without data, or a pickle that is not a dict', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'data_batch_2');
    fs.writeFileSync(f, fs.readFileSync(path.join(dir, 'batches.meta')));
    expect((await rejects(loadCifar10(dir))).message).toContain("a 'data' entry");
    fs.writeFileSync(f, Buffer.from([0x80, 0x02, 0x4e, 0x2e])); // None
    expect((await rejects(loadCifar10(dir))).message).toContain('a pickled dict, got None');
  });

  it('py: a pickle that names a disallowed global is refused, naming the file', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'data_batch_1');
    fs.writeFileSync(f, Buffer.from('\x80\x02cposix\nsystem\nU\x05touch\x85R.', 'latin1'));
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.message).toContain('posix.system');
  });

  it('the meta files: class names must number 10', async () => {
    const py = copyFixture(PY, scratch());
    fs.writeFileSync(path.join(py, 'batches.meta'), pickleMeta(CLASSES.slice(0, 9), 20));
    const e1 = await rejects(loadCifar10(py));
    expect(e1.file).toBe(path.join(py, 'batches.meta'));
    expect(e1.message).toContain('10 class names, got 9');
    const bin = copyFixture(BIN, scratch());
    fs.writeFileSync(path.join(bin, 'batches.meta.txt'), CLASSES.slice(0, 8).join('\n'));
    expect((await rejects(loadCifar10(bin))).message).toContain('10 class names, got 8');
  });
});

describe('loadCifar10: how many images each file holds', () => {
  it('bin: an official set with data_batch_1.bin cut to one record is refused, naming the file and the count', async () => {
    const dir = path.join(scratch(), BIN);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'batches.meta.txt'), CLASSES.join('\n'));
    // the other files hold the official 10,000 records of label 0 and black pixels (sparse files: no disk used)
    for (const f of ['data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
      fs.writeFileSync(path.join(dir, f), '');
      fs.truncateSync(path.join(dir, f), 10_000 * 3073);
    }
    fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), Buffer.alloc(3073));
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(path.join(dir, 'data_batch_1.bin'));
    expect(err.code).toBe('ERR_DATA');
    expect(err.message).toContain('expected 10000 images like the other files');
    expect(err.message).toContain('got 1 image');
  });

  it('bin: a training file of the tiny set cut at a record boundary is refused', async () => {
    const dir = copyFixture(BIN, scratch());
    const f = path.join(dir, 'data_batch_3.bin');
    fs.truncateSync(f, 19 * 3073);
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.message).toContain('expected 20 images like the other training files');
    expect(err.message).toContain('got 19 images');
  });

  it('py: a training batch re-pickled with a row fewer is refused', async () => {
    const dir = copyFixture(PY, scratch());
    const f = path.join(dir, 'data_batch_5');
    fs.writeFileSync(f, pickleBatch({ labels: new Array(19).fill(3), data: new Uint8Array(19 * 3072) }));
    const err = await rejects(loadCifar10(dir));
    expect(err.file).toBe(f);
    expect(err.message).toContain('got 19 images');
  });

  it('a smaller set with equal training files and a test file of its own size loads', async () => {
    const dir = copyFixture(BIN, scratch());
    fs.truncateSync(path.join(dir, 'test_batch.bin'), 7 * 3073);
    const d = await loadCifar10(dir);
    expect(d.train.count).toBe(100);
    expect(d.test.count).toBe(7);
  });
});

describe('findCifar10 / loadCifar10: a data folder that cannot be read', () => {
  it('a file given as the data folder: ERR_DATA_ACCESS naming it, not "missing"', async () => {
    const file = path.join(scratch(), 'data');
    fs.writeFileSync(file, 'not a folder');
    const err = await rejects(loadCifar10(file));
    expect(err.code).toBe('ERR_DATA_ACCESS');
    expect(err.file).toBe(file);
    expect(err.message).toContain('ENOTDIR');
  });

  it('a batches folder that is a symlink loop: the errno and the path', async () => {
    const dir = scratch();
    fs.symlinkSync(path.join(dir, PY), path.join(dir, PY));
    const err = await rejects(loadCifar10(dir));
    expect(err.code).toBe('ERR_DATA_ACCESS');
    expect(err.file).toBe(path.join(dir, PY, 'batches.meta'));
    expect(err.message).toContain('ELOOP');
  });

  it('a folder without read permission: EACCES naming the path', () => {
    // root reads through chmod 000, so as root the check runs in a child
    // process under the unprivileged `nobody` (the compiled dist/ code)
    const dir = fs.mkdtempSync(path.join('/tmp', 'cudalab-perm-'));
    cleanup.push(() => {
      fs.chmodSync(path.join(dir, PY), 0o755);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    copyFixture(PY, dir);
    fs.chmodSync(dir, 0o711);
    fs.chmodSync(path.join(dir, PY), 0o000);
    const script = `
      const { findCifar10 } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/data/cifar10.js'))});
      try { console.log(JSON.stringify({ found: findCifar10(process.argv[1]) })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, file: e.file, message: e.message })); }`;
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = spawnSync(process.execPath, ['-e', script, dir], { encoding: 'utf8', ...asNobody });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe('ERR_DATA_ACCESS');
    expect(out.file).toBe(path.join(dir, PY, 'batches.meta'));
    expect(out.message).toContain('EACCES');
  });
});
