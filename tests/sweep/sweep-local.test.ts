// `cudalab sweep FILE` without Redis: the trials run one at a time on the
// CPU, each as `cudalab train` would run it; running the sweep again runs
// only what is missing; a failing trial is recorded after bounded attempts.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSplit, writeTinyCifarBin } from '../train/tiny-cifar';
import { built, runCliProcess } from './cli-process';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-sweep-local-'));
  writeTinyCifarBin(path.join(root, 'data'), makeSplit(80, 5), makeSplit(20, 6));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const write = (name: string, v: unknown) => {
  fs.writeFileSync(path.join(root, name), JSON.stringify(v));
  return path.join(root, name);
};
const sweep = (file: string, ...more: string[]) =>
  runCliProcess(['sweep', file, '--device', 'cpu', '--data', path.join(root, 'data'), '--out', path.join(root, 'runs'), '--no-download', ...more]);
const rowsOf = (name: string) => JSON.parse(fs.readFileSync(path.join(root, 'runs', name, 'results.json'), 'utf8'));

describe.skipIf(!built)('sweep on this machine (skipped without dist/: run `npm run build`)', () => {
  it('runs every trial once, as `cudalab train` does, and a second run runs none', async () => {
    const file = write('local.json', { name: 'local', base: { epochs: 1, batch: 16 }, grid: { lr: [0.001, 0.01] }, seeds: [0, 1] });
    const r = await sweep(file, '--json');
    expect(r.code, r.stderr).toBe(0);
    const results = rowsOf('local');
    expect(results).toMatchObject({ sweep: 'local', parameters: ['lr', 'seed'] });
    expect(results.trials).toHaveLength(4);
    for (const row of results.trials) {
      expect(row.status).toBe('done');
      expect(row.worker).toMatch(/:\d+ cpu$/);
      const t = await runCliProcess(['train', '--lr', String(row.params.lr), '--batch', '16', '--epochs', '1', '--seed', String(row.seed), '--device', 'cpu',
        '--data', path.join(root, 'data'), '--out', path.join(root, 'reference'), '--name', row.trial, '--no-download', '--json']);
      expect(t.code, t.stderr).toBe(0);
      expect(row.test_accuracy).toBe(JSON.parse(t.stdout).test_accuracy);
    }
    expect(JSON.parse(r.stdout)).toEqual(results.trials);
    const md = fs.readFileSync(path.join(root, 'runs', 'local', 'results.md'), 'utf8');
    expect(md).toMatch(/^\| trial \| lr \| seed \| status \| test accuracy \| best accuracy \| seconds \| worker \| note \|$/m);
    expect(md.match(/^\| \S/gm)!.length).toBe(5);

    const summaries = results.trials.map((row: { name: string }) => path.join(root, 'runs', 'local', row.name, 'summary.json'));
    const times = summaries.map((f: string) => fs.statSync(f).mtimeMs);
    const again = await sweep(file);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/4 of 4 trials finished before; running the other 0/);
    expect(summaries.map((f: string) => fs.statSync(f).mtimeMs)).toEqual(times);

    // a changed base is new trials; the finished ones of the old base are no part of this sweep's table now
    const longer = write('local.json', { name: 'local', base: { epochs: 1, batch: 16, labelSmoothing: 0.1 }, grid: { lr: [0.001] } });
    const changed = await sweep(longer, '--json');
    expect(changed.code, changed.stderr).toBe(0);
    const [row] = JSON.parse(changed.stdout);
    expect(results.trials.map((t: { trial: string }) => t.trial)).not.toContain(row.trial);
    expect(row.status).toBe('done');
  }, 60_000);

  it('records a trial that fails as failed after --attempts tries and exits 1; a bad sweep file is a usage error', async () => {
    const file = write('nan.json', { name: 'nan', base: { epochs: 1, batch: 16, stopOnNan: true }, grid: { lr: [1e30, 0.001] } });
    const r = await sweep(file, '--attempts', '3', '--json');
    expect(r.code, r.stderr).toBe(1);
    const [bad, good] = JSON.parse(r.stdout);
    expect(bad).toMatchObject({ status: 'failed', attempts: 3, test_accuracy: null });
    expect(bad.error).toMatch(/^the loss was not finite at epoch 1, step \d+ \(stopOnNan\)$/);
    expect(r.stderr.match(/trial \S+ failed \(attempt \d of 3\)/g)).toHaveLength(3);
    expect(good.status).toBe('done');

    const broken = write('broken.json', { name: 'broken', base: { batch: 16, epochs: 'two' }, grid: { lr: [0.1] } });
    const u = await sweep(broken);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain(`error: ${broken}: base.epochs must be a number, got "two"`);
    expect(fs.existsSync(path.join(root, 'runs', 'broken'))).toBe(false);
    const missing = await sweep(path.join(root, 'nowhere.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`sweep file ${path.join(root, 'nowhere.json')}: cannot read it (no such file)`);
  }, 60_000);
});
