// run configs as files (`cudalab train --config FILE`): every field of the
// settings table by its config.json name, flags over the file's values,
// unknown fields refused naming the file; and the shipped airbench94 recipe,
// whose numbers must make the same updates as airbench94's own script.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, fieldSpec, parseRunFile, resolveTrainRequest } from '../../src/train/config';
import { parseExperiments } from '../../src/train/experiments';
import { sgdStepRef } from '../../src/spec/optim';
import { runCli } from '../helpers/run-cli';
import { Rng } from '../helpers/rng';
import { makeSplit, writeTinyCifarBin } from './tiny-cifar';

const MODELS = ['seedcnn', 'airbench94', 'resnet18'];

function fails(f: () => unknown, argument: string, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).argument).toBe(argument);
  expect((err as Error).message).toMatch(pattern);
}

describe('run config files', () => {
  it('takes every settings field by its name, checked as JSON', () => {
    const s = parseRunFile(
      JSON.stringify({
        lr: 0.1, batch: 128, epochs: 2.5, optimizer: 'sgd', momentum: 0.9, nesterov: true, dropLast: true, labelSmoothing: 0.1,
        paramGroups: [{ match: 'bias', lrScale: 2 }], schedule: { kind: 'cosine' }, ema: { every: 5, decay: 0.77, power: 3 },
        freeze: [{ match: '^0\\.', afterEpoch: 1 }],
      }),
      'r.json',
      MODELS,
    );
    expect(s).toMatchObject({ lr: 0.1, epochs: 2.5, dropLast: true, labelSmoothing: 0.1, schedule: { kind: 'cosine' }, ema: { every: 5, decay: 0.77, power: 3 } });
  });

  it('refuses unknown fields and bad values, naming the file and the field', () => {
    fails(() => parseRunFile('{"lr": 0.1, "learningRate": 2}', 'r.json', MODELS), 'r.json: learningRate', /r\.json: learningRate is not a known field \(expected lr, batch/);
    fails(() => parseRunFile('{"lr": "0.1"}', 'r.json', MODELS), 'r.json: lr', /r\.json: lr must be a number, got "0\.1"/);
    fails(() => parseRunFile('[1]', 'r.json', MODELS), 'r.json', /r\.json must be a JSON object, got an array/);
    fails(() => parseRunFile('{', 'r.json', MODELS), 'r.json', /r\.json: not valid JSON/);
    fails(() => parseRunFile('{"labelSmoothing": 1}', 'r.json', MODELS), 'r.json: labelSmoothing', /must be a number in \[0, 1\), got 1/);
    fails(() => parseRunFile('{"schedule": {"kind": "cosine", "gamma": 1}}', 'r.json', MODELS), 'r.json: schedule', /"gamma" is not a field of a cosine schedule/);
    fails(() => parseRunFile('{"paramGroups": [{"match": "(", "lrScale": 2}]}', 'r.json', MODELS), 'r.json: paramGroups', /\[0\]\.match: Invalid regular expression/);
    fails(() => parseRunFile('{"paramGroups": [{"lrScale": 2}]}', 'r.json', MODELS), 'r.json: paramGroups', /\[0\]\.match is missing/);
    fails(() => parseRunFile('{"ema": {"every": 0, "decay": 0.5, "power": 1}}', 'r.json', MODELS), 'r.json: ema', /every must be an integer >= 1/);
    fails(() => parseRunFile('{"freeze": [{"match": "x", "afterEpoch": 1.5}]}', 'r.json', MODELS), 'r.json: freeze', /afterEpoch must be an integer >= 0/);
  });

  it('the command line wins over the file; what the file left out takes the defaults', () => {
    const file = { path: 'r.json', settings: parseRunFile('{"lr": 0.1, "batch": 32, "epochs": 4, "optimizer": "sgd", "momentum": 0.9}', 'r.json', MODELS) };
    const s = resolveTrainRequest({ lr: '0.5', epochs: '1.5', schedule: 'cosine' }, MODELS, file);
    expect([s.lr, s.batch, s.epochs, s.optimizer, s.momentum, s.seed, s.schedule]).toEqual([0.5, 32, 1.5, 'sgd', 0.9, 0, { kind: 'cosine' }]);
    // a check across fields names the file's field where the file set it, the flag where the command line did
    const adam = { path: 'r.json', settings: parseRunFile('{"lr": 0.1, "batch": 32, "momentum": 0.9}', 'r.json', MODELS) };
    fails(() => resolveTrainRequest({}, MODELS, adam), 'r.json: momentum', /r\.json: momentum applies to the sgd optimizer only/);
    fails(() => resolveTrainRequest({}, MODELS, { path: 'r.json', settings: {} }), '--lr', /--lr is required/);
  });

  it('flags take JSON for the structured settings, or a schedule by name', () => {
    const s = resolveTrainRequest({ lr: '1', batch: '8', paramGroups: '[{"match":"norm","lrScale":64}]', ema: 'null', schedule: 'onecycle' }, MODELS);
    expect([s.paramGroups, s.ema, s.schedule]).toEqual([[{ match: 'norm', lrScale: 64 }], null, { kind: 'onecycle' }]);
    fails(() => resolveTrainRequest({ lr: '1', batch: '8', freeze: '[{match}]' }, MODELS), '--freeze', /--freeze must be a list of \{match, afterEpoch\}, as JSON/);
  });
});

describe('experiments files take the same fields', () => {
  it('an experiment sets a schedule, groups, averaging and fractional epochs as a run config does', () => {
    const text = JSON.stringify({
      name: 'modern',
      defaults: { optimizer: 'sgd', momentum: 0.9, schedule: { kind: 'onecycle', pctStart: 0.25 } },
      experiments: [
        { name: 'a', lr: 0.1, batch: 64, epochs: 1.5, paramGroups: [{ match: 'bias', lrScale: 2 }], ema: { every: 5, decay: 0.7, power: 3 } },
        { name: 'b', lr: 0.1, batch: 64, schedule: { kind: 'bogus' } },
      ],
    });
    let err: unknown;
    try {
      parseExperiments(text, 'm.json', MODELS);
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).argument).toBe('m.json: experiments[1].schedule');
    const ok = JSON.parse(text);
    ok.experiments.pop();
    const [a] = parseExperiments(JSON.stringify(ok), 'm.json', MODELS).experiments;
    expect(a).toMatchObject({ epochs: 1.5, schedule: { kind: 'onecycle', pctStart: 0.25 }, paramGroups: [{ match: 'bias', lrScale: 2 }], ema: { every: 5, decay: 0.7, power: 3 } });
  });
});

