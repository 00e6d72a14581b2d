import fs from 'fs';
import os from 'os';
import path from 'path';
import { describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
} from '../../src/train/safetensors';

// a tiny file written out by hand from the format's definition
function smallCase() {
  return {
    tensors: {
      b: { dtype: 'I32' as const, shape: [2], data: Int32Array.of(1, -1) },
      a: { dtype: 'F32' as const, shape: [2], data: Float32Array.of(1.5, 2) },
    },
    metadata: { k: 'v' },
  };
}

function header(json: string, dataBytes: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([h, Buffer.from(json), Buffer.alloc(dataBytes)]);
}

describe('safetensors', () => {
  it('writes the exact bytes of a small file: length, JSON header padded with spaces, little-endian data', () => {
    const { tensors, metadata } = smallCase();
    const buf = encodeSafetensors(tensors, metadata);
    // F32 before I32, then by name; __metadata__ first; 133 bytes of JSON padded to 136
    const json =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}}';
    expect(json.length).toBe(133);
    const expected = Buffer.concat([
      Buffer.from([136, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(json + '   '),
      Buffer.from([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0x40]), // 1.5f, 2.0f
      Buffer.from([0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff]), // 1, -1
    ]);
    expect(buf.toString('hex')).toBe(expected.toString('hex'));
  });

  it('aligns the data to 8 bytes for every header length', () => {
    for (let len = 1; len <= 17; len++) {
      const name = 'x'.repeat(len);
      const buf = encodeSafetensors({ [name]: { dtype: 'F32', shape: [1], data: Float32Array.of(len) } });
      const n = Number(buf.readBigUInt64LE(0));
      expect(n % 8).toBe(0);
      const text = buf.subarray(8, 8 + n).toString();
      expect(text.trimEnd().endsWith('}')).toBe(true);
      expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
      expect(text.length - text.trimEnd().length).toBeLessThan(8);
      expect(buf.readFloatLE(8 + n)).toBe(len);
    }
  });

  it('round-trips F32 and I32 tensors of many shapes, metadata, and special floats', () => {
    const values = Float32Array.of(0, -0, 1e-45, -3.4028234663852886e38, Infinity, -Infinity, NaN, 0.1);
    const tensors = {
      'features.0.weight': { dtype: 'F32' as const, shape: [2, 2, 2], data: values },
      'features.0.bias': { dtype: 'F32' as const, shape: [0], data: new Float32Array(0) },
      scalar: { dtype: 'F32' as const, shape: [], data: Float32Array.of(42.5) },
      'labels.int': { dtype: 'I32' as const, shape: [3, 1], data: Int32Array.of(-2147483648, 0, 2147483647) },
    };
    const meta = { format: 'pt', note: 'ünïcödé and "quotes"' };
    const back = decodeSafetensors(encodeSafetensors(tensors, meta));
    expect(back.metadata).toEqual(meta);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.tensors[name].dtype).toBe(t.dtype);
      expect(back.tensors[name].shape).toEqual(t.shape);
      expect(back.tensors[name].data.constructor).toBe(t.data.constructor);
      // compare bits: NaN and -0 must come back as they went in
      expect(Buffer.from(back.tensors[name].data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    }
  });

  it('writes files atomically and reads them back; no metadata means no __metadata__ key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-st-'));
    try {
      const file = path.join(dir, 'sub', 'w.safetensors');
      writeSafetensors(file, { w: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) } });
      expect(fs.readdirSync(path.dirname(file))).toEqual(['w.safetensors']);
      const raw = fs.readFileSync(file);
      expect(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString()).not.toContain('__metadata__');
      const back = readSafetensors(file);
      expect(back.metadata).toBeNull();
      expect(Array.from(back.tensors.w.data)).toEqual([1, 2, 3]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed files with a message naming the file and the problem', () => {
    const bad = (buf: Buffer, pattern: RegExp) => {
      expect(() => decodeSafetensors(buf, 'bad.safetensors')).toThrow(SafetensorsError);
      expect(() => decodeSafetensors(buf, 'bad.safetensors')).toThrow(pattern);
    };
    bad(Buffer.alloc(4), /bad\.safetensors: 4 bytes is too short/);
    const tooLong = Buffer.alloc(16);
    tooLong.writeBigUInt64LE(100n);
    bad(tooLong, /runs past the end/);
    bad(header('[1,2,3] ', 0), /JSON object/);
    bad(header('{"a": nope}', 0), /not valid JSON/);
    bad(header('{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', 2), /"a": dtype "F16" is not supported/);
    bad(header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4), /"a": shape \[2\] needs 8 bytes/);
    bad(header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /"a": data starts at 4, expected 0/);
    bad(header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 8), /cover 4 data bytes, the file has 8/);
    bad(header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 2), /past the 2 data bytes/);
    bad(header('{"__metadata__":{"k":1}}', 0), /"__metadata__"."k" must be a string/);
    expect(() => readSafetensors('/nonexistent/x.safetensors')).toThrow(/\/nonexistent\/x\.safetensors: cannot read \(ENOENT\)/);
  });

  it('refuses to write inconsistent tensors', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2) } })).toThrow(/holds 3 values, data has 2/);
    expect(() => encodeSafetensors({ a: { dtype: 'I32', shape: [1], data: Float32Array.of(1) } })).toThrow(/I32 needs a Int32Array/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } })).toThrow(/cannot name a tensor/);
  });
});
