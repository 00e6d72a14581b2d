// `.dvc` files: YAML with a list of outputs. DVC 3 writes
//
//   outs:
//   - md5: 5a4dac22e9efa9601e85168028da3631.dir
//     size: 9
//     nfiles: 2
//     hash: md5
//     path: d
//
// an out without `hash: md5` was written by DVC 2: its md5 uses the legacy
// text hashing (see hash.ts) and its objects live in the legacy layout (see
// cache.ts). other keys (desc, remote, push, ...) are kept as they are.
import fs from 'fs';
import path from 'path';
import YAML from 'yaml';
import { DvcError } from './errors';
import { writeFileAtomic } from '../atomic-file';
import { HashName, isMd5Hex } from './hash';

export interface DvcOut {
  md5?: string;
  size?: number;
  nfiles?: number;
  hash?: string;
  path: string;
  [key: string]: unknown;
}

export interface DvcFile {
  file: string; // absolute path of the .dvc file
  wdir: string; // absolute directory the outs' paths are relative to
  doc: Record<string, unknown>; // everything else the file holds
  outs: DvcOut[];
}

export function readDvcFile(file: string): DvcFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DvcError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    // a tag DVC never writes (!!python/object...) is refused, not warned about and read as text
    const parsed = YAML.parseDocument(text, { logLevel: 'silent' });
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw problem;
    doc = parsed.toJS();
  } catch (err) {
    throw new DvcError(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DvcError(`${file}: expected a YAML mapping with an 'outs' list`);
  const record = doc as Record<string, unknown>;
  const outs = record.outs;
  if (!Array.isArray(outs) || outs.length === 0) throw new DvcError(`${file}: expected a non-empty 'outs' list`);
  outs.forEach((out, i) => validateOut(file, i, out));
  const wdir = typeof record.wdir === 'string' ? path.resolve(path.dirname(file), record.wdir) : path.dirname(file);
  return { file, wdir, doc: record, outs: outs as DvcOut[] };
}

function validateOut(file: string, i: number, out: unknown): void {
  const where = `${file}: outs[${i}]`;
  if (typeof out !== 'object' || out === null || Array.isArray(out)) throw new DvcError(`${where}: expected a mapping with 'path' and 'md5'`);
  const o = out as Record<string, unknown>;
  if (typeof o.path !== 'string' || o.path === '') throw new DvcError(`${where}: expected a 'path' string`);
  if (o.md5 !== undefined) {
    const md5 = String(o.md5);
    const value = md5.endsWith('.dir') ? md5.slice(0, -4) : md5;
    if (typeof o.md5 !== 'string' || !isMd5Hex(value)) throw new DvcError(`${where} (${o.path}): md5 '${md5}' is not 32 hex digits (optionally + '.dir')`);
  }
  if (o.hash !== undefined && o.hash !== 'md5') {
    throw new DvcError(`${where} (${o.path}): hash '${String(o.hash)}' is not supported (only md5, or none for DVC 2 files)`);
  }
  for (const key of ['size', 'nfiles'] as const) {
    if (o[key] !== undefined && !(Number.isSafeInteger(o[key]) && (o[key] as number) >= 0)) {
      throw new DvcError(`${where} (${o.path}): ${key} must be a non-negative integer`);
    }
  }
}

/** DVC 3 outs say `hash: md5`; anything older uses the dos2unix naming */
export function outHashName(out: DvcOut): HashName {
  return out.hash === 'md5' ? 'md5' : 'md5-dos2unix';
}

/** an out entry in DVC 3's key order: md5, size, nfiles, hash, path, then the rest */
export function makeOut(fields: { md5: string; size?: number; nfiles?: number; path: string }, keep: Record<string, unknown> = {}): DvcOut {
  const out: Record<string, unknown> = { md5: fields.md5 };
  if (fields.size !== undefined) out.size = fields.size;
  if (fields.nfiles !== undefined) out.nfiles = fields.nfiles;
  out.hash = 'md5';
  out.path = fields.path;
  for (const [key, value] of Object.entries(keep)) {
    if (!['md5', 'size', 'nfiles', 'hash', 'path'].includes(key)) out[key] = value;
  }
  return out as DvcOut;
}

/** serialises as DVC does: block style, list items not indented under their key */
export function formatDvcFile(doc: Record<string, unknown>): string {
  return YAML.stringify(doc, { indentSeq: false, lineWidth: 0 });
}

export function writeDvcFile(file: string, doc: Record<string, unknown>): void {
  writeFileAtomic(file, formatDvcFile(doc));
}