describe('experiments/airbench94.json', () => {
  const recipe = JSON.parse(fs.readFileSync(path.join(__dirname, '../../experiments/airbench94.json'), 'utf8'));
  // airbench94's hyperparameters (legacy/airbench94.py) and how it turns them into PyTorch's SGD settings
  const hyp = { batch: 1024, lr: 11.5, momentum: 0.85, weightDecay: 0.0153, biasScaler: 64, labelSmoothing: 0.2, epochs: 9.9 };
  const kilostep = 1024 * (1 + 1 / (1 - hyp.momentum));
  const torchLr = hyp.lr / kilostep; // per example: airbench sums the loss over the batch
  const torchWd = (hyp.weightDecay * hyp.batch) / kilostep;
  const torchGroups = { biases: { lr: torchLr * hyp.biasScaler, wd: torchWd / (torchLr * hyp.biasScaler) }, other: { lr: torchLr, wd: torchWd / torchLr } };

  it('parses as a run config (the augmentation and TTA fields are the augmentation settings)', () => {
    const pending = Object.keys(recipe).filter((k) => !fieldSpec(k));
    expect(pending.every((k) => ['translate', 'flip', 'normalize', 'tta'].includes(k))).toBe(true);
    const known = Object.fromEntries(Object.entries(recipe).filter(([k]) => fieldSpec(k)));
    const s = resolveTrainRequest({}, MODELS, { path: 'airbench94.json', settings: parseRunFile(JSON.stringify(known), 'airbench94.json', MODELS) });
    expect(s).toMatchObject({ model: 'airbench94', batch: 1024, epochs: 9.9, optimizer: 'sgd', nesterov: true, dropLast: true, labelSmoothing: hyp.labelSmoothing });
  });

  it("makes airbench94's SGD updates: the mean loss's lr and weight decay per group equal its summed loss's, step for step", () => {
    // our loss is the batch mean, airbench94's the sum: gradients 1024x smaller, so lr x 1024 and weight decay / 1024
    const ours = {
      biases: { lr: recipe.lr * recipe.paramGroups[0].lrScale, wd: recipe.weightDecay * recipe.paramGroups[0].weightDecayScale },
      other: { lr: recipe.lr, wd: recipe.weightDecay },
    };
    expect(recipe.paramGroups[0].match).toBe('norm');
    expect(recipe.momentum).toBe(hyp.momentum);
    const rng = new Rng(9);
    for (const group of ['biases', 'other'] as const) {
      const theirs = Float64Array.from(rng.floats(16));
      const mine = Float64Array.from(theirs);
      const bufT = new Float64Array(16), bufM = new Float64Array(16);
      for (let k = 0; k < 12; k++) {
        const sumGrad = rng.floats(16, -50, 50);
        const meanGrad = Array.from(sumGrad, (g) => g / hyp.batch);
        const factor = 0.2 + 0.05 * k; // any schedule scales both alike
        const t = torchGroups[group];
        const o = ours[group];
        sgdStepRef(theirs, sumGrad, bufT, { lr: t.lr * factor, momentum: hyp.momentum, dampening: 0, weightDecay: t.wd, nesterov: true }, k === 0);
        sgdStepRef(mine, meanGrad, bufM, { lr: o.lr * factor, momentum: recipe.momentum, dampening: 0, weightDecay: o.wd, nesterov: true }, k === 0);
      }
      for (let i = 0; i < 16; i++) expect(mine[i]).toBeCloseTo(theirs[i], 12);
    }
  });

  it("has airbench94's schedule, averaging, whitening-bias freeze and epochs", () => {
    expect(recipe.schedule).toEqual({ kind: 'piecewise', points: [[0, 0.2], [0.23, 1], [1, 0.07]] });
    expect(recipe.ema).toEqual({ every: 5, decay: 0.95 ** 5, power: 3 });
    expect(recipe.freeze).toEqual([{ match: '^0\\.bias$', afterEpoch: 3 }]);
    expect(new RegExp(recipe.freeze[0].match).test('0.bias')).toBe(true);
    expect(new RegExp(recipe.freeze[0].match).test('2.norm1.bias')).toBe(false);
    expect([recipe.epochs, recipe.dropLast, recipe.batch]).toEqual([hyp.epochs, true, hyp.batch]);
  });
});

