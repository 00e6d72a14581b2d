// the graph an export builds up: nodes in the order they run, the weights as
// initializers, and value names that are unique. a layer's exporter adds its
// nodes here and returns the name of its output.
import type { Tensor } from '../tensor';
import type { AttributeValue, OnnxNode, OnnxTensor } from './onnx-proto';

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly names = new Set<string>();
  private readonly scalars = new Map<number, string>();

  /** name itself, or name_2, name_3, ... when it is taken */
  unique(name: string): string {
    let candidate = name;
    for (let i = 2; this.names.has(candidate); i++) candidate = `${name}_${i}`;
    this.names.add(candidate);
    return candidate;
  }

  /** marks a name (the graph's input) as taken */
  reserve(name: string): string {
    return this.unique(name);
  }

  /** a parameter or buffer as an initializer, under its state-dict name (a host copy of its values) */
  weight(name: string, t: Tensor): string {
    return this.constant(name, t.toArray() as Float32Array, t.shape.slice());
  }

  constant(name: string, data: Float32Array, dims: number[]): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims, data: Float32Array.from(data) });
    return unique;
  }

  /** a float32 scalar, one initializer per value however often it is used */
  scalar(value: number): string {
    const known = this.scalars.get(value);
    if (known !== undefined) return known;
    const name = this.constant(`const_${String(value).replace(/[^0-9A-Za-z]/g, '_')}`, Float32Array.of(value), []);
    this.scalars.set(value, name);
    return name;
  }

  /** one node with one output, named after the node; returns the output's name */
  node(opType: string, inputs: string[], name: string, attributes: Record<string, AttributeValue> = {}): string {
    const output = this.unique(name);
    this.nodes.push({ opType, name: output, inputs, outputs: [output], attributes });
    return output;
  }
}
