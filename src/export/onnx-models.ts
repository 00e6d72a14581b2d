// the ONNX form of the shipped models' layers whose forward is their own
// code rather than a chain of sub-layers: resnet18's residual BasicBlock and
// the ResNet18 around it, airbench94's ConvGroup. each mirrors its forward
// step for step. (airbench94 itself is a Sequential and needs nothing here.)
import { BasicBlock, ConvGroup, ResNet18 } from '../models';
import { averagePool, registerOnnxExporter } from './onnx-layers';

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); an empty shortcut is the identity
registerOnnxExporter(BasicBlock, (block, input, ctx) => {
  let y = ctx.child('conv1', block.conv1, input);
  y = ctx.child('bn1', block.bn1, y);
  y = ctx.graph.node('Relu', [y], `${ctx.path}.relu1`);
  y = ctx.child('conv2', block.conv2, y);
  y = ctx.child('bn2', block.bn2, y);
  const shortcut = ctx.child('shortcut', block.shortcut, input);
  const sum = ctx.graph.node('Add', [y, shortcut], `${ctx.path}.add`);
  return ctx.graph.node('Relu', [sum], `${ctx.path}.relu2`);
});

// relu(bn1(conv1(x))), the four stages, a 4x4 average pool, flatten, linear
registerOnnxExporter(ResNet18, (net, input, ctx) => {
  let y = ctx.child('conv1', net.conv1, input);
  y = ctx.child('bn1', net.bn1, y);
  y = ctx.graph.node('Relu', [y], 'relu');
  net.layers.forEach((layer, i) => {
    y = ctx.child(`layer${i + 1}`, layer, y);
  });
  y = averagePool({ ...ctx, path: 'avgpool' }, y, 4, 4, 0);
  y = ctx.graph.node('Flatten', [y], 'flatten', { axis: { kind: 'int', value: 1 } });
  return ctx.child('linear', net.linear, y);
});

// activ(norm1(pool(conv1(x)))), then activ(norm2(conv2(.))): one GELU used twice
registerOnnxExporter(ConvGroup, (group, input, ctx) => {
  let y = ctx.child('conv1', group.conv1, input);
  y = ctx.child('pool', group.pool, y);
  y = ctx.child('norm1', group.norm1, y);
  y = ctx.child('activ', group.activ, y);
  y = ctx.child('conv2', group.conv2, y);
  y = ctx.child('norm2', group.norm2, y);
  return ctx.child('activ', group.activ, y);
});
