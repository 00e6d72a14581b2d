import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/index';
import {
  ConfigError, FIELDS, defaultRunName, flagOf, makeRunConfig, parseRunConfig, resolveDevice, resolveTrainRequest,
} from '../../src/train/config';
import { parseExperiments } from '../../src/train/experiments';

const MODELS = ['seedcnn', 'ptcnn'];

function fails(fn: () => unknown, argument: string, pattern: RegExp) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).argument).toBe(argument);
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a ConfigError');
}

describe('train arguments', () => {
  it('resolves defaults and a default run name', () => {
    const r = resolveTrainRequest({ lr: '0.001', batch: '64' }, MODELS);
    expect(r).toMatchObject({ lr: 0.001, batch: 64, epochs: 3, model: 'seedcnn', device: 'auto', seed: 0, limit: null, augment: false });
    expect(r.name).toBe('seedcnn-lr0.001-b64-s0');
    expect(defaultRunName({ model: 'ptcnn', lr: 0.01, batch: 128, seed: 2, augment: true })).toBe('ptcnn-lr0.01-b128-s2-aug');
    expect(defaultRunName({ model: 'seedcnn', lr: 0.1, batch: 64, seed: 0, translate: 2, flip: 'alternating', cutout: 8 })).toBe(
      'seedcnn-lr0.1-b64-s0-t2-alternating-cut8',
    );
    expect(defaultRunName({ model: 'seedcnn', lr: 0.1, batch: 64, seed: 0, translate: 0, flip: 'none', cutout: 0 })).toBe('seedcnn-lr0.1-b64-s0');
  });

  it('names the argument and what it expected', () => {
    fails(() => resolveTrainRequest({ lr: '0', batch: '64' }, MODELS), '--lr', /--lr must be a number > 0, got "0"/);
    fails(() => resolveTrainRequest({ lr: '-1', batch: '64' }, MODELS), '--lr', /> 0, got "-1"/);
    fails(() => resolveTrainRequest({ lr: 'fast', batch: '64' }, MODELS), '--lr', /got "fast"/);
    fails(() => resolveTrainRequest({ lr: 'Infinity', batch: '64' }, MODELS), '--lr', /> 0/);
    fails(() => resolveTrainRequest({ batch: '64' }, MODELS), '--lr', /--lr is required/);
    fails(() => resolveTrainRequest({ lr: '0.1' }, MODELS), '--batch', /--batch is required/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '0' }, MODELS), '--batch', /--batch must be an integer from 1/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '6.5' }, MODELS), '--batch', /got "6.5"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', epochs: '0' }, MODELS), '--epochs', /--epochs must be a number in \(0, 100000\], got "0"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', model: 'resnet' }, MODELS), '--model', /one of seedcnn, ptcnn, got "resnet"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', device: 'tpu' }, MODELS), '--device', /one of auto, cpu, cuda, got "tpu"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', seed: '-3' }, MODELS), '--seed', /non-negative integer/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', limit: '0' }, MODELS), '--limit', /integer from 1/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', name: '../escape' }, MODELS), '--name', /file name/);
  });

  it('takes only numbers that hold in float32, inside their range', () => {
    const req = (more: Record<string, unknown>) => () => resolveTrainRequest({ lr: '0.1', batch: '8', ...more }, MODELS);
    // finite as a double, infinite as the float32 the kernels get
    fails(req({ lr: '1e308' }), '--lr', /--lr must be a number > 0, got "1e308" \(beyond float32's range/);
    fails(req({ lr: '3.5e38' }), '--lr', /beyond float32's range/);
    // > 0 as written, 0 as a float32
    fails(req({ lr: '1e-50' }), '--lr', /--lr must be a number > 0, got "1e-50" \(0 in float32\)/);
    fails(req({ eps: '1e-46' }), '--eps', /--eps must be a number > 0, got "1e-46" \(0 in float32\)/);
    fails(req({ weightDecay: '1e39' }), '--weight-decay', /--weight-decay must be a number >= 0, got "1e39" \(beyond float32/);
    fails(req({ weightDecay: '-0.1' }), '--weight-decay', />= 0, got "-0.1"/);
    // below 1 as written, 1 as a float32
    fails(req({ betas: '0.9,0.99999999' }), '--betas', /--betas must be two numbers in \[0, 1\)/);
    fails(req({ betas: '0.9' }), '--betas', /two numbers/);
    fails(req({ optimizer: 'sgd', momentum: '1.5' }), '--momentum', /--momentum must be a number in \[0, 1\], got "1.5"/);
    fails(req({ optimizer: 'sgd', momentum: 'NaN' }), '--momentum', /got "NaN"/);
    // the largest float32 and the smallest positive one are fine
    expect(resolveTrainRequest({ lr: '3.4e38', batch: '8' }, MODELS).lr).toBe(3.4e38);
    expect(resolveTrainRequest({ lr: '1.5e-45', batch: '8' }, MODELS).lr).toBe(1.5e-45);
    expect(resolveTrainRequest({ lr: '0.1', batch: '8', betas: '0.5,0.75' }, MODELS).betas).toEqual([0.5, 0.75]);
  });

  it('has an optimizer: adam by default, sgd with its own hyperparameters', () => {
    const adam = resolveTrainRequest({ lr: '0.1', batch: '8' }, MODELS);
    expect(adam).toMatchObject({ optimizer: 'adam', betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, keepCheckpoints: 1 });
    const sgd = resolveTrainRequest({ lr: '0.1', batch: '8', optimizer: 'sgd', momentum: '0.9', nesterov: true, weightDecay: '5e-4' }, MODELS);
    expect(sgd).toMatchObject({ optimizer: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    expect(sgd.name).toBe('seedcnn-lr0.1-b8-s0-sgd');
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', optimizer: 'rmsprop' }, MODELS), '--optimizer', /one of adam, sgd, adamw, got "rmsprop"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', momentum: '0.9' }, MODELS), '--momentum', /--momentum applies to the sgd optimizer only; this run uses adam \(--optimizer\)/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', optimizer: 'sgd', betas: '0.9,0.9' }, MODELS), '--betas', /applies to the adam and adamw optimizers only/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', optimizer: 'sgd', nesterov: true }, MODELS), '--nesterov', /--nesterov needs --momentum > 0/);
  });

  it('keeps the last N checkpoints or all', () => {
    const keep = (v: unknown) => resolveTrainRequest({ lr: '0.1', batch: '8', keepCheckpoints: v }, MODELS).keepCheckpoints;
    expect(keep('3')).toBe(3);
    expect(keep('all')).toBe('all');
    fails(() => keep('0'), '--keep-checkpoints', /--keep-checkpoints must be an integer from 1 to 100000, or "all", got "0"/);
    fails(() => keep('some'), '--keep-checkpoints', /got "some"/);
  });

  it('derives every flag from the settings table: camelCase to --kebab-case, --no- for what is on by default', () => {
    expect(Object.fromEntries(FIELDS.map((f) => [f.name, flagOf(f)]))).toMatchObject({
      lr: '--lr', stopOnNan: '--stop-on-nan', weightDecay: '--weight-decay', keepCheckpoints: '--keep-checkpoints', download: '--no-download',
    });
    const train = buildProgram().commands.find((c) => c.name() === 'train')!;
    const flags = train.options.map((o) => o.long);
    expect(flags).toEqual([...FIELDS.map(flagOf), '--config', '--json', '--resume']);
    // and the option commander files the value under is the field's name
    expect(train.options.slice(0, FIELDS.length).map((o) => o.attributeName())).toEqual(FIELDS.map((f) => f.name));
  });

  it('resolves the device: auto follows the GPU, cuda without one says why', () => {
    const none = () => ({ available: false, reason: 'no CUDA driver' });
    const gpu = () => ({ available: true, reason: '' });
    expect(resolveDevice('auto', none)).toBe('cpu');
    expect(resolveDevice('auto', gpu)).toBe('cuda');
    expect(resolveDevice('cpu', gpu)).toBe('cpu');
    expect(resolveDevice('cuda', gpu)).toBe('cuda');
    expect(() => resolveDevice('cuda', none)).toThrow(/--device cuda: no usable CUDA device \(no CUDA driver\)/);
  });
});

