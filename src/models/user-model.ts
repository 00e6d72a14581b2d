// a model from the user's own file (--model ./my-net.js): a module whose
// export (module.exports, or its default export) is a factory
//   (ctx) => Module
// it is loaded with require(), which takes ES modules too on the Node.js
// versions that have require(esm) (20.19, 22.12 and later), but not ones
// with top-level await: building a model is synchronous.
// ctx has the generator to draw the parameters from and the device, and, so
// that the file needs no import of its own, cudalab's layers (ctx.nn), ops
// (ctx.ops) and Tensor. the model is moved to the device after the factory
// returns, in case it ignored ctx.device.
import { createRequire } from 'module';
import * as nn from '../nn';
import * as ops from '../ops';
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import type { ModelInit } from './context';
import { resolveModelFile } from './model-file';

export interface UserModelContext extends ModelInit {
  nn: typeof nn;
  ops: typeof ops;
  Tensor: typeof Tensor;
}

export type UserModelFactory = (ctx: UserModelContext) => nn.Module;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function what(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object with keys ${JSON.stringify(Object.keys(value))}`;
  return `a ${typeof value}`;
}

/** the factory a model file exports; errors name the file */
export function loadModelFactory(value: string): { file: string; factory: UserModelFactory } {
  const resolved = resolveModelFile(value);
  if ('problem' in resolved) throw new CudalabError('ERR_MODEL', `model file "${value}": ${resolved.problem}`);
  const { file } = resolved;
  const load = createRequire(file);
  // a fresh read each time: the file may have changed since the last run in this process
  delete load.cache[file];
  let exported: unknown;
  try {
    exported = load(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_REQUIRE_ESM') {
      throw new CudalabError('ERR_MODEL', `model file ${file} is an ES module, which this Node.js (${process.version}) cannot load synchronously: write it as CommonJS (module.exports = (ctx) => model) in a .cjs or .js file`);
    }
    if (code === 'ERR_REQUIRE_ASYNC_MODULE') {
      throw new CudalabError('ERR_MODEL', `model file ${file} uses top-level await, so it cannot be loaded synchronously: build the model without awaiting`);
    }
    throw new CudalabError('ERR_MODEL', `model file ${file} could not be loaded: ${messageOf(err)}`);
  }
  const candidate = typeof exported === 'function' ? exported : (exported as { default?: unknown } | null)?.default;
  if (typeof candidate !== 'function') {
    throw new CudalabError('ERR_MODEL', `model file ${file} must export a factory function (module.exports = (ctx) => model, or a default export), it exports ${what(exported)}`);
  }
  return { file, factory: candidate as UserModelFactory };
}

/** builds the model of a model file: the factory's Module, on init.device */
export function loadUserModel(value: string, init: ModelInit): nn.Module {
  const { file, factory } = loadModelFactory(value);
  let model: unknown;
  try {
    model = factory({ generator: init.generator, device: init.device, nn, ops, Tensor });
  } catch (err) {
    throw new CudalabError('ERR_MODEL', `model file ${file}: the factory threw: ${messageOf(err)}`);
  }
  if (model instanceof Promise) {
    throw new CudalabError('ERR_MODEL', `model file ${file}: the factory returned a Promise; it must return the model itself (no async factory)`);
  }
  if (!(model instanceof nn.Module)) {
    throw new CudalabError('ERR_MODEL', `model file ${file}: the factory returned ${what(model)}, not an nn.Module (build it from ctx.nn)`);
  }
  return init.device ? model.to(init.device) : model;
}
