// a minimal protocol buffers writer, enough for ONNX's messages. ONNX's
// schema (onnx.proto) is proto2, so repeated numbers are written one field
// each (unpacked), which every parser reads. only the wire types ONNX needs:
//   0 varint (ints, enums, bools), 2 length-delimited (strings, bytes,
//   embedded messages), 5 fixed32 (float).
// a message is built bottom-up: an embedded message is encoded first and
// then written as bytes, so no length has to be patched in afterwards.

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`protobuf: field number ${field} is out of range`);
    this.push(encodeVarint(BigInt(field) * 8n + BigInt(wireType)));
  }

  /** an int32, int64, enum or bool field: negative numbers take ten bytes (two's complement over 64 bits), as protobuf has it */
  int(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.push(encodeVarint(toUint64(value)));
    return this;
  }

  /** a float field: four little-endian bytes of the float32 */
  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.push(encodeVarint(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  /** the bytes written so far */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function toUint64(value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`protobuf: ${value} is not an integer that can be written exactly`);
  const v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new RangeError(`protobuf: ${v} does not fit in 64 bits`);
  return BigInt.asUintN(64, v);
}

/** base 128, least significant group first, the high bit set on every byte but the last */
export function encodeVarint(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError(`protobuf: a varint cannot be negative (got ${value}); pass it through int()`);
  const out: number[] = [];
  let v = value;
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? low : low | 0x80);
  } while (v !== 0n);
  return Uint8Array.from(out);
}
