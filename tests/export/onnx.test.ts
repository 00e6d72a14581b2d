// `cudalab export --onnx`: every shipped model, trained briefly on the tiny
// fixture data set, written as ONNX and run in onnxruntime, gives the logits
// cudalab's eval mode gives on the fixture's test images (within 1e-4); the
// batch norm models are checked to carry running statistics a step of
// training moved, so eval mode differs from a fresh model's. then each layer
// kind on its own, the file's metadata read back by a plain protobuf reader,
// and the errors.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, Generator, Linear, MaxPool2d, Module, Mul, ReLU, Sequential, Tensor, noGrad } from '../../src';
import { ExportError } from '../../src/export/errors';
import { exportOnnx } from '../../src/export/onnx';
import { registerOnnxExporter } from '../../src/export/onnx-layers';
import { scale } from '../../src/ops/elementwise';
import { loadTrainedModel } from '../../src/predict/trained-model';
import { runCli } from '../helpers/run-cli';
import { fieldsOf, text } from '../helpers/protobuf-reader';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const ort = require('onnxruntime-node');

const FIXTURE = path.resolve('tests/fixtures/cifar10-tiny');
const MODELS = ['seedcnn', 'tfcnn', 'ptcnn', 'tutorial', 'airbench94', 'resnet18'];
const BATCH_NORM_MODELS = new Set(['airbench94', 'resnet18']);
const TOLERANCE = 1e-4;

let root: string;
const runDir = (name: string) => path.join(root, 'runs', name);

/** the fixture's test images, CHW bytes, from the binary batch file (1 label byte + 3072 pixel bytes a record) */
function fixtureImages(count: number): Uint8Array {
  const file = fs.readFileSync(path.join(FIXTURE, 'cifar-10-batches-bin', 'test_batch.bin'));
  const out = new Uint8Array(count * 3072);
  for (let i = 0; i < count; i++) out.set(file.subarray(i * 3073 + 1, (i + 1) * 3073), i * 3072);
  return out;
}

/** (p / 255 - mean[c]) / std[c] in float64, stored as float32 */
function normalise(pixels: Uint8Array, norm: { mean: number[]; std: number[] }): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const c = Math.floor(i / 1024) % 3;
    out[i] = (pixels[i] / 255 - norm.mean[c]) / norm.std[c];
  }
  return out;
}

async function ortLogits(model: string | Uint8Array, input: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(model);
  try {
    const result = await session.run({ input: new ort.Tensor('float32', input, shape) });
    return { data: result.logits.data as Float32Array, dims: [...result.logits.dims] };
  } finally {
    await session.release();
  }
}

function cudalabLogits(model: Module, input: Float32Array, shape: number[]): Float32Array {
  model.eval();
  return noGrad(() => model.forward(Tensor.fromArray(input, shape)).toArray() as Float32Array);
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-export-'));
  for (const model of MODELS) {
    // a step or two on 20 images: enough to move the weights and the running statistics off their init
    const extra = model === 'tutorial' ? ['--normalize', 'cifar'] : [];
    const r = await runCli('train', '--model', model, '--lr', '0.001', '--batch', '10', '--epochs', '1', '--limit', '20', '--data', FIXTURE,
      '--no-download', '--device', 'cpu', '--out', path.join(root, 'runs'), '--name', model, ...extra);
    if (r.code !== 0) throw new Error(`training ${model} failed: ${r.stderr}`);
  }
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('cudalab export --onnx: every shipped model runs in onnxruntime with cudalab\'s logits', () => {
  for (const name of MODELS) {
    it(name, async () => {
      const file = path.join(root, 'onnx', `${name}.onnx`);
      const r = await runCli('export', '--run', runDir(name), '--onnx', file);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`wrote .*${name}\\.onnx: ${name} after epoch 1, ONNX opset 17`));
      expect(fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      const trained = await loadTrainedModel(runDir(name));
      try {
        if (BATCH_NORM_MODELS.has(name)) {
          // eval mode must use statistics that training moved: a fresh model's (mean 0, var 1) would hide a wrong mapping
          const bns = trained.model.namedBuffers().filter(([n]) => n.endsWith('running_var'));
          expect(bns.length).toBeGreaterThan(0);
          for (const [, v] of bns) expect(Array.from(v.toArray()).some((x) => Math.abs(x - 1) > 1e-3)).toBe(true);
        }
        const count = name === 'resnet18' ? 6 : 20;
        const input = normalise(fixtureImages(count), trained.config.normalization);
        const shape = [count, 3, 32, 32];
        const ours = cudalabLogits(trained.model, input, shape);
        const theirs = await ortLogits(file, input, shape);
        expect(theirs.dims).toEqual([count, 10]);
        expect(maxAbsDifference(theirs.data, ours)).toBeLessThan(TOLERANCE);
        // the batch dimension is free: one image gives the first row
        const one = await ortLogits(file, input.subarray(0, 3072), [1, 3, 32, 32]);
        expect(maxAbsDifference(one.data, ours.subarray(0, 10))).toBeLessThan(TOLERANCE);
      } finally {
        trained.model.dispose();
      }
    });
  }
});

