// a sweep in `cudalab report`: results.json as `cudalab sweep` writes it
// (written out by hand here), read beside an experiments table and drawn as
// a heatmap, accuracy against each parameter, and its table, best marked
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRuns } from '../../src/report/runs';
import { renderTrainingPage } from '../../src/report/training';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-sweep-report-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

// lr x batch x 2 seeds; accuracy chosen so lr 0.01, batch 64 is best on average and one trial failed
const accuracy: Record<string, [number | null, number | null]> = {
  '0.001/32': [0.30, 0.32], '0.001/64': [0.34, 0.36], '0.01/32': [0.40, 0.38], '0.01/64': [0.50, 0.44], '0.1/32': [0.10, null], '0.1/64': [0.12, 0.11],
};

function trialRows() {
  const rows = [];
  for (const [key, accs] of Object.entries(accuracy)) {
    const [lr, batch] = key.split('/').map(Number);
    for (const seed of [0, 1]) {
      const acc = accs[seed];
      rows.push({
        trial: `id${rows.length}`, name: `t-lr${lr}-b${batch}-s${seed}`, params: { lr, batch, seed }, seed,
        status: acc === null ? 'failed' : 'done', test_accuracy: acc, best_accuracy: acc, seconds: acc === null ? null : 12.5,
        worker: 'host:1 cpu', attempts: 1, error: acc === null ? 'the loss was not finite at epoch 1, step 3 (stopOnNan)' : null, run: null,
      });
    }
  }
  return rows;
}

describe('sweeps in the report', () => {
  it('reads a sweep beside an experiments table and draws its heatmap, charts and table with the best trial marked', () => {
    fs.mkdirSync(path.join(root, 'runs', 'lr-batch'), { recursive: true });
    fs.mkdirSync(path.join(root, 'runs', 'seed'), { recursive: true });
    fs.writeFileSync(path.join(root, 'runs', 'lr-batch', 'results.json'), JSON.stringify({
      sweep: 'lr-batch', description: 'two knobs', file: 'sweep.json', parameters: ['lr', 'batch', 'seed'], updated_at: '2026-01-01T00:00:00Z', trials: trialRows(),
    }));
    fs.writeFileSync(path.join(root, 'runs', 'seed', 'results.json'), JSON.stringify([{ name: 'exp1', lr: 0.001, batch: 64, test_accuracy: 0.4 }]));
    const folder = readRuns(path.join(root, 'runs'));
    expect(folder.results.map((r) => r.name)).toEqual(['seed']);
    expect(folder.sweeps.map((s) => [s.name, s.trials.length])).toEqual([['lr-batch', 12]]);

    const page = renderTrainingPage(folder);
    const section = page.slice(page.indexOf('<section id="sweep-lr-batch">'), page.indexOf('</section>', page.indexOf('<section id="sweep-lr-batch">')));
    // the heatmap: a cell per (lr, batch), the mean over seeds (failed trials left out)
    const cells = [...section.matchAll(/<rect class="cell"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(cells.sort()).toEqual([
      'lr 0.001, batch 32: 31.00%', 'lr 0.001, batch 64: 35.00%', 'lr 0.01, batch 32: 39.00%', 'lr 0.01, batch 64: 47.00%',
      'lr 0.1, batch 32: 10.00%', 'lr 0.1, batch 64: 11.50%',
    ]);
    expect(section).toMatch(/<rect class="cell"[^>]*stroke="#1d2430"[^>]*><title>lr 0\.01, batch 64: 47\.00%/);
    // accuracy against each swept parameter, a point per finished trial; lr spans two decades: a log axis
    expect(section).toContain('<title>Test accuracy against lr</title>');
    expect(section).toContain('<title>Test accuracy against batch</title>');
    expect(section).toContain('lr (log scale)');
    expect(section.match(/<circle class="trial"/g)).toHaveLength(2 * 11);
    // the table: every trial, the best (50%) highlighted, the failed one with its error
    const rows = section.match(/<tr( class="best")?><td>t-lr/g)!;
    expect(rows).toHaveLength(12);
    expect(section).toMatch(/<tr class="best"><td>t-lr0\.01-b64-s0<\/td>/);
    expect(section.match(/<tr class="best">/g)).toHaveLength(1);
    expect(section).toContain('the loss was not finite at epoch 1, step 3 (stopOnNan)');
    expect(section).toContain('best <strong>t-lr0.01-b64-s0</strong> at 50.00%');
  });
});
