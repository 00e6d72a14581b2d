// the models by name. each is an nn.Sequential whose parameter names are
// PyTorch's ("0.weight", "3.bias", ...), so checkpoints load in PyTorch.
import type { DeviceName } from '../native';
import { CudalabError } from '../errors';
import type { Generator } from '../random';
import type { Module } from '../nn';
import { type ModelSpec, buildModel, countParameters, describeSpec } from './spec';
import { seedcnn } from './seedcnn';
import { ptcnn } from './ptcnn';
import { tfcnn } from './tfcnn';
import { tutorial } from './tutorial';

const specs: Record<string, ModelSpec> = { seedcnn, ptcnn, tfcnn, tutorial };

/** every model name; the first is the default */
export const modelNames: string[] = Object.keys(specs);

function specOf(name: string): ModelSpec {
  const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
  if (!spec) throw new CudalabError('ERR_MODEL', `unknown model "${String(name)}"; the models are: ${modelNames.join(', ')}`);
  return spec;
}

/** a fresh model, initialised from the generator, on device (default cpu) */
export function createModel(name: string, opts: { generator: Generator; device?: DeviceName }): Module {
  const spec = specOf(name);
  if (!opts || !opts.generator) throw new CudalabError('ERR_ARG', `createModel: a generator is needed to initialise "${name}"`);
  return buildModel(spec, opts.generator, opts.device);
}

/** one line: the layers and the parameter count */
export function describeModel(name: string): string {
  return describeSpec(specOf(name));
}

/** the number of parameters, without building the model */
export function modelParameterCount(name: string): number {
  return countParameters(specOf(name));
}

export type { ModelSpec, LayerSpec } from './spec';