describe('the ONNX file: opset, input, output and metadata, read back from its bytes', () => {
  it("says opset 17, a free batch dimension, and the run's normalisation and classes", async () => {
    const file = path.join(root, 'onnx', 'tutorial-meta.onnx');
    expect((await runCli('export', '--run', runDir('tutorial'), '--onnx', file, '--checkpoint', '1')).code).toBe(0);
    const model = new Uint8Array(fs.readFileSync(file));
    expect(fieldsOf(model, 1)).toEqual([8n]); // ir_version
    const opset = fieldsOf(model, 8)[0] as Uint8Array;
    expect(text(fieldsOf(opset, 1)[0])).toBe('');
    expect(fieldsOf(opset, 2)).toEqual([17n]);
    const graph = fieldsOf(model, 7)[0] as Uint8Array;
    const dims = (valueInfo: Uint8Array) => {
      const tensorType = fieldsOf(fieldsOf(valueInfo, 2)[0] as Uint8Array, 1)[0] as Uint8Array;
      expect(fieldsOf(tensorType, 1)).toEqual([1n]); // float32
      return fieldsOf(fieldsOf(tensorType, 2)[0] as Uint8Array, 1).map((d) => {
        const param = fieldsOf(d as Uint8Array, 2);
        return param.length ? text(param[0]) : Number(fieldsOf(d as Uint8Array, 1)[0]);
      });
    };
    const [input] = fieldsOf(graph, 11) as Uint8Array[];
    const [output] = fieldsOf(graph, 12) as Uint8Array[];
    expect(text(fieldsOf(input, 1)[0])).toBe('input');
    expect(dims(input)).toEqual(['batch', 3, 32, 32]);
    expect(text(fieldsOf(output, 1)[0])).toBe('logits');
    expect(dims(output)).toEqual(['batch', 10]);
    const ops = (fieldsOf(graph, 1) as Uint8Array[]).map((n) => text(fieldsOf(n, 4)[0]));
    expect(ops).toEqual(['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']);
    const metadata = Object.fromEntries((fieldsOf(model, 14) as Uint8Array[]).map((e) => [text(fieldsOf(e, 1)[0]), text(fieldsOf(e, 2)[0])]));
    const config = JSON.parse(fs.readFileSync(path.join(runDir('tutorial'), 'config.json'), 'utf8'));
    expect(config.normalize).toBe('cifar');
    expect(JSON.parse(metadata.mean)).toEqual(config.normalization.mean);
    expect(JSON.parse(metadata.std)).toEqual(config.normalization.std);
    expect(metadata.input_layout).toBe('NCHW');
    expect(metadata.input).toMatch(/float32 \[batch, 3, 32, 32\].*\(p \/ 255 - mean\[c\]\) \/ std\[c\]/);
    expect(JSON.parse(metadata.classes)).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(metadata.model).toBe('tutorial');
    expect(metadata.epoch).toBe('1');
  });
});

describe('each layer kind in onnxruntime', () => {
  it('conv (stride, uneven padding, no bias), batch norm (affine or not), GELU, max and average pools with padding, dropout, Mul, ReLU, global pool, flatten, linear (with and without bias)', async () => {
    const generator = new Generator(7);
    const model = new Sequential(
      new Conv2d(3, 6, 3, { stride: 2, padding: [1, 2], generator }),
      new BatchNorm2d(6, { eps: 0.5 }), // an eps large enough that dropping it shows
      new GELU(),
      new MaxPool2d(3, 2, 1),
      new AvgPool2d(2, 1, 1),
      new Dropout(0.5, generator),
      new Mul(0.3),
      new Conv2d(6, 5, 1, { bias: false, generator }),
      new BatchNorm2d(5, { affine: false }),
      new ReLU(),
      new AdaptiveAvgPool2d(1),
      new Flatten(),
      new Linear(5, 7, { bias: false, generator }),
      new Linear(7, 4, { generator }),
    );
    // running statistics and an affine transform that are not the identity
    const x = Tensor.randn([8, 3, 32, 32], { generator });
    model.train();
    noGrad(() => model.forward(x));
    const sd = model.stateDict();
    model.loadStateDict({ ...sd, '1.weight': Tensor.fromArray(Float32Array.of(0.5, 1.5, -1, 2, 0.25, 1), [6]), '1.bias': Tensor.fromArray(Float32Array.of(0.1, -0.2, 0.3, 0, 1, -1), [6]) });
    const input = Float32Array.from({ length: 5 * 3072 }, (_, i) => Math.sin(i * 0.37) * 2);
    const ours = cudalabLogits(model, input, [5, 3, 32, 32]);
    const theirs = await ortLogits(exportOnnx(model), input, [5, 3, 32, 32]);
    expect(theirs.dims).toEqual([5, 4]);
    expect(maxAbsDifference(theirs.data, ours)).toBeLessThan(TOLERANCE);
  });

  it('a model file made of known layers exports too', async () => {
    const r = await runCli('train', '--model', path.resolve('tests/fixtures/user-model/tiny-net.js'), '--lr', '0.001', '--batch', '10', '--epochs', '1',
      '--limit', '20', '--data', FIXTURE, '--no-download', '--device', 'cpu', '--out', path.join(root, 'runs'), '--name', 'tiny-net');
    expect(r.code).toBe(0);
    const file = path.join(root, 'onnx', 'tiny-net.onnx');
    expect((await runCli('export', '--run', runDir('tiny-net'), '--onnx', file)).code).toBe(0);
    const trained = await loadTrainedModel(runDir('tiny-net'));
    const input = normalise(fixtureImages(4), trained.config.normalization);
    const ours = cudalabLogits(trained.model, input, [4, 3, 32, 32]);
    expect(maxAbsDifference((await ortLogits(file, input, [4, 3, 32, 32])).data, ours)).toBeLessThan(TOLERANCE);
    trained.model.dispose();
  });

  it('a layer of its own exports once its class has an exporter', async () => {
    class Double extends Module {
      forward(x: Tensor): Tensor {
        return scale(x, 2);
      }
    }
    registerOnnxExporter(Double, (_layer, input, ctx) => ctx.graph.node('Mul', [input, ctx.graph.scalar(2)], ctx.path));
    const model = new Sequential(new Flatten(), new Linear(3072, 3, { generator: new Generator(3) }), new Double());
    const input = Float32Array.from({ length: 2 * 3072 }, (_, i) => Math.cos(i));
    const ours = cudalabLogits(model, input, [2, 3, 32, 32]);
    expect(maxAbsDifference((await ortLogits(exportOnnx(model), input, [2, 3, 32, 32])).data, ours)).toBeLessThan(TOLERANCE);
  });
});

