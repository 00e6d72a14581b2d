import fs from 'fs';
import os from 'os';
import path from 'path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { readRuns } from '../../src/report/runs';
import { renderTrainingPage } from '../../src/report/training';
import { register } from '../../src/cli/report';
import { writeFakeRuns } from './fake-runs';

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-report-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

function fresh(name: string): string {
  const dir = path.join(temp, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

async function cli(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  register(program);
  await program.parseAsync(['node', 'cudalab', ...args]);
}

describe('reading a runs folder', () => {
  const runs = writeFakeRuns(fresh('ok'));

  it('finds top-level runs, experiments runs below their table, and the tables', () => {
    const folder = readRuns(runs);
    expect(folder.runs.map((r) => r.name)).toEqual(['baseline', 'partial', 'seed/exp1', 'seed/exp2', 'seed/exp3']);
    expect(folder.results.map((t) => t.name)).toEqual(['seed']);
    expect(folder.results[0].rows.map((r) => r.name)).toEqual(['exp1', 'exp2', 'exp3']);
    const baseline = folder.runs[0];
    expect(baseline.metrics).toHaveLength(6);
    expect(baseline.config?.lr).toBe(0.001);
    expect(baseline.summary).not.toBeNull();
    expect(folder.runs[1].summary).toBeNull();
    // a loss that was not finite is null, and the place it happened is kept
    const exp3 = folder.runs[4];
    expect(exp3.metrics[2].train_loss).toBeNull();
    expect(exp3.metrics[2].nan_at).toEqual({ epoch: 3, step: 120 });
  });

  it('names the folder when it does not exist or holds no runs', () => {
    expect(() => readRuns(path.join(temp, 'nowhere'))).toThrow(/runs folder .*nowhere does not exist/);
    const empty = fresh('empty');
    fs.mkdirSync(path.join(empty, 'just-a-folder'));
    expect(() => readRuns(empty)).toThrow(new RegExp(`no runs in ${empty.replace(/[/\\]/g, '.')}: expected .*metrics\\.jsonl`));
  });

  it('marks a run with a bad metrics line as damaged (file and line) and reads the others', () => {
    const dir = writeFakeRuns(fresh('bad-json'));
    fs.mkdirSync(path.join(dir, 'r1'));
    const file = path.join(dir, 'r1', 'metrics.jsonl');
    const damagedBy = (text: string) => {
      fs.writeFileSync(file, text);
      const folder = readRuns(dir);
      expect(folder.runs.map((r) => [r.name, r.damaged === null])).toEqual([
        ['baseline', true], ['partial', true], ['r1', false], ['seed/exp1', true], ['seed/exp2', true], ['seed/exp3', true],
      ]);
      expect(folder.runs[0].metrics).toHaveLength(6);
      const r1 = folder.runs[2];
      expect(r1.metrics).toEqual([]);
      return r1.damaged!;
    };
    expect(damagedBy('{"epoch": 1, "train_loss": 1.5}\n\n{"epoch": 2, "train_loss": 1.2\n')).toMatchObject({
      file: `${file}:3`,
      message: expect.stringContaining(`${file}: line 3 is not JSON`),
    });
    expect(damagedBy('{"epoch": 1}\n{"train_loss": 1.2}\n').message).toContain(`${file}: line 2 has no numeric "epoch"`);
    expect(damagedBy('{"epoch": 1, "test_accuracy": "high"}\n').message).toContain(`${file}: line 1: "test_accuracy" must be a number or null`);
    // a summary.json that is not JSON damages its run the same way
    fs.writeFileSync(file, '{"epoch": 1}\n');
    fs.writeFileSync(path.join(dir, 'r1', 'summary.json'), '{"name": ');
    expect(readRuns(dir).runs[2].damaged?.file).toBe(path.join(dir, 'r1', 'summary.json'));
  });

  it('names a results.json that is not a table', () => {
    const dir = fresh('bad-results');
    fs.mkdirSync(path.join(dir, 'seed'));
    fs.writeFileSync(path.join(dir, 'seed', 'results.json'), '{"name": "exp1"}');
    expect(() => readRuns(dir)).toThrow(`${path.join(dir, 'seed', 'results.json')}: expected a JSON array`);
  });
});

describe('the training page', () => {
  const runs = writeFakeRuns(fresh('page'));
  const html = renderTrainingPage(readRuns(runs));

  it('draws loss and accuracy per run and the comparison charts', () => {
    // 2 per run, 2 comparing all runs, 1 bar chart for the experiments table
    expect(html.match(/<svg class="chart"/g)).toHaveLength(5 * 2 + 2 + 1);
    for (const name of ['baseline', 'partial', 'seed/exp1', 'seed/exp2', 'seed/exp3']) expect(html).toContain(`<h2>${name}</h2>`);
    // the baseline's six epochs are six points on each of its two lines, on each of its two charts
    const section = html.slice(html.indexOf('<h2>baseline</h2>'), html.indexOf('<h2>partial</h2>'));
    expect(section.match(/<circle /g)).toHaveLength(6 * 2 * 2);
  });

  it('marks the best experiment, links rows to their runs, and says which run diverged', () => {
    const table = html.slice(html.indexOf('<h3>seed'), html.indexOf('</table>', html.indexOf('<h3>seed')));
    const best = /<tr class="best">(.*?)<\/tr>/.exec(table)![1];
    expect(best).toContain('>exp2</a>');
    expect(table).toContain('<a href="#run-seed-exp1">exp1</a>');
    expect(html).toContain('id="run-seed-exp1"');
    expect(table).toContain('loss not finite from epoch 3, step 120');
    expect(html).toContain('in progress (no summary.json yet)');
  });

  it('escapes what comes from the files', () => {
    const dir = fresh('escape');
    fs.mkdirSync(path.join(dir, 'r'));
    fs.writeFileSync(path.join(dir, 'r', 'config.json'), JSON.stringify({ model: '<script>alert(1)</script>' }));
    fs.writeFileSync(path.join(dir, 'r', 'metrics.jsonl'), '{"epoch": 1, "train_loss": 1}\n');
    const page = renderTrainingPage(readRuns(dir));
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;');
  });
});

describe('cudalab report', () => {
  it('writes RUNS/report.html by default, or --out', async () => {
    const runs = writeFakeRuns(fresh('cli'));
    await cli(['report', runs]);
    expect(fs.readFileSync(path.join(runs, 'report.html'), 'utf8')).toContain('<title>Training runs</title>');
    const out = path.join(temp, 'cli-out', 'nested', 'page.html');
    await cli(['report', runs, '--out', out]);
    expect(fs.existsSync(out)).toBe(true);
    // nothing half-written is left beside it
    expect(fs.readdirSync(path.dirname(out))).toEqual(['page.html']);
  });

  it('draws every other run when one run\'s metrics.jsonl has a bad line, and names that file and line', async () => {
    const runs = writeFakeRuns(fresh('cli-damaged'));
    const file = path.join(runs, 'seed', 'exp2', 'metrics.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1].slice(0, 20);
    fs.writeFileSync(file, lines.join('\n'));
    const err: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: unknown) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      await cli(['report', runs]);
    } finally {
      process.stderr.write = write;
    }
    expect(err.join('')).toContain(`warning: run seed/exp2 is damaged, shown without its numbers: ${file}: line 2 is not JSON`);
    const page = fs.readFileSync(path.join(runs, 'report.html'), 'utf8');
    expect(page).toContain(`damaged: ${file}: line 2 is not JSON`);
    expect(page).toContain(`Not drawn: <code>${file}:2</code> cannot be read.`);
    // the good runs are drawn: each has its own loss and accuracy charts
    for (const name of ['baseline', 'partial', 'seed/exp1', 'seed/exp3']) {
      const section = page.slice(page.indexOf(`>${name}</h2>`));
      expect(section.slice(0, section.indexOf('</details>'))).toMatch(/<svg[^>]*>[\s\S]*Loss[\s\S]*Accuracy/);
    }
    const damaged = page.slice(page.indexOf('>seed/exp2</h2>'));
    expect(damaged.slice(0, damaged.indexOf('</section>'))).not.toContain('<svg');
  });

  it('fails with the folder named when there are no runs', async () => {
    const empty = fresh('cli-empty');
    await expect(cli(['report', empty])).rejects.toThrow(`no runs in ${empty}`);
    expect(fs.existsSync(path.join(empty, 'report.html'))).toBe(false);
  });
});