describe('experiments files', () => {
  const parse = (value: unknown, overrides = {}) => parseExperiments(JSON.stringify(value), 'x.json', MODELS, overrides);

  it('reads the shipped seed config: the seed lab\'s three experiments', () => {
    const file = path.join(__dirname, '..', '..', 'experiments', 'seed.json');
    const cfg = parseExperiments(fs.readFileSync(file, 'utf8'), file, ['seedcnn'], { out: 'runs' });
    expect(cfg.name).toBe('seed');
    expect(cfg.experiments.map((e) => [e.name, e.lr, e.batch, e.epochs, e.model, e.seed])).toEqual([
      ['exp1', 0.001, 64, 3, 'seedcnn', 1],
      ['exp2', 0.01, 64, 3, 'seedcnn', 1],
      ['exp3', 0.001, 128, 3, 'seedcnn', 1],
    ]);
    expect(cfg.experiments[0].out).toBe(path.join('runs', 'seed'));
  });

  it('applies defaults and command-line overrides', () => {
    const cfg = parse(
      { name: 'grid', defaults: { model: 'ptcnn', epochs: 5 }, experiments: [{ name: 'a', lr: 0.1, batch: 8 }, { name: 'b', lr: 0.2, batch: 8, epochs: 2 }] },
      { epochs: 1, limit: 100, device: 'cpu' },
    );
    expect(cfg.experiments.map((e) => [e.model, e.epochs, e.limit, e.device])).toEqual([
      ['ptcnn', 1, 100, 'cpu'],
      ['ptcnn', 1, 100, 'cpu'],
    ]);
  });

  it('names the file and the field on bad input', () => {
    expect(() => parseExperiments('{"name": ', 'x.json', MODELS)).toThrow(/x\.json: not valid JSON/);
    fails(() => parse([]), 'x.json', /x\.json must be a JSON object, got an array/);
    fails(() => parse({ experiments: [] }), 'x.json: name', /x\.json: name must be a file name/);
    fails(() => parse({ name: 's', experiments: [] }), 'x.json: experiments', /non-empty array/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: -1, batch: 8 }] }), 'x.json: experiments[0].lr', /experiments\[0\]\.lr must be a number > 0, got -1/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: '8' }] }), 'x.json: experiments[0].batch', /must be a number, got "8"/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8 }, { name: 'b', lr: 0.1, batch: 0 }] }), 'x.json: experiments[1].batch', /integer from 1/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8, learning_rate: 1 }] }), 'x.json: experiments[0].learning_rate', /not a known field/);
    fails(() => parse({ name: 's', experiments: [{ lr: 0.1, batch: 8 }] }), 'x.json: experiments[0].name', /is required/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8, model: 'vgg' }] }), 'x.json: experiments[0].model', /one of seedcnn, ptcnn/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8 }, { name: 'a', lr: 0.2, batch: 8 }] }), 'x.json: experiments[1].name', /used twice/);
    fails(() => parse({ name: 's', extra: 1, experiments: [{ name: 'a', lr: 0.1, batch: 8 }] }), 'x.json: extra', /not a known field/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8, device: 'cpu' }] }), 'x.json: experiments[0].device', /set on the command line for every experiment \(--device\)/);
  });

  it('takes the fields of a run under their config.json names, with the same checks', () => {
    const cfg = parse({ name: 's', defaults: { optimizer: 'sgd', momentum: 0.9 }, experiments: [{ name: 'a', lr: 0.1, batch: 8, nesterov: true, weightDecay: 5e-4, keepCheckpoints: 'all', stopOnNan: true }] });
    expect(cfg.experiments[0]).toMatchObject({ optimizer: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4, keepCheckpoints: 'all', stopOnNan: true });
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 1e308, batch: 8 }] }), 'x.json: experiments[0].lr', /must be a number > 0, got 1e\+308 \(beyond float32's range/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8, momentum: 0.9 }] }), 'x.json: experiments[0].momentum', /applies to the sgd optimizer only/);
    fails(() => parse({ name: 's', experiments: [{ name: 'a', lr: 0.1, batch: 8, keepCheckpoints: '2' }] }), 'x.json: experiments[0].keepCheckpoints', /got "2"/);
  });

  it("rejects keys that only Object.prototype knows, __proto__ included", () => {
    // JSON.parse makes "__proto__" an own key; looked up in a plain object it would find Object.prototype
    const entry = (key: string) => `{"name": "s", "experiments": [{"name": "a", "lr": 0.1, "batch": 8, "${key}": {"lr": 5}}]}`;
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      fails(() => parseExperiments(entry(key), 'x.json', MODELS), `x.json: experiments[0].${key}`, /is not a known field/);
    }
    fails(() => parseExperiments('{"name": "s", "defaults": {"__proto__": {"lr": 5}}, "experiments": [{"name": "a", "batch": 8}]}', 'x.json', MODELS),
      'x.json: defaults.__proto__', /is not a known field/);
    fails(() => parseExperiments('{"__proto__": {}, "name": "s", "experiments": [{"name": "a", "lr": 0.1, "batch": 8}]}', 'x.json', MODELS),
      'x.json: __proto__', /is not a known field/);
  });
});