describe('what cannot be exported is an error naming the layer', () => {
  class Doubler extends Module {
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  class ReLUTwice extends ReLU {
    override forward(x: Tensor): Tensor {
      return super.forward(super.forward(x));
    }
  }

  const cases: Array<[string, () => Module, RegExp, string]> = [
    ['a layer of its own', () => new Sequential(new Conv2d(3, 4, 3), new Doubler()), /cannot export layer 1 \(Doubler\) to ONNX: there is no ONNX form for Doubler .*the layers it knows are .*Conv2d/, '1'],
    ['a known layer whose forward is overridden', () => new Sequential(new Sequential(new ReLUTwice())), /cannot export layer 0\.0 \(ReLUTwice\)/, '0.0'],
    ['Flatten from dim 2', () => new Sequential(new Conv2d(3, 4, 3), new Flatten(2)), /cannot export layer 1 \(Flatten\): only Flatten\(1\) .*got start dim 2/, '1'],
    ['batch norm without running statistics', () => new Sequential(new BatchNorm2d(3, { trackRunningStats: false })), /cannot export layer 0 \(BatchNorm2d\): it keeps no running statistics/, '0'],
  ];
  for (const [what, build, message, layer] of cases) {
    it(what, () => {
      const model = build();
      let err: unknown;
      try {
        exportOnnx(model);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ExportError);
      expect((err as ExportError).code).toBe('ERR_EXPORT');
      expect((err as ExportError).layer).toBe(layer);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('cudalab export of a model file with a forward of its own: exit 1, the model named, nothing written', async () => {
    const r = await runCli('train', '--model', path.resolve('tests/fixtures/user-model/residual-net.mjs'), '--lr', '0.001', '--batch', '10', '--epochs', '1',
      '--limit', '20', '--data', FIXTURE, '--no-download', '--device', 'cpu', '--out', path.join(root, 'runs'), '--name', 'residual');
    expect(r.code).toBe(0);
    const dir = path.join(root, 'onnx-refused');
    const e = await runCli('export', '--run', runDir('residual'), '--onnx', path.join(dir, 'residual.onnx'));
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/cannot export the model \(ResidualNet\) to ONNX: there is no ONNX form for ResidualNet/);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  });

  it('a run without a checkpoint, a folder that is no run, a checkpoint that is not there', async () => {
    const bare = path.join(root, 'runs', 'bare');
    fs.mkdirSync(bare, { recursive: true });
    fs.copyFileSync(path.join(runDir('seedcnn'), 'config.json'), path.join(bare, 'config.json'));
    const out = path.join(root, 'onnx', 'never.onnx');
    const none = await runCli('export', '--run', bare, '--onnx', out);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/bare: the run has no complete checkpoint/);
    const notRun = await runCli('export', '--run', path.join(root, 'nowhere'), '--onnx', out);
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toMatch(/--run .*nowhere: no config\.json there \(expected a run directory such as runs\/NAME/);
    const missing = await runCli('export', '--run', runDir('seedcnn'), '--onnx', out, '--checkpoint', '9');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/checkpoint-epoch-9\.safetensors: --checkpoint 9: there is no such checkpoint \(the run keeps epoch 1\)/);
    const usage = await runCli('export', '--run', runDir('seedcnn'));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/required option '--onnx <file>' not specified/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
