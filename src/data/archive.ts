// extracting a .tar.gz, streamed: gunzip, then 512-byte tar headers each
// followed by the entry's data padded to 512. it reads ustar, GNU long names
// and pax path records, which covers the CIFAR-10 archives and what GNU and
// BSD tar write. only regular files and folders are created, and only inside
// the destination: absolute names and '..' are refused, links and devices
// skipped. a truncated or corrupt archive is a DataError naming it.

import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { DataError } from './errors';
import { makeDirectory } from '../make-directory';

const BLOCK = 512;

function field(h: Buffer, start: number, len: number): string {
  const end = h.indexOf(0, start);
  return h.toString('utf8', start, end >= 0 && end < start + len ? end : start + len);
}

function octal(h: Buffer, start: number, len: number): number {
  // base-256 (GNU) when the top bit of the first byte is set, for sizes past 8 GiB
  if (h[start] & 0x80) {
    let v = h[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[start + i];
    return v;
  }
  const s = h.toString('latin1', start, start + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  return s === '' ? 0 : parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === octal(h, 148, 8);
}

interface Entry {
  name: string;
  type: string;
  size: number;
  offset: number;
}

/** the tar stream as a Writable that creates files under `dest` as entries arrive */
class TarExtractor extends Writable {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private offset = 0; // bytes of tar consumed, for errors
  private entry: Entry | null = null;
  private remaining = 0; // data bytes of the current entry still to come
  private padding = 0; // bytes after the data up to the next block
  private file: fs.promises.FileHandle | null = null;
  private meta: Buffer[] | null = null; // data of a long-name or pax entry, kept
  private nextName: string | null = null;
  private ended = false;
  readonly files: string[] = [];

  constructor(private readonly archive: string, private readonly dest: string) {
    super();
  }

  private fail(expected: string, got?: string, offset = this.offset): never {
    throw new DataError({ file: this.archive, offset, expected: `${expected} (in the tar inside)`, got });
  }

  private take(n: number): Buffer {
    // n <= pendingBytes
    const first = this.pending[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.pending, this.pendingBytes);
      out = all.subarray(0, n);
      this.pending = all.length > n ? [all.subarray(n)] : [];
    }
    this.pendingBytes -= n;
    this.offset += n;
    return out;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.ended) return done();
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drain().then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.closeFile()
      .then(() => {
        if (this.entry || this.remaining > 0 || this.padding > 0 || this.pendingBytes > 0 && !this.ended) {
          this.fail('more data: the archive is truncated', 'its end');
        }
        if (!this.ended && this.offset === 0) this.fail('a tar archive', 'no data');
        done();
      })
      .catch(done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.closeFile().then(() => done(err), () => done(err));
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    this.file = null;
    if (f) await f.close();
  }

  private async drain(): Promise<void> {
    while (!this.ended) {
      if (this.remaining > 0) {
        if (this.pendingBytes === 0) return;
        const part = this.take(Math.min(this.remaining, this.pending[0].length));
        this.remaining -= part.length;
        if (this.file) await this.file.write(part);
        else if (this.meta) this.meta.push(Buffer.from(part));
        if (this.remaining === 0) await this.finishEntry();
        continue;
      }
      if (this.padding > 0) {
        if (this.pendingBytes === 0) return;
        this.padding -= this.take(Math.min(this.padding, this.pendingBytes)).length;
        continue;
      }
      if (this.pendingBytes < BLOCK) return;
      await this.header(this.take(BLOCK));
    }
  }

  private async header(h: Buffer): Promise<void> {
    const at = this.offset - BLOCK;
    if (h.every((b) => b === 0)) {
      // end of archive: two zero blocks (one is enough to stop)
      this.ended = true;
      return;
    }
    if (!checksumOk(h)) this.fail('a tar header with a valid checksum', 'a bad checksum', at);
    const type = String.fromCharCode(h[156] || 0x30);
    const size = octal(h, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) this.fail('a valid entry size', field(h, 124, 12), at);
    let name = field(h, 0, 100);
    if (h.toString('latin1', 257, 262) === 'ustar') {
      const prefix = field(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.nextName !== null) {
      name = this.nextName;
      this.nextName = null;
    }
    this.entry = { name, type, size, offset: at };
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === 'L' || type === 'x') {
      this.meta = [];
    } else if (type === '0' || type === '7' || type === '\0') {
      const target = this.target(name, at);
      makeDirectory(path.dirname(target));
      this.file = await fs.promises.open(target, 'wx');
      this.files.push(path.relative(this.dest, target));
    } else if (type === '5') {
      makeDirectory(this.target(name, at));
    }
    // anything else (links, devices, fifos, global pax headers) is skipped
    if (size === 0) await this.finishEntry();
  }

  private async finishEntry(): Promise<void> {
    const e = this.entry as Entry;
    if (this.meta) {
      const data = Buffer.concat(this.meta);
      this.meta = null;
      if (e.type === 'L') this.nextName = data.toString('utf8').replace(/\0+$/, '');
      else this.nextName = paxPath(data) ?? this.nextName;
    }
    await this.closeFile();
    this.entry = null;
  }

  private target(name: string, at: number): string {
    const clean = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const parts = clean.split('/');
    if (clean === '' || path.isAbsolute(name) || parts.includes('..')) {
      this.fail('a relative entry name inside the archive', `'${name}'`, at);
    }
    return path.join(this.dest, ...parts.filter((p) => p !== '.' && p !== ''));
  }
}

// pax records: "<len> <key>=<value>\n"; only `path` matters here
function paxPath(data: Buffer): string | null {
  let pos = 0;
  let found: string | null = null;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.toString('latin1', pos, space), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', space + 1, pos + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0 && rec.slice(0, eq) === 'path') found = rec.slice(eq + 1);
    pos += len;
  }
  return found;
}

/**
 * extracts the .tar.gz `archive` into the folder `dest` (which must exist)
 * and returns the files written, relative to `dest`. on error, what was
 * written stays for the caller to remove with `dest`.
 */
export async function extractTarGz(archive: string, dest: string): Promise<string[]> {
  const tar = new TarExtractor(archive, dest);
  try {
    await pipeline(fs.createReadStream(archive), zlib.createGunzip(), tar);
  } catch (err) {
    if (err instanceof DataError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code?.startsWith('Z_') || e.code === 'ERR_ZLIB' || /zlib|unexpected end of file|incorrect header/i.test(e.message)) {
      throw new DataError({ file: archive, expected: 'a whole gzip stream', got: e.message, cause: err });
    }
    throw new DataError({ file: archive, expected: 'an archive that extracts', got: e.message, cause: err });
  }
  return tar.files;
}
