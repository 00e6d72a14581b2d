// examples/custom-model.ts as a user runs it: compiled against the package
// (import from 'cudalab', tsconfig.examples.json), run on the fixture data
// with a small limit, then checked from outside: the saved weights load into
// a fresh network whose logits, scored here in float64, give the test loss
// and accuracy the example printed, and training moved them from their start.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, ensureDist } from '../helpers/package';

const FIXTURE = path.join(REPO, 'tests', 'fixtures', 'cifar10-tiny');
const COMPILED = path.join(REPO, 'build-examples', 'custom-model.js');
let tmp = '';

function node(args: string[]): string {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CUDALAB_')));
  const r = spawnSync(process.execPath, args, { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  ensureDist();
  node([path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.examples.json']);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-example-'));
}, 120_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('examples/custom-model.ts', () => {
  it('is under 60 lines', () => {
    expect(fs.readFileSync(path.join(REPO, 'examples', 'custom-model.ts'), 'utf8').trimEnd().split('\n').length).toBeLessThan(60);
  });

  it('trains an epoch, evaluates and saves weights that reproduce its evaluation', () => {
    const file = path.join(tmp, 'model.safetensors');
    const printed = JSON.parse(node([COMPILED, FIXTURE, file, '100']).trim().split('\n').pop()!);
    expect(printed).toMatchObject({ device: 'cpu', images: 20, saved: file });
    expect(printed.steps).toBeGreaterThan(0);

    // a fresh network with the saved weights, its logits read back and scored in float64
    const check = `
      const c = require('cudalab');
      const { ResidualNet } = require(${JSON.stringify(COMPILED)});
      (async () => {
        const data = await c.loadCifar10(${JSON.stringify(FIXTURE)});
        const model = new ResidualNet(), start = model.stateDict()['head.weight'].toArray();
        c.loadWeights(${JSON.stringify(file)}, model);
        model.eval();
        const batches = new c.HostBatches(new c.DataLoader(data.test, { batchSize: 7, shuffle: false, normalization: c.CIFAR10_NORMALIZATION, limit: 100 }), 'cpu');
        let loss = 0, right = 0, n = 0;
        for (const b of batches) {
          const logits = c.noGrad(() => model.forward(b.images)).toArray(), labels = b.labels.toArray();
          for (let i = 0; i < b.size; i++) {
            const row = Array.from(logits.subarray(i * 10, i * 10 + 10), Number), max = Math.max(...row);
            loss += max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) - row[labels[i]];
            if (row.indexOf(max) === labels[i]) right++;
            n++;
          }
        }
        const sd = c.readSafetensors(${JSON.stringify(file)}).tensors;
        const moved = Math.max(...Array.from(sd['head.weight'].data, (v, i) => Math.abs(v - start[i])));
        const runningMean = Math.max(...Array.from(sd['stem.bn.running_mean'].data, Math.abs));
        console.log(JSON.stringify({ loss: loss / n, accuracy: right / n, n, moved, runningMean, keys: Object.keys(sd).length }));
      })();
    `;
    const ref = JSON.parse(node(['-e', check]));
    expect(ref.n).toBe(printed.images);
    expect(ref.accuracy).toBe(printed.testAccuracy);
    expect(Math.abs(ref.loss - printed.testLoss)).toBeLessThan(1e-5 * Math.max(1, ref.loss));
    expect(ref.moved).toBeGreaterThan(0);
    expect(ref.runningMean).toBeGreaterThan(0);
    // 3 conv/BN blocks of 6 (conv weight; BN weight, bias, running mean, var, batches tracked), the head's weight and bias
    expect(ref.keys).toBe(3 * 6 + 2);
  });
});
