// each layer's ONNX form (opset 17), by class. an exporter gets the layer,
// the name of its input value and the graph, adds its nodes and returns the
// name of its output. a layer is looked up by its class and then by its
// ancestors', so a subclass that only configures a known layer (airbench94
// is a Sequential) exports as that layer; a subclass with a forward of its
// own has to be registered itself, since its computation is unknown here.
import type { Module } from '../nn/module';
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, Linear, MaxPool2d, Mul, ReLU, Sequential } from '../nn';
import { ExportError } from './errors';
import type { GraphBuilder } from './onnx-graph';
import { attr } from './onnx-proto';

export interface LayerContext {
  graph: GraphBuilder;
  /** the layer's path in the model: "layer1.0.conv1"; "" for the model itself */
  path: string;
  /** exports a sub-layer (by its attribute name) on the given input */
  child(name: string, layer: Module, input: string): string;
}

export type LayerExporter<M extends Module = Module> = (layer: M, input: string, ctx: LayerContext) => string;

type ModuleClass<M extends Module> = abstract new (...args: never[]) => M;

const exporters = new Map<ModuleClass<Module>, LayerExporter>();

export function registerOnnxExporter<M extends Module>(cls: ModuleClass<M>, exporter: LayerExporter<M>): void {
  exporters.set(cls, exporter as LayerExporter);
}

/** "layer1.0.conv1 (Conv2d)", or "the model (Net)" */
export function describeLayer(path: string, layer: Module): string {
  return path === '' ? `the model (${layer.constructor.name})` : `layer ${path} (${layer.constructor.name})`;
}

/** the exporter of a layer's class, or of the nearest ancestor whose forward it still uses; null when there is none */
export function exporterOf(layer: Module): LayerExporter | null {
  for (let proto = Object.getPrototypeOf(layer); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const cls = proto.constructor as ModuleClass<Module>;
    const found = exporters.get(cls);
    if (found) return (layer as { forward: unknown }).forward === proto.forward ? found : null;
  }
  return null;
}

/** the classes that have an exporter, for error messages */
export function exportableClasses(): string[] {
  return [...exporters.keys()].map((c) => c.name);
}

/** a layer's node (and its output) is named by the layer's path ("layer1.0.conv1"), or by the op for a model that is one layer */
function nodeName(ctx: LayerContext, op: string): string {
  return ctx.path === '' ? op : ctx.path;
}

function pair(v: number | [number, number]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1]] : [v, v];
}

function paramName(ctx: LayerContext, name: string): string {
  return ctx.path === '' ? name : `${ctx.path}.${name}`;
}

// ---- the layers of nn --------------------------------------------------

registerOnnxExporter(Sequential, (seq, input, ctx) => {
  let x = input;
  for (const [name, layer] of seq.namedChildren()) x = ctx.child(name, layer, x);
  return x;
});

registerOnnxExporter(Conv2d, (conv, input, ctx) => {
  const [sh, sw] = pair(conv.stride);
  const [ph, pw] = pair(conv.padding);
  const inputs = [input, ctx.graph.weight(paramName(ctx, 'weight'), conv.weight)];
  if (conv.bias) inputs.push(ctx.graph.weight(paramName(ctx, 'bias'), conv.bias));
  return ctx.graph.node('Conv', inputs, nodeName(ctx, 'conv'), {
    kernel_shape: attr.ints(conv.kernelSize),
    strides: attr.ints([sh, sw]),
    pads: attr.ints([ph, pw, ph, pw]),
    dilations: attr.ints([1, 1]),
    group: attr.int(1),
  });
});

// y = x w^T + b: Gemm with transB, the weight kept in PyTorch's [out, in] layout
registerOnnxExporter(Linear, (linear, input, ctx) => {
  const inputs = [input, ctx.graph.weight(paramName(ctx, 'weight'), linear.weight)];
  if (linear.bias) inputs.push(ctx.graph.weight(paramName(ctx, 'bias'), linear.bias));
  return ctx.graph.node('Gemm', inputs, nodeName(ctx, 'gemm'), { alpha: attr.float(1), beta: attr.float(1), transA: attr.int(0), transB: attr.int(1) });
});

registerOnnxExporter(ReLU, (_relu, input, ctx) => ctx.graph.node('Relu', [input], nodeName(ctx, 'relu')));

