// fuzzing the training run's readers: safetensors, the checkpoint sidecar,
// experiments files, a run's config.json and metrics.jsonl (as the trainer
// and as the report read it)
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { makeRunConfig, resolveTrainRequest } from '../../src/train/config';
import { encodeSafetensors } from '../../src/train/safetensors';
import { jsonObjectLike, jsonText, mutated, runs } from './fuzz';
import {
  MODELS, parseCheckpointSidecar, parseExperimentsFile, parseReportMetrics, parseRunConfigFile, parseSafetensors, parseTrainMetrics,
} from './parsers';

const text = (s: string) => Buffer.from(s, 'utf8');
const check = (parse: (b: Buffer) => unknown) => (b: Buffer) => void parse(b);

describe('fuzz: safetensors', () => {
  const seeds = [
    encodeSafetensors({
      'conv.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-3, 7]) },
      steps: { dtype: 'I32', shape: [2], data: new Int32Array([5, -1]) },
    }, { format: 'pt' }),
    encodeSafetensors({ empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) } }),
  ];
  it('mutated files end in tensors or a SafetensorsError', () => {
    fc.assert(fc.property(mutated(seeds), check(parseSafetensors)), runs(2500));
  });

  it('generated headers, with a true or lying length, end in tensors or a SafetensorsError', () => {
    const entry = jsonObjectLike({ dtype: 'F32', shape: [2], data_offsets: [0, 8] }, ['shape', 'data_offsets']);
    const header = fc.array(fc.tuple(fc.constantFrom('a', 'b', '__metadata__', '__proto__', 'constructor'), fc.oneof(entry, jsonText)), { maxLength: 3 })
      .map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
    const file = fc.record({ header, data: fc.uint8Array({ maxLength: 40 }), lie: fc.oneof(fc.constant(0n), fc.bigInt({ min: -8n, max: 8n }), fc.constant(2n ** 63n)) })
      .map(({ header, data, lie }) => {
        const h = text(header);
        const n = Buffer.alloc(8);
        const claimed = BigInt(h.length) + lie;
        n.writeBigUInt64LE(claimed < 0n ? 0n : claimed);
        return Buffer.concat([n, h, data]);
      });
    fc.assert(fc.property(file, check(parseSafetensors)), runs(2500));
  });
});

describe('fuzz: checkpoint sidecar', () => {
  const sidecar = {
    format: 'cudalab-checkpoint-1',
    epoch: 1,
    model: 'seedcnn',
    weights: 'checkpoint-epoch-1.safetensors',
    optimizer: { file: 'checkpoint-epoch-1.optimizer.safetensors', type: 'adam', step: 10, hyper: { lr: 0.001 }, buffers: {} },
    rng: { model: { seed: '1', state: [1, 2] }, data: { seed: '2', state: [3, 4] } },
    loader: { epoch: 1, next_batch: 0, batches_per_epoch: 10 },
    metrics: [{ epoch: 1, train_loss: 2.1, train_accuracy: 0.2, test_loss: 2, test_accuracy: 0.25, seconds: 1, images_per_second: 100, eval_seconds: 0.1, nan_at: null }],
    saved_at: '2026-01-01T00:00:00.000Z',
  };
  it('mutated and generated sidecars end in a checkpoint or a project error', () => {
    const input = fc.oneof(mutated([text(JSON.stringify(sidecar, null, 2))]), jsonObjectLike(sidecar).map(text), jsonText.map(text));
    fc.assert(fc.property(input, check(parseCheckpointSidecar)), runs(1500));
  });
});

describe('fuzz: experiments files', () => {
  const seed = {
    name: 'seed',
    description: 'three runs',
    defaults: { model: 'seedcnn', epochs: 3, seed: 1 },
    experiments: [{ name: 'exp1', lr: 0.001, batch: 64 }, { name: 'exp2', lr: 0.01, batch: 64, augment: true }],
  };
  it('mutated and generated files end in experiments or a ConfigError', () => {
    const experiment = jsonObjectLike(seed.experiments[0], ['model', 'epochs', 'seed', 'augment']);
    const generated = fc.record({ defaults: jsonObjectLike(seed.defaults, ['lr', 'batch', 'name']), list: fc.array(experiment, { maxLength: 3 }), top: jsonObjectLike({ name: 'seed' }) })
      .map(({ defaults, list, top }) => `{"name":"x","defaults":${defaults},"experiments":[${list.join(',')}],"extra":${top}}`.replace(',"extra":{"name":"seed"}', ''));
    const input = fc.oneof(mutated([text(JSON.stringify(seed, null, 2))]), generated.map(text), jsonObjectLike(seed).map(text));
    fc.assert(fc.property(input, check(parseExperimentsFile)), runs(2500));
  });
});

describe('fuzz: a run config.json', () => {
  const req = resolveTrainRequest({ name: 'r', lr: 0.001, batch: 64 }, MODELS);
  const config = makeRunConfig(req, 'cpu', '0.1.0');
  it('mutated and generated configs end in a config or a ConfigError', () => {
    const input = fc.oneof(mutated([text(JSON.stringify(config, null, 2))]), jsonObjectLike(config as unknown as Record<string, unknown>).map(text), jsonText.map(text));
    fc.assert(fc.property(input, check(parseRunConfigFile)), runs(2500));
  });
});

describe('fuzz: metrics.jsonl', () => {
  const row = { epoch: 1, train_loss: 2.1, train_accuracy: 0.2, test_loss: 2, test_accuracy: 0.25, seconds: 1, images_per_second: 100, eval_seconds: 0.1, nan_at: null };
  const seed = text([row, { ...row, epoch: 2, train_loss: null, nan_at: { epoch: 2, step: 5 } }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const lines = fc.array(fc.oneof(jsonObjectLike(row), jsonText, fc.string({ maxLength: 10 })), { maxLength: 4 }).map((ls) => text(ls.join('\n')));
  const input = fc.oneof(mutated([seed]), lines);
  it('as the trainer reads it: rows or a project error', () => {
    fc.assert(fc.property(input, check(parseTrainMetrics)), runs(1500));
  });
  it('as the report reads it: rows or a ReportError', () => {
    fc.assert(fc.property(input, check(parseReportMetrics)), runs(1500));
  });
});
