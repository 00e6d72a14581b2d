// models from the user's own files: --model ./my-net.js in createModel, the
// settings (train, experiments, config.json) and a run that trains, saves a
// checkpoint and resumes from it; a bad file is an error that names it.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conv2d, CudalabError, Generator, Linear, MaxPool2d, Flatten, ReLU, Sequential, Tensor, createModel, describeModel, modelNames, modelParameterCount, noGrad, tidy } from '../../src';
import { isModelPath, modelLabel } from '../../src/models';
import { zeroInit } from '../../src/nn/init';
import { ConfigError, checkField, defaultRunName } from '../../src/train/config';
import { parseExperiments } from '../../src/train/experiments';
import { runCli } from '../helpers/run-cli';
import { makeSplit, writeTinyCifarBin } from '../train/tiny-cifar';

const TINY = './tests/fixtures/user-model/tiny-net.js';
const RESIDUAL = './tests/fixtures/user-model/residual-net.mjs';

let root: string;
let dataDir: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-user-model-'));
  dataDir = path.join(root, 'data');
  writeTinyCifarBin(dataDir, makeSplit(40, 3), makeSplit(20, 4));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function modelError(f: () => unknown): CudalabError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CudalabError);
    return e as CudalabError;
  }
  throw new Error('expected an error');
}

