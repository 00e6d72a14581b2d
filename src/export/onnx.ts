// a trained network as an ONNX model (opset 17): the layers walked from the
// top, each by its exporter (onnx-layers.ts, onnx-models.ts), the weights as
// initializers under their state-dict names, the batch dimension left free.
// the graph is the network in eval mode: batch norm with its running
// statistics, no dropout. its input is what the network takes, images
// already normalised; the metadata says how.
import { Tensor, tidy } from '../tensor';
import { noGrad } from '../autograd';
import type { Module } from '../nn/module';
import { ExportError } from './errors';
import { GraphBuilder } from './onnx-graph';
import { type LayerContext, describeLayer, exportableClasses, exporterOf } from './onnx-layers';
import './onnx-models';
import { type OnnxModel, encodeModel } from './onnx-proto';

export const OPSET = 17;
/** the IR version of ONNX 1.12, the release that brought opset 17 */
export const IR_VERSION = 8;
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';
export const BATCH_DIM = 'batch';

export interface OnnxExportOptions {
  /** the input's shape without the batch dimension (default [3, 32, 32]) */
  inputShape?: number[];
  /** written into the model's metadata_props */
  metadata?: Record<string, string>;
  docString?: string;
  producerVersion?: string;
}

function exportLayer(layer: Module, input: string, graph: GraphBuilder, path: string): string {
  const exporter = exporterOf(layer);
  if (exporter === null) {
    throw new ExportError(
      path,
      `cannot export ${describeLayer(path, layer)} to ONNX: there is no ONNX form for ${layer.constructor.name}` +
        ` (a layer with a forward of its own is unknown to the exporter; the layers it knows are ${exportableClasses().join(', ')})`,
    );
  }
  const ctx: LayerContext = {
    graph,
    path,
    child: (name, child, childInput) => exportLayer(child, childInput, graph, path === '' ? name : `${path}.${name}`),
  };
  return exporter(layer, input, ctx);
}

/** the shape of the model's output for one input of inputShape, by running it once (eval mode, no graph) */
function outputShape(model: Module, inputShape: number[]): number[] {
  const wasTraining = model.training;
  model.eval();
  try {
    const device = model.parameters()[0]?.device ?? 'cpu';
    return noGrad(() => tidy(() => model.forward(Tensor.zeros([1, ...inputShape], { device })).shape.slice()));
  } finally {
    model.train(wasTraining);
  }
}

/** the ONNX model of a network, as a plain object */
export function onnxModelOf(model: Module, opts: OnnxExportOptions = {}): OnnxModel {
  const inputShape = opts.inputShape ?? [3, 32, 32];
  const out = outputShape(model, inputShape);
  const graph = new GraphBuilder();
  const input = graph.reserve(INPUT_NAME);
  graph.reserve(OUTPUT_NAME);
  const last = exportLayer(model, input, graph, '');
  // the last value is renamed to the graph's output (an Identity when it is the input itself: a model that does nothing)
  if (last === input) graph.nodes.push({ opType: 'Identity', name: OUTPUT_NAME, inputs: [input], outputs: [OUTPUT_NAME], attributes: {} });
  else {
    const node = graph.nodes.find((n) => n.outputs.includes(last));
    if (!node) throw new ExportError('', `export: no node computes ${last}`);
    node.outputs = node.outputs.map((o) => (o === last ? OUTPUT_NAME : o));
    for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === last ? OUTPUT_NAME : i));
  }
  return {
    irVersion: IR_VERSION,
    opsetVersion: OPSET,
    producerName: 'cudalab',
    producerVersion: opts.producerVersion ?? '',
    docString: opts.docString ?? '',
    graph: {
      name: model.constructor.name,
      nodes: graph.nodes,
      initializers: graph.initializers,
      inputs: [{ name: INPUT_NAME, shape: [BATCH_DIM, ...inputShape] }],
      outputs: [{ name: OUTPUT_NAME, shape: [BATCH_DIM, ...out.slice(1)] }],
    },
    metadata: opts.metadata ?? {},
  };
}

/** the ONNX file's bytes */
export function exportOnnx(model: Module, opts: OnnxExportOptions = {}): Uint8Array {
  return encodeModel(onnxModelOf(model, opts));
}
