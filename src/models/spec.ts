// a model as a list of layers: the same list builds the nn.Sequential,
// describes it in one line, and counts its parameters without allocating.
// the Sequential's indices are PyTorch's, so "3.weight" here is "3.weight" there.
import type { DeviceName } from '../native';
import type { Generator } from '../random';
import { Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn';

export type LayerSpec =
  | { kind: 'conv'; in: number; out: number; kernel: number; padding: number }
  | { kind: 'relu' }
  | { kind: 'maxpool'; kernel: number }
  | { kind: 'flatten'; features: number }
  | { kind: 'linear'; in: number; out: number }
  | { kind: 'dropout'; p: number };

export interface ModelSpec {
  name: string;
  layers: LayerSpec[];
}

export function conv(inC: number, outC: number, kernel: number, padding = 0): LayerSpec {
  return { kind: 'conv', in: inC, out: outC, kernel, padding };
}
export const relu: LayerSpec = { kind: 'relu' };
export function maxpool(kernel: number): LayerSpec {
  return { kind: 'maxpool', kernel };
}
export function flatten(features: number): LayerSpec {
  return { kind: 'flatten', features };
}
export function linear(inF: number, outF: number): LayerSpec {
  return { kind: 'linear', in: inF, out: outF };
}

export function buildModel(spec: ModelSpec, generator: Generator, device?: DeviceName): Sequential {
  const layers: Module[] = spec.layers.map((l) => {
    switch (l.kind) {
      case 'conv': return new Conv2d(l.in, l.out, l.kernel, { padding: l.padding, generator, device });
      case 'relu': return new ReLU();
      case 'maxpool': return new MaxPool2d(l.kernel);
      case 'flatten': return new Flatten();
      case 'linear': return new Linear(l.in, l.out, { generator, device });
      case 'dropout': return new Dropout(l.p, generator);
    }
  });
  return new Sequential(...layers);
}

export function countParameters(spec: ModelSpec): number {
  let n = 0;
  for (const l of spec.layers) {
    if (l.kind === 'conv') n += l.out * l.in * l.kernel * l.kernel + l.out;
    if (l.kind === 'linear') n += l.out * l.in + l.out;
  }
  return n;
}

function layerText(l: LayerSpec): string {
  switch (l.kind) {
    case 'conv': return `conv${l.kernel}x${l.kernel}(${l.in}->${l.out}${l.padding ? `, pad ${l.padding}` : ''})`;
    case 'relu': return 'ReLU';
    case 'maxpool': return `maxpool${l.kernel}`;
    case 'flatten': return `flatten(${l.features})`;
    case 'linear': return `linear(${l.in}->${l.out})`;
    case 'dropout': return `dropout(${l.p})`;
  }
}

/** "conv3x3(3->16, pad 1)-ReLU-maxpool2 - ... - linear(256->10); 532,202 parameters" */
export function describeSpec(spec: ModelSpec): string {
  // group the layers into blocks that end at a pool, a flatten or before a linear/conv
  const blocks: string[][] = [];
  for (const l of spec.layers) {
    const startsBlock = l.kind === 'conv' || l.kind === 'linear' || l.kind === 'flatten' || blocks.length === 0;
    if (startsBlock) blocks.push([]);
    blocks[blocks.length - 1].push(layerText(l));
  }
  return `${blocks.map((b) => b.join('-')).join(' - ')}; ${countParameters(spec).toLocaleString('en-US')} parameters`;
}
