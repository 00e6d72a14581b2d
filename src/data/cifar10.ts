// CIFAR-10 in either of its two official layouts, told apart by their files:
//   cifar-10-batches-py/   batches.meta + data_batch_1..5 + test_batch (python pickles)
//   cifar-10-batches-bin/  batches.meta.txt + data_batch_1..5.bin + test_batch.bin
//                          (records of 1 label byte + 3072 pixel bytes)
// both hold images as R plane, G plane, B plane (CHW), which is what the
// loader and the models want, so a split is one Uint8Array of count*3072
// bytes. every way a file can be wrong is a DataError naming it: short data
// is never passed on silently.
//
// how many images a file holds is checked too, because a .bin file cut
// exactly at a record boundary (or a re-pickled batch missing rows) still
// parses. the rule, for both formats:
//   - the five training files hold the same count of images, and
//   - when any file holds the official 10,000, every file must (the official
//     set is 6 x 10,000); a smaller set (the tests' tiny ones) has equal
//     training files and a test file of its own size.
// so one file cut short in the official set, or one training file cut short
// in any set, is refused, naming the file and its count.

import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { NumpyArray, PickleValue, pickleText, unpickle } from './pickle';

export const IMAGE_BYTES = 3 * 32 * 32;
export const NUM_CLASSES = 10;
const BIN_RECORD = 1 + IMAGE_BYTES;
/** images in each file of the official data set (5 training files and the test file) */
export const OFFICIAL_PER_FILE = 10_000;

export type Cifar10Format = 'py' | 'bin';

export interface Split {
  /** count*3072 bytes, CHW per image: R plane, G plane, B plane */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** one file's images and labels */
type Batch = { images: Uint8Array; labels: Uint8Array };

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

// a file that is not there is an answer (no, try elsewhere); a folder that
// cannot be read is not, and "CIFAR-10 is missing" would send the person to
// download what is already there. so only ENOENT (and ENOTDIR below `dir`:
// a file where a batches folder could be) mean no; anything else is an
// ERR_DATA_ACCESS naming the path and the errno.
function accessError(p: string, err: unknown, what: string): DataError {
  const e = err as NodeJS.ErrnoException;
  return new DataError({
    file: p,
    code: 'ERR_DATA_ACCESS',
    expected: what,
    got: `${e.code ?? 'an error'} (${e.message})`,
    cause: err,
  });
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw accessError(p, err, 'a readable CIFAR-10 file or folder');
  }
}

/** false when `dir` does not exist; a DataError when it is not a readable folder */
function folderExists(dir: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw accessError(dir, err, 'a readable data folder');
  }
  if (!st.isDirectory()) {
    throw new DataError({ file: dir, code: 'ERR_DATA_ACCESS', expected: 'a data folder', got: 'a file (ENOTDIR)' });
  }
  return true;
}

/**
 * where CIFAR-10 is under `dir`: `dir` may be the data folder holding
 * cifar-10-batches-py/ or cifar-10-batches-bin/, or the batches folder itself.
 * a folder counts when its meta file is there (missing batches are then
 * reported by loadCifar10). the python layout wins when both are present.
 * null when it is not there; a DataError (ERR_DATA_ACCESS) when `dir` is a
 * file or something under it cannot be read (permissions, a symlink loop).
 */
export function findCifar10(dir: string): { format: Cifar10Format; path: string } | null {
  if (!folderExists(dir)) return null;
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
    throw accessError(file, err, 'a readable file');
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
async function readPyBatch(file: string, classes: number): Promise<Batch> {
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
async function readBinBatch(file: string, classes: number): Promise<Batch> {
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

const nImages = (n: number) => `${n} image${n === 1 ? '' : 's'}`;

// the count rule from the top of this file; `files` and `parts` line up, the
// test file last
function checkCounts(files: string[], parts: Batch[]): void {
  const counts = parts.map((p) => p.labels.length);
  const train = counts.slice(0, -1);
  const rule = `the five training files hold the same count, and ${OFFICIAL_PER_FILE} in every file when any holds ${OFFICIAL_PER_FILE} (the official set)`;
  if (counts.includes(OFFICIAL_PER_FILE)) {
    const odd = counts.findIndex((c) => c !== OFFICIAL_PER_FILE);
    if (odd >= 0) {
      throw new DataError({ file: files[odd], expected: `${nImages(OFFICIAL_PER_FILE)} like the other files (${rule})`, got: nImages(counts[odd]) });
    }
    return;
  }
  // the count most training files share; the odd ones out are the damaged ones
  const tally = new Map<number, number>();
  for (const c of train) tally.set(c, (tally.get(c) ?? 0) + 1);
  const usual = [...tally.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const odd = train.findIndex((c) => c !== usual);
  if (odd >= 0) {
    throw new DataError({ file: files[odd], expected: `${nImages(usual)} like the other training files (${rule})`, got: nImages(counts[odd]) });
  }
  // (a smaller set's test file may hold any count)
}

function concat(parts: Batch[]): Split {
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
  checkCounts([...layout.train, layout.test].map(at), [...train, test[0]]);
  return { classes, train: owned(concat(train)), test: owned(concat(test)), format: found.format, dir: found.path };
}

/** the class names of the CIFAR-10 under `dir` (its meta file alone), or null when there is none there */
export async function loadCifar10Classes(dir: string): Promise<string[] | null> {
  const found = findCifar10(dir);
  if (!found) return null;
  const file = path.join(found.path, LAYOUTS[found.format].meta);
  return found.format === 'py' ? readPyMeta(file) : readBinMeta(file);
}
