// the models by name, and models from the user's files. the built-in ones
// have PyTorch's parameter names ("0.weight", "layer1.0.conv1.weight", ...),
// so their checkpoints load in PyTorch.
import path from 'path';
import type { DeviceName } from '../native';
import { CudalabError } from '../errors';
import { Generator } from '../random';
import type { Module } from '../nn';
import { type ModelSpec, buildModel, countParameters, describeSpec } from './spec';
import { seedcnn } from './seedcnn';
import { ptcnn } from './ptcnn';
import { tfcnn } from './tfcnn';
import { tutorial } from './tutorial';
import { ResNet18, resnet18Parameters } from './resnet';
import { Airbench94, airbench94Parameters } from './airbench94';
import type { ModelInit } from './context';
import { isModelPath } from './model-file';
import { loadUserModel } from './user-model';

interface ModelEntry {
  build(init: ModelInit): Module;
  /** one line: the layers and the parameter count */
  describe(): string;
  /** without building the model */
  parameterCount(): number;
}

function specEntry(spec: ModelSpec): ModelEntry {
  return {
    build: (init) => buildModel(spec, init.generator, init.device),
    describe: () => describeSpec(spec),
    parameterCount: () => countParameters(spec),
  };
}

function total(params: Array<[string, number[], ...unknown[]]>): number {
  return params.reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0);
}

const entries: Record<string, ModelEntry> = {
  seedcnn: specEntry(seedcnn),
  ptcnn: specEntry(ptcnn),
  tfcnn: specEntry(tfcnn),
  tutorial: specEntry(tutorial),
  resnet18: {
    build: (init) => new ResNet18(init),
    describe: () =>
      `ResNet-18 for CIFAR: conv3x3(3->64)-bn-ReLU - 4 stages of 2 BasicBlocks (64, 128, 256, 512; stride 1, 2, 2, 2) - avgpool4 - linear(512->10); ${total(resnet18Parameters()).toLocaleString('en-US')} parameters`,
    parameterCount: () => total(resnet18Parameters()),
  },
  airbench94: {
    build: (init) => new Airbench94(init),
    describe: () =>
      `airbench94: whitening conv2x2(3->24)-GELU - 3 ConvGroups (64, 256, 256: conv3x3-maxpool2-bn-GELU-conv3x3-bn-GELU) - maxpool3 - linear(256->10) - x1/9; ${total(airbench94Parameters()).toLocaleString('en-US')} parameters`,
    parameterCount: () => total(airbench94Parameters()),
  },
};

/** every model name; the first is the default */
export const modelNames: string[] = Object.keys(entries);

function entryOf(name: string): ModelEntry {
  const entry = Object.prototype.hasOwnProperty.call(entries, name) ? entries[name] : undefined;
  if (!entry) {
    throw new CudalabError('ERR_MODEL', `unknown model "${String(name)}"; the models are: ${modelNames.join(', ')}, or a model file (./my-net.js)`);
  }
  return entry;
}

/** a fresh model, initialised from the generator, on device (default cpu); a path builds the model of that file */
export function createModel(name: string, opts: { generator: Generator; device?: DeviceName }): Module {
  if (!opts || !opts.generator) throw new CudalabError('ERR_ARG', `createModel: a generator is needed to initialise "${name}"`);
  if (typeof name === 'string' && isModelPath(name)) return loadUserModel(name, { generator: opts.generator, device: opts.device });
  return entryOf(name).build({ generator: opts.generator, device: opts.device });
}

/** one line: the layers and the parameter count (a model file's is built to count them) */
export function describeModel(name: string): string {
  if (typeof name === 'string' && isModelPath(name)) {
    return `the model of ${path.resolve(name)}; ${modelParameterCount(name).toLocaleString('en-US')} parameters`;
  }
  return entryOf(name).describe();
}

/** the number of parameters, without building the model (but a model file's, which is built on the cpu and freed) */
export function modelParameterCount(name: string): number {
  if (typeof name === 'string' && isModelPath(name)) {
    const model = loadUserModel(name, { generator: new Generator(0) });
    try {
      return model.parameterCount();
    } finally {
      model.dispose();
    }
  }
  return entryOf(name).parameterCount();
}

export type { ModelSpec, LayerSpec } from './spec';
export { BasicBlock, ResNet18, resnet18Parameters } from './resnet';
export { Airbench94, ConvGroup, WHITENING_IMAGES, airbench94Parameters } from './airbench94';
export { type ModelInit, type InitFromImages, imageInitOf, imagesForInit, initFromTrainingImages } from './context';
export { isModelPath, modelLabel } from './model-file';
export { loadUserModel, type UserModelContext, type UserModelFactory } from './user-model';
