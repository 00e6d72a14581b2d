// `cudalab train` and `cudalab experiments` run in-process through main(), as
// the installed binary runs them: exit codes, what goes to stdout and stderr,
// and the files they leave, on a tiny data set written in the official
// binary format.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli';
import { makeSplit, writeTinyCifarBin } from './tiny-cifar';

const cli = runCli;

let root: string;
let dataDir: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-cli-'));
  dataDir = path.join(root, 'data');
  writeTinyCifarBin(dataDir, makeSplit(40, 3), makeSplit(20, 4));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('cudalab train: usage errors exit with 2 and name the argument', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--lr', '0', '--batch', '64'], /--lr must be a number > 0, got "0"/],
    [['--lr=-0.1', '--batch', '64'], /--lr must be a number > 0, got "-0.1"/],
    [['--lr', 'abc', '--batch', '64'], /--lr must be a number > 0, got "abc"/],
    [['--batch', '64'], /--lr is required/],
    [['--lr', '0.001'], /--batch is required/],
    [['--lr', '0.001', '--batch', '0'], /--batch must be an integer from 1/],
    [['--lr', '0.001', '--batch', '1.5'], /--batch must be an integer from 1 .* got "1.5"/],
    [['--lr', '0.001', '--batch', '64', '--model', 'resnet9000'], /--model must be one of seedcnn, .*got "resnet9000"/],
    [['--lr', '0.001', '--batch', '64', '--device', 'tpu'], /--device must be one of auto, cpu, cuda, got "tpu"/],
    [['--lr', '0.001', '--batch', '64', '--epochs', '0'], /--epochs must be an integer from 1/],
    [['--lr', '0.001', '--batch', '64', '--limit', 'x'], /--limit must be an integer from 1/],
    [['--resume', '/nonexistent/run'], /--resume \/nonexistent\/run: no config\.json there/],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' '), async () => {
      const r = await cli('train', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stdout).toBe('');
    });
  }

  it('an unknown option is a usage error too', async () => {
    const r = await cli('train', '--lr', '0.001', '--batch', '64', '--learning-rate', '3');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--learning-rate'/);
  });

  it('has help text', async () => {
    const r = await cli('train', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--lr <number>/);
    expect(r.stdout).toMatch(/--resume <dir>/);
    expect(r.stdout).toMatch(/Examples:/);
  });
});

describe('cudalab train', () => {
  it('trains, prints only the summary JSON on stdout, and resumes to more epochs', async () => {
    const out = path.join(root, 'runs');
    const r = await cli('train', '--lr', '0.001', '--batch', '16', '--epochs', '1', '--limit', '32', '--device', 'cpu',
      '--data', dataDir, '--out', out, '--no-download', '--json');
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ name: 'seedcnn-lr0.001-b16-s0', model: 'seedcnn', device: 'cpu', lr: 0.001, batch: 16, train_images: 32, test_images: 20, nan: null });
    expect(summary.epochs.length).toBe(1);
    expect(typeof summary.test_accuracy).toBe('number');
    expect(typeof summary.seconds_per_epoch).toBe('number');
    // not a terminal here: plain lines on stderr
    expect(r.stderr).toMatch(/^epoch 1\/1: train loss \d/m);
    expect(r.stderr).not.toContain('\r');
    const runDir = path.join(out, 'seedcnn-lr0.001-b16-s0');
    expect(fs.existsSync(path.join(runDir, 'checkpoint-epoch-1.safetensors'))).toBe(true);

    const again = await cli('train', '--resume', runDir, '--epochs', '2', '--json');
    expect(again.code).toBe(0);
    const resumed = JSON.parse(again.stdout);
    expect(resumed.epochs.length).toBe(2);
    expect(resumed.epochs[0]).toEqual(summary.epochs[0]);
    expect(again.stderr).toMatch(/resuming .* after epoch 1 of 2/);
  });

  it('fails clearly when the data is missing and downloading is off', async () => {
    const r = await cli('train', '--lr', '0.001', '--batch', '16', '--device', 'cpu', '--data', path.join(root, 'empty'), '--out', path.join(root, 'runs'), '--no-download');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CIFAR-10/);
    expect(r.stdout).toBe('');
  });
});

describe('cudalab experiments', () => {
  it('runs every experiment of a config and writes results.md and results.json', async () => {
    const config = path.join(root, 'grid.json');
    fs.writeFileSync(config, JSON.stringify({
      name: 'grid',
      experiments: [
        { name: 'a', model: 'seedcnn', lr: 0.001, batch: 16, epochs: 1, seed: 0 },
        { name: 'b', model: 'seedcnn', lr: 0.01, batch: 32, epochs: 1, seed: 0 },
      ],
    }));
    const out = path.join(root, 'exp-runs');
    const r = await cli('experiments', '--config', config, '--data', dataDir, '--device', 'cpu', '--limit', '32', '--out', out, '--no-download', '--json');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout);
    expect(results.map((x: any) => [x.name, x.lr, x.batch, x.epochs, x.model, x.run])).toEqual([
      ['a', 0.001, 16, 1, 'seedcnn', path.join(out, 'grid', 'a')],
      ['b', 0.01, 32, 1, 'seedcnn', path.join(out, 'grid', 'b')],
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'grid', 'results.json'), 'utf8'))).toEqual(results);
    const md = fs.readFileSync(path.join(out, 'grid', 'results.md'), 'utf8');
    expect(md).toMatch(/^# Experiments: grid/);
    expect(md).toMatch(/^\| a \| seedcnn \| 0\.001 \| 16 \| 1 \| \d+\.\d\d% \|/m);
    expect(md).toMatch(/^\| b \| seedcnn \| 0\.01 \| 32 \| 1 \|/m);
    for (const name of ['a', 'b']) expect(fs.existsSync(path.join(out, 'grid', name, 'summary.json'))).toBe(true);
  });

  it('a missing config file or a bad field is a usage error naming it', async () => {
    const missing = await cli('experiments', '--config', path.join(root, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--config .*nope\.json: cannot read the experiments file \(no such file\)/);
    const bad = path.join(root, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ name: 'bad', experiments: [{ name: 'x', lr: 0.001, batch: 0 }] }));
    const r = await cli('experiments', '--config', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: experiments\[0\]\.batch must be an integer from 1/);
    fs.writeFileSync(bad, '{"name": "bad", "experiments": [');
    expect((await cli('experiments', '--config', bad)).stderr).toMatch(/bad\.json: not valid JSON/);
  });
});
