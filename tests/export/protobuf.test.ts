// the protobuf writer and ONNX's messages against bytes worked out by hand
// from the protobuf encoding rules (the first cases are the protobuf
// documentation's own examples) and onnx.proto's field numbers.
import { describe, expect, it } from 'vitest';
import { ProtoWriter, encodeVarint } from '../../src/export/protobuf';
import { encodeAttribute, encodeModel, encodeNode, encodeTensor, encodeValueInfo } from '../../src/export/onnx-proto';

const bytes = (w: ProtoWriter | Uint8Array) => Array.from(w instanceof ProtoWriter ? w.finish() : w);
const ascii = (s: string) => Array.from(Buffer.from(s, 'latin1'));

describe('protobuf writer: wire format', () => {
  it('varints: 7 bits a byte, least significant first, the high bit marking more', () => {
    expect(bytes(encodeVarint(0n))).toEqual([0x00]);
    expect(bytes(encodeVarint(1n))).toEqual([0x01]);
    expect(bytes(encodeVarint(127n))).toEqual([0x7f]);
    expect(bytes(encodeVarint(128n))).toEqual([0x80, 0x01]);
    expect(bytes(encodeVarint(300n))).toEqual([0xac, 0x02]);
    expect(bytes(encodeVarint((1n << 64n) - 1n))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it("the documentation's examples: a = 150 in field 1, b = \"testing\" in field 2, c = {a: 150} in field 3", () => {
    expect(bytes(new ProtoWriter().int(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytes(new ProtoWriter().string(2, 'testing'))).toEqual([0x12, 0x07, ...ascii('testing')]);
    expect(bytes(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)))).toEqual([0x1a, 0x03, 0x08, 0x96, 0x01]);
  });

  it('negative ints take ten bytes (two\'s complement over 64 bits); floats are fixed32 little-endian', () => {
    expect(bytes(new ProtoWriter().int(1, -1))).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytes(new ProtoWriter().int(1, -2n))).toEqual([0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytes(new ProtoWriter().float(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    expect(bytes(new ProtoWriter().float(2, -2.5))).toEqual([0x15, 0x00, 0x00, 0x20, 0xc0]);
  });

  it('field numbers of two bytes and above: the tag is itself a varint', () => {
    // field 20, varint: (20 << 3) | 0 = 160 = 0xa0 0x01
    expect(bytes(new ProtoWriter().int(20, 2))).toEqual([0xa0, 0x01, 0x02]);
    // field 16, length-delimited: (16 << 3) | 2 = 130 = 0x82 0x01
    expect(bytes(new ProtoWriter().bytes(16, Uint8Array.of(9)))).toEqual([0x82, 0x01, 0x01, 0x09]);
  });

  it('refuses what it cannot write exactly', () => {
    expect(() => new ProtoWriter().int(1, 2 ** 60)).toThrow(/not an integer that can be written exactly/);
    expect(() => new ProtoWriter().int(1, 1n << 64n)).toThrow(/does not fit in 64 bits/);
    expect(() => new ProtoWriter().int(0, 1)).toThrow(/field number 0 is out of range/);
    expect(() => new ProtoWriter().int(1, 1.5)).toThrow(RangeError);
  });
});

describe("ONNX's messages", () => {
  it('AttributeProto: name (1), i (3), type INT = 2 (20)', () => {
    expect(bytes(encodeAttribute('axis', { kind: 'int', value: 1 }))).toEqual([0x0a, 0x04, ...ascii('axis'), 0x18, 0x01, 0xa0, 0x01, 0x02]);
  });

  it('AttributeProto: ints repeated one field each (8), type INTS = 7; a float in f (2), type FLOAT = 1', () => {
    expect(bytes(encodeAttribute('pads', { kind: 'ints', value: [1, 0] }))).toEqual([0x0a, 0x04, ...ascii('pads'), 0x40, 0x01, 0x40, 0x00, 0xa0, 0x01, 0x07]);
    expect(bytes(encodeAttribute('epsilon', { kind: 'float', value: 1 }))).toEqual([0x0a, 0x07, ...ascii('epsilon'), 0x15, 0x00, 0x00, 0x80, 0x3f, 0xa0, 0x01, 0x01]);
  });

  it('TensorProto: dims (1), data_type FLOAT = 1 (2), name (8), raw_data little-endian (9)', () => {
    const t = encodeTensor({ name: 'w', dims: [2], data: Float32Array.of(1, -2) });
    expect(bytes(t)).toEqual([0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4a, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    // a scalar has no dims at all
    expect(bytes(encodeTensor({ name: 's', dims: [], data: Float32Array.of(0.5) }))).toEqual([0x10, 0x01, 0x42, 0x01, 0x73, 0x4a, 0x04, 0x00, 0x00, 0x00, 0x3f]);
    expect(() => encodeTensor({ name: 'w', dims: [3], data: Float32Array.of(1) })).toThrow(/tensor w has 1 values, its dims \[3\] need 3/);
  });

  it('ValueInfoProto: name, TypeProto.tensor_type {elem_type, shape {dim {dim_param | dim_value}}}', () => {
    const dimBatch = [0x12, 0x05, ...ascii('batch')];
    const dim3 = [0x08, 0x03];
    const shape = [0x0a, dimBatch.length, ...dimBatch, 0x0a, dim3.length, ...dim3];
    const tensorType = [0x08, 0x01, 0x12, shape.length, ...shape];
    const typeProto = [0x0a, tensorType.length, ...tensorType];
    expect(bytes(encodeValueInfo({ name: 'x', shape: ['batch', 3] }))).toEqual([0x0a, 0x01, 0x78, 0x12, typeProto.length, ...typeProto]);
  });

  it('NodeProto: inputs (1), outputs (2), name (3), op_type (4), attributes (5)', () => {
    const node = encodeNode({ opType: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'], attributes: {} });
    expect(bytes(node)).toEqual([0x0a, 0x01, 0x78, 0x12, 0x01, 0x79, 0x1a, 0x01, 0x72, 0x22, 0x04, ...ascii('Relu')]);
    const withAttr = encodeNode({ opType: 'Flatten', name: 'f', inputs: ['a'], outputs: ['b'], attributes: { axis: { kind: 'int', value: 1 } } });
    const a = [0x0a, 0x04, ...ascii('axis'), 0x18, 0x01, 0xa0, 0x01, 0x02];
    expect(bytes(withAttr)).toEqual([0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x1a, 0x01, 0x66, 0x22, 0x07, ...ascii('Flatten'), 0x2a, a.length, ...a]);
  });

  it('ModelProto: ir_version (1), producer (2, 3), doc (6), graph (7), opset_import {domain "", version} (8), metadata_props (14)', () => {
    const m = encodeModel({
      irVersion: 8,
      opsetVersion: 17,
      producerName: 'p',
      producerVersion: '',
      docString: '',
      graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [] },
      metadata: { k: 'v' },
    });
    expect(bytes(m)).toEqual([
      0x08, 0x08, // ir_version 8
      0x12, 0x01, 0x70, // producer_name "p"
      0x1a, 0x00, // producer_version ""
      0x32, 0x00, // doc_string ""
      0x3a, 0x03, 0x12, 0x01, 0x67, // graph {name "g"}
      0x42, 0x04, 0x0a, 0x00, 0x10, 0x11, // opset_import {domain "", version 17}
      0x72, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76, // metadata_props {key "k", value "v"}
    ]);
  });
});
