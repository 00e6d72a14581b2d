// md5 of file contents, the two ways DVC has named objects.
//
// 'md5' (DVC 3, `hash: md5` in the .dvc file): the md5 of the raw bytes.
//
// 'md5-dos2unix' (DVC 1 and 2; a .dvc out without `hash:`): DVC 2 hashed text
// files as if their CRLF line endings were LF. the rule, from DVC 2's sources
// (dvc/istextfile.py and dvc/utils/__init__.py file_md5, later
// dvc_data/hashfile/hash.py HashStreamFile with text=None):
//   - the file is text when its first 512 bytes are empty, or hold no NUL byte
//     and at most 30% of them fall outside the printable ASCII range 32..126
//     plus \n \r \t \f \b. that decision is made once, from the start of the
//     file.
//   - the file is read in chunks of 2**20 bytes and, for a text file, every
//     "\r\n" inside a chunk is replaced by "\n" before it is fed to md5. a CRLF
//     that straddles a chunk boundary is left alone, and so is a lone "\r".
//   - binary files are hashed as they are.
// the cached and remote objects keep their raw bytes; only their names differ.
// (DVC 3's own md5-dos2unix re-decides text-ness for every chunk; that only
// differs from DVC 2 on files over 1 MiB whose later chunks are classified
// differently from the first, and DVC 2 wrote the hashes we verify.)
import crypto from 'crypto';
import fs from 'fs';

export type HashName = 'md5' | 'md5-dos2unix';

export const LEGACY_CHUNK_SIZE = 1 << 20;
export const TEXT_PROBE_SIZE = 512;

// bytes DVC counts as text: printable ASCII and \b \t \n \f \r
const TEXT_BYTE = new Uint8Array(256);
for (let b = 32; b < 127; b++) TEXT_BYTE[b] = 1;
for (const b of [8, 9, 10, 12, 13]) TEXT_BYTE[b] = 1;

/** DVC's istextblock on (at most) the first 512 bytes */
export function isTextBlock(block: Uint8Array): boolean {
  const n = Math.min(block.length, TEXT_PROBE_SIZE);
  if (n === 0) return true;
  let nontext = 0;
  for (let i = 0; i < n; i++) {
    const b = block[i];
    if (b === 0) return false;
    if (!TEXT_BYTE[b]) nontext++;
  }
  return nontext / n <= 0.3;
}

/** replaces every "\r\n" in the chunk by "\n" (python's bytes.replace) */
export function dos2unix(chunk: Buffer): Buffer {
  let at = chunk.indexOf('\r\n');
  if (at < 0) return chunk;
  const out = Buffer.allocUnsafe(chunk.length);
  let len = 0;
  let from = 0;
  while (at >= 0) {
    len += chunk.copy(out, len, from, at);
    out[len++] = 0x0a;
    from = at + 2;
    at = chunk.indexOf('\r\n', from);
  }
  len += chunk.copy(out, len, from);
  return out.subarray(0, len);
}

/** incremental hasher for either naming; feed it the raw bytes in any pieces */
export class ObjectHasher {
  readonly name: HashName;
  private readonly md5 = crypto.createHash('md5');
  private readonly raw: crypto.Hash | null;
  // legacy hashing regroups the stream into DVC's 1 MiB chunks
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private isText: boolean | null = null;
  bytes = 0;

  /** withRawMd5 also keeps the plain md5 of the bytes (for Content-MD5 headers) */
  constructor(name: HashName, withRawMd5 = false) {
    this.name = name;
    this.raw = withRawMd5 && name !== 'md5' ? crypto.createHash('md5') : null;
  }

  update(data: Buffer): void {
    this.bytes += data.length;
    this.raw?.update(data);
    if (this.name === 'md5') {
      this.md5.update(data);
      return;
    }
    this.pending.push(data);
    this.pendingLength += data.length;
    while (this.pendingLength >= LEGACY_CHUNK_SIZE) this.flushChunk(LEGACY_CHUNK_SIZE);
  }

  private flushChunk(size: number): void {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLength);
    const chunk = all.subarray(0, size);
    const rest = all.subarray(size);
    this.pending = rest.length ? [rest] : [];
    this.pendingLength = rest.length;
    if (this.isText === null) this.isText = isTextBlock(chunk);
    this.md5.update(this.isText ? dos2unix(chunk) : chunk);
  }

  /** hex digest under this hasher's naming */
  digest(): string {
    if (this.name === 'md5-dos2unix' && this.pendingLength > 0) this.flushChunk(this.pendingLength);
    return this.md5.digest('hex');
  }

  /** plain md5 of the bytes, base64 (call after digest) */
  rawMd5Base64(hexDigest: string): string {
    if (this.raw) return this.raw.digest('base64');
    return Buffer.from(hexDigest, 'hex').toString('base64');
  }
}

export function hashBuffer(data: Buffer, name: HashName): string {
  const h = new ObjectHasher(name);
  h.update(data);
  return h.digest();
}

/** streams a file through the hasher; returns its hash and size */
export async function hashFile(file: string, name: HashName): Promise<{ md5: string; size: number }> {
  const h = new ObjectHasher(name);
  const stream = fs.createReadStream(file, { highWaterMark: LEGACY_CHUNK_SIZE });
  for await (const chunk of stream) h.update(chunk as Buffer);
  return { md5: h.digest(), size: h.bytes };
}

export function isMd5Hex(s: string): boolean {
  return /^[0-9a-f]{32}$/.test(s);
}
