import crypto from 'crypto';
import { describe, expect, it } from 'vitest';
import path from 'path';
import { parseSweepFile, readSweepFile } from '../../src/sweep/sweep-file';
import { expandTrials, trialSettings } from '../../src/sweep/trials';
import { environmentFor, parseDeviceSpec } from '../../src/device-spec';
import { ConfigError } from '../../src/train/config';

const parse = (v: unknown) => parseSweepFile(JSON.stringify(v), 's.json');
const errorOf = (v: unknown) => {
  try {
    parse(v);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
};

describe('sweep files', () => {
  it('names the file and the field in every error', () => {
    expect(errorOf({ name: 'a', grid: { lr: [0.1] }, colour: 1 })).toBe('s.json: colour is not a known field (expected name, description, base, grid, random, seeds)');
    expect(errorOf({ name: 'a b' })).toMatch(/^s\.json: name must be a sweep name/);
    expect(errorOf({ name: 'a', base: { lrr: 0.1 } })).toMatch(/^s\.json: base\.lrr is not a known field \(expected lr, batch, epochs, model, seed, limit,/);
    expect(errorOf({ name: 'a', base: { device: 'cuda' } })).toMatch(/^s\.json: base\.device cannot be set in a sweep file: it is where trials run/);
    expect(errorOf({ name: 'a', base: { name: 'x' } })).toMatch(/^s\.json: base\.name cannot be set in a sweep file/);
    expect(errorOf({ name: 'a', grid: { lr: [0.1, -1] } })).toBe('s.json: grid.lr[1] must be a number > 0, got -1');
    expect(errorOf({ name: 'a', grid: { batch: '64' } })).toBe('s.json: grid.batch must be a non-empty array of values');
    expect(errorOf({ name: 'a', grid: { seed: [1, 2] } })).toMatch(/^s\.json: grid\.seed: seeds are swept by "seeds"/);
    expect(errorOf({ name: 'a', grid: { lr: [0.1] }, random: { trials: 2, space: { lr: { log: [1e-4, 1e-1] } } } })).toBe('s.json: random.space.lr is in the grid too: sweep a field one way');
    expect(errorOf({ name: 'a', random: { trials: 2, space: { lr: { log: [0, 1] } } } })).toMatch(/^s\.json: random\.space\.lr\.log must be two numbers > 0/);
    expect(errorOf({ name: 'a', random: { trials: 2, space: { lr: { normal: [0, 1] } } } })).toMatch(/^s\.json: random\.space\.lr must be one of \{"log"/);
    expect(errorOf({ name: 'a', random: { trials: 0, space: { lr: { log: [1e-3, 1] } } } })).toMatch(/^s\.json: random\.trials must be an integer from 1 to 100000/);
    expect(errorOf({ name: 'a', seeds: [0, 0] })).toBe('s.json: seeds has a seed twice');
    expect(errorOf({ name: 'a', seeds: [0], base: { seed: 1 } })).toMatch(/^s\.json: seeds and base\.seed both set the seed/);
    // fields checked against each other, per trial
    expect(() => expandTrials(parse({ name: 'a', base: { optimizer: 'sgd', batch: 8 }, grid: { lr: [0.1] }, random: { trials: 1, space: { betas: { choice: [[0.9, 0.99]] } } } })))
      .toThrow(/^s\.json: trial \{"betas":\[0\.9,0\.99\],"lr":0\.1,"seed":0\}\.betas applies to the adam and adamw optimizers only/);
    // lr and batch are required: a sweep that sets neither says where to put them
    expect(() => expandTrials(parse({ name: 'a', grid: { lr: [0.1] } }))).toThrow(/^s\.json: base\.batch is required/);
  });

  it('expands grid x seeds in order, the first grid field outermost', () => {
    const trials = expandTrials(parse({ name: 'g', base: { epochs: 1 }, grid: { lr: [0.1, 0.01], batch: [32, 64] }, seeds: [3, 4] }));
    expect(trials.map((t) => t.params)).toEqual([
      { lr: 0.1, batch: 32, seed: 3 }, { lr: 0.1, batch: 32, seed: 4 }, { lr: 0.1, batch: 64, seed: 3 }, { lr: 0.1, batch: 64, seed: 4 },
      { lr: 0.01, batch: 32, seed: 3 }, { lr: 0.01, batch: 32, seed: 4 }, { lr: 0.01, batch: 64, seed: 3 }, { lr: 0.01, batch: 64, seed: 4 },
    ]);
    expect(trials[0].config).toMatchObject({ lr: 0.1, batch: 32, seed: 3, epochs: 1, model: 'seedcnn', optimizer: 'adam' });
    for (const key of ['device', 'data', 'out', 'download', 'name', 'momentum', 'nesterov']) expect(trials[0].config).not.toHaveProperty(key);
    expect(trials[0].name).toBe(`seedcnn-lr0.1-b32-s3-${trials[0].id.slice(0, 8)}`);
  });

  it('draws a seeded, reproducible random search inside its ranges', () => {
    const file = { name: 'r', base: { batch: 64 }, random: { trials: 40, seed: 7, space: { lr: { log: [1e-4, 1e-1] }, weightDecay: { uniform: [0, 0.1] }, epochs: { int: [1, 3] }, optimizer: { choice: ['adam', 'adamw'] } } } };
    const a = expandTrials(parse(file));
    const b = expandTrials(parse(file));
    expect(a.map((t) => t.params)).toEqual(b.map((t) => t.params));
    expect(a).toHaveLength(40);
    for (const t of a) {
      const p = t.params as { lr: number; weightDecay: number; epochs: number; optimizer: string };
      expect(p.lr).toBeGreaterThanOrEqual(1e-4);
      expect(p.lr).toBeLessThanOrEqual(1e-1);
      expect(Number(p.lr.toPrecision(4))).toBe(p.lr);
      expect(p.weightDecay).toBeGreaterThanOrEqual(0);
      expect(p.weightDecay).toBeLessThanOrEqual(0.1);
      expect([1, 2, 3]).toContain(p.epochs);
      expect(['adam', 'adamw']).toContain(p.optimizer);
    }
    // log-uniform: about as many draws in each decade (40 draws, 3 decades)
    const decades = [0, 0, 0];
    for (const t of a) decades[Math.min(2, Math.floor(Math.log10((t.params.lr as number) / 1e-4)))]++;
    for (const n of decades) expect(n).toBeGreaterThan(4);
    expect(new Set(a.map((t) => t.params.epochs)).size).toBe(3);
    const other = expandTrials(parse({ ...file, random: { ...file.random, seed: 8 } }));
    expect(other.map((t) => t.params)).not.toEqual(a.map((t) => t.params));
  });

  it("identifies a trial by a hash of its whole config: defaults spelled out change nothing, a changed base changes every trial", () => {
    const plain = expandTrials(parse({ name: 'a', base: { batch: 64 }, grid: { lr: [0.1, 0.01] } }));
    const spelled = expandTrials(parse({ name: 'b', base: { batch: 64, optimizer: 'adam', epochs: 3, weightDecay: 0 }, grid: { lr: [0.01, 0.1] } }));
    expect(spelled.map((t) => t.id).sort()).toEqual(plain.map((t) => t.id).sort());
    const changed = expandTrials(parse({ name: 'a', base: { batch: 64, epochs: 4 }, grid: { lr: [0.1, 0.01] } }));
    for (const t of changed) expect(plain.map((p) => p.id)).not.toContain(t.id);
    // the id is sha-256 of the config's JSON with sorted keys (written out here by hand)
    const c = plain[0].config;
    const sorted = JSON.stringify(Object.fromEntries(Object.keys(c).sort().map((k) => [k, c[k]])));
    expect(plain[0].id).toBe(crypto.createHash('sha256').update(sorted).digest('hex').slice(0, 16));
    // the same config twice in one sweep is one trial
    expect(expandTrials(parse({ name: 'd', base: { batch: 64 }, grid: { lr: [0.1, 0.1] } }))).toHaveLength(1);
  });

  it('checks a trial config again where it is run: an unknown field from a queue is an error', () => {
    const [t] = expandTrials(parse({ name: 'a', base: { batch: 64 }, grid: { lr: [0.1] } }));
    const placement = { device: 'cpu' as const, data: 'data', out: 'runs/a', download: false };
    expect(trialSettings(t.config, t.name, placement, 'trial x')).toMatchObject({ lr: 0.1, batch: 64, device: 'cpu', out: 'runs/a', name: t.name });
    expect(() => trialSettings({ ...t.config, lrr: 1 }, t.name, placement, 'trial x')).toThrow("trial x.lrr is not a trial's field");
    expect(() => trialSettings({ ...t.config, batch: 0 }, t.name, placement, 'trial x')).toThrow('trial x.batch must be an integer from 1 to 1048576, got 0');
  });
});

describe('experiments/sweep-lr-batch.json', () => {
  it('sweeps lr 1e-4..1e-1 x batch 32..512 on the seed CNN with 2 seeds', () => {
    const trials = expandTrials(readSweepFile(path.join(__dirname, '..', '..', 'experiments', 'sweep-lr-batch.json')));
    expect(trials).toHaveLength(40);
    const values = (k: string) => [...new Set(trials.map((t) => t.params[k] as number))].sort((a, b) => a - b);
    expect(values('lr')).toEqual([1e-4, 1e-3, 1e-2, 1e-1]);
    expect(values('batch')).toEqual([32, 64, 128, 256, 512]);
    expect(values('seed')).toEqual([0, 1]);
    for (const t of trials) expect(t.config.model).toBe('seedcnn');
  });
});

describe('device names', () => {
  it('parses cpu, cuda, cuda:N and auto, and nothing else', () => {
    expect(parseDeviceSpec('cpu', '--device')).toEqual({ kind: 'cpu' });
    expect(parseDeviceSpec('cuda', '--device')).toEqual({ kind: 'cuda', index: null });
    expect(parseDeviceSpec('cuda:3', '--device')).toEqual({ kind: 'cuda', index: 3 });
    expect(parseDeviceSpec('auto', '--device')).toEqual({ kind: 'auto' });
    for (const bad of ['gpu', 'cuda:', 'cuda:-1', 'cuda:1.5', 'CUDA', 'cuda:0x1']) {
      expect(() => parseDeviceSpec(bad, '--device')).toThrow(`--device must be cpu, cuda, cuda:N (N = 0, 1, ...) or auto, got "${bad}"`);
    }
  });

  it('puts cuda:N into effect as CUDA_VISIBLE_DEVICES for the training process, counted among the GPUs this one sees', () => {
    expect(environmentFor({ kind: 'cuda', index: 2 }, { PATH: '/bin' })).toEqual({ PATH: '/bin', CUDA_VISIBLE_DEVICES: '2' });
    expect(environmentFor({ kind: 'cuda', index: 1 }, { CUDA_VISIBLE_DEVICES: '4, 6' })).toEqual({ CUDA_VISIBLE_DEVICES: '6' });
    expect(() => environmentFor({ kind: 'cuda', index: 2 }, { CUDA_VISIBLE_DEVICES: '4,6' })).toThrow('--device cuda:2: CUDA_VISIBLE_DEVICES=4,6 leaves 2 GPUs (cuda:0 to cuda:1)');
    // plain cuda and cpu leave the environment as it is
    const env = { CUDA_VISIBLE_DEVICES: '1' };
    expect(environmentFor({ kind: 'cuda', index: null }, env)).toBe(env);
    expect(environmentFor({ kind: 'cpu' }, env)).toBe(env);
  });
});
