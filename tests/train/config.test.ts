import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultRunName, resolveDevice, resolveTrainRequest } from '../../src/train/config';
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
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', epochs: '0' }, MODELS), '--epochs', /--epochs must be an integer from 1/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', model: 'resnet' }, MODELS), '--model', /one of seedcnn, ptcnn, got "resnet"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', device: 'tpu' }, MODELS), '--device', /one of auto, cpu, cuda, got "tpu"/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', seed: '-3' }, MODELS), '--seed', /non-negative integer/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', limit: '0' }, MODELS), '--limit', /integer from 1/);
    fails(() => resolveTrainRequest({ lr: '0.1', batch: '8', name: '../escape' }, MODELS), '--name', /file name/);
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
  });
});