/** a model file with this text in the temporary folder */
function write(name: string, text: string): string {
  const file = path.join(root, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('a model file', () => {
  it('a path is ./, ../, / or a .js/.mjs/.cjs name; its label for run names is the file name', () => {
    for (const p of ['./net.js', '../x', '/abs/net', 'net.js', 'net.mjs', 'sub/net.cjs']) expect(isModelPath(p), p).toBe(true);
    for (const p of ['seedcnn', 'resnet18', 'airbench94', 'net.ts', 'js']) expect(isModelPath(p), p).toBe(false);
    expect(modelLabel('/somewhere/my net.js')).toBe('my-net');
    expect(modelLabel('/somewhere/_x.cjs')).toBe('model_x');
    expect(modelLabel('resnet18')).toBe('resnet18');
    expect(defaultRunName({ model: '/a/b/tiny-net.js', lr: 0.1, batch: 8, seed: 1 })).toBe('tiny-net-lr0.1-b8-s1');
  });

  it('a CommonJS factory builds its model from ctx.nn with ctx.generator', () => {
    const model = createModel(TINY, { generator: new Generator(3) });
    // the same layers built here from the same seed draw the same values: the factory used ctx.generator
    const g = new Generator(3);
    const direct = new Sequential(new Conv2d(3, 4, 3, { padding: 1, generator: g }), new ReLU(), new MaxPool2d(4), new Flatten(), new Linear(256, 10, { generator: g }));
    expect(model.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([['0.weight', [4, 3, 3, 3]], ['0.bias', [4]], ['4.weight', [10, 256]], ['4.bias', [10]]]);
    const theirs = direct.stateDict();
    for (const [name, t] of model.namedParameters()) expect(Array.from(t.toArray()), name).toEqual(Array.from(theirs[name].toArray()));
    tidy(() => {
      const y = noGrad(() => model.forward(Tensor.randn([2, 3, 32, 32], { generator: new Generator(1) })));
      expect(y.shape).toEqual([2, 10]);
    });
    model.dispose();
    direct.dispose();
    expect(modelParameterCount(TINY)).toBe(4 * 27 + 4 + 2560 + 10);
    expect(describeModel(TINY)).toBe(`the model of ${path.resolve(TINY)}; 2,682 parameters`);
  });

  it('an ES module\'s default export works too, with a Module of its own forward built from ctx.nn and ctx.ops', () => {
    const model = createModel(RESIDUAL, { generator: new Generator(0) });
    expect(model.namedParameters().map(([n]) => n)).toEqual(['block.conv.weight', 'head.weight', 'head.bias']);
    // with the conv at zero the block is the identity: logits = head(avgpool8(x)), computed here in float64
    const params = model.stateDict();
    zeroInit(params['block.conv.weight']);
    const x = Tensor.randn([2, 3, 32, 32], { generator: new Generator(2) });
    const y = noGrad(() => model.forward(x));
    const xs = x.toArray(), w = params['head.weight'].toArray(), b = params['head.bias'].toArray(), ys = y.toArray();
    for (let n = 0; n < 2; n++) {
      const pooled: number[] = [];
      for (let c = 0; c < 3; c++) for (let py = 0; py < 4; py++) for (let px = 0; px < 4; px++) {
        let s = 0;
        for (let dy = 0; dy < 8; dy++) for (let dx = 0; dx < 8; dx++) s += xs[((n * 3 + c) * 32 + py * 8 + dy) * 32 + px * 8 + dx];
        pooled.push(s / 64);
      }
      for (let o = 0; o < 10; o++) {
        let s = b[o];
        for (let i = 0; i < 48; i++) s += w[o * 48 + i] * pooled[i];
        expect(Math.abs(ys[n * 10 + o] - s)).toBeLessThan(1e-5);
      }
    }
    x.dispose();
    y.dispose();
    model.dispose();
  });

  it('a bad file is an ERR_MODEL error that names the file and says what is wrong', () => {
    const g = new Generator(0);
    const cases: Array<[string, string, RegExp]> = [
      ['no-factory.js', 'module.exports = { layers: 3 };', /must export a factory function .*it exports an object with keys \["layers"\]/],
      ['throws.js', 'module.exports = () => { throw new Error("no GPU here"); };', /the factory threw: no GPU here/],
      ['not-a-module.js', 'module.exports = () => ({ forward: (x) => x });', /the factory returned an object with keys \["forward"\], not an nn\.Module \(build it from ctx\.nn\)/],
      ['async.js', 'module.exports = async (ctx) => new ctx.nn.ReLU();', /the factory returned a Promise/],
      ['syntax.js', 'module.exports = (ctx) => {', /could not be loaded: .*Unexpected end of input/],
      ['top-level-await.mjs', 'await Promise.resolve(); export default (ctx) => new ctx.nn.ReLU();', /uses top-level await/],
    ];
    for (const [name, text, why] of cases) {
      const file = write(name, text);
      const err = modelError(() => createModel(file, { generator: g }));
      expect(err.code, name).toBe('ERR_MODEL');
      expect(err.message, name).toContain(`model file ${file}`);
      expect(err.message, name).toMatch(why);
    }
    const missing = modelError(() => createModel('./no/such/net.js', { generator: g }));
    expect(missing.code).toBe('ERR_MODEL');
    expect(missing.message).toBe(`model file "./no/such/net.js": there is no file ${path.resolve('no/such/net.js')}`);
  });

  it('is read afresh each time: a fixed file works in the same process', () => {
    const file = write('fixed.js', 'module.exports = { nothing: true };');
    expect(modelError(() => createModel(file, { generator: new Generator(0) })).message).toMatch(/must export a factory/);
    fs.writeFileSync(file, 'module.exports = (ctx) => new ctx.nn.Linear(2, 3, { generator: ctx.generator });');
    const m = createModel(file, { generator: new Generator(0) });
    expect(m.parameterCount()).toBe(9);
    m.dispose();
  });
});

describe('the model setting', () => {
  it('takes a built-in name or a model file, which becomes its absolute path (relative to the working directory)', () => {
    expect(checkField('model', 'resnet18', '--model', { models: modelNames })).toBe('resnet18');
    expect(checkField('model', 'airbench94', '--model', { models: modelNames })).toBe('airbench94');
    expect(checkField('model', TINY, '--model', { models: modelNames })).toBe(path.resolve(TINY));
    const abs = path.resolve(RESIDUAL);
    expect(checkField('model', abs, '--model', { models: modelNames, strict: true })).toBe(abs);
  });

  it('a missing file, a folder or an unknown name is a ConfigError naming the argument', () => {
    const fails = (value: unknown, why: RegExp) => {
      try {
        checkField('model', value, '--model', { models: modelNames });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).argument).toBe('--model');
        expect((e as Error).message).toMatch(why);
        return;
      }
      throw new Error(`expected ${String(value)} to fail`);
    };
    fails('./nope.js', new RegExp(`--model must be a model file, got "\\./nope\\.js": there is no file ${path.resolve('nope.js').replace(/[.]/g, '\\.')}`));
    fails('./tests/fixtures/user-model', /is not a file/);
    fails('./tests/fixtures/user-model/../../nn/eigen.test.ts', /is not a JavaScript file/);
    fails('resnet', /--model must be one of seedcnn, .*resnet18, airbench94, got "resnet" \(or a model file, such as \.\/my-net\.js\)/);
  });

  it('an experiments file may name a model file', () => {
    const text = JSON.stringify({ name: 'mine', experiments: [{ name: 'a', lr: 0.01, batch: 8, model: TINY }] });
    const parsed = parseExperiments(text, 'mine.json', modelNames);
    expect(parsed.experiments[0].model).toBe(path.resolve(TINY));
  });

  it('cudalab train --model ./file trains, records the absolute path, and --resume rebuilds the model from it', async () => {
    const out = path.join(root, 'runs');
    const r = await runCli('train', '--model', TINY, '--lr', '0.001', '--batch', '16', '--epochs', '1', '--limit', '32', '--device', 'cpu',
      '--data', dataDir, '--out', out, '--no-download', '--json');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ name: 'tiny-net-lr0.001-b16-s0', model: path.resolve(TINY) });
    const runDir = path.join(out, 'tiny-net-lr0.001-b16-s0');
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')).model).toBe(path.resolve(TINY));
    expect(fs.existsSync(path.join(runDir, 'checkpoint-epoch-1.safetensors'))).toBe(true);

    const again = await runCli('train', '--resume', runDir, '--epochs', '2', '--json');
    expect(again.code, again.stderr).toBe(0);
    const resumed = JSON.parse(again.stdout);
    expect(resumed.epochs.length).toBe(2);
    expect(resumed.epochs[0]).toEqual(summary.epochs[0]);
  });

  it('a fresh run gives a model that asks for them the first training images, normalised, at most --limit; a resume does not', async () => {
    const calls = () => (globalThis as { imageInitCalls?: Array<{ shape: number[]; values: number[] }> }).imageInitCalls ?? [];
    const before = calls().length;
    const out = path.join(root, 'runs-init');
    const train = (...more: string[]) => runCli('train', '--model', './tests/fixtures/user-model/image-init-net.js', '--lr', '0.001', '--batch', '16',
      '--device', 'cpu', '--data', dataDir, '--out', out, '--no-download', '--json', ...more);
    const r = await train('--epochs', '1', '--limit', '32');
    expect(r.code, r.stderr).toBe(0);
    expect(calls().length).toBe(before + 1);
    const call = calls()[before];
    // the model asks for 3; they are the first 3 training images as (v/255 - 0.5)/0.5, in float32
    expect(call.shape).toEqual([3, 3, 32, 32]);
    const split = makeSplit(40, 3);
    expect(call.values).toEqual(Array.from(split.images.slice(0, 3 * 3072)).map((v) => Math.fround((v / 255 - 0.5) / 0.5)));
    const again = await runCli('train', '--resume', path.join(out, 'image-init-net-lr0.001-b16-s0'), '--epochs', '2', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(calls().length).toBe(before + 1);
    const limited = await train('--epochs', '1', '--limit', '2', '--name', 'limited');
    expect(limited.code, limited.stderr).toBe(0);
    expect(calls()[before + 1].shape).toEqual([2, 3, 32, 32]);
  });

  it('cudalab train --model with a missing file is a usage error (exit 2) that names it', async () => {
    const r = await runCli('train', '--model', './missing-net.js', '--lr', '0.001', '--batch', '16', '--data', dataDir, '--out', path.join(root, 'x'), '--no-download');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--model must be a model file, got "./missing-net.js": there is no file ${path.resolve('missing-net.js')}`);
  });
});
