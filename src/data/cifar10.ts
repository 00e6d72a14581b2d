// CIFAR-10 in either of its two official layouts, told apart by their files:
//   cifar-10-batches-py/   batches.meta + data_batch_1..5 + test_batch (python pickles)
//   cifar-10-batches-bin/  batches.meta.txt + data_batch_1..5.bin + test_batch.bin
//                          (records of 1 label byte + 3072 pixel bytes)
// both hold images as R plane, G plane, B plane (CHW), which is what the
// loader and the models want, so a split is one Uint8Array of count*3072
// bytes. every way a file can be wrong is a DataError naming it: short data
// is never passed on silently.

import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { NumpyArray, PickleValue, pickleText, unpickle } from './pickle';

export const IMAGE_BYTES = 3 * 32 * 32;
export const NUM_CLASSES = 10;
const BIN_RECORD = 1 + IMAGE_BYTES;

export type Cifar10Format = 'py' | 'bin';

export interface Split {
  /** count*3072 bytes, CHW per image: R plane, G plane, B plane */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface Cifar10 {
  classes: string[];
  train: Split;
  test: Split;
  format: Cifar10Format;
  /** the batches folder the data came from */
  dir: string;
}

const LAYOUTS: Record<Cifar10Format, { folder: string; meta: string; train: string[]; test: string }> = {
  py: {
    folder: 'cifar-10-batches-py',
    meta: 'batches.meta',
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}`),
    test: 'test_batch',
  },
  bin: {
    folder: 'cifar-10-batches-bin',
    meta: 'batches.meta.txt',
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    test: 'test_batch.bin',
  },
};

export const CIFAR10_FOLDERS = [LAYOUTS.py.folder, LAYOUTS.bin.folder];

/** the batches folder's name and the files it must hold, for a format */
export function cifar10Layout(format: Cifar10Format): { folder: string; files: string[] } {
  const l = LAYOUTS[format];
  return { folder: l.folder, files: [l.meta, ...l.train, l.test] };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * where CIFAR-10 is under `dir`: `dir` may be the data folder holding
 * cifar-10-batches-py/ or cifar-10-batches-bin/, or the batches folder itself.
 * a folder counts when its meta file is there (missing batches are then
 * reported by loadCifar10). the python layout wins when both are present.
 */
export function findCifar10(dir: string): { format: Cifar10Format; path: string } | null {
  for (const format of ['py', 'bin'] as const) {
    const layout = LAYOUTS[format];
    const nested = path.join(dir, layout.folder);
    if (isFile(path.join(nested, layout.meta))) return { format, path: nested };
  }
  for (const format of ['py', 'bin'] as const) {
    const layout = LAYOUTS[format];
    if (isFile(path.join(dir, layout.meta)) && isFile(path.join(dir, layout.train[0]))) return { format, path: dir };
  }
  return null;
}

async function readWhole(file: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new DataError({ file, expected: 'this CIFAR-10 file to exist', got: 'no such file', code: 'ERR_DATA_MISSING' });
    }
    throw new DataError({ file, expected: 'a readable file', got: e.message, cause: err });
  }
}

function checkClasses(file: string, names: string[]): string[] {
  if (names.length !== NUM_CLASSES) {
    throw new DataError({ file, expected: `${NUM_CLASSES} class names`, got: `${names.length}` });
  }
  return names;
}

function field(file: string, dict: PickleValue, name: string): PickleValue {
  if (!(dict instanceof Map)) throw new DataError({ file, expected: 'a pickled dict', got: describeValue(dict) });
  if (!dict.has(name)) {
    const keys = [...dict.keys()].map(String).join(', ');
    throw new DataError({ file, expected: `a '${name}' entry`, got: `only ${keys || 'no entries'}` });
  }
  return dict.get(name) as PickleValue;
}

function describeValue(v: PickleValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'a dict';
  if (v instanceof NumpyArray) return `an array of shape (${v.shape.join(', ')})`;
  return typeof v === 'object' ? v.constructor.name : typeof v;
}

async function readPyMeta(file: string): Promise<string[]> {
  const meta = unpickle(await readWhole(file), file);
  const names = field(file, meta, 'label_names');
  if (!Array.isArray(names)) throw new DataError({ file, expected: "'label_names' as a list", got: describeValue(names) });
  return checkClasses(
    file,
    names.map((n, i) => {
      const s = pickleText(n);
      if (s === null) throw new DataError({ file, expected: `label_names[${i}] as text`, got: describeValue(n) });
      return s;
    }),
  );
}

async function readBinMeta(file: string): Promise<string[]> {
  const text = (await readWhole(file)).toString('utf8');
  // one name per line; the official file ends with blank lines
  return checkClasses(
    file,
    text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0),
  );
}

/** one python batch: labels (as bytes) and the data rows, checked against each other */
async function readPyBatch(file: string, classes: number): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const batch = unpickle(await readWhole(file), file);
  const data = field(file, batch, 'data');
  const labelsV = field(file, batch, 'labels');
  if (!(data instanceof NumpyArray)) throw new DataError({ file, expected: "'data' as a numpy uint8 array", got: describeValue(data) });
  if (data.shape.length !== 2 || data.shape[1] !== IMAGE_BYTES) {
    throw new DataError({ file, expected: `'data' of shape (N, ${IMAGE_BYTES})`, got: `(${data.shape.join(', ')})` });
  }
  if (!Array.isArray(labelsV)) throw new DataError({ file, expected: "'labels' as a list", got: describeValue(labelsV) });
  const rows = data.shape[0];
  if (labelsV.length !== rows) {
    throw new DataError({ file, expected: `as many labels as data rows (${rows})`, got: `${labelsV.length} labels` });
  }
  if (rows === 0) throw new DataError({ file, expected: 'at least one image', got: '0 rows' });
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const l = labelsV[i];
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= classes) {
      throw new DataError({ file, expected: `labels[${i}] in 0..${classes - 1}`, got: String(l) });
    }
    labels[i] = l;
  }
  return { images: data.data, labels };
}

/** one binary batch: records of <label byte><3072 pixel bytes> */
async function readBinBatch(file: string, classes: number): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const buf = await readWhole(file);
  if (buf.length === 0) throw new DataError({ file, expected: `records of ${BIN_RECORD} bytes`, got: 'an empty file' });
  const rows = Math.floor(buf.length / BIN_RECORD);
  if (buf.length % BIN_RECORD !== 0) {
    throw new DataError({
      file,
      offset: rows * BIN_RECORD,
      expected: `a length that is a multiple of ${BIN_RECORD} (1 label byte + ${IMAGE_BYTES} pixel bytes per record)`,
      got: `${buf.length} bytes: ${buf.length % BIN_RECORD} bytes after record ${rows}`,
    });
  }
  const images = new Uint8Array(rows * IMAGE_BYTES);
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const at = i * BIN_RECORD;
    const l = buf[at];
    if (l >= classes) throw new DataError({ file, offset: at, expected: `the label of record ${i} in 0..${classes - 1}`, got: String(l) });
    labels[i] = l;
    images.set(buf.subarray(at + 1, at + BIN_RECORD), i * IMAGE_BYTES);
  }
  return { images, labels };
}

function concat(parts: Array<{ images: Uint8Array; labels: Uint8Array }>): Split {
  if (parts.length === 1) return { images: parts[0].images, labels: parts[0].labels, count: parts[0].labels.length };
  const count = parts.reduce((n, p) => n + p.labels.length, 0);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let row = 0;
  for (const p of parts) {
    images.set(p.images, row * IMAGE_BYTES);
    labels.set(p.labels, row);
    row += p.labels.length;
  }
  return { images, labels, count };
}

/** a split owning its memory (py batches view the whole file's buffer, pickle framing included) */
function owned(s: Split): Split {
  const whole = s.images.byteOffset === 0 && s.images.byteLength === s.images.buffer.byteLength;
  // (a Buffer's slice() is a view, so copy through the Uint8Array constructor)
  return whole && !Buffer.isBuffer(s.images) ? s : { images: new Uint8Array(s.images), labels: s.labels, count: s.count };
}

/** loads CIFAR-10 from `dir` (the data folder or the batches folder), either format */
export async function loadCifar10(dir: string): Promise<Cifar10> {
  const found = findCifar10(dir);
  if (!found) {
    throw new DataError({
      file: dir,
      code: 'ERR_DATA_MISSING',
      expected: `CIFAR-10 in ${CIFAR10_FOLDERS.join('/ or ')}/ (or a batches folder itself)`,
      got: 'neither',
    });
  }
  const layout = LAYOUTS[found.format];
  const at = (name: string) => path.join(found.path, name);
  const classes = found.format === 'py' ? await readPyMeta(at(layout.meta)) : await readBinMeta(at(layout.meta));
  const readBatch = found.format === 'py' ? readPyBatch : readBinBatch;
  // reads go out together; each batch is checked as it comes in
  const [train, test] = await Promise.all([
    Promise.all(layout.train.map((f) => readBatch(at(f), classes.length))),
    Promise.all([readBatch(at(layout.test), classes.length)]),
  ]);
  return { classes, train: owned(concat(train)), test: owned(concat(test)), format: found.format, dir: found.path };
}
