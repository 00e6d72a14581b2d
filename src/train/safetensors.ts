// the safetensors format (huggingface/safetensors), the subset we need: F32 and
// I32 tensors. a file is
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   a JSON object: { "__metadata__"?: {string: string}, name: {dtype, shape, data_offsets: [begin, end]} }
//             padded with spaces so the data starts 8-byte aligned
//   the rest  raw little-endian tensor data; offsets are relative to its start
// we lay tensors out the way the reference writer does (F32 before I32, then by
// name), so PyTorch's `safetensors.torch.load_file` reads our checkpoints and
// a file we write is byte-for-byte what the reference would write.
import fs from 'fs';
import path from 'path';
import { writeFileAtomic } from '../atomic-file';

export type SafetensorsDType = 'F32' | 'I32';

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsContents {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string> | null;
}

export class SafetensorsError extends Error {
  readonly code = 'ERR_SAFETENSORS';
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

// the reference reader refuses headers above 100 MB; so do we
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
// the reference sorts by dtype, descending in its enum (F32 comes after I32 there)
const DTYPE_RANK: Record<SafetensorsDType, number> = { F32: 0, I32: 1 };

function numelOf(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkTensor(name: string, t: SafetensorsTensor): void {
  if (name === METADATA_KEY) throw new SafetensorsError(`safetensors: "${METADATA_KEY}" cannot name a tensor`);
  if (t.dtype !== 'F32' && t.dtype !== 'I32') {
    throw new SafetensorsError(`safetensors: tensor "${name}": dtype must be F32 or I32, got ${String(t.dtype)}`);
  }
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError(`safetensors: tensor "${name}": shape must be non-negative integers, got [${t.shape.join(', ')}]`);
    }
  }
  const want = t.dtype === 'F32' ? Float32Array : Int32Array;
  if (!(t.data instanceof want)) {
    throw new SafetensorsError(`safetensors: tensor "${name}": ${t.dtype} needs a ${want.name}, got ${t.data.constructor.name}`);
  }
  if (t.data.length !== numelOf(t.shape)) {
    throw new SafetensorsError(
      `safetensors: tensor "${name}": shape [${t.shape.join(', ')}] holds ${numelOf(t.shape)} values, data has ${t.data.length}`,
    );
  }
}

// typed arrays use the host's byte order; the format is little-endian
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function copyLittleEndian(src: Float32Array | Int32Array, dst: Buffer, at: number): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
    return;
  }
  for (let i = 0; i < src.length; i++) {
    if (src instanceof Float32Array) dst.writeFloatLE(src[i], at + 4 * i);
    else dst.writeInt32LE(src[i], at + 4 * i);
  }
}

function readLittleEndian(dtype: SafetensorsDType, src: Buffer, begin: number, end: number): Float32Array | Int32Array {
  const n = (end - begin) / 4;
  const out = dtype === 'F32' ? new Float32Array(n) : new Int32Array(n);
  if (HOST_IS_LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(src.subarray(begin, end));
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = dtype === 'F32' ? src.readFloatLE(begin + 4 * i) : src.readInt32LE(begin + 4 * i);
  return out;
}

/** the names in the order their data is laid out: F32 first, then I32, each by name (code unit order) */
export function layoutOrder(tensors: Record<string, SafetensorsTensor>): string[] {
  return Object.keys(tensors).sort((a, b) => {
    const r = DTYPE_RANK[tensors[a].dtype] - DTYPE_RANK[tensors[b].dtype];
    if (r !== 0) return r;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** the whole file as bytes */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string> | null): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`safetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
    header[METADATA_KEY] = metadata;
  }
  const order = layoutOrder(tensors);
  let offset = 0;
  for (const name of order) {
    const t = tensors[name];
    checkTensor(name, t);
    const bytes = t.data.length * 4;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const name of order) {
    copyLittleEndian(tensors[name].data, out, at);
    at += tensors[name].data.length * 4;
  }
  return out;
}

/** parses a whole file; `source` names it in errors */
export function decodeSafetensors(buf: Buffer, source = 'safetensors'): SafetensorsContents {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (buf.length < 8) fail(`${buf.length} bytes is too short for the 8-byte header length`);
  const n64 = buf.readBigUInt64LE(0);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > buf.length) fail(`header length ${n} runs past the end of the file (${buf.length} bytes)`);
  const text = buf.subarray(8, 8 + n).toString('utf8');
  if (!text.startsWith('{')) fail('header (offset 8) must be a JSON object starting with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`header (offset 8) is not valid JSON: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header must be a JSON object');
  const dataStart = 8 + n;
  const dataBytes = buf.length - dataStart;
  const tensors: Record<string, SafetensorsTensor> = {};
  let metadata: Record<string, string> | null = null;
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(`"${METADATA_KEY}" must be an object of strings`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"${METADATA_KEY}"."${k}" must be a string, got ${typeof v}`);
      }
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(`tensor "${name}": expected an object with dtype, shape, data_offsets`);
    if (e.dtype !== 'F32' && e.dtype !== 'I32') fail(`tensor "${name}": dtype ${JSON.stringify(e.dtype)} is not supported (F32, I32)`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[1] < offs[0]) {
      fail(`tensor "${name}": data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const numel = numelOf(shape as number[]);
    if (end - begin !== numel * 4) {
      fail(`tensor "${name}": shape [${(shape as number[]).join(', ')}] needs ${numel * 4} bytes, data_offsets span ${end - begin}`);
    }
    if (end > dataBytes) fail(`tensor "${name}": data_offsets end ${end} is past the ${dataBytes} data bytes`);
    spans.push({ name, begin, end });
    tensors[name] = { dtype: e.dtype as SafetensorsDType, shape: [...(shape as number[])], data: new Float32Array(0) };
  }
  // the reference insists the tensors tile the data exactly: no gaps, no overlaps
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const s of spans) {
    if (s.begin !== expected) fail(`tensor "${s.name}": data starts at ${s.begin}, expected ${expected} (gap or overlap)`);
    expected = s.end;
  }
  if (expected !== dataBytes) fail(`the tensors cover ${expected} data bytes, the file has ${dataBytes}`);
  for (const s of spans) {
    tensors[s.name].data = readLittleEndian(tensors[s.name].dtype, buf, dataStart + s.begin, dataStart + s.end);
  }
  return { tensors, metadata };
}

/** writes atomically: the file appears whole or not at all */
export function writeSafetensors(file: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string> | null): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(file: string): SafetensorsContents {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new SafetensorsError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(buf, path.normalize(file));
}
