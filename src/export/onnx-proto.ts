// ONNX's messages as plain objects, and their encoding by onnx.proto's field
// numbers (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto and the small ones they hold). only what a feed-forward
// float32 network needs: no subgraphs, no sparse or external tensors.
import { ProtoWriter } from './protobuf';

/** TensorProto.DataType */
export const FLOAT = 1;

/** AttributeProto.AttributeType */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** float32 values, row-major */
  data: Float32Array;
}

/** a dimension: a fixed size, or a name for one that varies (the batch) */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  /** float32 tensors only */
  shape: OnnxDim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: OnnxGraph;
  metadata: Record<string, string>;
}

export const attr = {
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  floats: (value: number[]): AttributeValue => ({ kind: 'floats', value }),
  ints: (value: number[]): AttributeValue => ({ kind: 'ints', value }),
};

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20
export function encodeAttribute(name: string, a: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case 'float': w.float(2, a.value); break;
    case 'int': w.int(3, a.value); break;
    case 'string': w.string(4, a.value); break;
    case 'floats': for (const v of a.value) w.float(7, v); break;
    case 'ints': for (const v of a.value) w.int(8, v); break;
  }
  return w.int(20, ATTRIBUTE_TYPE[a.kind]);
}

// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
export function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) w.message(5, encodeAttribute(name, a));
  return w;
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian, as ONNX requires)
export function encodeTensor(t: OnnxTensor): ProtoWriter {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new RangeError(`onnx: tensor ${t.name} has ${t.data.length} values, its dims [${t.dims.join(', ')}] need ${count}`);
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, FLOAT).string(8, t.name);
  const raw = new Uint8Array(4 * t.data.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < t.data.length; i++) view.setFloat32(4 * i, t.data[i], true);
  return w.bytes(9, raw);
}

// ValueInfoProto: name 1, type 2; TypeProto: tensor_type 1; TypeProto.Tensor:
// elem_type 1, shape 2; TensorShapeProto: dim 1; Dimension: dim_value 1, dim_param 2
export function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

// GraphProto: node 1, name 2, initializer 5, input 11, output 12
export function encodeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

// ModelProto: ir_version 1, producer_name 2, producer_version 3, doc_string 6,
// graph 7, opset_import 8 (OperatorSetIdProto: domain 1, version 2; the
// default domain is the empty string), metadata_props 14 (key 1, value 2)
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter()
    .int(1, m.irVersion)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .string(6, m.docString)
    .message(7, encodeGraph(m.graph))
    .message(8, new ProtoWriter().string(1, '').int(2, m.opsetVersion));
  for (const [key, value] of Object.entries(m.metadata)) w.message(14, new ProtoWriter().string(1, key).string(2, value));
  return w.finish();
}