describe("a run's config.json", () => {
  const file = 'runs/r/config.json';
  // what the code before the one naming wrote (snake_case, Adam only), as a run directory keeps it
  const legacy = {
    name: 'r', model: 'seedcnn', lr: 0.001, batch: 64, epochs: 3, seed: 0, device: 'cpu', device_requested: 'auto', data: '/data',
    limit: null, optimizer: 'adam', betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, augment: false, stop_on_nan: true, eval_batch: 250,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, version: '0.1.0', created_at: '2026-11-27T10:00:00.000Z',
  };

  it('reads one written before the one naming: snake_case keys, the fields added since at their defaults', () => {
    const c = parseRunConfig(legacy, file, MODELS);
    expect(c).toMatchObject({
      name: 'r', lr: 0.001, batch: 64, device: 'cpu', deviceRequested: 'auto', optimizer: 'adam', betas: [0.9, 0.999], eps: 1e-8,
      weightDecay: 0, stopOnNan: true, evalBatch: 250, createdAt: '2026-11-27T10:00:00.000Z', keepCheckpoints: 1,
    });
    // the settings added since take their defaults
    expect(c).toMatchObject({ labelSmoothing: 0, dropLast: false, paramGroups: [], schedule: { kind: 'constant' }, ema: null, freeze: [] });
  });

  it('reads one written before augmentation on the device: no augmentation, the seed normalisation, no TTA', () => {
    expect(parseRunConfig(legacy, file, MODELS)).toMatchObject({ translate: 0, flip: 'none', cutout: 0, normalize: 'half', tta: 0 });
  });

  it('round-trips what makeRunConfig writes, and keeps only its own optimizer\'s hyperparameters', () => {
    const sgd = resolveTrainRequest({ lr: '0.05', batch: '8', optimizer: 'sgd', momentum: '0.9', keepCheckpoints: 'all', device: 'cpu' }, MODELS);
    const written = JSON.parse(JSON.stringify(makeRunConfig(sgd, 'cpu', 'test')));
    expect(written).toMatchObject({ optimizer: 'sgd', momentum: 0.9, nesterov: false, keepCheckpoints: 'all', device: 'cpu', deviceRequested: 'cpu', evalBatch: 250 });
    expect(Object.keys(written)).not.toContain('betas');
    expect(Object.keys(written)).not.toContain('out');
    expect(parseRunConfig(written, file, MODELS)).toEqual(written);
    const adam = JSON.parse(JSON.stringify(makeRunConfig(resolveTrainRequest({ lr: '0.1', batch: '8' }, MODELS), 'cuda', 'test')));
    expect(Object.keys(adam)).not.toContain('momentum');
    expect(parseRunConfig(adam, file, MODELS)).toEqual(adam);
  });

  it('names the file and the field of what is wrong, unknown keys included', () => {
    fails(() => parseRunConfig({ ...legacy, lr: 1e308 }, file, MODELS), `${file}: lr`, /beyond float32/);
    fails(() => parseRunConfig({ ...legacy, device: 'auto' }, file, MODELS), `${file}: device`, /one of cpu, cuda, got "auto"/);
    fails(() => parseRunConfig({ ...legacy, momentum: 0.9 }, file, MODELS), `${file}: momentum`, /applies to the sgd optimizer only/);
    fails(() => parseRunConfig({ ...legacy, lr_scale: 2 }, file, MODELS), `${file}: lr_scale`, /not a known field/);
    fails(() => parseRunConfig({ ...legacy, out: 'runs' }, file, MODELS), `${file}: out`, /not a known field/);
    fails(() => parseRunConfig(JSON.parse(`{"__proto__": {"lr": 5}, ${JSON.stringify(legacy).slice(1)}`), file, MODELS), `${file}: __proto__`, /not a known field/);
    const { lr: _lr, ...noLr } = legacy;
    fails(() => parseRunConfig(noLr, file, MODELS), `${file}: lr`, /is missing/);
    fails(() => parseRunConfig({ ...legacy, stopOnNan: false }, file, MODELS), `${file}: stopOnNan`, /given twice/);
  });
});
