// a tracked directory is named by its `.dir` manifest: the list of its files
// as [{"md5": ..., "relpath": ...}] sorted by relpath, serialised exactly as
// python's json.dumps(list, sort_keys=True) writes it, hashed, and suffixed
// with ".dir". the manifest itself is stored as an object under that name.
import { DvcError } from './errors';
import { HashName, hashBuffer, isMd5Hex } from './hash';

export interface DirEntry {
  md5: string;
  relpath: string; // posix separators, relative to the tracked directory
}

/** python's str < str: code point order, which is also utf-8 byte order */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// python's json string encoding with ensure_ascii=True: the short escapes for
// " \ \n \r \t \b \f, and a backslash-u escape of four lowercase hex digits (utf-16 code units) for
// everything outside ' '..'~'
function pythonJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

/** json.dumps(value, sort_keys=True) for the json subset manifests use */
export function pythonJsonDumps(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return pythonJsonString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new DvcError(`cannot serialise ${value}: only integers appear in manifests`);
    return String(value);
  }
  if (Array.isArray(value)) return '[' + value.map(pythonJsonDumps).join(', ') + ']';
  if (typeof value === 'object') {
    const keys = Object.keys(value as object).sort(compareCodePoints);
    const record = value as Record<string, unknown>;
    return '{' + keys.map((k) => pythonJsonString(k) + ': ' + pythonJsonDumps(record[k])).join(', ') + '}';
  }
  throw new DvcError(`cannot serialise a ${typeof value} into a manifest`);
}

export function sortEntries(entries: DirEntry[]): DirEntry[] {
  return [...entries].sort((a, b) => compareCodePoints(a.relpath, b.relpath));
}

/** the manifest's bytes, as DVC stores the `.dir` object */
export function manifestBytes(entries: DirEntry[]): Buffer {
  const list = sortEntries(entries).map((e) => ({ md5: e.md5, relpath: e.relpath }));
  return Buffer.from(pythonJsonDumps(list), 'utf8');
}

/** the directory's name: md5 of the manifest bytes + ".dir" */
export function manifestHash(bytes: Buffer, name: HashName): string {
  return hashBuffer(bytes, name) + '.dir';
}

/** a relpath we are willing to write under the tracked directory */
export function isSafeRelpath(relpath: string): boolean {
  if (relpath.length === 0 || relpath.startsWith('/') || relpath.includes('\\') || relpath.includes('\0')) return false;
  return relpath.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** parses a `.dir` object; `source` names it in errors */
export function parseManifest(bytes: Buffer, source: string): DirEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new DvcError(`${source}: not a JSON directory manifest (${(err as Error).message})`);
  }
  if (!Array.isArray(raw)) throw new DvcError(`${source}: expected a JSON list of {md5, relpath} entries`);
  const seen = new Set<string>();
  return raw.map((item, i) => {
    const entry = item as Record<string, unknown>;
    if (typeof entry !== 'object' || entry === null || typeof entry.md5 !== 'string' || typeof entry.relpath !== 'string') {
      throw new DvcError(`${source}: entry ${i} is not an object with string md5 and relpath`);
    }
    if (!isMd5Hex(entry.md5)) throw new DvcError(`${source}: entry ${i} (${entry.relpath}) has md5 '${entry.md5}', expected 32 hex digits`);
    // a manifest comes from the remote: never let it write outside its directory
    if (!isSafeRelpath(entry.relpath)) throw new DvcError(`${source}: entry ${i} has an unsafe relpath '${entry.relpath}'`);
    if (seen.has(entry.relpath)) throw new DvcError(`${source}: relpath '${entry.relpath}' appears twice`);
    seen.add(entry.relpath);
    return { md5: entry.md5, relpath: entry.relpath };
  });
}
