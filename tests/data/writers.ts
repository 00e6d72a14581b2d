// small writers the data tests use to make files: CIFAR-10 python batches the
// way Python 2's cPickle wrote them (the same opcodes as the official files
// and make-cifar10), binary batches, and tar.gz archives.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

export const FIXTURE = path.join(__dirname, '..', 'fixtures', 'cifar10-tiny');
export const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** a fresh temporary folder; removed by the returned function */
export function tempDir(prefix = 'cudalab-data-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** copies the fixture folder `name` (cifar-10-batches-py or -bin) into `dest` */
export function copyFixture(name: string, dest: string): string {
  const to = path.join(dest, name);
  fs.cpSync(path.join(FIXTURE, name), to, { recursive: true });
  return to;
}

class Py2Pickler {
  out: number[] = [0x80, 0x02];
  private memo = 0;

  raw(s: string | number[] | Uint8Array): void {
    if (typeof s === 'string') for (let i = 0; i < s.length; i++) this.out.push(s.charCodeAt(i) & 0xff);
    else for (const b of s) this.out.push(b);
  }
  u32(v: number): number[] {
    return [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
  }
  put(): void {
    this.memo += 1;
    if (this.memo < 256) this.raw([0x71, this.memo]);
    else this.raw([0x72, ...this.u32(this.memo)]);
  }
  string(s: string | Uint8Array, memo = true): void {
    const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    if (b.length < 256) this.raw([0x55, b.length]);
    else this.raw([0x54, ...this.u32(b.length)]);
    // a loop: spreading 61,440 bytes into push() would overflow the call stack
    for (let i = 0; i < b.length; i++) this.out.push(b[i]);
    if (memo) this.put();
  }
  int(v: number): void {
    if (v >= 0 && v < 256) this.raw([0x4b, v]);
    else if (v >= 0 && v < 65536) this.raw([0x4d, v & 255, v >> 8]);
    else this.raw([0x4a, ...this.u32(v)]);
  }
  listOf<T>(items: T[], emit: (x: T) => void): void {
    this.raw(']');
    this.put();
    for (let i = 0; i < items.length; i += 1000) {
      this.raw('(');
      for (const x of items.slice(i, i + 1000)) emit(x);
      this.raw('e');
    }
  }
  ndarrayU8(rows: number, cols: number, data: Uint8Array, descr = 'u1'): void {
    this.raw('cnumpy.core.multiarray\n_reconstruct\n');
    this.put();
    this.raw('cnumpy\nndarray\n');
    this.put();
    this.raw('K\x00\x85U\x01b\x87R');
    this.put();
    this.raw('(K\x01');
    this.int(rows);
    this.int(cols);
    this.raw('\x86cnumpy\ndtype\n');
    this.put();
    this.raw('U');
    this.raw([descr.length]);
    this.raw(descr);
    this.raw('K\x00K\x01\x87R');
    this.put();
    this.raw('(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89');
    this.string(data, false);
    this.raw('tb');
  }
  bytes(): Buffer {
    return Buffer.from(this.out);
  }
}

export interface PyBatch {
  label?: string;
  labels: number[];
  data: Uint8Array;
  /** the shape the pickle claims; (labels.length, 3072) by default */
  shape?: [number, number];
  names?: string[];
  descr?: string;
}

/** a data_batch / test_batch pickle, as Python 2's cPickle wrote them */
export function pickleBatch(b: PyBatch): Buffer {
  const p = new Py2Pickler();
  const [rows, cols] = b.shape ?? [b.labels.length, 3072];
  const names = b.names ?? b.labels.map((l, i) => `${CLASSES[l] ?? 'x'}_s_${String(i).padStart(6, '0')}.png`);
  p.raw('}');
  p.put();
  p.raw('(');
  p.string('batch_label');
  p.string(b.label ?? 'training batch 1 of 5');
  p.string('labels');
  p.listOf(b.labels, (x) => p.int(x));
  p.string('data');
  p.ndarrayU8(rows, cols, b.data, b.descr);
  p.string('filenames');
  p.listOf(names, (x) => p.string(x));
  p.raw('u.');
  return p.bytes();
}

/** batches.meta */
export function pickleMeta(classes: string[], perBatch: number): Buffer {
  const p = new Py2Pickler();
  p.raw('}');
  p.put();
  p.raw('(');
  p.string('num_cases_per_batch');
  p.int(perBatch);
  p.string('label_names');
  p.listOf(classes, (x) => p.string(x));
  p.string('num_vis');
  p.int(3072);
  p.raw('u.');
  return p.bytes();
}

/** records of <label byte><3072 pixel bytes> */
export function binBatch(labels: number[], data: Uint8Array): Buffer {
  const out = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, i) => {
    out[i * 3073] = l;
    out.set(data.subarray(i * 3072, (i + 1) * 3072), i * 3073 + 1);
  });
  return out;
}

export interface TarEntry {
  name: string;
  /** absent for a folder */
  data?: Uint8Array;
  type?: string;
}

function tarHeader(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s.slice(0, len), at, len, 'latin1');
  const oct = (v: number, len: number) => v.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(type === '5' ? 0o755 : 0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(1700000000, 12), 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** a ustar archive of `entries`, gzipped */
export function tarGz(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    parts.push(tarHeader(e.name, data.length, e.type ?? (e.data ? '0' : '5')));
    if (data.length) {
      parts.push(Buffer.from(data));
      const pad = (512 - (data.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(parts));
}

/** the tar entries of a folder on disk, under `prefix/` */
export function folderEntries(dir: string, prefix: string): TarEntry[] {
  const entries: TarEntry[] = [{ name: `${prefix}/` }];
  for (const f of fs.readdirSync(dir).sort()) entries.push({ name: `${prefix}/${f}`, data: fs.readFileSync(path.join(dir, f)) });
  return entries;
}
