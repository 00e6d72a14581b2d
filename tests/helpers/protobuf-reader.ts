// a protobuf reader for the tests: the fields of a message as they are on
// the wire (number, wire type, value), read by the encoding rules alone, so
// a file the writer made can be checked without the writer's code
export interface WireField {
  field: number;
  wire: number;
  /** varints and fixed values as bigint, length-delimited ones as bytes */
  value: bigint | Uint8Array;
}

export function readFields(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n, shift = 0n;
    for (;;) {
      if (at >= buf.length) throw new Error('protobuf: a varint runs past the end');
      const b = buf[at++];
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (at < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n), wire = Number(tag & 7n);
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) {
      const n = Number(varint());
      if (at + n > buf.length) throw new Error('protobuf: a length runs past the end');
      out.push({ field, wire, value: buf.subarray(at, at + n) });
      at += n;
    } else if (wire === 5 || wire === 1) {
      const n = wire === 5 ? 4 : 8;
      let v = 0n;
      for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i]);
      out.push({ field, wire, value: v });
      at += n;
    } else throw new Error(`protobuf: wire type ${wire} is not one ONNX uses`);
  }
  return out;
}

export const text = (v: bigint | Uint8Array) => Buffer.from(v as Uint8Array).toString('utf8');

/** the value of the only field `field` of a message, or the values of a repeated one */
export function fieldsOf(buf: Uint8Array, field: number): Array<bigint | Uint8Array> {
  return readFields(buf).filter((f) => f.field === field).map((f) => f.value);
}
