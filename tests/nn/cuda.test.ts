// the models on cuda against the cpu: the same seed builds the same
// parameters on either device, and forward, backward and Adam steps agree.
// skipped where no CUDA device can be used (the reason is in the test names).
import { describe, expect, it } from 'vitest';
import { Adam, Generator, Tensor, createModel, crossEntropy, modelNames, native, tidy, type DeviceName } from '../../src';
import { expectClose } from '../helpers/compare';

const info = native().cudaInfo();
const gpu = info.available;
const why = gpu ? 'cuda' : `skipped, no GPU: ${info.reason}`;

// float32 sums of up to a few thousand products in different orders
const TOL_MODEL = 1e-4;

function batch(device: DeviceName): { x: Tensor; y: Tensor } {
  const g = new Generator(100);
  const x = Tensor.randn([16, 3, 32, 32], { generator: g, device });
  const y = Tensor.fromArray(Array.from({ length: 16 }, (_, i) => (i * 7) % 10), [16], { dtype: 'int32', device });
  return { x, y };
}

/** loss, logits and every parameter gradient of one forward/backward */
function forwardBackward(name: string, device: DeviceName): { loss: number; logits: Float32Array; grads: Float32Array[]; params: Float32Array[] } {
  const model = createModel(name, { generator: new Generator(1), device });
  const result = tidy(() => {
    const { x, y } = batch(device);
    const logits = model.forward(x);
    const loss = crossEntropy(logits, y);
    loss.backward();
    return {
      loss: loss.item(),
      logits: logits.toArray() as Float32Array,
      grads: model.parameters().map((p) => p.grad!.toArray() as Float32Array),
      params: model.parameters().map((p) => p.toArray() as Float32Array),
    };
  });
  model.dispose();
  return result;
}

describe.skipIf(!gpu)(`models on cuda match the cpu (${why})`, () => {
  for (const name of modelNames) {
    it(`${name}: same initial parameters, logits, loss and gradients`, () => {
      const cpu = forwardBackward(name, 'cpu');
      const cuda = forwardBackward(name, 'cuda');
      cpu.params.forEach((p, i) => expectClose(cuda.params[i], p, 1e-7, `${name} parameter ${i}`));
      expectClose(cuda.logits, cpu.logits, TOL_MODEL, `${name} logits`);
      expect(Math.abs(cuda.loss - cpu.loss)).toBeLessThan(1e-4 * Math.abs(cpu.loss));
      cpu.grads.forEach((g, i) => expectClose(cuda.grads[i], g, TOL_MODEL, `${name} grad ${i}`));
    });
  }

  it('seedcnn: five Adam steps on a model moved with to("cuda") track the cpu run', () => {
    const run = (device: DeviceName): { losses: number[]; params: Float32Array[] } => {
      const model = createModel('seedcnn', { generator: new Generator(2) }).to(device);
      const opt = new Adam(model.parameters(), { lr: 1e-3 });
      const { x, y } = batch(device);
      const losses: number[] = [];
      for (let i = 0; i < 5; i++) {
        losses.push(tidy(() => {
          opt.zeroGrad();
          const loss = crossEntropy(model.forward(x), y);
          loss.backward();
          opt.step();
          return loss.item();
        }));
      }
      const params = model.parameters().map((p) => p.toArray() as Float32Array);
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
      return { losses, params };
    };
    const cpu = run('cpu');
    const cuda = run('cuda');
    cpu.losses.forEach((l, i) => expect(Math.abs(cuda.losses[i] - l)).toBeLessThan(1e-3 * l));
    expect(cpu.losses[4]).toBeLessThan(cpu.losses[0]);
    // Adam divides by sqrt(v): tiny gradient differences move a parameter by up to ~lr
    cpu.params.forEach((p, i) => expectClose(cuda.params[i], p, 1e-3, `param ${i} after 5 steps`));
  });

  it('a training step leaves no cuda storage behind', () => {
    const model = createModel('tfcnn', { generator: new Generator(3), device: 'cuda' });
    const opt = new Adam(model.parameters());
    const { x, y } = batch('cuda');
    const step = (): void => tidy(() => {
      opt.zeroGrad();
      crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
    step();
    const after = native().memoryStats('cuda').storages;
    for (let i = 0; i < 10; i++) step();
    expect(native().memoryStats('cuda').storages).toBe(after);
    [opt, model, x, y].forEach((t) => t.dispose());
  });
});