describe('experiments/resnet18.json', () => {
  it('parses as a run config: SGD with nesterov momentum, weight decay 5e-4, lr 0.1 at batch 128 on a cosine schedule', () => {
    const recipe = JSON.parse(fs.readFileSync(path.join(__dirname, '../../experiments/resnet18.json'), 'utf8'));
    const pending = Object.keys(recipe).filter((k) => !fieldSpec(k));
    expect(pending.every((k) => ['translate', 'flip', 'normalize'].includes(k))).toBe(true);
    const known = Object.fromEntries(Object.entries(recipe).filter(([k]) => fieldSpec(k)));
    const s = resolveTrainRequest({}, MODELS, { path: 'resnet18.json', settings: parseRunFile(JSON.stringify(known), 'resnet18.json', MODELS) });
    expect(s).toMatchObject({ model: 'resnet18', optimizer: 'sgd', lr: 0.1, batch: 128, momentum: 0.9, nesterov: true, weightDecay: 5e-4, schedule: { kind: 'cosine' } });
  });
});

describe('cudalab train --config', () => {
  let root: string;
  let dataDir: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-run-file-'));
    dataDir = path.join(root, 'data');
    writeTinyCifarBin(dataDir, makeSplit(40, 3), makeSplit(20, 4));
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("trains with the file's settings, the flags given over them", async () => {
    const file = path.join(root, 'recipe.json');
    fs.writeFileSync(file, JSON.stringify({ lr: 0.05, batch: 16, epochs: 3, optimizer: 'sgd', momentum: 0.9, schedule: { kind: 'cosine' }, name: 'from-file' }));
    const out = path.join(root, 'runs');
    const r = await runCli('train', '--config', file, '--epochs', '1.5', '--device', 'cpu', '--limit', '32', '--data', dataDir, '--out', out, '--no-download', '--json');
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'from-file', 'config.json'), 'utf8'));
    expect(config).toMatchObject({ lr: 0.05, batch: 16, epochs: 1.5, optimizer: 'sgd', momentum: 0.9, schedule: { kind: 'cosine' } });
    // 32 images at 16: 2 steps an epoch, 1.5 epochs: 3 steps, the second epoch cut after 1
    const sidecar = JSON.parse(fs.readFileSync(path.join(out, 'from-file', 'checkpoint-epoch-2.json'), 'utf8'));
    expect(sidecar.optimizer.step).toBe(3);
  });

  it('refuses an unknown field, an unreadable file and --config with --resume, with exit code 2', async () => {
    const bad = path.join(root, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ lr: 0.05, batch: 16, lrr: 1 }));
    const r = await runCli('train', '--config', bad, '--device', 'cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: lrr is not a known field/);
    const missing = await runCli('train', '--config', path.join(root, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--config .*nope\.json: cannot read it \(ENOENT\)/);
    const both = await runCli('train', '--config', bad, '--resume', root);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give one of them/);
  });
});
