// `cudalab train` and `cudalab experiments` run in-process through main(), as
// the installed binary runs them: exit codes, what goes to stdout and stderr,
// and the files they leave, on a tiny data set written in the official
// binary format.
import { spawnSync } from 'child_process';
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
    [['--lr', '0.001', '--batch', '64', '--epochs', '0'], /--epochs must be a number in \(0, 100000\], got "0"/],
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

describe('cudalab train: a bad number is a usage error before anything is written', () => {
  // each value is finite as a double: only float32, what the kernels get, tells them apart
  const cases: Array<[string[], RegExp]> = [
    [['--lr', '1e308'], /--lr must be a number > 0, got "1e308" \(beyond float32's range/],
    [['--lr', '1e-50'], /--lr must be a number > 0, got "1e-50" \(0 in float32\)/],
    [['--lr', '0.001', '--weight-decay', '1e39'], /--weight-decay must be a number >= 0, got "1e39" \(beyond float32/],
    [['--lr', '0.001', '--eps', '1e-300'], /--eps must be a number > 0, got "1e-300" \(0 in float32\)/],
    [['--lr', '0.001', '--betas', '0.9,0.99999999'], /--betas must be two numbers in \[0, 1\)/],
    [['--lr', '0.001', '--optimizer', 'sgd', '--momentum', '1e39'], /--momentum must be a number in \[0, 1\], got "1e39"/],
    [['--lr', '0.001', '--keep-checkpoints', '0'], /--keep-checkpoints must be an integer from 1 to 100000, or "all", got "0"/],
    [['--lr', '0.001', '--momentum', '0.9'], /--momentum applies to the sgd optimizer only/],
    [['--lr', '0.001', '--flip', 'sideways'], /--flip must be one of none, random, alternating, got "sideways"/],
    [['--lr', '0.001', '--translate', '17'], /--translate must be an integer from 0 to 16, got "17"/],
    [['--lr', '0.001', '--cutout', '33'], /--cutout must be an integer from 0 to 32, got "33"/],
    [['--lr', '0.001', '--tta', '3'], /--tta must be an integer from 0 to 2, got "3"/],
    [['--lr', '0.001', '--normalize', 'imagenet'], /--normalize must be one of half, cifar, got "imagenet"/],
    [['--lr', '0.001', '--augment', '--flip', 'random'], /--flip augments on the device; --augment .* use one/],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' '), async () => {
      const out = path.join(root, 'never-' + args.join('').replace(/[^a-z0-9]/gi, ''));
      const r = await cli('train', ...args, '--batch', '16', '--limit', '32', '--device', 'cpu', '--data', dataDir, '--out', out, '--no-download');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('an experiments file with such a number, or a key only Object.prototype knows, writes nothing either', async () => {
    const config = path.join(root, 'huge.json');
    const out = path.join(root, 'never-exp');
    const run = async (text: string) => {
      fs.writeFileSync(config, text);
      const r = await cli('experiments', '--config', config, '--data', dataDir, '--device', 'cpu', '--limit', '32', '--out', out, '--no-download');
      expect(r.code).toBe(2);
      expect(fs.existsSync(out)).toBe(false);
      return r.stderr;
    };
    const ok = '{"name": "a", "lr": 0.001, "batch": 16, "epochs": 1}';
    expect(await run(`{"name": "huge", "experiments": [${ok}, {"name": "b", "lr": 1e308, "batch": 16}]}`)).toMatch(
      /huge\.json: experiments\[1\]\.lr must be a number > 0, got 1e\+308 \(beyond float32's range/,
    );
    expect(await run(`{"name": "huge", "experiments": [${ok}, {"name": "b", "lr": 0.001, "batch": 16, "__proto__": {"lr": 5}}]}`)).toMatch(
      /huge\.json: experiments\[1\]\.__proto__ is not a known field/,
    );
    expect(await run(`{"name": "huge", "experiments": [{"name": "b", "lr": 0.001, "batch": 16, "toString": 1}]}`)).toMatch(/experiments\[0\]\.toString is not a known field/);
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

  it('augments on the device and evaluates with TTA as the flags say: config.json keeps them, the summary has both accuracies', async () => {
    const out = path.join(root, 'runs-aug');
    const flags = ['--translate', '2', '--flip', 'alternating', '--cutout', '8', '--normalize', 'cifar', '--tta', '2'];
    const r = await cli('train', '--lr', '0.001', '--batch', '16', '--epochs', '1', '--limit', '32', '--device', 'cpu', ...flags,
      '--name', 'aug', '--data', dataDir, '--out', out, '--no-download', '--json');
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.tta).toBe(2);
    expect(typeof summary.test_accuracy).toBe('number');
    expect(typeof summary.test_accuracy_tta).toBe('number');
    const runDir = path.join(out, 'aug');
    const cfg = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ translate: 2, flip: 'alternating', cutout: 8, normalize: 'cifar', tta: 2, augment: false });
    expect(cfg.normalization).toEqual({ mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] });

    // without --json the line says both
    const again = await cli('train', '--resume', runDir, '--epochs', '2');
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/test accuracy [\d.]+%, [\d.]+% with test-time augmentation \(level 2\) after 2 epochs/);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'))).toMatchObject({ translate: 2, flip: 'alternating', cutout: 8, tta: 2 });
  });

  it('trains with SGD: config.json and the checkpoint say so, and --resume goes on with it', async () => {
    const out = path.join(root, 'runs-sgd');
    const r = await cli('train', '--lr', '0.01', '--batch', '16', '--epochs', '1', '--limit', '32', '--device', 'cpu', '--optimizer', 'sgd',
      '--momentum', '0.9', '--nesterov', '--weight-decay', '5e-4', '--data', dataDir, '--out', out, '--no-download', '--json');
    expect(r.code, r.stderr).toBe(0);
    const runDir = path.join(out, 'seedcnn-lr0.01-b16-s0-sgd');
    const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ optimizer: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4, keepCheckpoints: 1 });
    expect(config.betas).toBeUndefined();
    const sidecar = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoint-epoch-1.json'), 'utf8'));
    expect(sidecar.optimizer.type).toBe('sgd');
    expect(sidecar.optimizer.hyper).toMatchObject({ lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    expect(Object.keys(sidecar.optimizer.buffers).every((k) => k.startsWith('momentum.'))).toBe(true);
    expect(Object.keys(sidecar.optimizer.buffers).length).toBeGreaterThan(0);

    // a fresh-only flag is named and ignored; the ones --resume may change are not
    const again = await cli('train', '--resume', runDir, '--epochs', '2', '--keep-checkpoints', 'all', '--lr', '5', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/note: --resume uses the run's saved config; ignoring --lr$/m);
    expect(JSON.parse(again.stdout).epochs.length).toBe(2);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoint-epoch-2.json'), 'utf8')).optimizer.hyper).toMatchObject({ lr: 0.01, momentum: 0.9 });
  });

  it('resumes a run whose config.json an earlier version wrote (snake_case, no optimizer fields besides Adam\'s)', async () => {
    const out = path.join(root, 'runs-legacy');
    const r = await cli('train', '--lr', '0.001', '--batch', '16', '--epochs', '1', '--limit', '32', '--device', 'cpu', '--stop-on-nan',
      '--data', dataDir, '--out', out, '--name', 'old', '--no-download');
    expect(r.code, r.stderr).toBe(0);
    const runDir = path.join(out, 'old');
    // config.json exactly as the previous version wrote it
    fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({
      name: 'old', model: 'seedcnn', lr: 0.001, batch: 16, epochs: 1, seed: 0, device: 'cpu', device_requested: 'cpu', data: path.resolve(dataDir),
      limit: 32, optimizer: 'adam', betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, augment: false, stop_on_nan: true, eval_batch: 250,
      normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, version: '0.1.0', created_at: '2026-11-27T10:00:00.000Z',
    }, null, 2));
    const again = await cli('train', '--resume', runDir, '--epochs', '2', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming .* after epoch 1 of 2/);
    expect(JSON.parse(again.stdout)).toMatchObject({ limit: 32, epochs_planned: 2 });
    // rewritten in the one naming, with the new fields at their defaults
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'))).toMatchObject({ stopOnNan: true, weightDecay: 0, evalBatch: 250, keepCheckpoints: 1 });
  });

  // node's mkdir({ recursive: true }) never returns there (ENOENT with the parent present), and the
  // loop is synchronous: only a child process can be stopped if it comes back
  it.skipIf(process.platform !== 'linux' || !fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js')))(
    '--out under /proc fails at once with an error naming the directory (skipped without dist/: run `npm run build`)',
    () => {
      const bin = path.join(__dirname, '..', '..', 'bin', 'cudalab.js');
      const r = spawnSync(process.execPath, [bin, 'train', '--lr', '0.001', '--batch', '16', '--epochs', '1', '--limit', '16', '--device', 'cpu',
        '--data', dataDir, '--out', '/proc/cudalab-no-such-dir', '--no-download'], { encoding: 'utf8', timeout: 120_000 });
      // a safety net only: the assertion is the exit status and the message
      expect(r.signal, 'killed by the safety timeout: mkdir did not return').toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/cannot create the directory \/proc\/cudalab-no-such-dir\/seedcnn-lr0\.001-b16-s0: mkdir \/proc\/cudalab-no-such-dir failed \(ENOENT/);
    },
    150_000,
  );

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
        { name: 'b', model: 'seedcnn', lr: 0.01, batch: 32, epochs: 1, seed: 0, translate: 2, flip: 'alternating', cutout: 4, tta: 1 },
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
    expect(md).toMatch(/^\| b \| seedcnn \| 0\.01 \| 32 \| 1 \| \d+\.\d\d% \(\d+\.\d\d% with TTA\) \|/m);
    // the experiment's augmentation and TTA fields reach its run
    expect(results.map((x: any) => x.test_accuracy_tta === null)).toEqual([true, false]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'grid', 'b', 'config.json'), 'utf8'))).toMatchObject({ translate: 2, flip: 'alternating', cutout: 4, tta: 1 });
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