// gelu(x) = x (1 + erf(x / sqrt 2)) / 2: opset 17 has no Gelu (it came in 20), Erf it has
registerOnnxExporter(GELU, (_gelu, input, ctx) => geluNodes(ctx, input));

export function geluNodes(ctx: LayerContext, input: string): string {
  const g = ctx.graph;
  const name = nodeName(ctx, 'gelu');
  const scaled = g.node('Div', [input, g.scalar(Math.SQRT2)], `${name}_div`);
  const erf = g.node('Erf', [scaled], `${name}_erf`);
  const onePlus = g.node('Add', [erf, g.scalar(1)], `${name}_add`);
  const times = g.node('Mul', [input, onePlus], `${name}_mul`);
  return g.node('Mul', [times, g.scalar(0.5)], name);
}

// floor mode and -inf padding, ONNX's defaults as they are PyTorch's
registerOnnxExporter(MaxPool2d, (pool, input, ctx) =>
  ctx.graph.node('MaxPool', [input], nodeName(ctx, 'maxpool'), {
    kernel_shape: attr.ints([pool.kernel, pool.kernel]),
    strides: attr.ints([pool.stride, pool.stride]),
    pads: attr.ints([pool.padding, pool.padding, pool.padding, pool.padding]),
  }),
);

// the padding counts in the divisor here, as in PyTorch's default
registerOnnxExporter(AvgPool2d, (pool, input, ctx) => averagePool(ctx, input, pool.kernel, pool.stride, pool.padding));

export function averagePool(ctx: LayerContext, input: string, kernel: number, stride: number, padding: number): string {
  return ctx.graph.node('AveragePool', [input], nodeName(ctx, 'avgpool'), {
    kernel_shape: attr.ints([kernel, kernel]),
    strides: attr.ints([stride, stride]),
    pads: attr.ints([padding, padding, padding, padding]),
    count_include_pad: attr.int(1),
  });
}

registerOnnxExporter(AdaptiveAvgPool2d, (_pool, input, ctx) => ctx.graph.node('GlobalAveragePool', [input], nodeName(ctx, 'globalavgpool')));

// ONNX's Flatten always gives 2 dims, [before axis, from axis on]: torch.flatten's
// result only for start dim 1 (the usual [N, C, H, W] -> [N, CHW])
registerOnnxExporter(Flatten, (flatten, input, ctx) => {
  if (flatten.startDim !== 1) {
    throw new ExportError(ctx.path, `cannot export ${describeLayer(ctx.path, flatten)}: only Flatten(1) has an ONNX form here, got start dim ${flatten.startDim}`);
  }
  return ctx.graph.node('Flatten', [input], nodeName(ctx, 'flatten'), { axis: attr.int(1) });
});

// eval mode: the running statistics; training_mode is 0 by default
registerOnnxExporter(BatchNorm2d, (bn, input, ctx) => {
  if (bn.runningMean === null || bn.runningVar === null) {
    throw new ExportError(ctx.path, `cannot export ${describeLayer(ctx.path, bn)}: it keeps no running statistics, so even in eval mode it normalises with each batch's own, which an inference graph does not do`);
  }
  const g = ctx.graph;
  const c = bn.numFeatures;
  const scale = bn.weight ? g.weight(paramName(ctx, 'weight'), bn.weight) : g.constant(paramName(ctx, 'weight'), new Float32Array(c).fill(1), [c]);
  const bias = bn.bias ? g.weight(paramName(ctx, 'bias'), bn.bias) : g.constant(paramName(ctx, 'bias'), new Float32Array(c), [c]);
  const mean = g.weight(paramName(ctx, 'running_mean'), bn.runningMean);
  const variance = g.weight(paramName(ctx, 'running_var'), bn.runningVar);
  return g.node('BatchNormalization', [input, scale, bias, mean, variance], nodeName(ctx, 'batchnorm'), { epsilon: attr.float(bn.eps) });
});

registerOnnxExporter(Mul, (mul, input, ctx) => ctx.graph.node('Mul', [input, ctx.graph.scalar(mul.scale)], nodeName(ctx, 'mul')));

// dropout does nothing in eval mode: no node at all
registerOnnxExporter(Dropout, (_dropout, input) => input);
